package ops

import (
	"fmt"
	"math"
	"slices"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// elementwiseGrain is the number of elements below which element-wise work stays on one
// thread.
const elementwiseGrain = 1 << 14

// broadcastSuffix checks that b's shape is a suffix of a's (b repeats over a's leading
// dimensions, as in x + bias) and returns how many times it repeats.
func broadcastSuffix(op string, a, b *tensor.Tensor) int {
	as, bs := a.Shape(), b.Shape()
	if len(bs) > len(as) || !slices.Equal(as[len(as)-len(bs):], bs) {
		panic(fmt.Sprintf("ops: %s: shape %v does not broadcast to %v (it must be a suffix)", op, bs, as))
	}
	return a.Len() / max(1, b.Len())
}

// Add returns a + b, where b has a's shape or a suffix of it (b then repeats over a's leading
// dimensions: a bias, or position encodings added to every batch).
func Add(a, b *tensor.Tensor) *tensor.Tensor {
	checkFloat("Add", a, b)
	rep := broadcastSuffix("Add", a, b)
	a, b = contig(a), contig(b)
	y := likeEmpty(a)
	if y.DType() == tensor.F32 {
		sumRepeat(vals[float32](y), vals[float32](a), vals[float32](b), rep)
	} else {
		sumRepeat(vals[float64](y), vals[float64](a), vals[float64](b), rep)
	}
	return y
}

// sumRepeat writes y = a + b with b repeated rep times, in one pass.
func sumRepeat[T Float](y, a, b []T, rep int) {
	n := len(b)
	if n == 0 {
		return
	}
	kernels.ParallelFor(rep, max(1, elementwiseGrain/n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			yr, ar := y[i*n:(i+1)*n], a[i*n:(i+1)*n]
			for j, v := range b {
				yr[j] = ar[j] + v
			}
		}
	})
}

func addRepeat[T Float](y, b []T, rep int) {
	n := len(b)
	if n == 0 {
		return
	}
	kernels.ParallelFor(rep, max(1, elementwiseGrain/n), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			axpy(1, b, y[i*n:(i+1)*n])
		}
	})
}

// AddBackward adds the gradients of y = Add(a, b) into da (dy) and db (dy summed over the
// repeats).
func AddBackward(dy, da, db *tensor.Tensor) {
	checkFloat("AddBackward", dy, da, db)
	dy = contig(dy)
	if da != nil {
		checkShape("AddBackward", "da", da, dy.Shape()...)
		accumulate(da, dy)
	}
	if db != nil {
		rep := broadcastSuffix("AddBackward", dy, db)
		if dy.DType() == tensor.F32 {
			sumRows(vals[float32](dy), vals[float32](db), rep, db.Len())
		} else {
			sumRows(vals[float64](dy), vals[float64](db), rep, db.Len())
		}
	}
}

// accumulate adds src into dst (same shape).
func accumulate(dst, src *tensor.Tensor) {
	src = contig(src)
	if dst.DType() == tensor.F32 {
		addRepeat(vals[float32](dst), vals[float32](src), 1)
	} else {
		addRepeat(vals[float64](dst), vals[float64](src), 1)
	}
}

// Accumulate adds src into dst (same shape and dtype): the gradient of a use of a value that
// is used more than once.
func Accumulate(dst, src *tensor.Tensor) {
	checkFloat("Accumulate", dst, src)
	checkShape("Accumulate", "src", src, dst.Shape()...)
	accumulate(dst, src)
}

// Mul returns a ⊙ b (element-wise), b broadcasting as in Add.
func Mul(a, b *tensor.Tensor) *tensor.Tensor {
	checkFloat("Mul", a, b)
	rep := broadcastSuffix("Mul", a, b)
	y := contig(a).Clone()
	b = contig(b)
	if y.DType() == tensor.F32 {
		mulRepeat(vals[float32](y), vals[float32](b), rep)
	} else {
		mulRepeat(vals[float64](y), vals[float64](b), rep)
	}
	return y
}

func mulRepeat[T Float](y, b []T, rep int) {
	n := len(b)
	for i := 0; i < rep; i++ {
		row := y[i*n : (i+1)*n]
		for j, v := range b {
			row[j] *= v
		}
	}
}

// MulBackward adds the gradients of y = Mul(a, b) into da (dy ⊙ b) and db (Σ dy ⊙ a over the
// repeats).
func MulBackward(a, b, dy, da, db *tensor.Tensor) {
	checkFloat("MulBackward", a, b, dy, da, db)
	rep := broadcastSuffix("MulBackward", a, b)
	if a.DType() == tensor.F32 {
		mulBackward(vals[float32](contig(a)), vals[float32](contig(b)), vals[float32](contig(dy)), opt[float32](da), opt[float32](db), rep)
	} else {
		mulBackward(vals[float64](contig(a)), vals[float64](contig(b)), vals[float64](contig(dy)), opt[float64](da), opt[float64](db), rep)
	}
}

func mulBackward[T Float](a, b, dy, da, db []T, rep int) {
	n := len(b)
	for i := 0; i < rep; i++ {
		for j := 0; j < n; j++ {
			g := dy[i*n+j]
			if da != nil {
				da[i*n+j] += g * b[j]
			}
			if db != nil {
				db[j] += g * a[i*n+j]
			}
		}
	}
}

// opt returns the elements of t, or nil for a nil tensor.
func opt[T Float](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	return vals[T](t)
}

// Scale returns alpha·x.
func Scale(x *tensor.Tensor, alpha float64) *tensor.Tensor {
	checkFloat("Scale", x)
	y := contig(x).Clone()
	if y.DType() == tensor.F32 {
		kernels.Scale(float32(alpha), vals[float32](y))
	} else {
		kernels.ScaleRef(alpha, vals[float64](y))
	}
	return y
}

// ScaleBackward adds alpha·dy into dx.
func ScaleBackward(dy *tensor.Tensor, alpha float64, dx *tensor.Tensor) {
	checkFloat("ScaleBackward", dy, dx)
	checkShape("ScaleBackward", "dx", dx, dy.Shape()...)
	if dx.DType() == tensor.F32 {
		kernels.Axpy(float32(alpha), vals[float32](contig(dy)), vals[float32](dx))
	} else {
		kernels.AxpyRef(alpha, vals[float64](contig(dy)), vals[float64](dx))
	}
}

// Activation is an element-wise non-linearity of the feed-forward block.
type Activation int

const (
	ReLU     Activation = iota // max(x, 0)
	GELU                       // 0.5·x·(1+erf(x/√2)), torch.nn.GELU()
	GELUTanh                   // 0.5·x·(1+tanh(√(2/π)(x+0.044715x³))), torch.nn.GELU('tanh')
)

var activationNames = map[string]Activation{"relu": ReLU, "gelu": GELU, "gelu_new": GELUTanh, "gelu_tanh": GELUTanh, "gelu_pytorch_tanh": GELUTanh}

// ParseActivation maps a Hugging Face config name ("relu", "gelu", "gelu_new", "gelu_tanh",
// "gelu_pytorch_tanh") to an Activation.
func ParseActivation(name string) (Activation, error) {
	if a, ok := activationNames[name]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("ops: unknown activation %q (want relu, gelu or gelu_tanh)", name)
}

func (a Activation) String() string {
	switch a {
	case ReLU:
		return "relu"
	case GELU:
		return "gelu"
	case GELUTanh:
		return "gelu_tanh"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// Activate returns act(x).
func Activate(x *tensor.Tensor, act Activation) *tensor.Tensor {
	checkFloat("Activate", x)
	x = contig(x)
	y := likeEmpty(x)
	if x.DType() == tensor.F32 {
		src, dst := vals[float32](x), vals[float32](y)
		kernels.ParallelFor(len(src), elementwiseGrain, func(lo, hi int) {
			switch act {
			case ReLU:
				relu(dst[lo:hi], src[lo:hi])
			case GELU:
				kernels.GELU(dst[lo:hi], src[lo:hi])
			case GELUTanh:
				kernels.GELUTanh(dst[lo:hi], src[lo:hi])
			}
		})
		return y
	}
	src, dst := vals[float64](x), vals[float64](y)
	switch act {
	case ReLU:
		for i, v := range src {
			dst[i] = max(v, 0)
		}
	case GELU:
		kernels.GELURef(dst, src)
	case GELUTanh:
		kernels.GELUTanhRef(dst, src)
	}
	return y
}

// ActivateBackward adds dy·act'(x) into dx. ReLU'(0) is 0, as in PyTorch.
func ActivateBackward(x, dy *tensor.Tensor, act Activation, dx *tensor.Tensor) {
	checkFloat("ActivateBackward", x, dy, dx)
	checkShape("ActivateBackward", "dy", dy, x.Shape()...)
	checkShape("ActivateBackward", "dx", dx, x.Shape()...)
	if x.DType() == tensor.F32 {
		xs, g, d := vals[float32](contig(x)), vals[float32](contig(dy)), vals[float32](dx)
		kernels.ParallelFor(len(xs), elementwiseGrain, func(lo, hi int) {
			activateBackward(xs[lo:hi], g[lo:hi], d[lo:hi], act)
		})
		return
	}
	activateBackward(vals[float64](contig(x)), vals[float64](contig(dy)), vals[float64](dx), act)
}

func activateBackward[T Float](x, dy, dx []T, act Activation) {
	switch act {
	case ReLU:
		if x32, ok := any(x).([]float32); ok {
			kernels.ReLUBackward(any(dx).([]float32), any(dy).([]float32), x32)
			return
		}
		for i, v := range x {
			if !(v <= 0) { // x > 0 or NaN, as kernels.ReLUBackward
				dx[i] += dy[i]
			}
		}
	case GELU:
		for i, v := range x {
			dx[i] += dy[i] * T(geluGrad(float64(v)))
		}
	case GELUTanh:
		for i, v := range x {
			dx[i] += dy[i] * T(geluTanhGrad(float64(v)))
		}
	}
}

// geluGrad is d/dx 0.5·x·(1+erf(x/√2)) = Φ(x) + x·φ(x).
func geluGrad(f float64) float64 {
	cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
	pdf := math.Exp(-0.5*f*f) / math.Sqrt(2*math.Pi)
	return cdf + f*pdf
}

// geluTanhGrad is, with u = √(2/π)(x + 0.044715x³), d/dx 0.5x(1+tanh u) =
// 0.5(1+tanh u) + 0.5x(1-tanh²u)·u'.
func geluTanhGrad(f float64) float64 {
	const c = 0.7978845608028654 // √(2/π)
	u := c * (f + 0.044715*f*f*f)
	th := math.Tanh(u)
	du := c * (1 + 3*0.044715*f*f)
	return 0.5*(1+th) + 0.5*f*(1-th*th)*du
}

// ActivateGradInPlace turns g, the gradient of act(x), into the gradient of x in place:
// g·act'(x), as ActivateBackward would add it (a dropped ReLU gradient is +0 here).
func ActivateGradInPlace(x, g *tensor.Tensor, act Activation) {
	checkFloat("ActivateGradInPlace", x, g)
	checkShape("ActivateGradInPlace", "g", g, x.Shape()...)
	if !g.IsContiguous() {
		panic("ops: ActivateGradInPlace: g is not contiguous")
	}
	if x.DType() == tensor.F32 {
		xs, gs := vals[float32](contig(x)), vals[float32](g)
		kernels.ParallelFor(len(xs), elementwiseGrain, func(lo, hi int) {
			activateGradInPlace(xs[lo:hi], gs[lo:hi], act)
		})
		return
	}
	activateGradInPlace(vals[float64](contig(x)), vals[float64](g), act)
}

func activateGradInPlace[T Float](x, g []T, act Activation) {
	switch act {
	case ReLU:
		if x32, ok := any(x).([]float32); ok {
			kernels.ReLUMask(any(g).([]float32), x32)
			return
		}
		for i, v := range x {
			if v <= 0 {
				g[i] = 0
			}
		}
	case GELU:
		for i, v := range x {
			g[i] *= T(geluGrad(float64(v)))
		}
	case GELUTanh:
		for i, v := range x {
			g[i] *= T(geluTanhGrad(float64(v)))
		}
	}
}

// relu is max(x, 0) as torch.relu: NaN stays NaN, −0 and negatives become +0.
func relu(dst, src []float32) { kernels.ReLU(dst, src[:len(dst)]) }
