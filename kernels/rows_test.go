package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/internal/testutil"
)

// Every row kernel runs, for every variant the processor supports, over every length up to
// 256 and a sample up to 1024, at every starting offset 0…15 within a cache line, with NaN
// guard cells around every input and output (an out-of-bounds read turns the result into
// NaN; an out-of-bounds write shows in the guards). Results are compared with the float64
// reference.

func rowLengths() []int {
	var ls []int
	for n := 0; n <= 256; n++ {
		ls = append(ls, n)
	}
	for n := 257; n <= 1024; n += 11 {
		ls = append(ls, n)
	}
	ls = append(ls, 383, 384, 385, 511, 512, 513, 767, 768, 769, 1023, 1024)
	slices.Sort(ls)
	return slices.Compact(ls)
}

const rowOffsets = 16

// guarded copies data into a guarded buffer starting off floats past a 64-byte boundary.
func guarded(data []float32, off int) *testutil.Guarded {
	g := testutil.NewGuarded(len(data), off)
	copy(g.Data(), data)
	return g
}

// checkGuards fails the test when a guard was overwritten; inputs must also be unchanged.
func checkGuards(t *testing.T, what string, gs ...*testutil.Guarded) {
	t.Helper()
	for _, g := range gs {
		if err := g.Check(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
}

func checkUnchanged(t *testing.T, what string, g *testutil.Guarded, want []float32) {
	t.Helper()
	for i, v := range g.Data() {
		if math.Float32bits(v) != math.Float32bits(want[i]) {
			t.Fatalf("%s: input element %d changed from %v to %v", what, i, want[i], v)
		}
	}
}

func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

// maxErr tracks the largest error seen, for the test log.
type maxErr struct {
	v  float64
	at string
}

func (m *maxErr) add(e float64, format string, args ...any) {
	if e > m.v {
		m.v = e
		m.at = fmt.Sprintf(format, args...)
	}
}

func (m *maxErr) String() string { return fmt.Sprintf("%.3g (%s)", m.v, m.at) }

// sameZero reports false only when got and want are zeros of opposite signs.
func sameZero(got, want float64) bool {
	if got != 0 || want != 0 {
		return true
	}
	return math.Signbit(got) == math.Signbit(want)
}

func TestDot(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(1, 1))
		var worst maxErr
		for _, n := range rowLengths() {
			x, y := uniform(r, n, -1, 1), uniform(r, n, -1, 1)
			want := DotRef(testutil.F64(x), testutil.F64(y))
			var abs float64
			for i := range x {
				abs += math.Abs(float64(x[i]) * float64(y[i]))
			}
			for off := 0; off < rowOffsets; off++ {
				gx, gy := guarded(x, off), guarded(y, (off+5)%rowOffsets)
				got := float64(Dot(gx.Data(), gy.Data()))
				checkGuards(t, "Dot", gx, gy)
				// Relative to Σ|x·y| (the condition of the sum): any order of summation is
				// within n·2⁻²⁴ of it, and in practice within √n·2⁻²⁴.
				e := 0.0
				if abs > 0 {
					e = math.Abs(got-want) / abs
				} else if got != 0 {
					e = math.Inf(1)
				}
				if !(e <= 1e-6) {
					t.Fatalf("n=%d off=%d: Dot = %v, want %v (error %g of Σ|x·y| = %g)", n, off, got, want, e, abs)
				}
				worst.add(e, "n=%d", n)
			}
		}
		t.Logf("max |error|/Σ|x·y|: %v", &worst)

		for _, c := range []struct {
			x, y []float32
			want float64
		}{
			{nil, nil, 0},
			{[]float32{1, 2, 3}, []float32{4, 5, 6}, 32},
			{[]float32{1, float32(math.NaN()), 3}, []float32{4, 5, 6}, math.NaN()},
			{[]float32{1, float32(math.Inf(1)), 3}, []float32{4, 5, 6}, math.Inf(1)},
			{[]float32{1, float32(math.Inf(1)), 3}, []float32{4, 0, 6}, math.NaN()},
			{[]float32{float32(math.Inf(1)), float32(math.Inf(-1))}, []float32{1, 1}, math.NaN()},
		} {
			for _, n := range []int{len(c.x), 37, 100} {
				// Pad with zeros, putting the case at the end so it falls in the tail too.
				x, y := make([]float32, max(n, len(c.x))), make([]float32, max(n, len(c.x)))
				copy(x[len(x)-len(c.x):], c.x)
				copy(y[len(y)-len(c.y):], c.y)
				got := float64(Dot(x, y))
				if !testutil.Close(got, c.want, 0, 0) {
					t.Errorf("Dot(%v, %v) (padded to %d) = %v, want %v", c.x, c.y, len(x), got, c.want)
				}
			}
		}
	})
}

func TestAxpy(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(2, 1))
		var worst maxErr
		for _, n := range rowLengths() {
			x, y := uniform(r, n, -1, 1), uniform(r, n, -1, 1)
			alpha := float32(r.Float64()*4 - 2)
			want := testutil.F64(y)
			AxpyRef(float64(alpha), testutil.F64(x), want)
			for off := 0; off < rowOffsets; off++ {
				gx, gy := guarded(x, off), guarded(y, (off+3)%rowOffsets)
				Axpy(alpha, gx.Data(), gy.Data())
				checkGuards(t, "Axpy", gx, gy)
				checkUnchanged(t, "Axpy", gx, x)
				for i, g := range gy.Data() {
					// The plain loop rounds twice, a fused multiply-add once.
					scale := math.Abs(float64(y[i])) + math.Abs(float64(alpha)*float64(x[i]))
					e := math.Abs(float64(g)-want[i]) / scale
					if !(e <= 0x1p-22) {
						t.Fatalf("n=%d off=%d: y[%d] = %v, want %v", n, off, i, g, want[i])
					}
					worst.add(e, "n=%d", n)
				}
				if nmse := testutil.NMSE(gy.Data(), want); nmse > 1e-13 {
					t.Fatalf("n=%d off=%d: NMSE %g", n, off, nmse)
				}
			}
		}
		t.Logf("max error/(|y|+|αx|): %v", &worst)

		inf, nan := float32(math.Inf(1)), float32(math.NaN())
		x := []float32{1, nan, inf, 1, 0, inf}
		y := []float32{1, 1, 1, nan, inf, -inf}
		want := []float64{3, math.NaN(), math.Inf(1), math.NaN(), math.Inf(1), math.NaN()}
		Axpy(2, x, y)
		if i := testutil.AllClose(y, want, 0, 0); i >= 0 {
			t.Errorf("Axpy specials: got %v, want %v", y, want)
		}
	})
}

func TestScale(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(3, 1))
		for _, n := range rowLengths() {
			x := uniform(r, n, -100, 100)
			if n > 2 {
				x[0], x[n/2], x[n-1] = float32(math.NaN()), float32(math.Inf(-1)), 1e-40
			}
			alpha := float32(r.Float64()*4 - 2)
			for off := 0; off < rowOffsets; off++ {
				g := guarded(x, off)
				Scale(alpha, g.Data())
				checkGuards(t, "Scale", g)
				// One correctly rounded multiply in every variant: exact.
				for i, v := range g.Data() {
					want := x[i] * alpha
					if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
						t.Fatalf("n=%d off=%d: x[%d] = %v·%v gave %v, want %v", n, off, i, x[i], alpha, v, want)
					}
				}
			}
		}
	})
}

// expErr is the error of got against e^x in float64: relative where the result is a normal
// float32, absolute in units of the smallest subnormal below, and 0 or +Inf (a mismatch) for
// the special values.
func expErr(got float32, x float32) (e float64, subnormal bool) {
	want := math.Exp(float64(x))
	g := float64(got)
	switch {
	case math.IsNaN(want) || math.IsNaN(g):
		if math.IsNaN(want) && math.IsNaN(g) {
			return 0, false
		}
		return math.Inf(1), false
	case want > math.MaxFloat32:
		// Past the overflow threshold the correctly rounded result may still be MaxFloat32
		// for a sliver; accept +Inf or a close finite value.
		if math.IsInf(g, 1) {
			return 0, false
		}
		return math.Abs(g-want) / want, false
	case want < 0x1p-126:
		return math.Abs(g-want) / 0x1p-149, true
	}
	return math.Abs(g-want) / want, false
}

func checkExp(t *testing.T, what string, got, src []float32, worst, worstSub *maxErr) {
	t.Helper()
	for i, x := range src {
		e, sub := expErr(got[i], x)
		if sub {
			// Subnormal results: within one unit of the smallest subnormal (plus the relative
			// bound, for the larger ones).
			if !(e <= 1+0x1p-22*math.Exp(float64(x))/0x1p-149) {
				t.Fatalf("%s: Exp(%v) = %v, want %v (error %.3g × 2⁻¹⁴⁹)", what, x, got[i], math.Exp(float64(x)), e)
			}
			worstSub.add(e, "x=%v", x)
			continue
		}
		// The contract is 2⁻²¹; the kernels reach about 0.6·2⁻²³, so test at 2⁻²² to notice a
		// loss of accuracy well before it breaks the contract.
		if !(e <= 0x1p-22) {
			t.Fatalf("%s: Exp(%v) = %v, want %v (relative error %.3g)", what, x, got[i], math.Exp(float64(x)), e)
		}
		worst.add(e, "x=%v", x)
	}
}

var expSpecials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
	1, -1, 0.5, 1e-8, -1e-8, 1e-40, -1e-40, 0x1p-149, -0x1p-149,
	88, 88.72, 88.7228, 88.72284, 88.7229, 88.73, 89, 89.5, 100, 1e30, math.MaxFloat32,
	-87.33, -87.3365, -87.34, -100, -103.27, -103.28, -103.97, -103.98, -104, -104.5, -110, -1e30, -math.MaxFloat32,
	0.34657359, -0.34657359, 0.3466, -0.3466, // ± ln2/2, where the rounding of n flips
}

func TestExp(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(4, 1))
		var worst, worstSub maxErr
		for _, n := range rowLengths() {
			src := uniform(r, n, -110, 95)
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+7)%rowOffsets)
				Exp(gd.Data(), gs.Data())
				checkGuards(t, "Exp", gs, gd)
				checkUnchanged(t, "Exp", gs, src)
				checkExp(t, fmt.Sprintf("n=%d off=%d", n, off), gd.Data(), src, &worst, &worstSub)
			}
		}
		// A dense sweep of the whole range, and the specials at every position of a vector.
		sweep := make([]float32, 400_000)
		for i := range sweep {
			sweep[i] = float32(-105 + 195*float64(i)/float64(len(sweep)))
		}
		sweep = append(sweep, uniform(r, 100_000, -1, 1)...)
		got := make([]float32, len(sweep))
		Exp(got, sweep)
		checkExp(t, "sweep", got, sweep, &worst, &worstSub)
		for _, n := range []int{len(expSpecials), 37, 64, 100} {
			src := make([]float32, n)
			for shift := 0; shift < n; shift++ {
				for i := range src {
					src[i] = expSpecials[(i+shift)%len(expSpecials)]
				}
				dst := make([]float32, n)
				Exp(dst, src)
				checkExp(t, "specials", dst, src, &worst, &worstSub)
				for i, x := range src {
					if math.IsInf(float64(x), -1) && math.Float32bits(dst[i]) != 0 {
						t.Fatalf("Exp(-Inf) = %v, want +0", dst[i])
					}
				}
				// In place.
				Exp(src, src)
				if !slices.EqualFunc(src, dst, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
					t.Fatalf("Exp(src, src) differs from Exp(dst, src)")
				}
			}
		}
		t.Logf("max relative error (normal results): %v = %.2f × 2⁻²³", &worst, worst.v/0x1p-23)
		t.Logf("max error (subnormal results, units of 2⁻¹⁴⁹): %v", &worstSub)
	})
}

// softmaxCase makes a row: values of the given spread, and a mask (nil, 0/-Inf, or finite
// additive biases with some -Inf).
func softmaxCase(r *rand.Rand, n int, spread float64, maskKind int) (src, mask []float32) {
	src = uniform(r, n, -spread, spread)
	switch maskKind {
	case 1:
		mask = make([]float32, n)
		for i := range mask {
			if r.IntN(4) == 0 {
				mask[i] = float32(math.Inf(-1))
			}
		}
	case 2:
		mask = uniform(r, n, -3, 0)
		for i := range mask {
			if r.IntN(8) == 0 {
				mask[i] = float32(math.Inf(-1))
			}
		}
	}
	return src, mask
}

// softmaxWant is the float64 softmax of the float32 row src + mask: the addition is the
// caller's (a float32 tensor sum in PyTorch), the rest is the kernel's.
func softmaxWant(src, mask []float32) []float64 {
	v := make([]float64, len(src))
	for i, x := range src {
		if mask != nil {
			x += mask[i]
		}
		v[i] = float64(x)
	}
	SoftmaxRef(v, v, nil)
	return v
}

func TestSoftmax(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(5, 1))
		var worst maxErr
		for _, n := range rowLengths() {
			spread := []float64{1, 8, 30}[n%3]
			src, mask := softmaxCase(r, n, spread, n%5%3)
			want := softmaxWant(src, mask)
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+9)%rowOffsets)
				gm := guarded(mask, (off+4)%rowOffsets)
				var m []float32
				if mask != nil {
					m = gm.Data()
				}
				Softmax(gd.Data(), gs.Data(), m)
				checkGuards(t, "Softmax", gs, gd, gm)
				checkUnchanged(t, "Softmax src", gs, src)
				if mask != nil {
					checkUnchanged(t, "Softmax mask", gm, mask)
				}
				for i, g := range gd.Data() {
					if !testutil.Close(float64(g), want[i], 1e-6, 1e-9) {
						t.Fatalf("n=%d off=%d spread=%g masked=%v: dst[%d] = %v, want %v", n, off, spread, mask != nil, i, g, want[i])
					}
					if want[i] > 1e-3 {
						worst.add(math.Abs(float64(g)-want[i])/want[i], "n=%d", n)
					}
				}
			}
			// In place gives the same bits.
			if n > 0 {
				a := slices.Clone(src)
				b := make([]float32, n)
				Softmax(b, src, mask)
				Softmax(a, a, mask)
				if !slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
					t.Fatalf("n=%d: Softmax(src, src) differs from Softmax(dst, src)", n)
				}
			}
		}
		t.Logf("max relative error (elements > 1e-3): %v", &worst)
	})
}

func TestSoftmaxSpecial(t *testing.T) {
	inf, nan := float32(math.Inf(1)), float32(math.NaN())
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		for _, n := range []int{1, 5, 16, 17, 37, 64, 100} {
			allMasked := make([]float32, n)
			for i := range allMasked {
				allMasked[i] = -inf
			}
			row := func(f func(i int) float32) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = f(i)
				}
				return x
			}
			cases := []struct {
				name      string
				src, mask []float32
			}{
				{"all masked", row(func(i int) float32 { return float32(i) }), allMasked},
				{"all -Inf", allMasked, nil},
				{"all -Inf, masked", allMasked, allMasked},
				{"NaN", row(func(i int) float32 { return map[bool]float32{true: nan}[i == n/2] }), nil},
				{"NaN last", row(func(i int) float32 { return map[bool]float32{true: nan}[i == n-1] }), nil},
				{"NaN under the mask", row(func(i int) float32 { return map[bool]float32{true: nan}[i == n-1] }), allMasked},
				{"NaN among -Inf", row(func(i int) float32 {
					if i == n-1 {
						return nan
					}
					return -inf
				}), nil},
				{"+Inf", row(func(i int) float32 { return map[bool]float32{true: inf}[i == n/3] }), nil},
				{"one kept", row(func(i int) float32 { return float32(i) }), row(func(i int) float32 {
					return map[bool]float32{false: -inf}[i == n-1]
				})},
				{"some -Inf", row(func(i int) float32 {
					if i%3 == 0 {
						return -inf
					}
					return float32(i % 7)
				}), nil},
				{"huge", row(func(i int) float32 { return 3e38 - float32(i%3)*1e32 }), nil},
				{"huge negative", row(func(i int) float32 { return -3e38 + float32(i%3)*1e37 }), nil},
				{"large spread", row(func(i int) float32 { return float32(i%5) * 40 }), nil},
				{"denormals", row(func(i int) float32 { return float32(i%4) * 1e-40 }), nil},
				{"constant", row(func(i int) float32 { return 7 }), nil},
			}
			if n == 1 {
				cases = cases[:3]
			}
			for _, c := range cases {
				want := softmaxWant(c.src, c.mask)
				got := make([]float32, n)
				for i := range got {
					got[i] = 42 // must be overwritten
				}
				Softmax(got, c.src, c.mask)
				if i := testutil.AllClose(got, want, 1e-6, 1e-9); i >= 0 {
					t.Errorf("n=%d %s: dst[%d] = %v, want %v\ngot  %v\nwant %v", n, c.name, i, got[i], want[i], got, want)
				}
			}
		}
	})
}

// layerNormClose is the LayerNorm tolerance: 1e-5 relative, and 1e-5 absolute (the inputs
// are of moderate range and gamma, beta of order 1).
func layerNormClose(got float32, want float64) bool {
	return testutil.Close(float64(got), want, 1e-5, 1e-5)
}

func TestLayerNorm(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(6, 1))
		var worst, worstMean, worstRstd maxErr
		const eps = 1e-5
		for _, n := range rowLengths() {
			scale := []float64{0.1, 1, 10}[n%3]
			offset := []float64{0, 1, -3}[n/3%3] * scale
			x := uniform(r, n, offset-scale, offset+scale)
			var gamma, beta []float32
			if n%4 < 2 {
				gamma = uniform(r, n, -2, 2)
			}
			if n%2 == 0 {
				beta = uniform(r, n, -1, 1)
			}
			want := make([]float64, n)
			var g64, b64 []float64
			if gamma != nil {
				g64 = testutil.F64(gamma)
			}
			if beta != nil {
				b64 = testutil.F64(beta)
			}
			wm, wr := LayerNormRef(want, testutil.F64(x), g64, b64, eps)
			for off := 0; off < rowOffsets; off++ {
				gx, gd := guarded(x, off), testutil.NewGuarded(n, (off+11)%rowOffsets)
				gg, gb := guarded(gamma, (off+2)%rowOffsets), guarded(beta, (off+13)%rowOffsets)
				var gs, bs []float32
				if gamma != nil {
					gs = gg.Data()
				}
				if beta != nil {
					bs = gb.Data()
				}
				mean, rstd := LayerNorm(gd.Data(), gx.Data(), gs, bs, eps)
				checkGuards(t, "LayerNorm", gx, gd, gg, gb)
				checkUnchanged(t, "LayerNorm", gx, x)
				what := fmt.Sprintf("n=%d off=%d scale=%g offset=%g gamma=%v beta=%v", n, off, scale, offset, gamma != nil, beta != nil)
				if !testutil.Close(float64(mean), wm, 1e-5, 1e-6*scale) {
					t.Fatalf("%s: mean = %v, want %v", what, mean, wm)
				}
				if !testutil.Close(float64(rstd), wr, 1e-5, 0) {
					t.Fatalf("%s: rstd = %v, want %v", what, rstd, wr)
				}
				if n > 0 {
					worstMean.add(math.Abs(float64(mean)-wm)/scale, "n=%d", n)
					worstRstd.add(math.Abs(float64(rstd)-wr)/wr, "n=%d", n)
				}
				for i, g := range gd.Data() {
					if !layerNormClose(g, want[i]) {
						t.Fatalf("%s: dst[%d] = %v, want %v", what, i, g, want[i])
					}
					worst.add(math.Abs(float64(g)-want[i])/max(1, math.Abs(want[i])), "n=%d", n)
				}
			}
		}
		t.Logf("max error of y (relative above 1, absolute below): %v", &worst)
		t.Logf("max error of mean/scale: %v; max relative error of rstd: %v", &worstMean, &worstRstd)
	})
}

func TestLayerNormSpecial(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		// Empty row.
		if m, r := LayerNorm(nil, nil, nil, nil, 1e-5); m != 0 || math.Abs(float64(r)-1/math.Sqrt(float64(float32(1e-5)))) > 1e-3 {
			t.Errorf("empty row: mean %v rstd %v", m, r)
		}
		for _, n := range []int{1, 7, 16, 33, 100} {
			beta := uniform(rand.New(rand.NewPCG(uint64(n), 7)), n, -1, 1)
			row := func(f func(i int) float32) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = f(i)
				}
				return x
			}
			// A constant row has variance 0: y = beta, rstd = 1/√eps.
			for _, c := range []float32{0.5, 0.1, -3} {
				x := row(func(int) float32 { return c })
				dst := make([]float32, n)
				_, rstd := LayerNorm(dst, x, nil, beta, 1e-5)
				if i := testutil.AllClose(dst, testutil.F64(beta), 1e-5, 1e-5); i >= 0 {
					t.Errorf("n=%d constant %v: dst[%d] = %v, want %v", n, c, i, dst[i], beta[i])
				}
				if math.Abs(float64(rstd)*math.Sqrt(1e-5)-1) > 1e-2 {
					t.Errorf("n=%d constant %v: rstd = %v, want ≈ %v", n, c, rstd, 1/math.Sqrt(1e-5))
				}
			}
			// NaN or ±Inf anywhere: the whole row is NaN.
			for _, bad := range []float32{nan, inf, -inf} {
				for _, at := range []int{0, n / 2, n - 1} {
					x := row(func(i int) float32 {
						if i == at {
							return bad
						}
						return float32(i)
					})
					dst := make([]float32, n)
					_, rstd := LayerNorm(dst, x, nil, beta, 1e-5)
					for i, v := range dst {
						if v == v {
							t.Fatalf("n=%d %v at %d: dst[%d] = %v, want NaN", n, bad, at, i, v)
						}
					}
					if rstd == rstd {
						t.Errorf("n=%d %v at %d: rstd = %v, want NaN", n, bad, at, rstd)
					}
				}
			}
			// In place, with every combination of nil gamma and beta.
			x := uniform(rand.New(rand.NewPCG(uint64(n), 8)), n, -2, 2)
			gamma := uniform(rand.New(rand.NewPCG(uint64(n), 9)), n, -2, 2)
			for _, gs := range [][]float32{nil, gamma} {
				for _, bs := range [][]float32{nil, beta} {
					want := make([]float32, n)
					wm, wr := LayerNorm(want, x, gs, bs, 1e-5)
					a := slices.Clone(x)
					m, r := LayerNorm(a, a, gs, bs, 1e-5)
					if m != wm || r != wr || !slices.Equal(a, want) {
						t.Errorf("n=%d gamma=%v beta=%v: LayerNorm(x, x) differs from LayerNorm(dst, x)", n, gs != nil, bs != nil)
					}
				}
			}
		}
	})
}

// geluTol is the GELU tolerance: 1e-6·max(1, |x|) absolute.
func geluTol(x float32) float64 { return 1e-6 * max(1, math.Abs(float64(x))) }

var geluSpecials = []float32{
	float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)),
	1e-40, -1e-40, 1e-20, -1e-20, 0.5, -0.5, 1, -1, 3, -3, 5.5, -5.5, 9, -9, 10, -10, 14, -14, 19.9, -19.9,
	20, -20, 21, -21, 100, -100, 1e19, -1e19, 1e30, -1e30, math.MaxFloat32, -math.MaxFloat32,
}

func testGELU(t *testing.T, name string, fn func(dst, src []float32), ref func(dst, src []float64)) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(7, 1))
		var worst maxErr
		check := func(what string, got, src []float32, want []float64) {
			t.Helper()
			for i, x := range src {
				g := float64(got[i])
				ok := testutil.Close(g, want[i], 0, geluTol(x)) && sameZero(g, want[i])
				if !ok {
					t.Fatalf("%s: %s(%v) = %v, want %v", what, name, x, got[i], want[i])
				}
				if !math.IsNaN(g) && !math.IsInf(g, 0) {
					worst.add(math.Abs(g-want[i])/max(1, math.Abs(float64(x))), "x=%v", x)
				}
			}
		}
		for _, n := range rowLengths() {
			spread := []float64{3, 8, 25}[n%3]
			src := uniform(r, n, -spread, spread)
			want := make([]float64, n)
			ref(want, testutil.F64(src))
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+6)%rowOffsets)
				fn(gd.Data(), gs.Data())
				checkGuards(t, name, gs, gd)
				checkUnchanged(t, name, gs, src)
				check(fmt.Sprintf("n=%d off=%d", n, off), gd.Data(), src, want)
			}
		}
		sweep := make([]float32, 300_000)
		for i := range sweep {
			sweep[i] = float32(-25 + 50*float64(i)/float64(len(sweep)))
		}
		got, want := make([]float32, len(sweep)), make([]float64, len(sweep))
		fn(got, sweep)
		ref(want, testutil.F64(sweep))
		check("sweep", got, sweep, want)
		for _, n := range []int{len(geluSpecials), 37, 64} {
			src := make([]float32, n)
			for shift := 0; shift < n; shift += 3 {
				for i := range src {
					src[i] = geluSpecials[(i+shift)%len(geluSpecials)]
				}
				got, want := make([]float32, n), make([]float64, n)
				fn(got, src)
				ref(want, testutil.F64(src))
				check("specials", got, src, want)
				fn(src, src)
				if !slices.EqualFunc(src, got, func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) }) {
					t.Fatalf("%s(src, src) differs from %s(dst, src)", name, name)
				}
			}
		}
		t.Logf("max |error|/max(1,|x|): %v", &worst)
	})
}

func TestGELU(t *testing.T) { testGELU(t, "GELU", GELU, GELURef[float64]) }

func TestGELUTanh(t *testing.T) { testGELU(t, "GELUTanh", GELUTanh, GELUTanhRef[float64]) }

// TestGELURef pins the references to PyTorch's formulas at a few points (values from the
// definitions with math.Erf and math.Tanh), so that a wrong reference cannot hide a wrong
// kernel.
func TestGELURef(t *testing.T) {
	xs := []float64{-6, -3, -1, -0.1, 0, 0.1, 1, 3, 6}
	got, gotT := make([]float64, len(xs)), make([]float64, len(xs))
	GELURef(got, xs)
	GELUTanhRef(gotT, xs)
	for i, x := range xs {
		want := 0.5 * x * (1 + math.Erf(x/math.Sqrt2))
		if math.Abs(got[i]-want) > 1e-15 {
			t.Errorf("GELURef(%v) = %v, want %v", x, got[i], want)
		}
		u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
		wantT := 0.5 * x * (1 + math.Tanh(u))
		if gotT[i] != wantT {
			t.Errorf("GELUTanhRef(%v) = %v, want %v", x, gotT[i], wantT)
		}
	}
	// Known values: GELU(1) = Φ(1) = 0.8413447460685429, GELUTanh(1) ≈ 0.8411919906082768.
	if math.Abs(got[6]-0.8413447460685429) > 1e-15 || math.Abs(gotT[6]-0.8411919906082768) > 1e-15 {
		t.Errorf("GELU(1) = %v, GELUTanh(1) = %v", got[6], gotT[6])
	}
}

func TestRowsPanics(t *testing.T) {
	a, b := make([]float32, 3), make([]float32, 4)
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"Dot", func() { Dot(a, b) }},
		{"Axpy", func() { Axpy(1, a, b) }},
		{"Exp", func() { Exp(a, b) }},
		{"Softmax dst", func() { Softmax(a, b, nil) }},
		{"Softmax mask", func() { Softmax(a, a, b) }},
		{"Softmax empty mask", func() { Softmax(a, a, []float32{}) }},
		{"LayerNorm dst", func() { LayerNorm(a, b, nil, nil, 1e-5) }},
		{"LayerNorm gamma", func() { LayerNorm(a, a, b, nil, 1e-5) }},
		{"LayerNorm beta", func() { LayerNorm(a, a, nil, b, 1e-5) }},
		{"GELU", func() { GELU(a, b) }},
		{"GELUTanh", func() { GELUTanh(b, a) }},
	} {
		func() {
			defer func() {
				r := recover()
				msg, _ := r.(string)
				if !strings.HasPrefix(msg, "kernels: ") {
					t.Errorf("%s: recovered %v, want a panic with a \"kernels: \" message", c.name, r)
				}
			}()
			c.fn()
		}()
	}
	// Empty rows are fine.
	Softmax(nil, nil, nil)
	Exp(nil, nil)
	if Dot(nil, nil) != 0 {
		t.Error("Dot of empty slices is not 0")
	}
}

// TestRowsFamilies checks that the variants are registered where the processor has them.
func TestRowsFamilies(t *testing.T) {
	fams := cpu.Families()
	for _, name := range []string{"dot", "axpy", "scale", "exp", "softmax", "maxsumexp", "addconst", "layernorm", "gelu", "gelutanh"} {
		impls, ok := fams[name]
		if !ok {
			t.Errorf("family %q is not registered", name)
			continue
		}
		if len(impls) != len(rowsWantImpls()) {
			t.Errorf("family %q has %v, want %v", name, impls, rowsWantImpls())
		}
	}
}

func benchRows(b *testing.B, bytesPerElem int, fn func(n int) func()) {
	for _, l := range cpu.Supported() {
		for _, n := range []int{768, 4096} {
			b.Run(fmt.Sprintf("%s/%d", l, n), func(b *testing.B) {
				defer cpu.Cap(l)()
				f := fn(n)
				b.SetBytes(int64(bytesPerElem * n))
				b.ResetTimer()
				for b.Loop() {
					f()
				}
			})
		}
	}
}

func BenchmarkDot(b *testing.B) {
	var sink float32
	benchRows(b, 8, func(n int) func() {
		r := rand.New(rand.NewPCG(1, 2))
		x, y := uniform(r, n, -1, 1), uniform(r, n, -1, 1)
		return func() { sink += Dot(x, y) }
	})
}

func BenchmarkAxpy(b *testing.B) {
	benchRows(b, 12, func(n int) func() {
		r := rand.New(rand.NewPCG(1, 2))
		x, y := uniform(r, n, -1, 1), uniform(r, n, -1, 1)
		return func() { Axpy(1e-6, x, y) }
	})
}

func BenchmarkReLUBackward(b *testing.B) {
	benchRows(b, 16, func(n int) func() {
		r := rand.New(rand.NewPCG(1, 2))
		x, dy, dx := uniform(r, n, -1, 1), uniform(r, n, -1, 1), uniform(r, n, -1, 1)
		return func() { ReLUBackward(dx, dy, x) }
	})
}

func BenchmarkScale(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		x := uniform(rand.New(rand.NewPCG(1, 2)), n, -1, 1)
		return func() { Scale(1, x) }
	})
}

func BenchmarkExp(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		src := uniform(rand.New(rand.NewPCG(1, 2)), n, -10, 10)
		dst := make([]float32, n)
		return func() { Exp(dst, src) }
	})
}

func BenchmarkSoftmax(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		src := uniform(rand.New(rand.NewPCG(1, 2)), n, -10, 10)
		dst := make([]float32, n)
		return func() { Softmax(dst, src, nil) }
	})
}

func BenchmarkLayerNorm(b *testing.B) {
	benchRows(b, 16, func(n int) func() {
		r := rand.New(rand.NewPCG(1, 2))
		x, gamma, beta := uniform(r, n, -1, 1), uniform(r, n, -1, 1), uniform(r, n, -1, 1)
		dst := make([]float32, n)
		return func() { LayerNorm(dst, x, gamma, beta, 1e-5) }
	})
}

func BenchmarkGELU(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		src := uniform(rand.New(rand.NewPCG(1, 2)), n, -5, 5)
		dst := make([]float32, n)
		return func() { GELU(dst, src) }
	})
}

func BenchmarkGELUTanh(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		src := uniform(rand.New(rand.NewPCG(1, 2)), n, -5, 5)
		dst := make([]float32, n)
		return func() { GELUTanh(dst, src) }
	})
}

func TestLogSoftmax(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(8, 1))
		var worst maxErr
		for _, n := range rowLengths() {
			if n == 0 {
				continue
			}
			spread := []float64{1, 8, 30}[n%3]
			src := uniform(r, n, -spread, spread)
			src64 := make([]float64, n)
			for i, v := range src {
				src64[i] = float64(v)
			}
			want := make([]float64, n)
			LogSoftmaxRef(want, src64)
			// LogSumExp is src[i] − log softmax(src)[i].
			if got, lse := LogSumExp(src), src64[0]-want[0]; !testutil.Close(float64(got), lse, 2e-6, 2e-6) {
				t.Fatalf("n=%d: LogSumExp = %v, want %v", n, got, lse)
			}
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+5)%rowOffsets)
				LogSoftmax(gd.Data(), gs.Data())
				checkGuards(t, "LogSoftmax", gs, gd)
				checkUnchanged(t, "LogSoftmax src", gs, src)
				for i, g := range gd.Data() {
					if !testutil.Close(float64(g), want[i], 2e-6, 2e-6) {
						t.Fatalf("n=%d off=%d spread=%g: dst[%d] = %v, want %v", n, off, spread, i, g, want[i])
					}
					worst.add(math.Abs(float64(g)-want[i])/(2e-6+math.Abs(want[i])), "n=%d", n)
				}
			}
			a := slices.Clone(src)
			b := make([]float32, n)
			LogSoftmax(b, src)
			LogSoftmax(a, a)
			if !slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) }) {
				t.Fatalf("n=%d: LogSoftmax(src, src) differs from LogSoftmax(dst, src)", n)
			}
		}
		t.Logf("max error relative to 2e-6 + |want|: %v", &worst)

		// Special rows, anywhere in rows of several lengths (tails included).
		inf, nan := float32(math.Inf(1)), float32(math.NaN())
		for _, n := range []int{1, 7, 16, 33, 100} {
			for _, c := range []struct {
				name string
				set  func(x []float32)
				want func(got []float32) bool
			}{
				{"NaN", func(x []float32) { x[n/2] = nan }, func(g []float32) bool { return allNaN(g) }},
				{"+Inf", func(x []float32) { x[n-1] = inf }, func(g []float32) bool { return allNaN(g) }},
				{"all -Inf", func(x []float32) {
					for i := range x {
						x[i] = -inf
					}
				}, func(g []float32) bool {
					for _, v := range g {
						if !math.IsInf(float64(v), -1) {
							return false
						}
					}
					return true
				}},
				{"one -Inf", func(x []float32) { x[0] = -inf }, func(g []float32) bool {
					if !math.IsInf(float64(g[0]), -1) {
						return false
					}
					for _, v := range g[1:] {
						if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
							return false
						}
					}
					return true
				}},
			} {
				x := uniform(r, n, -3, 3)
				c.set(x)
				got := make([]float32, n)
				LogSoftmax(got, x)
				if !c.want(got) {
					t.Errorf("n=%d %s: %v", n, c.name, got)
				}
				lse := float64(LogSumExp(x))
				switch c.name {
				case "NaN":
					if !math.IsNaN(lse) {
						t.Errorf("n=%d NaN: LogSumExp = %v", n, lse)
					}
				case "+Inf":
					if !math.IsInf(lse, 1) {
						t.Errorf("n=%d +Inf: LogSumExp = %v", n, lse)
					}
				case "all -Inf":
					if !math.IsInf(lse, -1) {
						t.Errorf("n=%d all -Inf: LogSumExp = %v", n, lse)
					}
				}
			}
		}
	})
}

func allNaN(x []float32) bool {
	for _, v := range x {
		if v == v {
			return false
		}
	}
	return true
}

func TestAddConst(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(9, 1))
		for _, n := range rowLengths() {
			src := uniform(r, n, -5, 5)
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+3)%rowOffsets)
				addConstImpl.Get()(gd.Data(), gs.Data(), 1.25)
				checkGuards(t, "addConst", gs, gd)
				for i, g := range gd.Data() {
					if g != src[i]+1.25 {
						t.Fatalf("n=%d off=%d: dst[%d] = %v, want %v", n, off, i, g, src[i]+1.25)
					}
				}
			}
		}
	})
}

func BenchmarkLogSoftmax(b *testing.B) {
	benchRows(b, 8, func(n int) func() {
		src := uniform(rand.New(rand.NewPCG(1, 2)), n, -10, 10)
		dst := make([]float32, n)
		return func() { LogSoftmax(dst, src) }
	})
}

// TestIndexAbove runs every variant against IndexAboveRef; the cells past the end of the row
// hold +Inf, so a read beyond it would be found.
func TestIndexAbove(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(10, 1))
		impl := indexAbove.Get()
		inf := float32(math.Inf(1))
		for _, n := range rowLengths() {
			for off := 0; off < rowOffsets; off++ {
				buf := alignedFloats(off + n + 48)
				for i := range buf {
					buf[i] = inf
				}
				x := buf[off : off+n]
				copy(x, uniform(r, n, -1, 1))
				for _, thr := range []float32{2, 0.999, 0.5, -2, float32(math.NaN()), inf} {
					if got, want := impl(x, thr), IndexAboveRef(x, thr); got != want {
						t.Fatalf("n=%d off=%d thr=%v: %d, want %d", n, off, thr, got, want)
					}
				}
				if n > 0 {
					// one hit at every position in turn, with NaN and equal values before it
					for p := 0; p < n; p += 1 + n/37 {
						y := make([]float32, n)
						for i := range y {
							y[i] = float32(i % 3)
							if i%7 == 3 {
								y[i] = float32(math.NaN())
							}
						}
						y[p] = 5
						copy(x, y)
						if got := impl(x, 2); got != p {
							t.Fatalf("n=%d off=%d: hit at %d found at %d", n, off, p, got)
						}
					}
				}
			}
		}
	})
}

func argMaxRef(x []float32) int {
	best := 0
	for j, v := range x {
		if v > x[best] {
			best = j
		}
	}
	return best
}

// topKRef is the insertion the decoder used before TopK.
func topKRef(x []float32, k int) []int {
	k = min(k, len(x))
	idx := make([]int, 0, k+1)
	for j, v := range x {
		if len(idx) == k && v <= x[idx[k-1]] {
			continue
		}
		p := len(idx)
		for p > 0 && x[idx[p-1]] < v {
			p--
		}
		idx = append(idx, 0)
		copy(idx[p+1:], idx[p:])
		idx[p] = j
		if len(idx) > k {
			idx = idx[:k]
		}
	}
	return idx
}

func TestArgMaxTopK(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(11, 1))
		nan := float32(math.NaN())
		for _, n := range []int{0, 1, 2, 3, 7, 16, 17, 100, 1000, 8000} {
			for trial := 0; trial < 20; trial++ {
				x := uniform(r, n, -5, 5)
				switch trial % 5 {
				case 1: // many ties
					for i := range x {
						x[i] = float32(int(x[i]))
					}
				case 2: // NaNs
					for i := 0; i < n; i += 5 {
						x[i] = nan
					}
				case 3: // ascending: a new maximum at every element
					for i := range x {
						x[i] = float32(i)
					}
				case 4: // -Inf everywhere but a few
					for i := range x {
						if i%50 != 7 {
							x[i] = float32(math.Inf(-1))
						}
					}
				}
				if got, want := ArgMax(x), argMaxRef(x); got != want {
					t.Fatalf("n=%d trial %d: ArgMax %d, want %d", n, trial, got, want)
				}
				for _, k := range []int{1, 2, 4, 8, 40} {
					got, want := TopK([]int{-1}, x, k), topKRef(x, k)
					if !slices.Equal(got[1:], want) || got[0] != -1 {
						t.Fatalf("n=%d trial %d k=%d: TopK %v, want %v", n, trial, k, got[1:], want)
					}
				}
			}
		}
	})
}

// TestGather runs DotGather and AxpyGather, every variant, against a float64 oracle over head
// widths 0…160, key counts 0…40 and scattered, repeated and boundary offsets; the cells of base
// outside the addressed runs are NaN, so a stray read shows.
func TestGather(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(12, 1))
		nan := float32(math.NaN())
		for d := 0; d <= 160; d += 1 + d/16 {
			for _, n := range []int{0, 1, 2, 3, 5, 8, 17, 40} {
				size := (n + 3) * (d + 5)
				base := make([]float32, size)
				for i := range base {
					base[i] = nan
				}
				offs := make([]int32, n)
				for j := range offs {
					offs[j] = int32(r.IntN(size - d + 1))
					if j%4 == 3 {
						offs[j] = offs[j-1] // the same key twice
					}
					if j == 2 {
						offs[j] = int32(size - d) // the very end
					}
				}
				for _, off := range offs {
					for i := 0; i < d; i++ {
						base[int(off)+i] = float32(r.Float64()*2 - 1)
					}
				}
				q := uniform(r, d, -1, 1)
				p := uniform(r, n, 0, 1)
				out := make([]float32, n+1)
				out[n] = 7
				DotGather(q, base, offs, out[:n])
				o0 := uniform(r, d, -1, 1)
				o := append([]float32(nil), o0...)
				AxpyGather(p, base, offs, o)
				if out[n] != 7 {
					t.Fatalf("d=%d n=%d: DotGather wrote past out", d, n)
				}
				for j, off := range offs {
					var s, a float64
					for i := 0; i < d; i++ {
						s += float64(q[i]) * float64(base[int(off)+i])
						a += math.Abs(float64(q[i]) * float64(base[int(off)+i]))
					}
					if math.Abs(float64(out[j])-s) > 1e-6*(a+1) {
						t.Fatalf("d=%d n=%d: out[%d] = %v, want %v", d, n, j, out[j], s)
					}
				}
				for i := 0; i < d; i++ {
					s, a := float64(o0[i]), math.Abs(float64(o0[i]))
					for j, off := range offs {
						s += float64(p[j]) * float64(base[int(off)+i])
						a += math.Abs(float64(p[j]) * float64(base[int(off)+i]))
					}
					if math.Abs(float64(o[i])-s) > 1e-6*(a+1) {
						t.Fatalf("d=%d n=%d: o[%d] = %v, want %v", d, n, i, o[i], s)
					}
				}
			}
		}
		// Offsets that leave base are refused.
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("DotGather accepted an offset past the end")
				}
			}()
			DotGather(make([]float32, 16), make([]float32, 20), []int32{5}, make([]float32, 1))
		}()
	})
}

// withReLUSpecials puts every third element of x through ±0, ±NaN, ±Inf and ±the smallest
// denormal: the values where ReLU and its gradient must decide exactly.
func withReLUSpecials(x []float32) {
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), -float32(math.NaN()),
		float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	for i := 0; i < len(x); i += 3 {
		x[i] = special[(i/3)%len(special)]
	}
}

func TestReLUBackward(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(13, 2))
		for _, n := range rowLengths() {
			x, dy, dx := uniform(r, n, -5, 5), uniform(r, n, -1, 1), uniform(r, n, -1, 1)
			withReLUSpecials(x)
			for i := 1; i < n; i += 7 {
				dx[i] = float32(math.Copysign(0, -1)) // -0 + a dropped gradient is +0
			}
			want := append([]float32(nil), dx...)
			ReLUBackwardRef(want, dy, x)
			for off := 0; off < rowOffsets; off++ {
				gx, gy, gd := guarded(x, off), guarded(dy, (off+3)%rowOffsets), guarded(dx, (off+5)%rowOffsets)
				reluBackward.Get()(gd.Data(), gy.Data(), gx.Data())
				checkGuards(t, "reluBackward", gx, gy, gd)
				checkUnchanged(t, "reluBackward", gx, x)
				checkUnchanged(t, "reluBackward", gy, dy)
				for i, g := range gd.Data() {
					if math.Float32bits(g) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d off=%d: x=%v dy=%v dx=%v: got %v, want %v", n, off, x[i], dy[i], dx[i], g, want[i])
					}
				}
			}
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("ReLUBackward accepted dy shorter than x")
				}
			}()
			ReLUBackward(make([]float32, 4), make([]float32, 3), make([]float32, 4))
		}()
	})
}

func TestReLUMask(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(13, 3))
		for _, n := range rowLengths() {
			x, g := uniform(r, n, -5, 5), uniform(r, n, -1, 1)
			withReLUSpecials(x)
			want := append([]float32(nil), g...)
			ReLUMaskRef(want, x)
			for i, v := range x { // the reference against the definition
				keep := v > 0 || v != v
				if keep && math.Float32bits(want[i]) != math.Float32bits(g[i]) || !keep && math.Float32bits(want[i]) != 0 {
					t.Fatalf("ReLUMaskRef: x=%v g=%v gives %v", v, g[i], want[i])
				}
			}
			for off := 0; off < rowOffsets; off++ {
				gx, gg := guarded(x, off), guarded(g, (off+5)%rowOffsets)
				reluMask.Get()(gg.Data(), gx.Data())
				checkGuards(t, "reluMask", gx, gg)
				checkUnchanged(t, "reluMask", gx, x)
				for i, v := range gg.Data() {
					if math.Float32bits(v) != math.Float32bits(want[i]) {
						t.Fatalf("n=%d off=%d: x=%v g=%v: got %v, want %v", n, off, x[i], g[i], v, want[i])
					}
				}
			}
		}
	})
}

func TestReLU(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(13, 1))
		for _, n := range rowLengths() {
			src := uniform(r, n, -5, 5)
			withReLUSpecials(src)
			want := make([]float32, n)
			ReLURef(want, src)
			for off := 0; off < rowOffsets; off++ {
				gs, gd := guarded(src, off), testutil.NewGuarded(n, (off+5)%rowOffsets)
				reluImpl.Get()(gd.Data(), gs.Data())
				checkGuards(t, "relu", gs, gd)
				checkUnchanged(t, "relu", gs, src)
				for i, g := range gd.Data() {
					if math.Float32bits(g) != math.Float32bits(want[i]) && !(g != g && want[i] != want[i]) {
						t.Fatalf("n=%d off=%d: relu(%v) = %v, want %v", n, off, src[i], g, want[i])
					}
				}
			}
		}
	})
}
