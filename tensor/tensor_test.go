package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDType(t *testing.T) {
	for _, c := range []struct {
		dt    DType
		name  string
		size  int
		float bool
	}{
		{F32, "float32", 4, true},
		{F64, "float64", 8, true},
		{I32, "int32", 4, false},
		{I8, "int8", 1, false},
	} {
		if got := c.dt.String(); got != c.name {
			t.Errorf("%d.String() = %q, want %q", c.dt, got, c.name)
		}
		if got := c.dt.Size(); got != c.size {
			t.Errorf("%v.Size() = %d, want %d", c.dt, got, c.size)
		}
		if got := c.dt.IsFloat(); got != c.float {
			t.Errorf("%v.IsFloat() = %v", c.dt, got)
		}
	}
	var zero DType
	if got := zero.String(); got != "DType(0)" {
		t.Errorf("zero DType String = %q", got)
	}
	if DType(9).String() != "DType(9)" || DType(9).IsFloat() {
		t.Errorf("DType(9) misbehaves")
	}
	mustPanic(t, "tensor: Size of invalid DType(0)", func() { zero.Size() })
}

func TestNew(t *testing.T) {
	for _, dt := range allDTypes {
		x := New(dt, 2, 3, 4)
		if x.DType() != dt || !eqInts(x.Shape(), []int{2, 3, 4}) || !eqInts(x.Strides(), []int{12, 4, 1}) {
			t.Fatalf("New(%v, 2, 3, 4) = %+v", dt, x)
		}
		if x.Rank() != 3 || x.Len() != 24 || !x.IsContiguous() {
			t.Fatalf("New(%v, 2, 3, 4): rank %d len %d contiguous %v", dt, x.Rank(), x.Len(), x.IsContiguous())
		}
		for _, v := range values(x) {
			if v != 0 {
				t.Fatalf("New(%v) not zeroed", dt)
			}
		}
		if got := len(flatData(x)); got != 24 {
			t.Fatalf("typed data of New(%v): %d elements", dt, got)
		}
	}
	// Typed accessors have the right length and are zero.
	if len(New(F32, 5).F32()) != 5 || len(New(F64, 5).F64()) != 5 || len(New(I32, 5).I32()) != 5 || len(New(I8, 5).I8()) != 5 {
		t.Fatal("typed accessor length")
	}
	// The shape argument is not retained.
	sh := []int{2, 3}
	x := New(F32, sh...)
	sh[0] = 7
	if x.Dim(0) != 2 {
		t.Fatal("New kept the caller's shape slice")
	}
}

func TestAccessorsCopy(t *testing.T) {
	x := New(F32, 2, 3)
	s, st := x.Shape(), x.Strides()
	s[0], st[0] = 9, 9
	if x.Dim(0) != 2 || x.Strides()[0] != 3 {
		t.Fatal("Shape/Strides return the tensor's own slices")
	}
	if x.Dim(-1) != 3 || x.Dim(-2) != 2 || x.Dim(1) != 3 {
		t.Fatal("Dim with negative index")
	}
}

func TestFull(t *testing.T) {
	cases := []struct {
		dt   DType
		v    float64
		want float64
	}{
		{F32, 1.5, 1.5},
		{F32, 0.1, float64(float32(0.1))},
		{F64, 0.1, 0.1},
		{I32, -2.7, -2},
		{I32, 1e12, math.MaxInt32},
		{I8, 300, 127},
		{I8, -300, -128},
		{I8, math.NaN(), 0},
	}
	for _, c := range cases {
		x := Full(c.dt, c.v, 2, 2)
		for _, v := range values(x) {
			if v != c.want {
				t.Errorf("Full(%v, %v): element %v, want %v", c.dt, c.v, v, c.want)
			}
		}
	}
	if s := Full(F64, 3, []int{}...); s.Rank() != 0 || s.At() != 3 {
		t.Errorf("scalar Full: %v", s)
	}
}

func TestFromShares(t *testing.T) {
	d32 := []float32{1, 2, 3, 4, 5, 6}
	x := FromF32(d32, 2, 3)
	if x.At(1, 2) != 6 || x.At(0, 1) != 2 {
		t.Fatalf("FromF32 layout: %v", x)
	}
	d32[4] = 50
	if x.At(1, 1) != 50 {
		t.Fatal("FromF32 copied its data")
	}
	x.Set(-1, 0, 0)
	if d32[0] != -1 {
		t.Fatal("Set does not reach the caller's slice")
	}
	if got := x.F32(); &got[0] != &d32[0] || len(got) != 6 {
		t.Fatal("F32 does not return the shared storage")
	}
	// Appending to the returned slice must not overwrite the caller's spare capacity.
	big := make([]float32, 4, 8)
	y := FromF32(big, 4)
	_ = append(y.F32(), 99)
	if big[:5][4] != 0 {
		t.Fatal("append through F32 wrote past the tensor")
	}

	d64 := []float64{1, 2}
	if x := FromF64(d64, 2); x.At(1) != 2 || &x.F64()[0] != &d64[0] {
		t.Fatal("FromF64")
	}
	di := []int32{7}
	if x := FromI32(di); x.Rank() != 0 || x.At() != 7 || &x.I32()[0] != &di[0] {
		t.Fatal("FromI32 scalar")
	}
	d8 := []int8{-1, 2, 3}
	if x := FromI8(d8, 3, 1); x.At(0, 0) != -1 || &x.I8()[0] != &d8[0] {
		t.Fatal("FromI8")
	}
	if x := FromF32(nil, 0, 5); x.Len() != 0 || len(x.F32()) != 0 {
		t.Fatal("FromF32(nil, 0, 5)")
	}
}

func TestArange(t *testing.T) {
	for _, dt := range allDTypes {
		x := Arange(dt, 5)
		if !eqFloats(values(x), []float64{0, 1, 2, 3, 4}) || !eqInts(x.Shape(), []int{5}) {
			t.Errorf("Arange(%v, 5) = %v", dt, x)
		}
	}
	if Arange(F32, 0).Len() != 0 {
		t.Error("Arange(F32, 0)")
	}
	if x := Arange(I8, 128); x.At(127) != 127 {
		t.Error("Arange(I8, 128)")
	}
	if x := Arange(F32, 1<<24+1); x.At(1<<24) != 1<<24 {
		t.Error("Arange(F32, 2^24+1)")
	}
}

func TestRand(t *testing.T) {
	for _, dt := range []DType{F32, F64} {
		a := RandUniform(rand.New(rand.NewPCG(1, 1)), dt, -2, 3, 100, 100)
		b := RandUniform(rand.New(rand.NewPCG(1, 1)), dt, -2, 3, 100, 100)
		if !eqFloats(values(a), values(b)) {
			t.Fatalf("RandUniform(%v) not deterministic", dt)
		}
		if a.DType() != dt || !eqInts(a.Shape(), []int{100, 100}) {
			t.Fatalf("RandUniform(%v) = %v", dt, a)
		}
		var sum float64
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range values(a) {
			sum += v
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < -2 || hi >= 3 || lo > -1.99 || hi < 2.99 || math.Abs(sum/1e4-0.5) > 0.05 {
			t.Fatalf("RandUniform(%v, -2, 3): min %v max %v mean %v", dt, lo, hi, sum/1e4)
		}

		n := RandNormal(rand.New(rand.NewPCG(2, 2)), dt, 1, 2, 20000)
		var s1, s2 float64
		for _, v := range values(n) {
			s1 += v
			s2 += v * v
		}
		mean := s1 / 20000
		std := math.Sqrt(s2/20000 - mean*mean)
		if math.Abs(mean-1) > 0.05 || math.Abs(std-2) > 0.05 {
			t.Fatalf("RandNormal(%v, 1, 2): mean %v std %v", dt, mean, std)
		}
		if z := RandNormal(rand.New(rand.NewPCG(2, 2)), dt, 4, 0, 3); !eqFloats(values(z), []float64{4, 4, 4}) {
			t.Fatalf("RandNormal with std 0: %v", z)
		}
		if z := RandUniform(rand.New(rand.NewPCG(2, 2)), dt, 4, 4, 3); !eqFloats(values(z), []float64{4, 4, 4}) {
			t.Fatalf("RandUniform with lo == hi: %v", z)
		}
	}
	// Same stream, same values, whatever the dtype: F32 is the rounded F64.
	a := RandUniform(rand.New(rand.NewPCG(7, 7)), F64, 0, 1, 50)
	b := RandUniform(rand.New(rand.NewPCG(7, 7)), F32, 0, 1, 50)
	for i, v := range values(a) {
		if float64(float32(v)) != b.At(i) {
			t.Fatalf("F32 stream differs from F64 stream at %d", i)
		}
	}
	// A range one float32 ulp wide: half the draws round up to hi and must be pulled below.
	hi := float64(math.Nextafter32(1, 2))
	u := RandUniform(rand.New(rand.NewPCG(3, 3)), F32, 1, hi, 1000)
	for _, v := range values(u) {
		if v != 1 {
			t.Fatalf("RandUniform(F32, 1, 1+ulp) gave %v", v)
		}
	}
	// Same for float64 near the top of a tiny range.
	hi64 := math.Nextafter(1, 2)
	u = RandUniform(rand.New(rand.NewPCG(3, 3)), F64, 1, hi64, 1000)
	for _, v := range values(u) {
		if v != 1 {
			t.Fatalf("RandUniform(F64, 1, 1+ulp) gave %v", v)
		}
	}
}

func TestAtSet(t *testing.T) {
	for _, dt := range allDTypes {
		x := New(dt, 2, 3)
		x.Set(5, 1, 2)
		x.Set(-3, 0, 0)
		if !eqFloats(values(x), []float64{-3, 0, 0, 0, 0, 5}) {
			t.Errorf("%v Set/At: %v", dt, x)
		}
	}
	x := New(I8, 1)
	x.Set(1000, 0)
	if x.At(0) != 127 {
		t.Error("Set saturates int8")
	}
	x.Set(-7.9, 0)
	if x.At(0) != -7 {
		t.Error("Set truncates toward zero")
	}
	y := New(F32, 1)
	y.Set(0.1, 0)
	if y.At(0) != float64(float32(0.1)) {
		t.Error("Set rounds to float32")
	}
}

func TestScalar(t *testing.T) {
	s := New(F32)
	if s.Rank() != 0 || s.Len() != 1 || len(s.Shape()) != 0 || len(s.Strides()) != 0 || !s.IsContiguous() {
		t.Fatalf("scalar: %+v", s)
	}
	s.Set(2.5)
	if s.At() != 2.5 || s.F32()[0] != 2.5 {
		t.Fatal("scalar At/Set")
	}
	for _, v := range [][]int{{1}, {1, 1}, {-1}, {1, -1, 1}} {
		w := s.View(v...)
		if w.Len() != 1 || w.At(make([]int, w.Rank())...) != 2.5 || !sameStorage(w, s) {
			t.Fatalf("scalar View%v = %+v", v, w)
		}
		if back := w.View(); back.Rank() != 0 || back.At() != 2.5 {
			t.Fatalf("View() back to scalar: %v", back)
		}
	}
	if u := s.Unsqueeze(0); !eqInts(u.Shape(), []int{1}) || u.Squeeze().Rank() != 0 {
		t.Fatal("scalar Unsqueeze/Squeeze")
	}
	if e := s.Expand(2, 3); !eqFloats(values(e), []float64{2.5, 2.5, 2.5, 2.5, 2.5, 2.5}) || e.IsContiguous() {
		t.Fatalf("scalar Expand: %+v", e)
	}
	if p := s.Permute(); p.Rank() != 0 || p.At() != 2.5 {
		t.Fatal("scalar Permute()")
	}
	if c := s.Clone(); c.At() != 2.5 || sameStorage(c, s) {
		t.Fatal("scalar Clone")
	}
	if c := s.To(I32); c.At() != 2 || c.Rank() != 0 {
		t.Fatal("scalar To")
	}
	if got := s.String(); got != "float32[] 2.5" {
		t.Fatalf("scalar String %q", got)
	}
	mustPanic(t, "tensor: Transpose(0, 0) of a rank-0 tensor", func() { s.Transpose(0, 0) })
	mustPanic(t, "tensor: Dim(0) of a rank-0 tensor", func() { s.Dim(0) })
	mustPanic(t, "tensor: Slice(0, 0, 1) of a rank-0 tensor", func() { s.Slice(0, 0, 1) })
	mustPanic(t, "tensor: At(0) of a rank-0 tensor", func() { s.At(0) })
	mustPanic(t, "tensor: View(2) of shape []", func() { s.View(2) })
}

func TestZeroSize(t *testing.T) {
	for _, dt := range allDTypes {
		x := New(dt, 2, 0, 3)
		if x.Len() != 0 || !x.IsContiguous() || len(flatData(x)) != 0 {
			t.Fatalf("%v zero-size: %+v", dt, x)
		}
		if got := x.Transpose(0, 2); !eqInts(got.Shape(), []int{3, 0, 2}) || !got.IsContiguous() {
			t.Fatalf("zero-size Transpose: %+v", got)
		}
		for _, v := range [][]int{{0}, {6, 0}, {0, 7, 2}, {3, -1, 2}} {
			if got := x.View(v...); got.Len() != 0 {
				t.Fatalf("zero-size View%v: %v", v, got)
			}
		}
		mustPanic(t, "tensor: View(-1, 0) of shape [2 0 3] (0 elements): cannot infer", func() { x.View(-1, 0) })
		mustPanic(t, "tensor: View(1) of shape [2 0 3]", func() { x.View(1) })
		if c := x.Clone(); c.Len() != 0 || !eqInts(c.Shape(), []int{2, 0, 3}) {
			t.Fatal("zero-size Clone")
		}
		if c := x.To(F64); c.Len() != 0 || c.DType() != F64 {
			t.Fatal("zero-size To")
		}
		if e := x.Slice(2, 1, 3); !eqInts(e.Shape(), []int{2, 0, 2}) {
			t.Fatal("Slice of zero-size")
		}
	}
	// Empty slices of non-empty tensors.
	y := Arange(F32, 12).View(3, 4)
	e := y.Slice(0, 3, 3)
	if e.Len() != 0 || !eqInts(e.Shape(), []int{0, 4}) || len(e.F32()) != 0 {
		t.Fatalf("empty Slice: %+v", e)
	}
	e = e.Slice(1, 4, 4)
	if e.Len() != 0 || e.Contiguous() != e {
		t.Fatal("empty Slice of empty Slice")
	}
	if got := New(I8, 0).String(); got != "int8[0] []" {
		t.Fatalf("empty String %q", got)
	}
	// Expanding a size-1 dimension to 0.
	if z := Arange(F32, 3).View(1, 3).Expand(0, 3); z.Len() != 0 || !eqInts(z.Shape(), []int{0, 3}) {
		t.Fatalf("Expand to 0: %v", z)
	}
}

func TestSharing(t *testing.T) {
	base := Arange(F32, 24).View(2, 3, 4)
	// Every view shares; writing through it reaches the base.
	views := map[string]*Tensor{
		"View":      base.View(6, 4),
		"Reshape":   base.Reshape(4, -1),
		"Transpose": base.Transpose(0, 2),
		"Permute":   base.Permute(2, 0, 1),
		"Slice":     base.Slice(1, 1, 3),
		"Squeeze":   base.Unsqueeze(1).Squeeze(1),
		"Unsqueeze": base.Unsqueeze(-1),
		"Expand":    base.Unsqueeze(0).Expand(5, -1, -1, -1),
		"ContigOf":  base.Contiguous(),
	}
	for name, v := range views {
		if !sameStorage(v, base) {
			t.Errorf("%s does not share storage", name)
		}
	}
	tr := base.Transpose(0, 2) // (4, 3, 2)
	tr.Set(-1, 3, 2, 1)        // base[1][2][3]
	if base.At(1, 2, 3) != -1 {
		t.Fatal("write through Transpose not visible in base")
	}
	sl := base.Slice(2, 1, 3).Slice(0, 1, 2) // base[1:2, :, 1:3]
	sl.Set(-2, 0, 0, 1)
	if base.At(1, 0, 2) != -2 {
		t.Fatal("write through Slice not visible in base")
	}
	if base.Contiguous() != base {
		t.Fatal("Contiguous of a contiguous tensor is not the tensor itself")
	}

	// Copies share nothing.
	for name, c := range map[string]*Tensor{
		"Clone":      base.Clone(),
		"Contiguous": tr.Contiguous(),
		"Reshape":    tr.Reshape(-1),
		"To":         base.To(F32),
	} {
		if sameStorage(c, base) || !c.IsContiguous() || !eqInts(c.Strides(), contiguousStrides(c.Shape())) {
			t.Errorf("%s: not a compact copy: %+v", name, c)
		}
		before := values(base)
		c.Set(1000, make([]int, c.Rank())...)
		if !eqFloats(values(base), before) {
			t.Errorf("%s: write to the copy reached the base", name)
		}
	}
	// A copied non-contiguous view has its elements in row-major order.
	c := tr.Contiguous()
	if !eqFloats(flatData(c), values(tr)) {
		t.Fatal("Contiguous of a transpose out of order")
	}
	if !eqFloats(flatData(tr.Clone()), values(tr)) {
		t.Fatal("Clone of a transpose out of order")
	}
}

func TestViewStrided(t *testing.T) {
	// PyTorch: torch.arange(24.).view(2,3,4).transpose(0,1) (strides (4,12,1)) can be viewed
	// as (3,2,2,2) (splitting the last dim) but not as (3,8).
	x := Arange(F32, 24).View(2, 3, 4).Transpose(0, 1)
	v := x.View(3, 2, 2, 2)
	if !eqInts(v.Strides(), []int{4, 12, 2, 1}) || !eqFloats(values(v), values(x)) {
		t.Fatalf("View(3,2,2,2) of transpose: %+v", v)
	}
	mustPanic(t, "tensor: View(3, 8) of a non-contiguous tensor of shape [3 2 4], strides [4 12 1]", func() { x.View(3, 8) })
	r := x.Reshape(3, 8)
	if sameStorage(r, x) || !eqFloats(values(r), values(x)) {
		t.Fatal("Reshape(3, 8) of a transpose should copy")
	}
	// Merging dimensions of a slice along the first axis stays a view.
	s := Arange(F32, 24).View(4, 6).Slice(0, 1, 3)
	if w := s.View(-1); !sameStorage(w, s) || !eqFloats(values(w), values(s)) {
		t.Fatal("View of a leading slice")
	}
	// A slice along the last axis cannot be flattened without a copy.
	s = Arange(F32, 24).View(4, 6).Slice(1, 1, 3)
	mustPanic(t, "tensor: View(-1) of a non-contiguous", func() { s.View(-1) })
	if w := s.Reshape(-1); sameStorage(w, s) || !eqFloats(values(w), values(s)) {
		t.Fatal("Reshape of a trailing slice")
	}
}

func TestUnsqueezeSqueeze(t *testing.T) {
	x := Arange(F32, 6).View(2, 3)
	for _, c := range []struct {
		axis  int
		shape []int
	}{{0, []int{1, 2, 3}}, {1, []int{2, 1, 3}}, {2, []int{2, 3, 1}}, {-1, []int{2, 3, 1}}, {-3, []int{1, 2, 3}}} {
		u := x.Unsqueeze(c.axis)
		if !eqInts(u.Shape(), c.shape) || !u.IsContiguous() || !eqFloats(flatData(u), values(x)) {
			t.Errorf("Unsqueeze(%d): %+v", c.axis, u)
		}
	}
	y := x.View(1, 2, 1, 3, 1)
	if s := y.Squeeze(); !eqInts(s.Shape(), []int{2, 3}) {
		t.Errorf("Squeeze(): %v", s.Shape())
	}
	if s := y.Squeeze(0, -1); !eqInts(s.Shape(), []int{2, 1, 3}) {
		t.Errorf("Squeeze(0, -1): %v", s.Shape())
	}
	mustPanic(t, "tensor: Squeeze(1) of shape [1 2 1 3 1]: axis 1 has size 2, not 1", func() { y.Squeeze(1) })
	mustPanic(t, "tensor: Squeeze(5) of a rank-5 tensor", func() { y.Squeeze(5) })
}

func TestExpand(t *testing.T) {
	x := FromF32([]float32{1, 2, 3}, 3, 1)
	e := x.Expand(2, 3, 4)
	if !eqInts(e.Shape(), []int{2, 3, 4}) || !eqInts(e.Strides(), []int{0, 1, 0}) {
		t.Fatalf("Expand: %+v", e)
	}
	if e.At(1, 2, 3) != 3 || e.At(0, 0, 2) != 1 {
		t.Fatal("Expand values")
	}
	if c := e.Contiguous(); c.Len() != 24 || c.At(1, 1, 0) != 2 {
		t.Fatal("Contiguous of Expand")
	}
	if same := x.Expand(-1, -1); !eqInts(same.Shape(), []int{3, 1}) {
		t.Fatal("Expand(-1, -1)")
	}
	e.Set(9, 0, 1, 0) // aliases every position of row 1
	if x.At(1, 0) != 9 || e.At(1, 1, 3) != 9 {
		t.Fatal("write through Expand")
	}
}
