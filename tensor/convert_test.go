package tensor

import (
	"math"
	"testing"
)

// fromFloats builds a 1-D tensor of dtype dt holding vs exactly (the values must fit).
func fromFloats(dt DType, vs ...float64) *Tensor {
	switch dt {
	case F32:
		d := make([]float32, len(vs))
		for i, v := range vs {
			d[i] = float32(v)
		}
		return FromF32(d, len(d))
	case F64:
		return FromF64(append([]float64(nil), vs...), len(vs))
	case I32:
		d := make([]int32, len(vs))
		for i, v := range vs {
			d[i] = int32(v)
		}
		return FromI32(d, len(d))
	case I8:
		d := make([]int8, len(vs))
		for i, v := range vs {
			d[i] = int8(v)
		}
		return FromI8(d, len(d))
	}
	panic("bad dtype")
}

func TestTo(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	const maxI32, minI32 = math.MaxInt32, math.MinInt32
	cases := []struct {
		from, to DType
		in, want []float64
	}{
		// float → int: truncation toward zero, saturation, NaN → 0.
		{F32, I32, []float64{2.9, -2.9, 0.5, -0.5, 3e9, -3e9, inf, -inf, nan, 2147483520, 2147483648, -2147483648},
			[]float64{2, -2, 0, 0, maxI32, minI32, maxI32, minI32, 0, 2147483520, maxI32, minI32}},
		{F64, I32, []float64{2147483647.9, 2147483648, -2147483648.9, -2147483649, 1e300, -1e-300, nan},
			[]float64{maxI32, maxI32, minI32, minI32, maxI32, 0, 0}},
		{F64, I8, []float64{127.9, 128, -128.5, -129, -0.9, nan, inf, -inf, 100.2},
			[]float64{127, 127, -128, -128, 0, 0, 127, -128, 100}},
		{F32, I8, []float64{1000, -1000, 5.5, -5.5, nan},
			[]float64{127, -128, 5, -5, 0}},
		// int → int: exact widening, wrapping narrowing (as PyTorch and Go).
		{I32, I8, []float64{200, -129, 127, 256, -128, maxI32},
			[]float64{-56, 127, 127, 0, -128, -1}},
		{I8, I32, []float64{-128, 127, 0},
			[]float64{-128, 127, 0}},
		// int → float: exact where representable, else round to nearest even.
		{I32, F32, []float64{16777217, 16777219, maxI32, minI32, -3},
			[]float64{16777216, 16777220, 2147483648, -2147483648, -3}},
		{I32, F64, []float64{maxI32, minI32, 16777217},
			[]float64{maxI32, minI32, 16777217}},
		{I8, F32, []float64{-128, 127}, []float64{-128, 127}},
		{I8, F64, []float64{-128, 127}, []float64{-128, 127}},
		// float ↔ float.
		{F64, F32, []float64{0.1, 1e300, -1e300, nan, 1e-50, -inf},
			[]float64{float64(float32(0.1)), inf, -inf, nan, 0, -inf}},
		{F32, F64, []float64{0.1, nan, -inf},
			[]float64{float64(float32(0.1)), nan, -inf}},
		// Same dtype: a copy.
		{F32, F32, []float64{1.5, nan}, []float64{1.5, nan}},
		{F64, F64, []float64{0.1}, []float64{0.1}},
		{I32, I32, []float64{-7}, []float64{-7}},
		{I8, I8, []float64{-7}, []float64{-7}},
	}
	for _, c := range cases {
		src := fromFloats(c.from, c.in...)
		got := src.To(c.to)
		if got.DType() != c.to || !eqInts(got.Shape(), []int{len(c.in)}) || !got.IsContiguous() || sameStorage(got, src) {
			t.Errorf("%v.To(%v): %+v", c.from, c.to, got)
			continue
		}
		if g := values(got); !eqFloats(g, c.want) {
			t.Errorf("%v.To(%v) of %v = %v, want %v", c.from, c.to, c.in, g, c.want)
		}
	}
	// Negative zero stays negative zero in float conversions.
	if v := fromFloats(F64, math.Copysign(0, -1)).To(F32).At(0); !math.Signbit(v) {
		t.Error("-0 lost its sign")
	}
}

func TestToStrided(t *testing.T) {
	x := Arange(F64, 24).View(2, 3, 4).Permute(2, 0, 1).Slice(0, 1, 3)
	for _, dt := range allDTypes {
		y := x.To(dt)
		if !y.IsContiguous() || !eqInts(y.Shape(), x.Shape()) || !eqFloats(values(y), values(x)) {
			t.Errorf("To(%v) of a strided view: %+v", dt, y)
		}
	}
	// To of the same dtype on a non-contiguous tensor copies once and keeps order.
	y := x.To(F64)
	if sameStorage(x, y) || !eqFloats(flatData(y), values(x)) {
		t.Error("To(F64) of an F64 view")
	}
}
