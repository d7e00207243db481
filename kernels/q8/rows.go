package q8

import (
	"fmt"
	"math"
)

// QuantizeRowSym quantizes x symmetrically to int8 with one scale: s = max|x|/127 and
// dst[i] = RNE(x[i]·(127/max|x|)) clamped to [−127, 127], so that x[i] ≈ s·dst[i]. Rounding
// is to nearest even, in float32, as the vector conversion instructions do, so that the fast
// row kernel gives the same bytes. It returns s (0 for an all-zero row, whose values are all 0).
// A NaN or infinite element is an error: it has no int8 value, and quantizing it silently
// would hide a broken model.
func QuantizeRowSym(dst []int8, x []float32) (float32, error) {
	if len(dst) != len(x) {
		panic(fmt.Sprintf("q8: QuantizeRowSym: len(dst) = %d, len(x) = %d", len(dst), len(x)))
	}
	var amax float32
	for i, v := range x {
		a := float32(math.Abs(float64(v)))
		if a > math.MaxFloat32 || a != a {
			return 0, fmt.Errorf("q8: element %d is %v", i, v)
		}
		amax = max(amax, a)
	}
	if amax == 0 {
		clear(dst)
		return 0, nil
	}
	inv := 127 / amax
	for i, v := range x {
		q := math.RoundToEven(float64(float32(v * inv)))
		dst[i] = int8(max(-127, min(127, q)))
	}
	return amax / 127, nil
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
