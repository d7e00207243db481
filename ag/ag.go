// Package ag is reverse-mode automatic differentiation over package ops: a Var holds a value
// and, after Backward, its gradient; every operation on Vars run with a Tape records how to
// push the gradient of its result back to its inputs.
//
// Eager and explicit: there is no graph to compile and no global state. A nil Tape (or
// Tape.NoGrad) runs the same code without recording, which is inference. Gradients of
// parameters accumulate across Backward calls until ZeroGrad, which is gradient accumulation
// over micro-batches.
package ag

import (
	"fmt"
	"slices"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// Var is a value in a computation. Grad is nil until a gradient reaches it.
type Var struct {
	Value *tensor.Tensor
	Grad  *tensor.Tensor
	// requires says whether gradients flow to this Var: true for parameters and for
	// results of recorded operations on them.
	requires bool
}

// NewVar wraps a constant input (no gradient).
func NewVar(t *tensor.Tensor) *Var { return &Var{Value: t} }

// NewLeaf wraps a value that wants a gradient (a differentiable input, as in gradient checks).
func NewLeaf(t *tensor.Tensor) *Var { return &Var{Value: t, requires: true} }

// RequiresGrad reports whether gradients flow to v.
func (v *Var) RequiresGrad() bool { return v.requires }

// Shape is the shape of the value.
func (v *Var) Shape() []int { return v.Value.Shape() }

// grad returns v's gradient buffer, allocating a zeroed one on first use.
func (v *Var) grad() *tensor.Tensor {
	if v.Grad == nil {
		v.Grad = tensor.New(v.Value.DType(), v.Value.Shape()...)
	}
	return v.Grad
}

// gradFor returns v's gradient buffer for a backward step, or nil when v wants none; fresh
// says the buffer is new, of unspecified contents, for the step to overwrite (it is v's first
// contribution) rather than add into.
func gradFor(v *Var) (g *tensor.Tensor, fresh bool) {
	if v == nil || !v.requires {
		return nil, false
	}
	if v.Grad != nil {
		return v.Grad, false
	}
	v.Grad = tensor.Empty(v.Value.DType(), v.Value.Shape()...)
	return v.Grad, true
}

// takeGrad hands out's gradient buffer over to x when x wants a gradient, has none yet, and
// has out's shape and dtype, and returns it; otherwise nil. The buffer is out's alone and
// dead once out's backward step is done (BackwardFrom would recycle it), so an element-wise
// step can turn it into x's gradient in place instead of adding into a zeroed buffer.
func takeGrad(out, x *Var) *tensor.Tensor {
	g := out.Grad
	if x == nil || x == out || !x.requires || x.Grad != nil || g == nil ||
		x.Value.DType() != g.DType() || !g.IsContiguous() || !slices.Equal(x.Value.Shape(), g.Shape()) {
		return nil
	}
	out.Grad, x.Grad = nil, g
	return g
}

// gradIf returns v's gradient buffer when v wants one, else nil (the ops then skip it).
func gradIf(v *Var) *tensor.Tensor {
	if v == nil || !v.requires {
		return nil
	}
	return v.grad()
}

// Role says what a parameter is for; optimizers exclude roles from weight decay, quantization
// picks weights, and so on, without matching names.
type Role int

const (
	RoleWeight    Role = iota // matrices of Linear layers
	RoleBias                  // additive biases
	RoleNorm                  // LayerNorm gains and biases
	RoleEmbedding             // token embeddings (and tied output projections)
	RolePosition              // learned position embeddings
)

func (r Role) String() string {
	switch r {
	case RoleWeight:
		return "weight"
	case RoleBias:
		return "bias"
	case RoleNorm:
		return "norm"
	case RoleEmbedding:
		return "embedding"
	case RolePosition:
		return "position"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Param is a trainable tensor: a leaf Var with a role. A weight used as x·Wᵀ keeps W packed
// for the GEMM micro-kernels; whoever changes Value in place (an optimizer step, loading a
// checkpoint) calls Changed so the packing is redone when next needed.
type Param struct {
	Var
	Role    Role
	packed  *kernels.PackedB
	stale   bool
	version uint64
	kernel  WeightKernel
	fq      *FakeQuant
}

// FakeQuant is quantization-aware training's fake quantization of a weight used as x·Wᵀ:
// while recording, the products take Weight(W), W rounded to the values its quantized form
// holds, and, when Rows is set, inputs whose rows Rows rounds likewise (int8 per token, say).
// Gradients pass through the rounding unchanged (straight-through estimator) to W and x.
// Products that do not record (inference, evaluation) use the float value or the kernel.
type FakeQuant struct {
	// Weight returns the rounded copy of w (out rows of in values).
	Weight func(w []float32, out, in int) []float32
	// Rows, when not nil, rounds one input row in place.
	Rows func(row []float32)
}

// FakeQuant is p's fake quantization (nil: none).
func (p *Param) FakeQuant() *FakeQuant { return p.fq }

// SetFakeQuant makes p's recorded products use fq (nil turns it off); float32 only.
func (p *Param) SetFakeQuant(fq *FakeQuant) { p.fq = fq }

// WeightKernel multiplies by a weight held in another form than its float Value (quantized,
// say). Inference paths (nothing recording) use a Param's kernel in place of the float
// product; training and gradients always use Value.
type WeightKernel interface {
	// MulT sets y to x·Wᵀ + beta·y for n rows: x is n rows of In values (contiguous), y's
	// rows start ldy apart and hold Out values each. beta is 0 or 1; with 0, y is only
	// written.
	MulT(y []float32, ldy int, x []float32, n int, beta float32)
}

// BiasKernel is a WeightKernel that adds a bias in the same pass (the int8 kernels add it as
// they scale their integer products back), which saves the callers a pass over y.
type BiasKernel interface {
	WeightKernel
	// MulTBias sets y to x·Wᵀ + bias for n rows (bias nil: none); y's rows start ldy apart.
	MulTBias(y []float32, ldy int, x []float32, n int, bias []float32)
}

// Kernel is the weight's inference kernel, nil when it has none.
func (p *Param) Kernel() WeightKernel { return p.kernel }

// SetKernel makes k p's inference kernel until p's value changes (Changed drops it: a kernel
// is derived from the value). Set it after loading the value.
func (p *Param) SetKernel(k WeightKernel) { p.kernel = k }

// NewParam makes a parameter holding t.
func NewParam(t *tensor.Tensor, role Role) *Param {
	return &Param{Var: Var{Value: t, requires: true}, Role: role}
}

// Changed tells p that its value was modified in place (or replaced).
func (p *Param) Changed() {
	p.stale = true
	p.version++
	p.kernel = nil
}

// Version counts the changes of p's value, for caches derived from it (a stacked packing of
// several weights, say).
func (p *Param) Version() uint64 { return p.version }

// SetRequiresGrad freezes (false) or unfreezes p.
func (p *Param) SetRequiresGrad(on bool) { p.requires = on }

// ZeroGrad drops the accumulated gradient.
func (p *Param) ZeroGrad() { p.Grad = nil }

// PackedT returns p's (Out, In) float32 value packed as the right operand of x·Wᵀ
// (kernels.PackB(true, In, Out, W, In)), packing or repacking it when needed. It returns nil
// for values that are not 2-D float32 matrices.
func (p *Param) PackedT() *kernels.PackedB {
	v := p.Value
	if v.DType() != tensor.F32 || v.Rank() != 2 {
		return nil
	}
	out, in := v.Dim(0), v.Dim(1)
	switch {
	case p.packed == nil || p.packed.K() != in || p.packed.N() != out:
		p.packed = kernels.PackB(true, in, out, v.Contiguous().F32(), in)
	case p.stale:
		p.packed.Repack(true, v.Contiguous().F32(), in)
	}
	p.stale = false
	return p.packed
}

// Tape records operations for Backward. The zero Tape is ready to use.
type Tape struct {
	nodes  []node
	noGrad int
}

type node struct {
	out  *Var
	back func() // pushes out.Grad to the inputs
}

// NoGrad runs fn without recording on t (torch.no_grad()).
func (t *Tape) NoGrad(fn func()) {
	if t == nil {
		fn()
		return
	}
	t.noGrad++
	defer func() { t.noGrad-- }()
	fn()
}

// Len is the number of recorded operations.
func (t *Tape) Len() int {
	if t == nil {
		return 0
	}
	return len(t.nodes)
}

// recording reports whether an operation on inputs must be recorded.
func (t *Tape) recording(inputs ...*Var) bool {
	if t == nil || t.noGrad > 0 {
		return false
	}
	for _, v := range inputs {
		if v != nil && v.requires {
			return true
		}
	}
	return false
}

// record returns a new result Var and, when recording, registers back for it.
func (t *Tape) record(value *tensor.Tensor, back func(out *Var), inputs ...*Var) *Var {
	out := &Var{Value: value}
	if t.recording(inputs...) {
		out.requires = true
		t.nodes = append(t.nodes, node{out: out, back: func() { back(out) }})
	}
	return out
}

// Backward computes the gradient of the scalar loss with respect to every Var that wants one,
// accumulating into the Grad of parameters and leaves, then clears the tape. Gradients of
// intermediate results are dropped once used, to free memory.
func (t *Tape) Backward(loss *Var) {
	if loss.Value.Len() != 1 {
		panic(fmt.Sprintf("ag: Backward of a %v value: the loss must be a scalar", loss.Value.Shape()))
	}
	t.BackwardFrom(loss, tensor.Full(loss.Value.DType(), 1, loss.Value.Shape()...))
}

// BackwardFrom is Backward with an explicit gradient for out (which need not be a scalar).
func (t *Tape) BackwardFrom(out *Var, grad *tensor.Tensor) {
	if !out.requires {
		panic("ag: Backward of a value that does not depend on anything that wants a gradient")
	}
	g := out.grad()
	ops.Accumulate(g, grad)
	for i := len(t.nodes) - 1; i >= 0; i-- {
		n := t.nodes[i]
		if n.out.Grad != nil {
			n.back()
			// The gradient of an intermediate result is dead once pushed to its inputs, and
			// only this Var refers to it: recycle its storage for the gradients to come.
			tensor.Release(n.out.Grad)
			n.out.Grad = nil
		}
		t.nodes[i] = node{}
	}
	t.nodes = t.nodes[:0]
}

// Reset drops the recorded operations without computing gradients.
func (t *Tape) Reset() {
	clear(t.nodes)
	t.nodes = t.nodes[:0]
}
