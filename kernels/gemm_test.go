package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/internal/testutil"
)

// gemmCase is one product to check: shapes, transposes, storage offsets and padding.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	offA, offB     int // 0…15 floats past a 64-byte boundary
	offC           int
	padA, padB     int // extra leading dimension
	padC           int
	packed         bool // through PackB/GemmPacked
	noRef          bool // skip the float64 reference (when only comparing runs)
}

func (c gemmCase) String() string {
	return fmt.Sprintf("m%d n%d k%d tA%v tB%v α%g β%g off%d/%d/%d pad%d/%d/%d packed%v",
		c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta, c.offA, c.offB, c.offC, c.padA, c.padB, c.padC, c.packed)
}

// dims returns the stored rows, columns and leading dimension of an operand.
func stored(trans bool, rows, cols, pad int) (r, c, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	return rows, cols, max(1, cols+pad) // BLAS: a leading dimension is at least 1
}

func fill(r *rand.Rand, x []float32) {
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
}

// run computes the case with the current variant and checks it against the float64
// reference and the guard cells. It returns C for further comparisons.
func (c gemmCase) run(t *testing.T, r *rand.Rand) []float32 {
	t.Helper()
	ar, ac, lda := stored(c.transA, c.m, c.k, c.padA)
	br, bc, ldb := stored(c.transB, c.k, c.n, c.padB)
	ldc := max(1, c.n+c.padC)
	ga := testutil.NewGuarded(max(0, (ar-1)*lda+ac), c.offA)
	gb := testutil.NewGuarded(max(0, (br-1)*ldb+bc), c.offB)
	gc := testutil.NewGuarded(max(0, (c.m-1)*ldc+c.n), c.offC)
	a, b, cc := ga.Data(), gb.Data(), gc.Data()
	fill(r, a)
	fill(r, b)
	fill(r, cc)
	want := testutil.F64(cc)
	if !c.noRef {
		GemmRef(c.transA, c.transB, c.m, c.n, c.k, float64(c.alpha), testutil.F64(a), lda, testutil.F64(b), ldb, float64(c.beta), want, ldc)
	}
	if c.packed {
		p := PackB(c.transB, c.k, c.n, b, ldb)
		GemmPacked(c.transA, c.m, c.alpha, a, lda, p, c.beta, cc, ldc)
	} else {
		Gemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cc, ldc)
	}
	for _, g := range []*testutil.Guarded{ga, gb, gc} {
		if err := g.Check(); err != nil {
			t.Fatalf("%v: %v", c, err)
		}
	}
	// Padding columns of C must be untouched: compare them exactly, the rest by NMSE.
	var got []float32
	var ref64 []float64
	for i := 0; i < c.m; i++ {
		for j := 0; j < ldc && i*ldc+j < len(cc); j++ {
			if j >= c.n {
				if cc[i*ldc+j] != float32(want[i*ldc+j]) {
					t.Fatalf("%v: padding C[%d][%d] changed", c, i, j)
				}
				continue
			}
			got = append(got, cc[i*ldc+j])
			ref64 = append(ref64, want[i*ldc+j])
		}
	}
	if c.noRef {
		return cc
	}
	if e := testutil.NMSE(got, ref64); e > 1e-9 {
		t.Fatalf("%v: NMSE %g against the float64 reference", c, e)
	}
	return cc
}

var (
	edgeM = []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14, 15, 16, 17, 28, 29, 31, 32, 33}
	edgeN = []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 97, 127, 128, 129, 160}
	edgeK = []int{0, 1, 2, 3, 4, 5, 7, 8, 255, 256, 257, 300, 512, 513}
)

func randomCase(r *rand.Rand) gemmCase {
	pick := func(xs []int) int { return xs[r.IntN(len(xs))] }
	alphas := []float32{1, 1, 0.5, -2, 0}
	betas := []float32{0, 0, 1, 0.25}
	return gemmCase{
		transA: r.IntN(2) == 0, transB: r.IntN(2) == 0,
		m: pick(edgeM), n: pick(edgeN), k: pick(edgeK),
		alpha: alphas[r.IntN(len(alphas))], beta: betas[r.IntN(len(betas))],
		offA: r.IntN(16), offB: r.IntN(16), offC: r.IntN(16),
		padA: r.IntN(3) * r.IntN(20), padB: r.IntN(3) * r.IntN(20), padC: r.IntN(3) * r.IntN(20),
		packed: r.IntN(3) == 0,
	}
}

// TestGemmVariants runs every variant the processor supports against the float64 reference:
// random cases biased to tile edges, and every size 0…1024 along each dimension.
func TestGemmVariants(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(1, uint64(l)))
		for range 500 {
			randomCase(r).run(t, r)
		}
		step := 1
		if testing.Short() {
			step = 7
		}
		for s := 0; s <= 1024; s += step {
			c := randomCase(r)
			c.alpha, c.beta = 1, 0.5
			switch s % 3 {
			case 0:
				c.m, c.n, c.k = s, 1+r.IntN(40), 1+r.IntN(20)
			case 1:
				c.m, c.n, c.k = 1+r.IntN(20), s, 1+r.IntN(20)
			default:
				c.m, c.n, c.k = 1+r.IntN(20), 1+r.IntN(40), s
			}
			c.run(t, r)
		}
		// A few full-size products.
		for _, sh := range [][3]int{{1024, 33, 300}, {7, 1024, 1024}, {257, 300, 1024}, {128, 768, 64}} {
			c := randomCase(r)
			c.m, c.n, c.k = sh[0], sh[1], sh[2]
			c.run(t, r)
		}
	})
}

// TestGemmThreadsBitIdentical: the result must not depend on the thread count, nor on
// whether B was prepacked.
func TestGemmThreadsBitIdentical(t *testing.T) {
	defer SetThreads(SetThreads(1))
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		shapes := [][3]int{{1, 768, 768}, {3, 1000, 300}, {4, 130, 40}, {9, 517, 64}, {128, 300, 200}, {200, 64, 513}, {37, 96, 1}}
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
				var first []float32
				for _, th := range []int{1, 2, 3, 5, 8} {
					for _, packed := range []bool{false, true} {
						SetThreads(th)
						r := rand.New(rand.NewPCG(7, 7))
						c := gemmCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: 1, beta: 0.5, packed: packed, noRef: th > 1}
						got := c.run(t, r)
						if first == nil {
							first = got
							continue
						}
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(first[i]) {
								t.Fatalf("%v threads %d: C[%d] = %v, with 1 thread unpacked %v", c, th, i, got[i], first[i])
							}
						}
					}
				}
			}
		}
	})
}

func TestGemmRepack(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	k, n, m := 300, 70, 5
	w := make([]float32, n*k)
	x := make([]float32, m*k)
	fill(r, w)
	fill(r, x)
	p := PackB(true, k, n, w, k)
	fill(r, w) // an optimizer step changed the weights
	p.Repack(true, w, k)
	got := make([]float32, m*n)
	want := make([]float32, m*n)
	GemmPacked(false, m, 1, x, k, p, 0, got, n)
	Gemm(false, true, m, n, k, 1, x, k, w, k, 0, want, n)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("after Repack C[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if p.K() != k || p.N() != n {
		t.Fatalf("PackedB is %d×%d, want %d×%d", p.K(), p.N(), k, n)
	}
}

// TestGemmSpecialValues checks BLAS semantics and NaN/Inf propagation.
func TestGemmSpecialValues(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		for _, sh := range [][3]int{{1, 5, 3}, {3, 40, 9}, {20, 70, 300}} {
			m, n, k := sh[0], sh[1], sh[2]
			for _, packed := range []bool{false, true} {
				gemm := func(alpha float32, a, b []float32, beta float32, c []float32) {
					if packed {
						GemmPacked(false, m, alpha, a, k, PackB(false, k, n, b, n), beta, c, n)
					} else {
						Gemm(false, false, m, n, k, alpha, a, k, b, n, beta, c, n)
					}
				}
				ones := func(n int, v float32) []float32 {
					x := make([]float32, n)
					for i := range x {
						x[i] = v
					}
					return x
				}
				// beta = 0: C is not read, NaN there disappears.
				c := ones(m*n, nan)
				gemm(1, ones(m*k, 1), ones(k*n, 2), 0, c)
				for i, v := range c {
					if v != float32(2*k) {
						t.Fatalf("%v packed=%v beta=0: C[%d] = %v, want %d", sh, packed, i, v, 2*k)
					}
				}
				// alpha = 0: A and B are not read; C = beta·C.
				c = ones(m*n, 3)
				gemm(0, ones(m*k, nan), ones(k*n, nan), 0.5, c)
				for i, v := range c {
					if v != 1.5 {
						t.Fatalf("%v packed=%v alpha=0: C[%d] = %v, want 1.5", sh, packed, i, v)
					}
				}
				// NaN in row 0 of A makes row 0 of C NaN and nothing else.
				a := ones(m*k, 1)
				a[k-1] = nan
				c = ones(m*n, 0)
				gemm(1, a, ones(k*n, 1), 0, c)
				for i, v := range c {
					if isNaN := v != v; isNaN != (i < n) {
						t.Fatalf("%v packed=%v: NaN in A row 0 gave C[%d] = %v", sh, packed, i, v)
					}
				}
				// Inf in B column 1 gives ±Inf in column 1; 0·Inf gives NaN.
				b := ones(k*n, 1)
				b[1] = inf
				c = ones(m*n, 0)
				a = ones(m*k, 1)
				a[0] = 0 // row 0: 0·Inf = NaN
				gemm(1, a, b, 0, c)
				for i := 0; i < m; i++ {
					v := c[i*n+1]
					if i == 0 && v == v {
						t.Fatalf("%v packed=%v: 0·Inf gave %v, want NaN", sh, packed, v)
					}
					if i > 0 && v != inf {
						t.Fatalf("%v packed=%v: Inf in B gave C[%d][1] = %v", sh, packed, i, v)
					}
				}
			}
		}
	})
}

func TestGemmPanics(t *testing.T) {
	for _, tc := range []struct {
		name string
		fn   func()
	}{
		{"short A", func() {
			Gemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		}},
		{"short B", func() {
			Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 3), 2, 0, make([]float32, 4), 2)
		}},
		{"short C", func() {
			Gemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		}},
		{"small lda", func() {
			Gemm(false, false, 2, 2, 3, 1, make([]float32, 9), 2, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		}},
		{"small ldb transposed", func() {
			Gemm(false, true, 2, 2, 3, 1, make([]float32, 6), 3, make([]float32, 9), 2, 0, make([]float32, 4), 2)
		}},
		{"negative", func() { Gemm(false, false, -1, 2, 2, 1, nil, 2, make([]float32, 4), 2, 0, nil, 2) }},
		{"packed short A", func() {
			GemmPacked(false, 2, 1, make([]float32, 3), 2, PackB(false, 2, 2, make([]float32, 4), 2), 0, make([]float32, 4), 2)
		}},
	} {
		func() {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.HasPrefix(msg, "kernels: gemm:") {
					t.Errorf("%s: panic %q, want a kernels: gemm: panic", tc.name, msg)
				}
			}()
			tc.fn()
		}()
	}
}

// TestPackersAgree: the assembly packers produce exactly what the Go loops produce.
func TestPackersAgree(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	generic := genericKernels()
	for _, im := range gemmKernels.Impls() {
		ks := im.Fn
		for range 200 {
			k := r.IntN(300)
			rows := 1 + r.IntN(40)
			lda := k + r.IntN(5)
			a := make([]float32, rows*lda+k)
			fill(r, a)
			for _, trans := range []bool{false, true} {
				ld := lda
				if trans {
					ld = rows + r.IntN(5)
					a = make([]float32, max(k, 1)*ld)
					fill(r, a)
				}
				got := make([]float32, rows*k)
				want := make([]float32, rows*k)
				// tiles of the variant's height, packed by the variant and by plain Go
				plain := *generic
				plain.mr = ks.mr
				packA(ks, got, trans, a, ld, 0, rows, k)
				packA(&plain, want, trans, a, ld, 0, rows, k)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s packA rows %d k %d trans %v: [%d] = %v, want %v", im.Name, rows, k, trans, i, got[i], want[i])
					}
				}
			}
			n := 1 + r.IntN(200)
			kb := 1 + r.IntN(100)
			k0 := r.IntN(50)
			q1 := panels(n)
			q0 := r.IntN(q1)
			for _, trans := range []bool{false, true} {
				var b []float32
				var ldb int
				if trans {
					ldb = k0 + kb + r.IntN(5)
					b = make([]float32, n*ldb)
				} else {
					ldb = n + r.IntN(5)
					b = make([]float32, (k0+kb)*ldb)
				}
				fill(r, b)
				got := make([]float32, (q1-q0)*kb*panelWidth)
				want := make([]float32, len(got))
				fill(r, got) // padding must be overwritten with zeros
				packB(ks, got, trans, b, ldb, k0, kb, q0, q1, n)
				packB(generic, want, trans, b, ldb, k0, kb, q0, q1, n)
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("%s packB n %d kb %d trans %v: [%d] = %v, want %v", im.Name, n, kb, trans, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// FuzzGemm checks arbitrary small shapes, strides and offsets against the reference.
func FuzzGemm(f *testing.F) {
	f.Add(uint8(3), uint8(33), uint8(17), uint8(0), uint8(5), uint8(9), uint8(1))
	f.Add(uint8(1), uint8(1), uint8(0), uint8(3), uint8(0), uint8(0), uint8(2))
	f.Add(uint8(15), uint8(64), uint8(255), uint8(1), uint8(15), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, m, n, k, flags, offs, pads, ab uint8) {
		r := rand.New(rand.NewPCG(uint64(m)<<16|uint64(n)<<8|uint64(k), uint64(offs)))
		c := gemmCase{
			transA: flags&1 != 0, transB: flags&2 != 0, packed: flags&4 != 0,
			m: int(m % 40), n: int(n % 100), k: int(k),
			alpha: []float32{1, 0.5, 0, -1}[ab%4], beta: []float32{0, 1, 0.5, 2}[(ab/4)%4],
			offA: int(offs % 16), offB: int(offs / 16), offC: int(pads % 16),
			padA: int(pads % 7), padB: int(pads / 7 % 7), padC: int(pads / 49 % 5),
		}
		c.run(t, r)
	})
}

func BenchmarkGemm(b *testing.B) {
	for _, sh := range [][3]int{{512, 512, 512}, {128, 768, 768}, {128, 768, 3072}, {128, 3072, 768}, {1, 768, 768}, {1, 768, 3072}} {
		m, k, n := sh[0], sh[1], sh[2]
		r := rand.New(rand.NewPCG(1, 1))
		a := make([]float32, m*k)
		bb := make([]float32, k*n)
		c := make([]float32, m*n)
		fill(r, a)
		fill(r, bb)
		p := PackB(false, k, n, bb, n)
		flops := 2 * float64(m*n*k)
		b.Run(fmt.Sprintf("%dx%dx%d", m, k, n), func(b *testing.B) {
			for b.Loop() {
				Gemm(false, false, m, n, k, 1, a, k, bb, n, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("prepacked/%dx%dx%d", m, k, n), func(b *testing.B) {
			for b.Loop() {
				GemmPacked(false, m, 1, a, k, p, 0, c, n)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestGemmHugeShapePanics(t *testing.T) {
	defer func() {
		if msg := fmt.Sprint(recover()); !strings.HasPrefix(msg, "kernels: gemm:") {
			t.Fatalf("panic %q", msg)
		}
	}()
	// (rows-1)·ld wraps around int64: the check must still fail.
	Gemm(false, false, 1<<40, 1, 1, 1, make([]float32, 4), 1<<40, make([]float32, 1), 1, 0, make([]float32, 4), 1)
}
