package transformer

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// Layer is one encoder or decoder block. Decoder blocks have the cross-attention.
type Layer struct {
	SelfAttn      *nn.MultiHeadAttention `ckpt:"self_attn"`
	SelfAttnNorm  *nn.LayerNorm          `ckpt:"self_attn_layer_norm"`
	CrossAttn     *nn.MultiHeadAttention `ckpt:"encoder_attn,optional"`
	CrossAttnNorm *nn.LayerNorm          `ckpt:"encoder_attn_layer_norm,optional"`
	FFN           *nn.FFN                `ckpt:",inline"`
	FinalNorm     *nn.LayerNorm          `ckpt:"final_layer_norm"`
}

// Stack is an encoder or a decoder: embeddings, positions, layers and (pre-LN) a final norm.
type Stack struct {
	EmbedTokens    *nn.Embedding        `ckpt:"embed_tokens"`
	EmbedPositions *nn.LearnedPositions `ckpt:"embed_positions,optional"`
	Layers         []*Layer             `ckpt:"layers"`
	LayerNorm      *nn.LayerNorm        `ckpt:"layer_norm,optional"`
	sinusoidal     nn.SinusoidalPositions
}

// Model is the transformer. Which parts exist depends on Config.Arch.
type Model struct {
	Cfg     Config        `ckpt:"-"`
	Shared  *nn.Embedding `ckpt:"shared,optional"` // the tied table, when TieEmbeddings
	Encoder *Stack        `ckpt:"encoder,optional"`
	Decoder *Stack        `ckpt:"decoder,optional"`
	LMHead  *nn.Linear    `ckpt:"lm_head,optional"` // untied output projection (V, C)
	QAHead  *nn.Linear    `ckpt:"qa_outputs,optional"`
	dtype   tensor.DType
}

// New builds a model with freshly initialised parameters of dtype dt (F32 to train and run,
// F64 for reference checks): Linear weights Xavier-uniform with zero biases, embeddings
// N(0, 1/d_model), LayerNorms γ = 1, β = 0. A nil rng draws nothing and leaves the weights
// zero, for models whose weights are about to be loaded (nn.Load fills every parameter or
// fails).
func New(cfg Config, dt tensor.DType, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := ops.ParseActivation(cfg.Activation)
	c := cfg.DModel
	std := 1 / math.Sqrt(float64(c))
	m := &Model{Cfg: cfg, dtype: dt}
	embed := func() *nn.Embedding { return nn.NewEmbedding(rng, dt, cfg.VocabSize, c, std, cfg.PadID) }
	linear := func(in, out int, bias bool) *nn.Linear {
		l := nn.NewLinear(rng, dt, in, out, bias)
		if rng != nil {
			l.XavierInit(rng)
		}
		return l
	}
	attn := func() *nn.MultiHeadAttention {
		return &nn.MultiHeadAttention{QProj: linear(c, c, true), KProj: linear(c, c, true), VProj: linear(c, c, true),
			OutProj: linear(c, c, true), Heads: cfg.Heads, Dropout: cfg.AttentionDropout}
	}
	norm := func() *nn.LayerNorm { return nn.NewLayerNorm(dt, c, cfg.LayerNormEps) }
	layer := func(cross bool) *Layer {
		l := &Layer{SelfAttn: attn(), SelfAttnNorm: norm(), FinalNorm: norm(),
			FFN: &nn.FFN{FC1: linear(c, cfg.FFN, true), FC2: linear(cfg.FFN, c, true), Act: act, ActDropout: cfg.ActivationDropout}}
		if cross {
			l.CrossAttn, l.CrossAttnNorm = attn(), norm()
		}
		return l
	}
	stack := func(n int, cross bool, tokens *nn.Embedding) *Stack {
		s := &Stack{EmbedTokens: tokens}
		if cfg.Positions == "learned" {
			s.EmbedPositions = nn.NewLearnedPositions(rng, dt, cfg.MaxPositions, c, std)
		}
		for i := 0; i < n; i++ {
			s.Layers = append(s.Layers, layer(cross))
		}
		if cfg.NormFirst {
			s.LayerNorm = norm()
		}
		return s
	}
	var encTok, decTok *nn.Embedding
	if cfg.TieEmbeddings && cfg.Arch == EncoderDecoder {
		m.Shared = embed()
		encTok, decTok = m.Shared, m.Shared
	} else {
		encTok, decTok = embed(), embed()
	}
	if cfg.Arch != DecoderOnly {
		m.Encoder = stack(cfg.EncoderLayers, false, encTok)
	}
	if cfg.Arch != EncoderOnly {
		m.Decoder = stack(cfg.DecoderLayers, cfg.Arch == EncoderDecoder, decTok)
		if !cfg.TieEmbeddings {
			m.LMHead = linear(c, cfg.VocabSize, false)
		}
	}
	if cfg.SpanHead {
		m.QAHead = linear(c, 2, true)
	}
	return m, nil
}

// DType is the dtype of the parameters.
func (m *Model) DType() tensor.DType { return m.dtype }

// PadMask returns B·S flags marking the padding positions of ids (B, S).
func (m *Model) PadMask(ids *tensor.Tensor) []bool {
	v := ids.Contiguous().I32()
	pad := make([]bool, len(v))
	for i, id := range v {
		pad[i] = int(id) == m.Cfg.PadID
	}
	return pad
}

// checkIDs returns an error for ids outside the vocabulary or sequences longer than the
// position table: the model's input comes from users.
func (m *Model) checkIDs(what string, ids *tensor.Tensor, offset int) error {
	if ids.DType() != tensor.I32 || ids.Rank() != 2 {
		return fmt.Errorf("transformer: %s must be int32 (B, T), got %v %v", what, ids.DType(), ids.Shape())
	}
	if t := ids.Dim(1) + offset; m.Cfg.Positions == "learned" && t > m.Cfg.MaxPositions {
		return fmt.Errorf("transformer: %s has %d positions, the model has %d", what, t, m.Cfg.MaxPositions)
	}
	for _, id := range ids.Contiguous().I32() {
		if id < 0 || int(id) >= m.Cfg.VocabSize {
			return fmt.Errorf("transformer: %s holds token id %d outside the vocabulary of %d", what, id, m.Cfg.VocabSize)
		}
	}
	return nil
}

// embed returns the token embeddings (scaled) plus positions offset…, with dropout.
func (m *Model) embed(c *nn.Ctx, s *Stack, ids *tensor.Tensor, offset int) *ag.Var {
	x := s.EmbedTokens.Forward(c, ids) // (B, T, C)
	if m.Cfg.ScaleEmbedding {
		x = ag.Scale(c.Tape, x, math.Sqrt(float64(m.Cfg.DModel)))
	}
	t := ids.Dim(1)
	var pos *ag.Var
	if s.EmbedPositions != nil {
		pos = s.EmbedPositions.Forward(c, t, offset)
	} else {
		pos = s.sinusoidal.Forward(m.dtype, t, m.Cfg.DModel, offset)
	}
	return c.Dropout(ag.Add(c.Tape, x, pos), m.Cfg.Dropout)
}

// sublayer applies one residual block: post-LN LN(x + drop(f(x))) or pre-LN x + drop(f(LN(x))).
// At inference the temporaries, and x itself (each sublayer consumes the one before), go back
// to the tensor pool; keep marks an x that must survive (the embeddings' output is fresh, but
// a caller's tensor is not ours to recycle).
func (m *Model) sublayer(c *nn.Ctx, x *ag.Var, norm *nn.LayerNorm, f func(*ag.Var) *ag.Var) *ag.Var {
	if m.Cfg.NormFirst {
		h := norm.Forward(c, x)
		fx := f(h)
		c.Done(h)
		y := ag.Add(c.Tape, x, c.Dropout(fx, m.Cfg.Dropout))
		c.Done(fx, x)
		return y
	}
	fx := f(x)
	s := ag.Add(c.Tape, x, c.Dropout(fx, m.Cfg.Dropout))
	c.Done(fx, x)
	y := norm.Forward(c, s)
	c.Done(s)
	return y
}

// Encode runs the encoder over src (B, S) and returns its output (B, S, C). Padding positions
// (pad_id) are masked as keys.
func (m *Model) Encode(c *nn.Ctx, src *tensor.Tensor) (*ag.Var, error) {
	if m.Encoder == nil {
		return nil, fmt.Errorf("transformer: a %s model has no encoder", m.Cfg.Arch)
	}
	if err := m.checkIDs("source", src, 0); err != nil {
		return nil, err
	}
	mask := ops.AttnMask{KeyPad: m.PadMask(src)}
	x := m.embed(c, m.Encoder, src, 0)
	for _, l := range m.Encoder.Layers {
		x = m.sublayer(c, x, l.SelfAttnNorm, func(h *ag.Var) *ag.Var { return l.SelfAttn.Forward(c, h, h, mask, nil) })
		x = m.sublayer(c, x, l.FinalNorm, func(h *ag.Var) *ag.Var { return l.FFN.Forward(c, h) })
	}
	if m.Encoder.LayerNorm != nil {
		x = m.Encoder.LayerNorm.Forward(c, x)
	}
	return x, nil
}

// DecodeState is what incremental decoding carries from one step to the next: the KV caches
// of every decoder layer.
type DecodeState struct {
	Self, Cross []nn.KVCache
	Pos         int // positions decoded so far
}

// NewDecodeState makes an empty state for incremental decoding.
func (m *Model) NewDecodeState() *DecodeState {
	n := len(m.Decoder.Layers)
	st := &DecodeState{Self: make([]nn.KVCache, n), Cross: make([]nn.KVCache, n)}
	for i := range st.Cross {
		st.Cross[i].Static = true
	}
	return st
}

// Reorder keeps the batch rows idx of every cache (beam search, finished sentences).
func (st *DecodeState) Reorder(idx []int) {
	for i := range st.Self {
		st.Self[i].Reorder(idx)
		st.Cross[i].Reorder(idx)
	}
}

// Decode runs the decoder over tgt (B, T) and returns its hidden states (B, T, C). For an
// encoder-decoder model, enc is the encoder output and srcPad its padding (B·S). With a
// state, tgt holds only the new positions, which attend to the cached ones (inference only).
func (m *Model) Decode(c *nn.Ctx, tgt *tensor.Tensor, enc *ag.Var, srcPad []bool, st *DecodeState) (*ag.Var, error) {
	if m.Decoder == nil {
		return nil, fmt.Errorf("transformer: a %s model has no decoder", m.Cfg.Arch)
	}
	offset := 0
	if st != nil {
		offset = st.Pos
	}
	if err := m.checkIDs("target", tgt, offset); err != nil {
		return nil, err
	}
	if m.Cfg.Arch == EncoderDecoder && enc == nil {
		return nil, fmt.Errorf("transformer: decoding needs the encoder output")
	}
	self := ops.AttnMask{Causal: true, Offset: offset}
	if st == nil {
		self.KeyPad = m.PadMask(tgt)
	}
	cross := ops.AttnMask{KeyPad: srcPad}
	x := m.embed(c, m.Decoder, tgt, offset)
	for i, l := range m.Decoder.Layers {
		var sc, cc *nn.KVCache
		if st != nil {
			sc, cc = &st.Self[i], &st.Cross[i]
		}
		x = m.sublayer(c, x, l.SelfAttnNorm, func(h *ag.Var) *ag.Var { return l.SelfAttn.Forward(c, h, h, self, sc) })
		if l.CrossAttn != nil {
			x = m.sublayer(c, x, l.CrossAttnNorm, func(h *ag.Var) *ag.Var { return l.CrossAttn.Forward(c, h, enc, cross, cc) })
		}
		x = m.sublayer(c, x, l.FinalNorm, func(h *ag.Var) *ag.Var { return l.FFN.Forward(c, h) })
	}
	if st != nil {
		st.Pos += tgt.Dim(1)
	}
	if m.Decoder.LayerNorm != nil {
		x = m.Decoder.LayerNorm.Forward(c, x)
	}
	return x, nil
}

// Logits projects decoder states (…, C) to the vocabulary (…, V), through the tied token
// table or the LM head.
func (m *Model) Logits(c *nn.Ctx, h *ag.Var) *ag.Var {
	if m.LMHead != nil {
		return m.LMHead.Forward(c, h)
	}
	return ag.Linear(c.Tape, h, m.Decoder.EmbedTokens.Weight, nil)
}

// Seq2SeqLoss is the training loss of an encoder-decoder model on one batch: the decoder reads
// tgtIn (B, T) (the target shifted right, starting with bos_id) and is scored against labels
// (B, T) with cross-entropy; labels equal to pad_id are ignored. It returns the mean loss per
// target token and the number of tokens that counted.
func (m *Model) Seq2SeqLoss(c *nn.Ctx, src, tgtIn, labels *tensor.Tensor, smoothing float64) (*ag.Var, int, error) {
	if m.Cfg.Arch != EncoderDecoder {
		return nil, 0, fmt.Errorf("transformer: Seq2SeqLoss needs an encoder-decoder model, this one is %s", m.Cfg.Arch)
	}
	if !sameShape(tgtIn, labels) {
		return nil, 0, fmt.Errorf("transformer: target input %v and labels %v differ in shape", tgtIn.Shape(), labels.Shape())
	}
	enc, err := m.Encode(c, src)
	if err != nil {
		return nil, 0, err
	}
	h, err := m.Decode(c, tgtIn, enc, m.PadMask(src), nil)
	if err != nil {
		return nil, 0, err
	}
	return m.lmLoss(c, h, labels, smoothing)
}

// CausalLMLoss is the training loss of a decoder-only model: position t predicts ids[t+1].
func (m *Model) CausalLMLoss(c *nn.Ctx, ids *tensor.Tensor, smoothing float64) (*ag.Var, int, error) {
	if m.Cfg.Arch != DecoderOnly {
		return nil, 0, fmt.Errorf("transformer: CausalLMLoss needs a decoder model, this one is %s", m.Cfg.Arch)
	}
	h, err := m.Decode(c, ids, nil, nil, nil)
	if err != nil {
		return nil, 0, err
	}
	b, t := ids.Dim(0), ids.Dim(1)
	v := ids.Contiguous().I32()
	labels := make([]int32, b*t)
	for i := 0; i < b; i++ {
		for j := 0; j < t; j++ {
			if j+1 < t {
				labels[i*t+j] = v[i*t+j+1]
			} else {
				labels[i*t+j] = int32(m.Cfg.PadID)
			}
		}
	}
	return m.lmLoss(c, h, tensor.FromI32(labels, b, t), smoothing)
}

// lmLoss scores decoder states against labels through the output projection fused with the
// cross-entropy (ag.LinearCrossEntropy), which never holds the (B·T, V) logits.
func (m *Model) lmLoss(c *nn.Ctx, h *ag.Var, labels *tensor.Tensor, smoothing float64) (*ag.Var, int, error) {
	w := m.Decoder.EmbedTokens.Weight
	if m.LMHead != nil {
		w = m.LMHead.Weight
	}
	flat := ag.Reshape(c.Tape, h, -1, m.Cfg.DModel)
	loss := ag.LinearCrossEntropy(c.Tape, flat, w, labels.Reshape(-1), smoothing, m.Cfg.PadID)
	n := 0
	for _, l := range labels.Contiguous().I32() {
		if int(l) != m.Cfg.PadID {
			n++
		}
	}
	return loss, n, nil
}

// SpanLogits runs an encoder-only model with its span head over ids (B, T) and returns the
// start and end logits, each (B, T).
func (m *Model) SpanLogits(c *nn.Ctx, ids *tensor.Tensor) (start, end *ag.Var, err error) {
	if m.QAHead == nil {
		return nil, nil, fmt.Errorf("transformer: the model has no span head")
	}
	h, err := m.Encode(c, ids)
	if err != nil {
		return nil, nil, err
	}
	se := m.QAHead.Forward(c, h) // (B, T, 2)
	b, t := ids.Dim(0), ids.Dim(1)
	flat := ag.Reshape(c.Tape, se, b*t, 2)
	start = ag.Reshape(c.Tape, ag.Slice(c.Tape, flat, 1, 0, 1), b, t)
	end = ag.Reshape(c.Tape, ag.Slice(c.Tape, flat, 1, 1, 2), b, t)
	return start, end, nil
}

func sameShape(a, b *tensor.Tensor) bool {
	as, bs := a.Shape(), b.Shape()
	if len(as) != len(bs) {
		return false
	}
	for i := range as {
		if as[i] != bs[i] {
			return false
		}
	}
	return true
}

// Params lists the model's parameters with their checkpoint names (tied tables once).
func (m *Model) Params() []nn.NamedParam { return nn.Params(m) }
