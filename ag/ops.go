package ag

import (
	"math/rand/v2"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// The differentiable operations. Each runs the ops forward function and, when t records,
// registers the matching Backward. Shapes and semantics are those of package ops.

// MatMul is ops.MatMul.
func MatMul(t *Tape, a, b *Var, transA, transB bool) *Var {
	return t.record(ops.MatMul(a.Value, b.Value, transA, transB), func(out *Var) {
		ops.MatMulBackward(a.Value, b.Value, out.Grad, transA, transB, gradIf(a), gradIf(b))
	}, a, b)
}

// Linear is ops.Linear: y = x·Wᵀ + bias (bias may be nil). A float32 weight uses its packed
// form (Param.PackedT).
func Linear(t *Tape, x *Var, w, bias *Param) *Var {
	var bv *tensor.Tensor
	var bvar *Var
	if bias != nil {
		bv, bvar = bias.Value, &bias.Var
	}
	if w.kernel != nil && !t.recording(x, &w.Var, bvar) {
		if y := kernelLinearCat(x.Value, []*Param{w}, []*tensor.Tensor{bv}); y != nil {
			return &Var{Value: y}
		}
	}
	if w.fq != nil && t.recording(x, &w.Var, bvar) && w.Value.DType() == tensor.F32 {
		xq, wq := fakeQuantInput(x.Value, w.fq), fakeQuantWeight(w)
		y := ops.Linear(xq, wq, bv, nil)
		return t.record(y, func(out *Var) {
			var db *tensor.Tensor
			if bias != nil {
				db = gradIf(&bias.Var)
			}
			ops.LinearBackward(xq, wq, out.Grad, gradIf(x), gradIf(&w.Var), db)
		}, x, &w.Var, bvar)
	}
	y := ops.Linear(x.Value, w.Value, bv, w.PackedT())
	return t.record(y, func(out *Var) {
		var db *tensor.Tensor
		if bias != nil {
			db = gradIf(&bias.Var)
		}
		// First contributions overwrite fresh buffers (x's, and w's after ZeroGrad).
		dx, setX := gradFor(x)
		dw, setW := gradFor(&w.Var)
		ops.LinearBackwardSet(x.Value, w.Value, out.Grad, dx, dw, db, setX, setW)
	}, x, &w.Var, bvar)
}

// Add is ops.Add (b may broadcast as a suffix of a's shape).
func Add(t *Tape, a, b *Var) *Var {
	return t.record(ops.Add(a.Value, b.Value), func(out *Var) {
		// out's gradient becomes a's (or else b's, when b is not broadcast), the other adds it.
		if g := takeGrad(out, a); g != nil {
			ops.AddBackward(g, nil, gradIf(b)) // b may be a: g then doubles in place
			return
		}
		if g := takeGrad(out, b); g != nil {
			ops.AddBackward(g, gradIf(a), nil)
			return
		}
		ops.AddBackward(out.Grad, gradIf(a), gradIf(b))
	}, a, b)
}

// Mul is ops.Mul.
func Mul(t *Tape, a, b *Var) *Var {
	return t.record(ops.Mul(a.Value, b.Value), func(out *Var) {
		ops.MulBackward(a.Value, b.Value, out.Grad, gradIf(a), gradIf(b))
	}, a, b)
}

// Scale is alpha·x.
func Scale(t *Tape, x *Var, alpha float64) *Var {
	return t.record(ops.Scale(x.Value, alpha), func(out *Var) {
		ops.ScaleBackward(out.Grad, alpha, gradIf(x))
	}, x)
}

// Activate is ops.Activate.
func Activate(t *Tape, x *Var, act ops.Activation) *Var {
	return t.record(ops.Activate(x.Value, act), func(out *Var) {
		if g := takeGrad(out, x); g != nil {
			ops.ActivateGradInPlace(x.Value, g, act)
			return
		}
		ops.ActivateBackward(x.Value, out.Grad, act, gradIf(x))
	}, x)
}

// Softmax is ops.Softmax over the last dimension with an optional constant additive mask.
func Softmax(t *Tape, x *Var, mask *tensor.Tensor) *Var {
	y := ops.Softmax(x.Value, mask)
	return t.record(y, func(out *Var) {
		ops.SoftmaxBackward(y, out.Grad, gradIf(x))
	}, x)
}

// LogSoftmax is ops.LogSoftmax.
func LogSoftmax(t *Tape, x *Var) *Var {
	y := ops.LogSoftmax(x.Value)
	return t.record(y, func(out *Var) {
		ops.LogSoftmaxBackward(y, out.Grad, gradIf(x))
	}, x)
}

// LayerNorm is ops.LayerNorm; gamma and beta may be nil.
func LayerNorm(t *Tape, x *Var, gamma, beta *Param, eps float64) *Var {
	var g, b *tensor.Tensor
	var gv, bv *Var
	if gamma != nil {
		g, gv = gamma.Value, &gamma.Var
	}
	if beta != nil {
		b, bv = beta.Value, &beta.Var
	}
	y, mean, rstd := ops.LayerNorm(x.Value, g, b, eps)
	return t.record(y, func(out *Var) {
		ops.LayerNormBackward(x.Value, g, mean, rstd, out.Grad, gradIf(x), gradIf(gv), gradIf(bv))
	}, x, gv, bv)
}

// Embedding is ops.Embedding of the I32 ids; rows of paddingIdx get no gradient (-1: none).
func Embedding(t *Tape, w *Param, ids *tensor.Tensor, paddingIdx int) *Var {
	y := ops.Embedding(w.Value, ids)
	if w.fq != nil && t.recording(&w.Var) && y.DType() == tensor.F32 {
		// A fake-quantized table (a tied output projection) is rounded row by row: each row
		// is one output channel, rounded on its own by every scheme.
		c := w.Value.Dim(1)
		v := y.F32()
		for r := 0; r+c <= len(v) && c > 0; r += c {
			copy(v[r:r+c], w.fq.Weight(v[r:r+c], 1, c))
		}
	}
	return t.record(y, func(out *Var) {
		ops.EmbeddingBackward(ids, out.Grad, gradIf(&w.Var), paddingIdx)
	}, &w.Var)
}

// Dropout is ops.Dropout with probability p, drawing from rng; p = 0 returns x itself.
func Dropout(t *Tape, x *Var, p float64, rng *rand.Rand) *Var {
	if p == 0 {
		return x
	}
	y, m := ops.Dropout(x.Value, p, rng)
	return t.record(y, func(out *Var) {
		if g := takeGrad(out, x); g != nil {
			ops.DropoutGradInPlace(g, m)
			return
		}
		ops.DropoutBackward(out.Grad, m, gradIf(x))
	}, x)
}

// Attention is ops.Attention (multi-head attention over heads side by side in the channels).
func Attention(t *Tape, q, k, v *Var, heads int, mask ops.AttnMask, scale, dropP float64, rng *rand.Rand) *Var {
	rec := t.recording(q, k, v)
	y, saved := ops.Attention(q.Value, k.Value, v.Value, heads, mask, scale, dropP, rng, rec)
	return t.record(y, func(out *Var) {
		ops.AttentionBackward(q.Value, k.Value, v.Value, out.Grad, heads, scale, saved, gradIf(q), gradIf(k), gradIf(v))
	}, q, k, v)
}

// Reshape is ops.Reshape.
func Reshape(t *Tape, x *Var, shape ...int) *Var {
	return t.record(ops.Reshape(x.Value, shape...), func(out *Var) {
		ops.ReshapeBackward(out.Grad, gradIf(x))
	}, x)
}

// Transpose is ops.Transpose.
func Transpose(t *Tape, x *Var, a, b int) *Var {
	return t.record(ops.Transpose(x.Value, a, b), func(out *Var) {
		ops.TransposeBackward(out.Grad, a, b, gradIf(x))
	}, x)
}

// Concat is ops.Concat.
func Concat(t *Tape, axis int, xs ...*Var) *Var {
	vals := make([]*tensor.Tensor, len(xs))
	sizes := make([]int, len(xs))
	for i, x := range xs {
		vals[i] = x.Value
	}
	y := ops.Concat(axis, vals...)
	ax := axis
	if ax < 0 {
		ax += y.Rank()
	}
	for i, x := range xs {
		sizes[i] = x.Value.Dim(ax)
	}
	return t.record(y, func(out *Var) {
		grads := make([]*tensor.Tensor, len(xs))
		for i, x := range xs {
			grads[i] = gradIf(x)
		}
		ops.ConcatBackward(out.Grad, ax, sizes, grads...)
	}, xs...)
}

// Slice is ops.Slice.
func Slice(t *Tape, x *Var, axis, start, end int) *Var {
	return t.record(ops.Slice(x.Value, axis, start, end), func(out *Var) {
		ops.SliceBackward(out.Grad, axis, start, gradIf(x))
	}, x)
}

// scalar wraps a loss value as a rank-0 tensor of dtype dt.
func scalar(dt tensor.DType, v float64) *tensor.Tensor { return tensor.Full(dt, v) }

// dloss reads the gradient arriving at a scalar loss.
func dloss(out *Var) float64 { return out.Grad.At() }

// CrossEntropy is ops.CrossEntropy of logits (N, V) against I32 targets (N): a scalar Var.
func CrossEntropy(t *Tape, logits *Var, targets *tensor.Tensor, smoothing float64, ignoreIndex int) *Var {
	loss, saved := ops.CrossEntropy(logits.Value, targets, smoothing, ignoreIndex)
	return t.record(scalar(logits.Value.DType(), loss), func(out *Var) {
		ops.CrossEntropyBackward(logits.Value, targets, smoothing, ignoreIndex, saved, dloss(out), gradIf(logits))
	}, logits)
}

// KLDiv is ops.KLDiv: the distillation loss of the student logits against constant teacher
// logits at temperature temp.
func KLDiv(t *Tape, student *Var, teacher *tensor.Tensor, temp float64) *Var {
	loss, p := ops.KLDiv(student.Value, teacher, temp)
	return t.record(scalar(student.Value.DType(), loss), func(out *Var) {
		ops.KLDivBackward(p, teacher, temp, dloss(out), gradIf(student))
	}, student)
}

// MSE is ops.MSE.
func MSE(t *Tape, a, b *Var) *Var {
	return t.record(scalar(a.Value.DType(), ops.MSE(a.Value, b.Value)), func(out *Var) {
		ops.MSEBackward(a.Value, b.Value, dloss(out), gradIf(a), gradIf(b))
	}, a, b)
}

// AddScalars returns the sum of scalar losses (weighted sums of several objectives).
func AddScalars(t *Tape, w []float64, xs ...*Var) *Var {
	var s float64
	for i, x := range xs {
		s += w[i] * x.Value.At()
	}
	return t.record(scalar(xs[0].Value.DType(), s), func(out *Var) {
		g := dloss(out)
		for i, x := range xs {
			if x.requires {
				gx := x.grad()
				gx.Set(gx.At() + w[i]*g)
			}
		}
	}, xs...)
}

// Sum returns the sum of all elements of x as a scalar.
func Sum(t *Tape, x *Var) *Var {
	var s float64
	xs := x.Value.Contiguous()
	if xs.DType() == tensor.F32 {
		for _, v := range xs.F32() {
			s += float64(v)
		}
	} else {
		for _, v := range xs.F64() {
			s += v
		}
	}
	return t.record(scalar(x.Value.DType(), s), func(out *Var) {
		g := tensor.Full(x.Value.DType(), dloss(out), x.Value.Shape()...)
		if x.requires {
			ops.Accumulate(x.grad(), g)
		}
	}, x)
}

// LinearCrossEntropy is ops.LinearCrossEntropy: the mean cross-entropy of the logits x·wᵀ
// (x is (N, C), w is (V, C)) against I32 targets, without materialising the (N, V) logits.
// When recording, the gradients are computed in the forward pass.
func LinearCrossEntropy(t *Tape, x *Var, w *Param, targets *tensor.Tensor, smoothing float64, ignoreIndex int) *Var {
	rec := t.recording(x, &w.Var)
	xv, wv, packed := x.Value, w.Value, w.PackedT()
	if w.fq != nil && rec && wv.DType() == tensor.F32 {
		xv, wv = fakeQuantInput(xv, w.fq), fakeQuantWeight(w)
		packed = kernels.PackB(true, wv.Dim(1), wv.Dim(0), wv.F32(), wv.Dim(1))
	}
	loss, g := ops.LinearCrossEntropy(xv, wv, packed, targets, smoothing, ignoreIndex, rec)
	return t.record(scalar(x.Value.DType(), loss), func(out *Var) {
		ops.LinearCrossEntropyBackward(g, dloss(out), gradIf(x), gradIf(&w.Var))
	}, x, &w.Var)
}

// LinearCat is ops.LinearCat: several Linear layers over the same x, outputs side by side.
// biases may be nil or hold nil entries; packed, when not nil, is the stacked weights packed
// (see ops.LinearCat), which the caller keeps up to date (Param.Version tells when).
func LinearCat(t *Tape, x *Var, ws, biases []*Param, packed *kernels.PackedB) *Var {
	wt := make([]*tensor.Tensor, len(ws))
	inputs := []*Var{x}
	for i, w := range ws {
		wt[i] = w.Value
		inputs = append(inputs, &w.Var)
	}
	var bt []*tensor.Tensor
	if biases != nil {
		bt = make([]*tensor.Tensor, len(biases))
		for i, b := range biases {
			if b != nil {
				bt[i] = b.Value
				inputs = append(inputs, &b.Var)
			}
		}
	}
	if !t.recording(inputs...) {
		if y := kernelLinearCat(x.Value, ws, bt); y != nil {
			return &Var{Value: y}
		}
	}
	xv := x.Value
	if fq := ws[0].fq; fq != nil && t.recording(inputs...) && ws[0].Value.DType() == tensor.F32 {
		xv = fakeQuantInput(x.Value, fq)
		for i, w := range ws {
			if w.fq != nil {
				wt[i] = fakeQuantWeight(w)
			}
		}
		packed = nil
	}
	y := ops.LinearCat(xv, wt, bt, packed)
	return t.record(y, func(out *Var) {
		dws := make([]*tensor.Tensor, len(ws))
		for i, w := range ws {
			dws[i] = gradIf(&w.Var)
		}
		var dbs []*tensor.Tensor
		if biases != nil {
			dbs = make([]*tensor.Tensor, len(biases))
			for i, b := range biases {
				if b != nil {
					dbs[i] = gradIf(&b.Var)
				}
			}
		}
		ops.LinearCatBackward(xv, wt, out.Grad, gradIf(x), dws, dbs)
	}, inputs...)
}

// AttentionQKV is ops.AttentionQKV: self-attention over a fused (B, T, 3C) projection.
func AttentionQKV(t *Tape, qkv *Var, heads int, mask ops.AttnMask, scale, dropP float64, rng *rand.Rand) *Var {
	rec := t.recording(qkv)
	y, saved := ops.AttentionQKV(qkv.Value, heads, mask, scale, dropP, rng, rec)
	return t.record(y, func(out *Var) {
		ops.AttentionQKVBackward(qkv.Value, out.Grad, heads, scale, saved, gradIf(qkv))
	}, qkv)
}

// kernelLinearCat is LinearCat (Linear for one weight) by the weights' kernels: x·[W₀ᵀ W₁ᵀ …]
// + [b₀ b₁ …], each weight's outputs side by side. It returns nil (the caller takes the
// float path) unless x is float32 and every weight has a kernel. biases may be nil or hold
// nils.
func kernelLinearCat(x *tensor.Tensor, ws []*Param, biases []*tensor.Tensor) *tensor.Tensor {
	if x.DType() != tensor.F32 || x.Rank() < 1 {
		return nil
	}
	total := 0
	for _, w := range ws {
		if w.kernel == nil || w.Value.Rank() != 2 || w.Value.Dim(1) != x.Dim(-1) {
			return nil
		}
		total += w.Value.Dim(0)
	}
	n := 1
	for _, d := range x.Shape()[:x.Rank()-1] {
		n *= d
	}
	for i, b := range biases {
		if b != nil && (b.DType() != tensor.F32 || b.Len() != ws[i].Value.Dim(0)) {
			return nil // the float path reports it
		}
	}
	shape := x.Shape()
	shape[len(shape)-1] = total
	y := tensor.Empty(tensor.F32, shape...)
	yv, xv := y.F32(), x.Contiguous().F32()
	off := 0
	for i, w := range ws {
		width := w.Value.Dim(0)
		var bias []float32
		if biases != nil && biases[i] != nil {
			bias = biases[i].Contiguous().F32()
		}
		if bk, ok := w.kernel.(BiasKernel); ok {
			if n > 0 && width > 0 {
				bk.MulTBias(yv[off:], total, xv, n, bias)
			}
			off += width
			continue
		}
		beta := float32(0)
		if bias != nil {
			for r := 0; r < n; r++ {
				copy(yv[r*total+off:r*total+off+width], bias)
			}
			beta = 1
		}
		if n > 0 && width > 0 {
			w.kernel.MulT(yv[off:], total, xv, n, beta)
		}
		off += width
	}
	return y
}

// fakeQuantWeight is w's value rounded by its FakeQuant.
func fakeQuantWeight(w *Param) *tensor.Tensor {
	v := w.Value
	out, in := v.Dim(0), v.Dim(1)
	return tensor.FromF32(w.fq.Weight(v.Contiguous().F32(), out, in), out, in)
}

// fakeQuantInput is x with its rows rounded by fq.Rows (x itself when there is none).
func fakeQuantInput(x *tensor.Tensor, fq *FakeQuant) *tensor.Tensor {
	if fq.Rows == nil || x.DType() != tensor.F32 {
		return x
	}
	xq := x.Clone()
	v := xq.F32()
	in := x.Dim(-1)
	for r := 0; r+in <= len(v) && in > 0; r += in {
		fq.Rows(v[r : r+in])
	}
	return xq
}
