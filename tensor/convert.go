package tensor

import (
	"fmt"
	"math"
)

// To returns a new compact tensor holding t's elements converted to dt
// (torch.Tensor.to(dtype), but always a copy, even when dt is t's dtype). The conversions:
//
//   - float → float: rounded to nearest even (float64 → float32 overflows to ±Inf; NaN stays
//     NaN), as in PyTorch.
//   - float → int: truncated toward zero as in PyTorch, but where PyTorch's result is
//     undefined (C++ undefined behaviour) ours is defined: values beyond the integer range
//     saturate to its minimum or maximum (±Inf included) and NaN becomes 0.
//   - int → float: exact when representable (every int8 and float64 case; int32 beyond 2²⁴
//     rounds to nearest even in float32).
//   - int → int: int8 → int32 is exact; int32 → int8 keeps the low 8 bits (two's-complement
//     wrap-around), as PyTorch and Go do: 200 becomes -56.
//
// It panics for an invalid dt.
func (t *Tensor) To(dt DType) *Tensor {
	if !dt.valid() {
		panic(fmt.Sprintf("tensor: To(%v) of a %v tensor: invalid dtype", dt, t.dtype))
	}
	src := t.Contiguous()
	if dt == t.dtype {
		if src == t {
			return t.compact()
		}
		return src
	}
	u := New(dt, t.shape...)
	switch t.dtype {
	case F32:
		convertFrom(u, src.F32())
	case F64:
		convertFrom(u, src.F64())
	case I32:
		convertFrom(u, src.I32())
	case I8:
		convertFrom(u, src.I8())
	}
	return u
}

// convertFrom converts the elements of s into u's storage.
func convertFrom[S number](u *Tensor, s []S) {
	switch u.dtype {
	case F32:
		convert(u.f32, s, math.MinInt32, math.MaxInt32)
	case F64:
		convert(u.f64, s, math.MinInt32, math.MaxInt32)
	case I32:
		convert(u.i32, s, math.MinInt32, math.MaxInt32)
	case I8:
		convert(u.i8, s, math.MinInt8, math.MaxInt8)
	}
}

// convert converts s into d; lo and hi are d's range when d is an integer type.
func convert[D, S number](d []D, s []S, lo, hi int64) {
	var zd D
	var zs S
	dInt := isInt(zd)
	sFloat := !isInt(zs)
	for i, v := range s {
		if dInt && sFloat {
			d[i] = D(floatToInt(float64(v), lo, hi))
		} else {
			d[i] = D(v)
		}
	}
}

// isInt reports whether x's type is an integer type.
func isInt(x any) bool {
	switch x.(type) {
	case int32, int8:
		return true
	}
	return false
}

// floatToInt truncates v toward zero and saturates it to [lo, hi]; NaN gives 0.
func floatToInt(v float64, lo, hi int64) int64 {
	switch {
	case v != v:
		return 0
	case v <= float64(lo):
		return lo
	case v >= float64(hi):
		return hi
	}
	return int64(v) // Go truncates toward zero
}
