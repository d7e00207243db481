package nn

import (
	"math"
	"math/rand/v2"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// Linear computes y = x·Wᵀ + b (torch.nn.Linear). x is (…, In), y is (…, Out).
type Linear struct {
	Weight *ag.Param `ckpt:"weight"`        // (Out, In)
	Bias   *ag.Param `ckpt:"bias,optional"` // (Out) or nil
}

// NewLinear makes an in→out Linear in dtype dt with PyTorch's default initialisation:
// weight and bias uniform in ±1/√in. Here and in the other constructors, a nil rng leaves
// the values zero, for layers whose values are about to be loaded.
func NewLinear(rng *rand.Rand, dt tensor.DType, in, out int, bias bool) *Linear {
	bound := 1 / math.Sqrt(float64(in))
	l := &Linear{Weight: ag.NewParam(uniform(rng, dt, -bound, bound, out, in), ag.RoleWeight)}
	if bias {
		l.Bias = ag.NewParam(uniform(rng, dt, -bound, bound, out), ag.RoleBias)
	}
	return l
}

// XavierInit re-initialises the weight uniformly in ±√(6/(in+out)) and zeroes the bias
// (torch.nn.init.xavier_uniform_, as nn.Transformer does); a nil rng zeroes the weight.
func (l *Linear) XavierInit(rng *rand.Rand) {
	out, in := l.Weight.Value.Dim(0), l.Weight.Value.Dim(1)
	bound := math.Sqrt(6 / float64(in+out))
	l.Weight.Value = uniform(rng, l.Weight.Value.DType(), -bound, bound, out, in)
	l.Weight.Changed()
	if l.Bias != nil {
		l.Bias.Value = tensor.New(l.Bias.Value.DType(), out)
	}
}

// Forward computes x·Wᵀ + b.
func (l *Linear) Forward(c *Ctx, x *ag.Var) *ag.Var { return ag.Linear(c.Tape, x, l.Weight, l.Bias) }

// Embedding maps ids to rows of a table (torch.nn.Embedding).
type Embedding struct {
	Weight *ag.Param `ckpt:"weight"` // (V, C)
	// PaddingIdx is the id whose row gets no gradient (-1: none).
	PaddingIdx int `ckpt:"-"`
}

// NewEmbedding makes a V×C table drawn from N(0, std²).
func NewEmbedding(rng *rand.Rand, dt tensor.DType, v, c int, std float64, paddingIdx int) *Embedding {
	w := normal(rng, dt, std, v, c)
	if paddingIdx >= 0 {
		for j := 0; j < c; j++ {
			w.Set(0, paddingIdx, j)
		}
	}
	return &Embedding{Weight: ag.NewParam(w, ag.RoleEmbedding), PaddingIdx: paddingIdx}
}

// Forward returns the rows of ids (an I32 tensor): shape (ids…, C).
func (e *Embedding) Forward(c *Ctx, ids *tensor.Tensor) *ag.Var {
	return ag.Embedding(c.Tape, e.Weight, ids, e.PaddingIdx)
}

// LayerNorm normalises the last dimension (torch.nn.LayerNorm).
type LayerNorm struct {
	Weight *ag.Param `ckpt:"weight"` // (C), the gain γ
	Bias   *ag.Param `ckpt:"bias"`   // (C), the shift β
	Eps    float64   `ckpt:"-"`
}

// NewLayerNorm makes a LayerNorm over c channels with γ = 1, β = 0.
func NewLayerNorm(dt tensor.DType, c int, eps float64) *LayerNorm {
	return &LayerNorm{
		Weight: ag.NewParam(tensor.Full(dt, 1, c), ag.RoleNorm),
		Bias:   ag.NewParam(tensor.New(dt, c), ag.RoleNorm),
		Eps:    eps,
	}
}

// Forward normalises x.
func (n *LayerNorm) Forward(c *Ctx, x *ag.Var) *ag.Var {
	return ag.LayerNorm(c.Tape, x, n.Weight, n.Bias, n.Eps)
}

// FFN is the position-wise feed-forward block: fc2(dropout(act(fc1(x)))).
type FFN struct {
	FC1 *Linear `ckpt:"fc1"` // C → F
	FC2 *Linear `ckpt:"fc2"` // F → C
	Act ops.Activation
	// ActDropout is the dropout after the activation (activation_dropout in HF configs).
	ActDropout float64
}

// Forward applies the block.
func (f *FFN) Forward(c *Ctx, x *ag.Var) *ag.Var {
	pre := f.FC1.Forward(c, x)
	h := ag.Activate(c.Tape, pre, f.Act)
	c.Done(pre)
	hd := c.Dropout(h, f.ActDropout)
	y := f.FC2.Forward(c, hd)
	c.Done(h)
	if hd != h {
		c.Done(hd)
	}
	return y
}

// LearnedPositions is a table of position embeddings (role position), added to the token
// embeddings.
type LearnedPositions struct {
	Weight *ag.Param `ckpt:"weight"` // (max positions, C)
}

// NewLearnedPositions makes a table of n positions drawn from N(0, std²).
func NewLearnedPositions(rng *rand.Rand, dt tensor.DType, n, c int, std float64) *LearnedPositions {
	return &LearnedPositions{Weight: ag.NewParam(normal(rng, dt, std, n, c), ag.RolePosition)}
}

// Forward returns the rows for positions offset … offset+t−1, (T, C).
func (p *LearnedPositions) Forward(c *Ctx, t, offset int) *ag.Var {
	ids := make([]int32, t)
	for i := range ids {
		ids[i] = int32(offset + i)
	}
	return ag.Embedding(c.Tape, p.Weight, tensor.FromI32(ids, t), -1)
}

// SinusoidalPositions are the fixed encodings of Vaswani et al. (ops.Sinusoidal), computed
// once per dtype and length and reused.
type SinusoidalPositions struct {
	table *tensor.Tensor
}

// Forward returns the encodings for positions offset … offset+t−1, (T, C), as a constant.
func (p *SinusoidalPositions) Forward(dt tensor.DType, t, c, offset int) *ag.Var {
	if p.table == nil || p.table.DType() != dt || p.table.Dim(0) < offset+t || p.table.Dim(1) != c {
		p.table = ops.Sinusoidal(dt, max(offset+t, 512), c, 0)
	}
	return ag.NewVar(p.table.Slice(0, offset, offset+t).Contiguous())
}

// uniform draws a tensor uniform in [lo, hi), or returns zeros when rng is nil.
func uniform(rng *rand.Rand, dt tensor.DType, lo, hi float64, shape ...int) *tensor.Tensor {
	if rng == nil {
		return tensor.New(dt, shape...)
	}
	return tensor.RandUniform(rng, dt, lo, hi, shape...)
}

// normal draws a tensor from N(0, std²), or returns zeros when rng is nil.
func normal(rng *rand.Rand, dt tensor.DType, std float64, shape ...int) *tensor.Tensor {
	if rng == nil {
		return tensor.New(dt, shape...)
	}
	return tensor.RandNormal(rng, dt, 0, std, shape...)
}
