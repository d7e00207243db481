package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPanics walks every documented panic path and checks the message names the operation
// and the offending shape or axis.
func TestPanics(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	x := Arange(F32, 24).View(2, 3, 4)
	tr := x.Transpose(0, 2) // shape [4 3 2], strides [1 4 12]
	const big = 1 << 40
	cases := []struct {
		prefix string
		f      func()
	}{
		// DType.
		{"tensor: Size of invalid DType(5)", func() { DType(5).Size() }},

		// New and Full.
		{"tensor: New(DType(0)) of shape [2]: invalid dtype", func() { New(0, 2) }},
		{"tensor: New(float32): negative dimension in shape [2 -1]", func() { New(F32, 2, -1) }},
		{"tensor: New(float32): element count of shape [1099511627776 1099511627776] overflows int", func() { New(F32, big, big) }},
		{"tensor: New(int8): element count of shape [0 1099511627776 1099511627776] overflows int", func() { New(I8, 0, big, big) }},
		{"tensor: New(float64): shape [2305843009213693952] needs more than MaxInt bytes", func() { New(F64, 1<<61) }},
		{"tensor: Full(DType(7), 1) of shape [2]: invalid dtype", func() { Full(7, 1, 2) }},
		{"tensor: New(int32): negative dimension in shape [-3]", func() { Full(I32, 1, -3) }},

		// From*.
		{"tensor: FromF32: 5 elements do not fill shape [2 3] (6 elements)", func() { FromF32(make([]float32, 5), 2, 3) }},
		{"tensor: FromF32: 2 elements do not fill shape [] (1 elements)", func() { FromF32(make([]float32, 2)) }},
		{"tensor: FromF32: negative dimension in shape [-1 2]", func() { FromF32(make([]float32, 2), -1, 2) }},
		{"tensor: FromF32: element count of shape [1099511627776 1099511627776 1099511627776] overflows int", func() { FromF32(nil, big, big, big) }},
		{"tensor: FromF64: 1 elements do not fill shape [2]", func() { FromF64(make([]float64, 1), 2) }},
		{"tensor: FromI32: 0 elements do not fill shape [1]", func() { FromI32(nil, 1) }},
		{"tensor: FromI8: 3 elements do not fill shape [2 2]", func() { FromI8(make([]int8, 3), 2, 2) }},

		// Arange.
		{"tensor: Arange(float32, -1): negative length", func() { Arange(F32, -1) }},
		{"tensor: Arange(int8, 129): 128 is not exact in int8", func() { Arange(I8, 129) }},
		{"tensor: Arange(float32, 16777218): 16777217 is not exact in float32", func() { Arange(F32, 1<<24+2) }},
		{"tensor: Arange(DType(0), 3): invalid dtype", func() { Arange(0, 3) }},

		// Random.
		{"tensor: RandUniform(float32, 0, 1): nil *rand.Rand", func() { RandUniform(nil, F32, 0, 1, 2) }},
		{"tensor: RandUniform(int32, 0, 1): dtype must be float32 or float64", func() { RandUniform(r, I32, 0, 1, 2) }},
		{"tensor: RandUniform(float64, 1, 0): bounds must be finite with lo <= hi", func() { RandUniform(r, F64, 1, 0, 2) }},
		{"tensor: RandUniform(float64, NaN, 1): bounds", func() { RandUniform(r, F64, math.NaN(), 1, 2) }},
		{"tensor: RandUniform(float64, 0, +Inf): bounds", func() { RandUniform(r, F64, 0, math.Inf(1), 2) }},
		{"tensor: RandUniform(float64, -1e+308, 1e+308): bounds", func() { RandUniform(r, F64, -1e308, 1e308, 2) }},
		{"tensor: RandUniform(float32, 0, 1e+39): bounds", func() { RandUniform(r, F32, 0, 1e39, 2) }},
		{"tensor: New(float32): negative dimension in shape [-2]", func() { RandUniform(r, F32, 0, 1, -2) }},
		{"tensor: RandNormal(float32, 0, 1): nil *rand.Rand", func() { RandNormal(nil, F32, 0, 1, 2) }},
		{"tensor: RandNormal(int8, 0, 1): dtype must be float32 or float64", func() { RandNormal(r, I8, 0, 1, 2) }},
		{"tensor: RandNormal(float64, 0, -1): mean and std must be finite with std >= 0", func() { RandNormal(r, F64, 0, -1, 2) }},
		{"tensor: RandNormal(float64, NaN, 1): mean and std", func() { RandNormal(r, F64, math.NaN(), 1, 2) }},
		{"tensor: RandNormal(float64, 0, +Inf): mean and std", func() { RandNormal(r, F64, 0, math.Inf(1), 2) }},
		{"tensor: RandNormal(float64, 0, NaN): mean and std", func() { RandNormal(r, F64, 0, math.NaN(), 2) }},

		// Accessors.
		{"tensor: Dim(3) of a rank-3 tensor", func() { x.Dim(3) }},
		{"tensor: Dim(-4) of a rank-3 tensor", func() { x.Dim(-4) }},
		{"tensor: F64() of a float32 tensor", func() { x.F64() }},
		{"tensor: I32() of a float32 tensor", func() { x.I32() }},
		{"tensor: I8() of a float32 tensor", func() { x.I8() }},
		{"tensor: F32() of a int32 tensor", func() { New(I32, 2).F32() }},
		{"tensor: F32() of a non-contiguous tensor of shape [4 3 2], strides [1 4 12]", func() { tr.F32() }},
		{"tensor: F64() of a non-contiguous tensor", func() { New(F64, 2, 3).Transpose(0, 1).F64() }},
		{"tensor: I32() of a non-contiguous tensor", func() { New(I32, 2, 3).Slice(1, 0, 2).I32() }},
		{"tensor: I8() of a non-contiguous tensor", func() { New(I8, 2, 1).Expand(2, 2).I8() }},
		{"tensor: At(1, 2) of a rank-3 tensor of shape [2 3 4]", func() { x.At(1, 2) }},
		{"tensor: At(2, 0, 0) of shape [2 3 4]: index 2 out of range on axis 0", func() { x.At(2, 0, 0) }},
		{"tensor: At(0, -1, 0) of shape [2 3 4]: index -1 out of range on axis 1", func() { x.At(0, -1, 0) }},
		{"tensor: Set(0, 0, 0, 0) of a rank-3 tensor", func() { x.Set(1, 0, 0, 0, 0) }},
		{"tensor: Set(0, 0, 4) of shape [2 3 4]: index 4 out of range on axis 2", func() { x.Set(1, 0, 0, 4) }},

		{"tensor: At of a tensor of invalid DType(0)", func() { new(Tensor).At() }},
		{"tensor: Set of a tensor of invalid DType(0)", func() { new(Tensor).Set(1) }},

		// View and Reshape.
		{"tensor: View(-1, -1) of shape [2 3 4]: only one dimension can be -1", func() { x.View(-1, -1) }},
		{"tensor: View(-2, 12) of shape [2 3 4]: negative dimension -2", func() { x.View(-2, 12) }},
		{"tensor: View(5, 5) of shape [2 3 4]: shape has 25 elements, tensor has 24", func() { x.View(5, 5) }},
		{"tensor: View(5, -1) of shape [2 3 4] (24 elements): cannot infer the -1 dimension", func() { x.View(5, -1) }},
		{"tensor: View(0, -1) of shape [2 3 4] (24 elements): cannot infer", func() { x.View(0, -1) }},
		{"tensor: View(1099511627776, 1099511627776) of shape [2 3 4]: element count overflows int", func() { x.View(big, big) }},
		{"tensor: View(1099511627776, 1099511627776, -1) of shape [2 3 4]: element count overflows int", func() { x.View(big, big, -1) }},
		{"tensor: View(0, 1099511627776, 1099511627776) of shape [0]: element count of shape [0 1099511627776 1099511627776] overflows int", func() { New(F32, 0).View(0, big, big) }},
		{"tensor: View(24) of a non-contiguous tensor of shape [4 3 2], strides [1 4 12]: not viewable, use Reshape", func() { tr.View(24) }},
		{"tensor: Reshape(7, -1) of shape [4 3 2] (24 elements): cannot infer", func() { tr.Reshape(7, -1) }},
		{"tensor: Reshape(25) of shape [4 3 2]: shape has 25 elements, tensor has 24", func() { tr.Reshape(25) }},
		{"tensor: Reshape(-1, 2, -1) of shape [2 3 4]: only one dimension can be -1", func() { x.Reshape(-1, 2, -1) }},

		// Transpose and Permute.
		{"tensor: Transpose(2, 5) of a rank-3 tensor", func() { x.Transpose(2, 5) }},
		{"tensor: Transpose(-4, 0) of a rank-3 tensor", func() { x.Transpose(-4, 0) }},
		{"tensor: Transpose(0, 3) of a rank-3 tensor", func() { x.Transpose(0, 3) }},
		{"tensor: Permute(0, 1) of a rank-3 tensor", func() { x.Permute(0, 1) }},
		{"tensor: Permute(0, 1, -3) of a rank-3 tensor: axes must name each dimension once", func() { x.Permute(0, 1, -3) }},
		{"tensor: Permute(0, 1, 3) of a rank-3 tensor: axes must name each dimension once", func() { x.Permute(0, 1, 3) }},

		// Slice.
		{"tensor: Slice(3, 0, 1) of a rank-3 tensor", func() { x.Slice(3, 0, 1) }},
		{"tensor: Slice(-4, 0, 1) of a rank-3 tensor", func() { x.Slice(-4, 0, 1) }},
		{"tensor: Slice(1, -1, 2) of shape [2 3 4]: need 0 <= start <= end <= 3", func() { x.Slice(1, -1, 2) }},
		{"tensor: Slice(1, 2, 1) of shape [2 3 4]: need 0 <= start <= end <= 3", func() { x.Slice(1, 2, 1) }},
		{"tensor: Slice(-1, 0, 5) of shape [2 3 4]: need 0 <= start <= end <= 4", func() { x.Slice(-1, 0, 5) }},

		// Squeeze, Unsqueeze, Expand.
		{"tensor: Squeeze(3) of a rank-3 tensor", func() { x.Squeeze(3) }},
		{"tensor: Squeeze(0) of shape [2 3 4]: axis 0 has size 2, not 1", func() { x.Squeeze(0) }},
		{"tensor: Unsqueeze(4) of a rank-3 tensor", func() { x.Unsqueeze(4) }},
		{"tensor: Unsqueeze(-5) of a rank-3 tensor", func() { x.Unsqueeze(-5) }},
		{"tensor: Expand(3, 4) of shape [2 3 4]: fewer dimensions than the tensor", func() { x.Expand(3, 4) }},
		{"tensor: Expand(-1, 2, 3, 4) of shape [2 3 4]: new leading dimension 0 must be non-negative", func() { x.Expand(-1, 2, 3, 4) }},
		{"tensor: Expand(2, -2, 4) of shape [2 3 4]: negative size -2", func() { x.Expand(2, -2, 4) }},
		{"tensor: Expand(2, 6, 4) of shape [2 3 4]: dimension 1 of size 3 cannot expand to 6", func() { x.Expand(2, 6, 4) }},
		{"tensor: Expand(1099511627776, 1099511627776, 2, 3, 4): element count of shape", func() { x.Expand(big, big, 2, 3, 4) }},

		// Conversion.
		{"tensor: To(DType(0)) of a float32 tensor: invalid dtype", func() { x.To(0) }},
		{"tensor: To(DType(5)) of a float32 tensor: invalid dtype", func() { tr.To(5) }},
	}
	for _, c := range cases {
		mustPanic(t, c.prefix, c.f)
	}
}

// TestMustPanicFails makes sure the helper can fail.
func TestMustPanicFails(t *testing.T) {
	for name, f := range map[string]func(){
		"no panic":     func() {},
		"wrong prefix": func() { panic("tensor: other") },
		"not a string": func() { panic(42) },
	} {
		ft := &fakeTB{TB: t}
		func() {
			defer func() { recover() }()
			mustPanic(ft, "tensor: Transpose(", f)
		}()
		if !ft.failed {
			t.Errorf("mustPanic accepted %s", name)
		}
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}
