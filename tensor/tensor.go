package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Tensor is an n-dimensional array: a dtype, a shape, strides (in elements, never negative)
// and an element offset into typed storage, laid out row-major like a PyTorch tensor. A
// rank-0 Tensor is a scalar holding one element; dimensions of size zero are legal.
//
// The header never changes once created; views share the storage. Use the constructors
// (New, Full, FromF32, …): the zero Tensor is not usable.
type Tensor struct {
	dtype   DType
	shape   []int
	strides []int
	offset  int

	// Exactly one of these is non-nil, the one matching dtype.
	f32 []float32
	f64 []float64
	i32 []int32
	i8  []int8
}

// number is the set of storage element types.
type number interface {
	float32 | float64 | int32 | int8
}

// New returns a zeroed, contiguous tensor of the given dtype and shape (torch.zeros). No
// shape arguments give a scalar. It panics for an invalid dtype, a negative dimension or a
// shape whose element count overflows int.
func New(dt DType, shape ...int) *Tensor { return alloc(dt, true, shape) }

// Empty is New for a tensor the caller is about to overwrite completely: its contents are
// unspecified (recycled storage keeps whatever it held), which saves zeroing it first.
func Empty(dt DType, shape ...int) *Tensor { return alloc(dt, false, shape) }

func alloc(dt DType, zero bool, shape []int) *Tensor {
	if !dt.valid() {
		panic(fmt.Sprintf("tensor: New(%v) of shape %s: invalid dtype", dt, fmtShape(shape)))
	}
	n, why := shapeSize(shape)
	if why != "" {
		panic(fmt.Sprintf("tensor: New(%v): %s", dt, why))
	}
	if _, ok := mulInt(n, dt.Size()); !ok {
		panic(fmt.Sprintf("tensor: New(%v): shape %s needs more than MaxInt bytes", dt, fmtShape(shape)))
	}
	t := &Tensor{dtype: dt}
	t.shape, t.strides = compactLayout(shape)
	switch dt {
	case F32:
		if t.f32 = reuse32(n, zero); t.f32 == nil {
			t.f32 = make([]float32, n)
		}
	case F64:
		if t.f64 = reuse64(n, zero); t.f64 == nil {
			t.f64 = make([]float64, n)
		}
	case I32:
		t.i32 = make([]int32, n)
	case I8:
		t.i8 = make([]int8, n)
	}
	return t
}

// Full returns a contiguous tensor of the given dtype and shape with every element set to v
// (torch.full). v is converted as by Set: rounded for F32, truncated toward zero and
// saturated for integer dtypes (NaN becomes 0).
func Full(dt DType, v float64, shape ...int) *Tensor {
	if !dt.valid() {
		panic(fmt.Sprintf("tensor: Full(%v, %g) of shape %s: invalid dtype", dt, v, fmtShape(shape)))
	}
	t := New(dt, shape...)
	switch dt {
	case F32:
		fill(t.f32, float32(v))
	case F64:
		fill(t.f64, v)
	case I32:
		fill(t.i32, int32(floatToInt(v, math.MinInt32, math.MaxInt32)))
	case I8:
		fill(t.i8, int8(floatToInt(v, math.MinInt8, math.MaxInt8)))
	}
	return t
}

func fill[T number](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

// fromSlice wraps data (no copy) in a contiguous tensor of the given shape.
func fromSlice(op string, dt DType, n int, shape []int) *Tensor {
	want := checkShape(op, shape)
	if n != want {
		panic(fmt.Sprintf("tensor: %s: %d elements do not fill shape %s (%d elements)", op, n, fmtShape(shape), want))
	}
	t := &Tensor{dtype: dt}
	t.shape, t.strides = compactLayout(shape)
	return t
}

// FromF32 returns a contiguous float32 tensor of the given shape over data, which it shares
// (no copy; torch.from_numpy). It panics unless len(data) is the product of shape; with no
// shape arguments data must hold exactly one element and the result is a scalar.
func FromF32(data []float32, shape ...int) *Tensor {
	t := fromSlice("FromF32", F32, len(data), shape)
	t.f32 = data[:len(data):len(data)]
	return t
}

// FromF64 is FromF32 for float64 data.
func FromF64(data []float64, shape ...int) *Tensor {
	t := fromSlice("FromF64", F64, len(data), shape)
	t.f64 = data[:len(data):len(data)]
	return t
}

// FromI32 is FromF32 for int32 data.
func FromI32(data []int32, shape ...int) *Tensor {
	t := fromSlice("FromI32", I32, len(data), shape)
	t.i32 = data[:len(data):len(data)]
	return t
}

// FromI8 is FromF32 for int8 data.
func FromI8(data []int8, shape ...int) *Tensor {
	t := fromSlice("FromI8", I8, len(data), shape)
	t.i8 = data[:len(data):len(data)]
	return t
}

// Arange returns the 1-D tensor [0, 1, …, n-1] of the given dtype (torch.arange(n)). Reshape
// it (Arange(F32, 6).View(2, 3)) for numbered test inputs. It panics when n is negative or
// n-1 does not fit the dtype exactly (beyond 127 for I8, 2²⁴ for F32, 2³¹-1 for I32).
func Arange(dt DType, n int) *Tensor {
	limit := 0 // largest value exact in dt
	switch dt {
	case F32:
		limit = 1 << 24
	case F64:
		limit = 1 << 53
	case I32:
		limit = math.MaxInt32
	case I8:
		limit = math.MaxInt8
	}
	switch {
	case !dt.valid():
		panic(fmt.Sprintf("tensor: Arange(%v, %d): invalid dtype", dt, n))
	case n < 0:
		panic(fmt.Sprintf("tensor: Arange(%v, %d): negative length", dt, n))
	case n-1 > limit:
		panic(fmt.Sprintf("tensor: Arange(%v, %d): %d is not exact in %v", dt, n, n-1, dt))
	}
	t := New(dt, n)
	for i := range n {
		switch dt {
		case F32:
			t.f32[i] = float32(i)
		case F64:
			t.f64[i] = float64(i)
		case I32:
			t.i32[i] = int32(i)
		case I8:
			t.i8[i] = int8(i)
		}
	}
	return t
}

// RandUniform returns a contiguous F32 or F64 tensor of the given shape with elements drawn
// uniformly from [lo, hi) (torch.empty(shape).uniform_(lo, hi), but from r's stream). It
// draws one r.Float64() per element in row-major order and computes lo + (hi-lo)·u in
// float64; a float32 result that rounds up to hi is replaced by the largest float32 below
// hi. With lo == hi every element is lo. It panics for a nil r, an integer dtype, lo > hi,
// or bounds (or hi-lo) that are not finite in dt.
func RandUniform(r *rand.Rand, dt DType, lo, hi float64, shape ...int) *Tensor {
	call := fmt.Sprintf("RandUniform(%v, %g, %g)", dt, lo, hi)
	checkRand(call, r, dt)
	if !(lo <= hi) || math.IsInf(hi-lo, 0) || (dt == F32 && (math.IsInf(float64(float32(lo)), 0) || math.IsInf(float64(float32(hi)), 0))) {
		panic(fmt.Sprintf("tensor: %s: bounds must be finite with lo <= hi", call))
	}
	t := New(dt, shape...)
	switch dt {
	case F32:
		lo32, hi32 := float32(lo), float32(hi)
		below := math.Nextafter32(hi32, float32(math.Inf(-1)))
		for i := range t.f32 {
			v := float32(lo + (hi-lo)*r.Float64())
			if v >= hi32 && lo32 < hi32 {
				v = max(below, lo32)
			}
			t.f32[i] = v
		}
	case F64:
		below := math.Nextafter(hi, math.Inf(-1))
		for i := range t.f64 {
			v := lo + (hi-lo)*r.Float64()
			if v >= hi && lo < hi {
				v = below
			}
			t.f64[i] = v
		}
	}
	return t
}

// RandNormal returns a contiguous F32 or F64 tensor of the given shape with elements drawn
// from the normal distribution N(mean, std²) (torch.empty(shape).normal_(mean, std), but
// from r's stream): mean + std·r.NormFloat64(), one draw per element in row-major order,
// computed in float64 and rounded once for F32. It panics for a nil r, an integer dtype, a
// non-finite mean or std, or std < 0.
func RandNormal(r *rand.Rand, dt DType, mean, std float64, shape ...int) *Tensor {
	call := fmt.Sprintf("RandNormal(%v, %g, %g)", dt, mean, std)
	checkRand(call, r, dt)
	if math.IsNaN(mean) || math.IsInf(mean, 0) || !(std >= 0) || math.IsInf(std, 0) {
		panic(fmt.Sprintf("tensor: %s: mean and std must be finite with std >= 0", call))
	}
	t := New(dt, shape...)
	switch dt {
	case F32:
		for i := range t.f32 {
			t.f32[i] = float32(mean + std*r.NormFloat64())
		}
	case F64:
		for i := range t.f64 {
			t.f64[i] = mean + std*r.NormFloat64()
		}
	}
	return t
}

func checkRand(call string, r *rand.Rand, dt DType) {
	if r == nil {
		panic(fmt.Sprintf("tensor: %s: nil *rand.Rand", call))
	}
	if !dt.IsFloat() {
		panic(fmt.Sprintf("tensor: %s: dtype must be float32 or float64", call))
	}
}

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Shape returns a copy of the shape (torch.Tensor.shape); a scalar has an empty shape.
func (t *Tensor) Shape() []int { return slices.Clone(t.shape) }

// Strides returns a copy of the strides, counted in elements (torch.Tensor.stride()).
func (t *Tensor) Strides() []int { return slices.Clone(t.strides) }

// Rank returns the number of dimensions (torch.Tensor.dim()); 0 for a scalar.
func (t *Tensor) Rank() int { return len(t.shape) }

// Len returns the number of elements, the product of the shape (torch.Tensor.numel()).
func (t *Tensor) Len() int { return numel(t.shape) }

// Dim returns the size of dimension i (torch.Tensor.size(i)); negative i counts from the
// end, so Dim(-1) is the last dimension. It panics when i is out of range.
func (t *Tensor) Dim(i int) int {
	a := normAxis(i, len(t.shape))
	if a < 0 {
		panic(fmt.Sprintf("tensor: Dim(%d) of a rank-%d tensor", i, len(t.shape)))
	}
	return t.shape[a]
}

// IsContiguous reports whether the elements are stored compactly in row-major order
// starting at the offset, so F32 and its siblings can return them as one slice
// (torch.Tensor.is_contiguous): each dimension's stride is the product of the later
// dimensions' sizes. Strides of size-1 dimensions do not matter, and a tensor without
// elements is contiguous.
func (t *Tensor) IsContiguous() bool {
	if t.Len() == 0 {
		return true
	}
	want := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		if d := t.shape[i]; d != 1 {
			if t.strides[i] != want {
				return false
			}
			want *= d
		}
	}
	return true
}

// data returns the elements of a contiguous tensor of dtype dt from its storage s.
func data[T number](t *Tensor, dt DType, name string, s []T) []T {
	if t.dtype != dt {
		panic(fmt.Sprintf("tensor: %s() of a %v tensor", name, t.dtype))
	}
	if !t.IsContiguous() {
		panic(fmt.Sprintf("tensor: %s() of a non-contiguous tensor of shape %v, strides %v", name, t.shape, t.strides))
	}
	n := t.Len()
	if n == 0 {
		return s[:0:0]
	}
	return s[t.offset : t.offset+n : t.offset+n]
}

// F32 returns the elements of a contiguous float32 tensor in row-major order: exactly Len()
// elements starting at the offset, sharing memory with the tensor (writes go through; like
// torch.Tensor.numpy()). It panics for another dtype or a non-contiguous tensor; call
// Contiguous first when unsure.
func (t *Tensor) F32() []float32 { return data(t, F32, "F32", t.f32) }

// F64 is F32 for a float64 tensor.
func (t *Tensor) F64() []float64 { return data(t, F64, "F64", t.f64) }

// I32 is F32 for an int32 tensor.
func (t *Tensor) I32() []int32 { return data(t, I32, "I32", t.i32) }

// I8 is F32 for an int8 tensor.
func (t *Tensor) I8() []int8 { return data(t, I8, "I8", t.i8) }

// index returns the storage position of the element at idx, panicking with op's name when
// idx does not address an element.
func (t *Tensor) index(op string, idx []int) int {
	if len(idx) != len(t.shape) {
		panic(fmt.Sprintf("tensor: %s(%s) of a rank-%d tensor of shape %v", op, fmtArgs(idx...), len(t.shape), t.shape))
	}
	p := t.offset
	for i, x := range idx {
		if x < 0 || x >= t.shape[i] {
			panic(fmt.Sprintf("tensor: %s(%s) of shape %v: index %d out of range on axis %d", op, fmtArgs(idx...), t.shape, x, i))
		}
		p += x * t.strides[i]
	}
	return p
}

// At returns the element at idx (one index per dimension, none for a scalar) as a float64,
// which is exact for every dtype (t[idx].item()). It panics when idx has the wrong length or
// an index is out of range; negative indices are not accepted. Not a fast path.
func (t *Tensor) At(idx ...int) float64 {
	p := t.index("At", idx)
	switch t.dtype {
	case F32:
		return float64(t.f32[p])
	case F64:
		return t.f64[p]
	case I32:
		return float64(t.i32[p])
	case I8:
		return float64(t.i8[p])
	}
	panic(fmt.Sprintf("tensor: At of a tensor of invalid %v", t.dtype))
}

// Set stores v at idx (t[idx] = v), converting like To does from float64: rounded to
// nearest for F32; truncated toward zero, saturated to the type's range and NaN to 0 for
// integer dtypes. Writes through a view reach every tensor sharing the storage. It panics
// like At. Not a fast path.
func (t *Tensor) Set(v float64, idx ...int) {
	p := t.index("Set", idx)
	switch t.dtype {
	case F32:
		t.f32[p] = float32(v)
	case F64:
		t.f64[p] = v
	case I32:
		t.i32[p] = int32(floatToInt(v, math.MinInt32, math.MaxInt32))
	case I8:
		t.i8[p] = int8(floatToInt(v, math.MinInt8, math.MaxInt8))
	default:
		panic(fmt.Sprintf("tensor: Set of a tensor of invalid %v", t.dtype))
	}
}
