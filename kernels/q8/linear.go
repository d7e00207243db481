package q8

import (
	"fmt"
	"math"
	"sync"

	"github.com/optiformer/optiformer/kernels"
)

// Weights is a Linear layer's weight (out, in) quantized symmetrically per output channel
// (row): W[j][p] ≈ Scale[j]·q[j][p], packed for Gemm.
type Weights struct {
	Scale  []float32 // per output channel
	Q      []int8    // (out, in), row-major: kept for saving and for the reference
	Packed *Packed
}

// QuantizeWeights quantizes w (out rows of in values) per output channel with
// QuantizeRowSym. A NaN or infinite weight is an error.
func QuantizeWeights(w []float32, out, in int) (*Weights, error) {
	if out < 0 || in < 0 || len(w) != out*in {
		panic(fmt.Sprintf("q8: QuantizeWeights: %d values for %d×%d", len(w), out, in))
	}
	qw := &Weights{Scale: make([]float32, out), Q: make([]int8, out*in)}
	for j := 0; j < out; j++ {
		s, err := QuantizeRowSym(qw.Q[j*in:(j+1)*in], w[j*in:(j+1)*in])
		if err != nil {
			return nil, fmt.Errorf("q8: weight row %d: %w", j, err)
		}
		qw.Scale[j] = s
	}
	qw.Packed = Pack(qw.Q, out, in, in)
	return qw, nil
}

// LinearDynamic computes y = x·Wᵀ + bias for m rows of x (m, in) with int8 arithmetic: each
// row of x is quantized on the fly (QuantizeRowSym: dynamic, per token), multiplied exactly in
// int32 (Gemm), and scaled back: y[i][j] = float32(C[i][j])·(sx[i]·Scale[j]) + bias[j]. bias may
// be nil. A row of x holding NaN or ±Inf is an error (it has no int8 value).
func LinearDynamic(y, x []float32, m int, w *Weights, bias []float32) error {
	return LinearDynamicStrided(y, w.Packed.N(), x, m, w, bias)
}

// LinearDynamicStrided is LinearDynamic with row i of the output at y[i·ldy:] (ldy ≥ Out):
// products side by side in a wider matrix; the columns between are left as they are.
func LinearDynamicStrided(y []float32, ldy int, x []float32, m int, w *Weights, bias []float32) error {
	return linearInt8("LinearDynamic", y, ldy, x, m, w, bias, quantizeRow)
}

// LinearStatic is LinearDynamic with a fixed activation scale sx (int8-static, calibrated):
// every row of x is quantized with QuantizeRowScaled(·, sx), values beyond the calibrated
// range saturating, then y[i][j] = float32(C[i][j])·(sx·Scale[j]) + bias[j].
func LinearStatic(y, x []float32, m int, w *Weights, sx float32, bias []float32) error {
	return LinearStaticStrided(y, w.Packed.N(), x, m, w, sx, bias)
}

// LinearStaticStrided is LinearStatic with row i of the output at y[i·ldy:] (ldy ≥ Out).
func LinearStaticStrided(y []float32, ldy int, x []float32, m int, w *Weights, sx float32, bias []float32) error {
	return linearInt8("LinearStatic", y, ldy, x, m, w, bias, func(dst []int8, row []float32) (float32, int32, error) {
		sum, err := QuantizeRowScaled(dst, row, sx)
		return sx, sum, err
	})
}

// linearScratch holds one call's buffers, recycled between calls.
type linearScratch struct {
	qx      []int8
	sx      []float32
	sums, c []int32
	errs    []error
}

var linearPool = sync.Pool{New: func() any { return new(linearScratch) }}

func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// linearInt8 quantizes the rows of x with quantize (which returns the row's scale and the sum
// of its int8 values), multiplies them by w in int32 and scales the result back.
func linearInt8(what string, y []float32, ldy int, x []float32, m int, w *Weights, bias []float32, quantize func(dst []int8, row []float32) (float32, int32, error)) error {
	in, out := w.Packed.K(), w.Packed.N()
	if len(x) != m*in || ldy < out || (m > 0 && len(y) < (m-1)*ldy+out) || (ldy == out && len(y) != m*out) || (bias != nil && len(bias) != out) {
		panic(fmt.Sprintf("q8: %s: x %d, y %d (row stride %d), bias %d for %d rows of %d→%d", what, len(x), len(y), ldy, len(bias), m, in, out))
	}
	sc := linearPool.Get().(*linearScratch)
	defer linearPool.Put(sc)
	sc.qx, sc.sx, sc.sums = grow(sc.qx, m*in), grow(sc.sx, m), grow(sc.sums, m)
	sc.c, sc.errs = grow(sc.c, m*out), grow(sc.errs, m)
	qx, sx, sums, c, errs := sc.qx, sc.sx, sc.sums, sc.c, sc.errs
	kernels.ParallelFor(m, max(1, 4096/max(in, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sx[i], sums[i], errs[i] = quantize(qx[i*in:(i+1)*in], x[i*in:(i+1)*in])
		}
	})
	for i, err := range errs {
		if err != nil {
			clear(errs)
			return fmt.Errorf("q8: %s: input row %d: %w", what, i, err)
		}
	}
	gemmSums(m, qx, in, w.Packed, c, out, sums)
	rk := rowImpl.Get()
	kernels.ParallelFor(m, max(1, 4096/max(out, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dequantRow(rk, y[i*ldy:i*ldy+out], c[i*out:(i+1)*out], sx[i], w.Scale, bias)
		}
	})
	return nil
}

// LinearStaticRef is LinearStatic by the references, for tests (bit-identical).
func LinearStaticRef(y, x []float32, m int, w *Weights, sx float32, bias []float32) error {
	in, out := w.Packed.K(), w.Packed.N()
	if !(sx > 0 && sx <= math.MaxFloat32) {
		return fmt.Errorf("q8: activation scale %v: want a positive finite value", sx)
	}
	qx := make([]int8, m*in)
	for i := 0; i < m; i++ {
		for p, v := range x[i*in : (i+1)*in] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("q8: LinearStatic: input row %d: element %d is %v", i, p, v)
			}
		}
		quantRowClamped(qx[i*in:(i+1)*in], x[i*in:(i+1)*in], 1/sx)
	}
	c := make([]int32, m*out)
	GemmRef(m, out, in, qx, in, w.Q, in, c, out)
	for i := 0; i < m; i++ {
		dequantRowRef(y[i*out:(i+1)*out], c[i*out:(i+1)*out], sx, w.Scale, bias)
	}
	return nil
}

// dequantRow is y[j] = float32(c[j])·(s·scale[j]) + bias[j] (bias may be nil) by the row
// kernels k, the reference finishing the last len(c) % k.width elements.
func dequantRow(k rowKernels, y []float32, c []int32, s float32, scale, bias []float32) {
	n := len(c) - len(c)%k.width
	if n > 0 {
		k.dequant(y[:n], c[:n], s, scale[:n], part(bias, 0, n))
	}
	if n < len(c) {
		dequantRowRef(y[n:len(c)], c[n:], s, scale[n:len(c)], part(bias, n, len(c)))
	}
}

// part is b[lo:hi], or nil when b is nil (no bias).
func part(b []float32, lo, hi int) []float32 {
	if b == nil {
		return nil
	}
	return b[lo:hi]
}

// dequantRowRef is the reference of dequantRow.
func dequantRowRef(y []float32, c []int32, s float32, scale, bias []float32) {
	for j, v := range c {
		f := float32(v) * float32(s*scale[j])
		if bias != nil {
			f += bias[j]
		}
		y[j] = f
	}
}

// LinearDynamicRef is LinearDynamic by the references (GemmRef on the unpacked weights), for
// tests: the two give bit-identical outputs.
func LinearDynamicRef(y, x []float32, m int, w *Weights, bias []float32) error {
	in, out := w.Packed.K(), w.Packed.N()
	qx := make([]int8, m*in)
	sx := make([]float32, m)
	for i := 0; i < m; i++ {
		s, err := QuantizeRowSym(qx[i*in:(i+1)*in], x[i*in:(i+1)*in])
		if err != nil {
			return fmt.Errorf("q8: LinearDynamic: input row %d: %w", i, err)
		}
		sx[i] = s
	}
	c := make([]int32, m*out)
	GemmRef(m, out, in, qx, in, w.Q, in, c, out)
	for i := 0; i < m; i++ {
		dequantRowRef(y[i*out:(i+1)*out], c[i*out:(i+1)*out], sx[i], w.Scale, bias)
	}
	return nil
}
