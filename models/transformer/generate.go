package transformer

import (
	"fmt"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// DecodeSession is incremental decoding of a batch with an encoder-decoder or decoder-only
// model: Step feeds one token per row and returns next-token log-probabilities; Keep reorders,
// duplicates or drops rows. It satisfies the Session interface of package decode.
type DecodeSession struct {
	m      *Model
	c      *nn.Ctx
	enc    *ag.Var // (B, S, C) encoder output (encoder-decoder only)
	srcPad []bool  // B·S
	st     *DecodeState
	rows   int
	out    []float32
}

// Session is incremental decoding of a batch: Step feeds one token per row and returns the
// next-token log-probabilities (rows × vocabulary, reused by the next call); Keep makes new
// row i continue old row idx[i] (beam search reorders and duplicates rows, finished rows are
// dropped). It satisfies the Session interface of package decode.
type Session interface {
	Step(tokens []int) ([]float32, error)
	Keep(idx []int)
}

// BeginDecode encodes the sources (token ids without padding; an encoder-decoder model needs
// them, a decoder-only model starts from nothing and takes src only to count rows) and returns
// a session positioned before the first target token. Float32 models get the fast session
// (paged caches, no autograd layers); others, and tests, the reference DecodeSession.
func (m *Model) BeginDecode(src [][]int) (Session, error) {
	if m.Decoder == nil {
		return nil, fmt.Errorf("transformer: a %s model does not decode", m.Cfg.Arch)
	}
	if m.useFast() {
		s, err := m.beginFast(src)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := m.BeginDecodeReference(src)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// BeginDecodeReference is BeginDecode through the model's layers and a contiguous KV cache:
// plain and slow, the reference the fast session is tested against.
func (m *Model) BeginDecodeReference(src [][]int) (*DecodeSession, error) {
	if m.Decoder == nil {
		return nil, fmt.Errorf("transformer: a %s model does not decode", m.Cfg.Arch)
	}
	s := &DecodeSession{m: m, c: nn.Inference(), st: m.NewDecodeState(), rows: len(src)}
	if m.Cfg.Arch == EncoderDecoder {
		width := 1
		for _, x := range src {
			width = max(width, len(x))
		}
		ids := make([]int32, len(src)*width)
		for i, x := range src {
			for j := range width {
				id := m.Cfg.PadID
				if j < len(x) {
					id = x[j]
				}
				if id < 0 || id >= m.Cfg.VocabSize {
					return nil, fmt.Errorf("transformer: source %d holds token id %d outside the vocabulary of %d", i, id, m.Cfg.VocabSize)
				}
				ids[i*width+j] = int32(id)
			}
		}
		t := tensor.FromI32(ids, len(src), width)
		enc, err := m.Encode(s.c, t)
		if err != nil {
			return nil, err
		}
		s.enc, s.srcPad = enc, m.PadMask(t)
	}
	return s, nil
}

// Step feeds tokens (one per row) and returns the log-probabilities of the next token, rows ×
// vocabulary, in a slice the next call reuses.
func (s *DecodeSession) Step(tokens []int) ([]float32, error) {
	if len(tokens) != s.rows {
		return nil, fmt.Errorf("transformer: %d tokens for %d rows", len(tokens), s.rows)
	}
	ids := make([]int32, len(tokens))
	for i, t := range tokens {
		ids[i] = int32(t)
	}
	h, err := s.m.Decode(s.c, tensor.FromI32(ids, len(ids), 1), s.enc, s.srcPad, s.st)
	if err != nil {
		return nil, err
	}
	logits := s.m.Logits(s.c, h) // (B, 1, V)
	s.c.Done(h)
	v := s.m.Cfg.VocabSize
	lv := logits.Value
	if lv.DType() != tensor.F32 {
		lv = lv.To(tensor.F32)
	}
	src := lv.F32()
	if cap(s.out) < len(src) {
		s.out = make([]float32, len(src))
	}
	s.out = s.out[:len(src)]
	kernels.ParallelFor(s.rows, 8, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			logSoftmax(s.out[r*v:(r+1)*v], src[r*v:(r+1)*v])
		}
	})
	s.c.Done(logits)
	return s.out, nil
}

// logSoftmax writes log softmax(x) into dst.
func logSoftmax(dst, x []float32) {
	y := ops.LogSoftmax(tensor.FromF32(x, 1, len(x))).F32()
	copy(dst, y)
}

// Keep makes new row i continue old row idx[i].
func (s *DecodeSession) Keep(idx []int) {
	s.st.Reorder(idx)
	if s.enc != nil {
		s.enc = ag.NewVar(nn.GatherRows(s.enc.Value, idx))
		c := s.srcPad
		w := len(c) / max(1, s.rows)
		pad := make([]bool, 0, len(idx)*w)
		for _, i := range idx {
			pad = append(pad, c[i*w:(i+1)*w]...)
		}
		s.srcPad = pad
	}
	s.rows = len(idx)
}
