package q8

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/internal/cpu"
)

// tinyRow: a row whose largest magnitude is below this quantizes to zeros (127/amax would
// overflow float32 for subnormal rows; such values are zero at any precision that matters).
const tinyRow = 1e-37

// QuantizeRowSym quantizes x symmetrically to int8 with one scale: s = max|x|/127 and
// dst[i] = RNE(x[i]·(127/max|x|)) clamped to [−127, 127], so that x[i] ≈ s·dst[i]. Rounding
// is to nearest even, in float32, as the vector conversion instructions do: every variant
// writes the same bytes. It returns s; a row whose largest magnitude is below 1e-37 (zero
// included) gives zeros and s = 0. A NaN or infinite element is an error: it has no int8
// value, and quantizing it silently would hide a broken model.
func QuantizeRowSym(dst []int8, x []float32) (float32, error) {
	s, _, err := quantizeRow(dst, x)
	return s, err
}

// quantizeRow is QuantizeRowSym that also returns Σ dst[i].
func quantizeRow(dst []int8, x []float32) (float32, int32, error) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("q8: QuantizeRowSym: len(dst) = %d, len(x) = %d", len(dst), len(x)))
	}
	k := rowImpl.Get()
	amax, err := rowAbsMax(k, x)
	if err != nil {
		return 0, 0, err
	}
	if amax < tinyRow {
		clear(dst)
		return 0, 0, nil
	}
	inv := 127 / amax
	sum := k.quant(dst, x, inv)
	tail := len(x) - len(x)%k.width
	sum += quantRowRef(dst[tail:], x[tail:], inv)
	return amax / 127, sum, nil
}

// rowAbsMax is max |x[i]| by the row kernels; a NaN or infinite element is an error.
func rowAbsMax(k rowKernels, x []float32) (float32, error) {
	amax, check := k.absMax(x)
	for _, v := range x[len(x)-len(x)%k.width:] {
		amax = max(amax, float32(math.Abs(float64(v))))
		check += v * 0
	}
	if check != 0 || amax > math.MaxFloat32 {
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return 0, fmt.Errorf("q8: element %d is %v", i, v)
			}
		}
	}
	return amax, nil
}

// rowKernels is one variant of the row passes; each handles whole vectors of width
// elements and leaves the rest to the caller.
type rowKernels struct {
	width   int
	absMax  func(x []float32) (amax, check float32)
	quant   func(dst []int8, x []float32, inv float32) int32
	dequant func(y []float32, cs []int32, s float32, scale, bias []float32)
}

var rowImpl = cpu.NewFamily("q8rows", rowKernels{width: 1, absMax: absMaxRef, quant: quantRowRef, dequant: dequantRowRef})

// absMaxRef returns max |x[i]| and Σ x[i]·0 (NaN exactly when an element is NaN or ±Inf).
func absMaxRef(x []float32) (amax, check float32) {
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
		check += v * 0
	}
	return amax, check
}

// quantRowRef sets dst[i] = clamp(RNE(x[i]·inv), −127, 127) and returns their sum.
func quantRowRef(dst []int8, x []float32, inv float32) int32 {
	var sum int32
	for i, v := range x {
		q := int32(math.RoundToEven(float64(float32(v * inv))))
		q = max(-127, min(127, q))
		dst[i] = int8(q)
		sum += q
	}
	return sum
}

// DequantizeRowSym writes s·q[i] into dst.
func DequantizeRowSym(dst []float32, q []int8, s float32) {
	if len(dst) != len(q) {
		panic(fmt.Sprintf("q8: DequantizeRowSym: len(dst) = %d, len(q) = %d", len(dst), len(q)))
	}
	for i, v := range q {
		dst[i] = float32(v) * s
	}
}

// QuantizeRowScaled quantizes x to int8 with a fixed scale s > 0 (a calibrated, static
// activation scale): dst[i] = clamp(RNE(x[i]·(1/s)), −127, 127), values beyond the
// calibrated range saturating. It returns Σ dst[i]. NaN or ±Inf is an error, as for
// QuantizeRowSym.
func QuantizeRowScaled(dst []int8, x []float32, s float32) (int32, error) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("q8: QuantizeRowScaled: len(dst) = %d, len(x) = %d", len(dst), len(x)))
	}
	if !(s > 0 && s <= math.MaxFloat32) {
		return 0, fmt.Errorf("q8: activation scale %v: want a positive finite value", s)
	}
	k := rowImpl.Get()
	amax, err := rowAbsMax(k, x)
	if err != nil {
		return 0, err
	}
	inv := 1 / s
	if amax*inv >= 127 {
		// Outliers: the row kernels convert before clamping, which overflows int32 far out
		// of range; clamp in float first (rare: beyond the calibrated range).
		return quantRowClamped(dst, x, inv), nil
	}
	sum := k.quant(dst, x, inv)
	tail := len(x) - len(x)%k.width
	return sum + quantRowRef(dst[tail:], x[tail:], inv), nil
}

// quantRowClamped is quantRowRef with the product clamped in float before rounding, exact
// for any magnitude.
func quantRowClamped(dst []int8, x []float32, inv float32) int32 {
	var sum int32
	for i, v := range x {
		f := max(-127, min(127, float32(v*inv)))
		q := int32(math.RoundToEven(float64(f)))
		dst[i] = int8(q)
		sum += q
	}
	return sum
}
