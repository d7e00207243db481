package q8

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/internal/testutil"
	"github.com/optiformer/optiformer/kernels"
)

func randRow(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

// TestQ8_0 checks ggml's rule on a row with known values, then the error bound and the byte
// round trip on random rows.
func TestQ8_0(t *testing.T) {
	x := make([]float32, 64)
	for i := range x[:32] {
		x[i] = float32(i) - 15.5 // max |x| 15.5, at both ends
	}
	x[32+5] = -3 // second block: a single non-zero value
	b := make([]BlockQ8_0, 2)
	QuantizeRowQ8_0(b, x)
	d := float32(15.5) / 127 // 0.12204…, float16 0.1220703125 (0x2fd0)
	if b[0].D != f16(d) || b[0].D != 0x2fd0 {
		t.Fatalf("block 0 scale %#x (%v), want float16 of %v", b[0].D, F16ToF32(b[0].D), d)
	}
	for i, q := range b[0].Qs {
		want := int8(math.Round(float64(x[i] * (1 / d))))
		if q != want {
			t.Fatalf("qs[%d] = %d, want %d", i, q, want)
		}
	}
	if b[0].Qs[0] != -127 || b[0].Qs[31] != 127 || b[0].Qs[16] != 4 {
		t.Fatalf("qs[0] %d, qs[16] %d, qs[31] %d; want -127 4 127", b[0].Qs[0], b[0].Qs[16], b[0].Qs[31])
	}
	for j, q := range b[1].Qs {
		if (j == 5) != (q != 0) || (j == 5 && q != -127) {
			t.Fatalf("block 1 qs[%d] = %d", j, q)
		}
	}
	zero := make([]BlockQ8_0, 1)
	QuantizeRowQ8_0(zero, make([]float32, 32))
	if zero[0].D != 0 || zero[0].Qs != [32]int8{} {
		t.Fatal("a zero block is not all zero")
	}

	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{32, 64, 4096} {
		x := randRow(r, n, 3)
		blocks := make([]BlockQ8_0, n/32)
		QuantizeRowQ8_0(blocks, x)
		y := make([]float32, n)
		DequantizeRowQ8_0(y, blocks)
		for i := range x {
			d := float64(F16ToF32(blocks[i/32].D))
			// half a step, plus the float16 rounding of d (relative 2^-11) over 127 steps
			if math.Abs(float64(y[i]-x[i])) > d/2+127*d*math.Pow(2, -11)+1e-7 {
				t.Fatalf("n=%d: x[%d] = %v came back as %v (d %v)", n, i, x[i], y[i], d)
			}
		}
		raw := AppendQ8_0(nil, blocks)
		if len(raw) != len(blocks)*BlockQ8_0Bytes {
			t.Fatalf("%d bytes for %d blocks", len(raw), len(blocks))
		}
		back, err := ParseQ8_0(raw)
		if err != nil || len(back) != len(blocks) {
			t.Fatal(err)
		}
		for i := range back {
			if back[i] != blocks[i] {
				t.Fatalf("block %d changed in the byte round trip", i)
			}
		}
	}
	if _, err := ParseQ8_0(make([]byte, 35)); err == nil {
		t.Fatal("35 bytes parsed as Q8_0")
	}
}

func TestQ4_0(t *testing.T) {
	// ggml's rule: the value of largest magnitude m gives d = m/-8 and maps to q = 0.
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i%16) - 4 // in [-4, 11]; m = 11 at i = 15
	}
	b := make([]BlockQ4_0, 1)
	QuantizeRowQ4_0(b, x)
	d := float32(11) / -8
	if b[0].D != f16(d) {
		t.Fatalf("scale %v, want %v", F16ToF32(b[0].D), d)
	}
	id := 1 / d
	for j := 0; j < 16; j++ {
		q0 := min(15, int8(x[j]*id+8.5))
		q1 := min(15, int8(x[j+16]*id+8.5))
		if b[0].Qs[j] != uint8(q0)|uint8(q1)<<4 {
			t.Fatalf("qs[%d] = %#x, want %#x", j, b[0].Qs[j], uint8(q0)|uint8(q1)<<4)
		}
	}
	if b[0].Qs[15]&15 != 0 {
		t.Fatalf("the largest value quantized to %d, want 0", b[0].Qs[15]&15)
	}
	y := make([]float32, 32)
	DequantizeRowQ4_0(y, b)
	if y[15] != 8*-F16ToF32(b[0].D) {
		t.Fatalf("the largest value came back as %v", y[15])
	}

	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{32, 128, 4096} {
		x := randRow(r, n, 2)
		blocks := make([]BlockQ4_0, n/32)
		QuantizeRowQ4_0(blocks, x)
		y := make([]float32, n)
		DequantizeRowQ4_0(y, blocks)
		for i := range x {
			d := math.Abs(float64(F16ToF32(blocks[i/32].D)))
			// half a step inside the range, a whole step at the clamped end (−m lands on 7d)
			if math.Abs(float64(y[i]-x[i])) > d+8*d*math.Pow(2, -11)+1e-6 {
				t.Fatalf("n=%d: x[%d] = %v came back as %v (d %v)", n, i, x[i], y[i], d)
			}
		}
		back, err := ParseQ4_0(AppendQ4_0(nil, blocks))
		if err != nil || len(back) != len(blocks) {
			t.Fatal(err)
		}
		for i := range back {
			if back[i] != blocks[i] {
				t.Fatalf("block %d changed in the byte round trip", i)
			}
		}
	}
	if _, err := ParseQ4_0(make([]byte, 17)); err == nil {
		t.Fatal("17 bytes parsed as Q4_0")
	}
}

func TestBlockLengthsChecked(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("QuantizeRowQ8_0 took 33 values for one block")
		}
	}()
	QuantizeRowQ8_0(make([]BlockQ8_0, 1), make([]float32, 33))
}

func TestQuantizeRowSym(t *testing.T) {
	q := make([]int8, 5)
	s, err := QuantizeRowSym(q, []float32{-2, 1, 0.5, 2, 1.0 / 127})
	if err != nil || s != 2.0/127 {
		t.Fatalf("scale %v, %v", s, err)
	}
	// 1·63.5 = 63.5 and 0.5·63.5 = 31.75 and (1/127)·63.5 = 0.5: ties go to even.
	if want := []int8{-127, 64, 32, 127, 0}; string(bytesOf(q)) != string(bytesOf(want)) {
		t.Fatalf("got %v, want %v", q, want)
	}
	if s, err := QuantizeRowSym(q, make([]float32, 5)); err != nil || s != 0 {
		t.Fatalf("zero row: %v %v", s, err)
	}
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		if _, err := QuantizeRowSym(q[:2], []float32{1, bad}); err == nil {
			t.Fatalf("%v quantized without an error", bad)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	x := randRow(r, 1000, 4)
	q = make([]int8, len(x))
	s, _ = QuantizeRowSym(q, x)
	y := make([]float32, len(x))
	DequantizeRowSym(y, q, s)
	for i := range x {
		if math.Abs(float64(y[i]-x[i])) > float64(s)/2*(1+1e-5) {
			t.Fatalf("x[%d] = %v came back as %v (s %v)", i, x[i], y[i], s)
		}
	}
}

func bytesOf(q []int8) []byte {
	b := make([]byte, len(q))
	for i, v := range q {
		b[i] = byte(v)
	}
	return b
}

func TestGemmRef(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][3]int{{0, 0, 0}, {1, 1, 1}, {3, 5, 7}, {8, 33, 64}, {17, 9, 300}} {
		m, n, k := sz[0], sz[1], sz[2]
		lda, ldb, ldc := k+3, k+1, n+2
		a := make([]int8, m*lda)
		b := make([]int8, n*ldb)
		for i := range a {
			a[i] = int8(r.IntN(256) - 128)
		}
		for i := range b {
			b[i] = int8(r.IntN(256) - 128)
		}
		c := make([]int32, m*ldc)
		for i := range c {
			c[i] = -1 // padding between rows must stay
		}
		GemmRef(m, n, k, a, lda, b, ldb, c, ldc)
		for i := 0; i < m; i++ {
			for j := 0; j < ldc; j++ {
				if j >= n {
					if c[i*ldc+j] != -1 {
						t.Fatalf("%v: wrote C padding", sz)
					}
					continue
				}
				var s int64
				for p := 0; p < k; p++ {
					s += int64(a[i*lda+p]) * int64(b[j*ldb+p])
				}
				if int64(c[i*ldc+j]) != s {
					t.Fatalf("%v: C[%d][%d] = %d, want %d", sz, i, j, c[i*ldc+j], s)
				}
			}
		}
	}
	// the extreme: -128·-128 summed over MaxK does not overflow
	k := MaxK
	a, b, c := make([]int8, k), make([]int8, k), make([]int32, 1)
	for i := range a {
		a[i], b[i] = -128, -128
	}
	GemmRef(1, 1, k, a, k, b, k, c, 1)
	if int64(c[0]) != int64(k)*128*128 {
		t.Fatalf("extreme sum %d, want %d", c[0], int64(k)*128*128)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("GemmRef took a too-short A")
		}
	}()
	GemmRef(2, 1, 4, make([]int8, 7), 4, make([]int8, 4), 4, make([]int32, 2), 1)
}

func FuzzParseQ4_0(f *testing.F) {
	f.Add(make([]byte, 18))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		blocks, err := ParseQ4_0(b)
		if err != nil {
			return
		}
		if got := AppendQ4_0(nil, blocks); string(got) != string(b) {
			t.Fatal("Q4_0 bytes did not round trip")
		}
		y := make([]float32, len(blocks)*BlockSize)
		DequantizeRowQ4_0(y, blocks)
	})
}

func FuzzParseQ8_0(f *testing.F) {
	f.Add(make([]byte, 34))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		blocks, err := ParseQ8_0(b)
		if err != nil {
			return
		}
		if got := AppendQ8_0(nil, blocks); string(got) != string(b) {
			t.Fatal("Q8_0 bytes did not round trip")
		}
	})
}

// TestGemm runs every variant of Gemm against GemmRef: exact equality over shapes around the
// tile (6 rows × 64 columns) and k-group (4) edges, strides, extreme values and thread counts.
func TestGemm(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(9, 10))
		for _, m := range []int{0, 1, 2, 5, 6, 7, 12, 13, 33} {
			for _, n := range []int{0, 1, 15, 16, 17, 63, 64, 65, 130} {
				for _, k := range []int{0, 1, 3, 4, 5, 8, 63, 64, 65, 300} {
					lda, ldb, ldc := k+r.IntN(3), k+r.IntN(3), n+r.IntN(3)
					a := make([]int8, max(0, (m-1)*lda+k))
					b := make([]int8, max(0, (n-1)*ldb+k))
					extreme := r.IntN(4) == 0
					for i := range a {
						a[i] = int8(r.IntN(256) - 128)
						if extreme {
							a[i] = -128
						}
					}
					for i := range b {
						b[i] = int8(r.IntN(256) - 128)
						if extreme {
							b[i] = int8(127 - 255*(i%2))
						}
					}
					want := make([]int32, max(0, (m-1)*ldc+n))
					GemmRef(m, n, k, a, lda, b, ldb, want, ldc)
					p := Pack(b, n, k, ldb)
					for _, threads := range []int{1, 2} {
						old := kernels.SetThreads(threads)
						got := make([]int32, len(want))
						for i := range got {
							got[i] = 77 // padding cells must keep it
						}
						Gemm(m, a, lda, p, got, ldc)
						kernels.SetThreads(old)
						for i := 0; i < m; i++ {
							for j := 0; j < ldc && i*ldc+j < len(got); j++ {
								g := got[i*ldc+j]
								if j >= n {
									if g != 77 {
										t.Fatalf("m=%d n=%d k=%d: wrote padding at [%d][%d]", m, n, k, i, j)
									}
								} else if g != want[i*ldc+j] {
									t.Fatalf("m=%d n=%d k=%d threads=%d: C[%d][%d] = %d, want %d", m, n, k, threads, i, j, g, want[i*ldc+j])
								}
							}
						}
					}
				}
			}
		}
	})
}

func BenchmarkGemm128x768x3072(b *testing.B) {
	const m, k, n = 128, 768, 3072
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]int8, m*k)
	w := make([]int8, n*k)
	for i := range a {
		a[i] = int8(r.IntN(255) - 127)
	}
	for i := range w {
		w[i] = int8(r.IntN(255) - 127)
	}
	p := Pack(w, n, k, k)
	c := make([]int32, m*n)
	defer kernels.SetThreads(kernels.SetThreads(1))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Gemm(m, a, k, p, c, n)
	}
	b.ReportMetric(2*m*k*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GOPS")
}

// TestLinearDynamic checks the int8 Linear against its reference (bit-identical, every
// variant) and against the float64 product (the quantization error stays within its bound).
func TestLinearDynamic(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(11, 12))
		for _, sz := range [][3]int{{1, 64, 96}, {7, 33, 130}, {32, 256, 256}} {
			m, in, out := sz[0], sz[1], sz[2]
			x := randRow(r, m*in, 1)
			wf := randRow(r, out*in, 0.05)
			bias := randRow(r, out, 0.1)
			w, err := QuantizeWeights(wf, out, in)
			if err != nil {
				t.Fatal(err)
			}
			// Bit-identical to the reference, with the bias and without.
			exact := func(b []float32) []float32 {
				y, ref := make([]float32, m*out), make([]float32, m*out)
				if err := LinearDynamic(y, x, m, w, b); err != nil {
					t.Fatal(err)
				}
				if err := LinearDynamicRef(ref, x, m, w, b); err != nil {
					t.Fatal(err)
				}
				for i := range y {
					if math.Float32bits(y[i]) != math.Float32bits(ref[i]) {
						t.Fatalf("%v, bias %v: y[%d] = %v, reference %v", sz, b != nil, i, y[i], ref[i])
					}
				}
				return y
			}
			exact(nil)
			y := exact(bias)
			for i := 0; i < m; i++ {
				var xmax float64
				for _, v := range x[i*in : (i+1)*in] {
					xmax = math.Max(xmax, math.Abs(float64(v)))
				}
				for j := 0; j < out; j++ {
					var exact, bound float64
					for p := 0; p < in; p++ {
						a, b := float64(x[i*in+p]), float64(wf[j*in+p])
						exact += a * b
						// each factor is off by at most half a step
						bound += math.Abs(a)*float64(w.Scale[j])/2 + math.Abs(b)*xmax/127/2 + xmax/127*float64(w.Scale[j])/4
					}
					exact += float64(bias[j])
					if got := float64(y[i*out+j]); math.Abs(got-exact) > bound+1e-5 {
						t.Fatalf("%v: y[%d][%d] = %v, float64 %v (bound %v)", sz, i, j, got, exact, bound)
					}
				}
			}
			if m > 1 {
				x[in+3] = float32(math.NaN())
				if err := LinearDynamic(y, x, m, w, bias); err == nil {
					t.Fatalf("%v: NaN input accepted", sz)
				}
			}
		}
	})
}

// TestQuantizeRowVariants compares every variant's bytes, sum and scale with the generic
// rows over lengths 0…300 at every offset of a cache line, with ties, extremes and tiny rows.
func TestQuantizeRowVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	ref := func(x []float32) ([]int8, float32, int32, error) {
		d := make([]int8, len(x))
		amax, check := absMaxRef(x)
		if check != 0 || amax > math.MaxFloat32 {
			return nil, 0, 0, errNaN
		}
		if amax < tinyRow {
			return d, 0, 0, nil
		}
		sum := quantRowRef(d, x, 127/amax)
		return d, amax / 127, sum, nil
	}
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		for n := 0; n <= 300; n += 1 + n/40 {
			for off := 0; off < 16; off += 5 {
				for kind := 0; kind < 5; kind++ {
					buf := make([]float32, n+off)
					x := buf[off:]
					for i := range x {
						switch kind {
						case 0:
							x[i] = float32(r.NormFloat64())
						case 1: // ties: amax 127 gives inv 1, and halves round to even
							x[i] = float32(r.IntN(255)-127) + 0.5
						case 2:
							x[i] = float32(r.NormFloat64() * 1e30)
						case 3:
							x[i] = float32(r.NormFloat64() * 1e-38)
						case 4:
							x[i] = float32(r.NormFloat64())
							if i == n/2 {
								x[i] = float32(math.Inf(1))
							}
						}
					}
					if kind == 1 && n > 0 {
						x[0] = 127
					}
					want, ws, wsum, werr := ref(x)
					got := make([]int8, n)
					s, sum, err := quantizeRow(got, x)
					if (err != nil) != (werr != nil) {
						t.Fatalf("n=%d kind %d: error %v, reference %v", n, kind, err, werr)
					}
					if err != nil {
						continue
					}
					if s != ws || sum != wsum || string(bytesOf(got)) != string(bytesOf(want)) {
						t.Fatalf("n=%d off=%d kind %d: scale %v sum %d, reference %v %d; bytes equal %v",
							n, off, kind, s, sum, ws, wsum, string(bytesOf(got)) == string(bytesOf(want)))
					}
				}
			}
		}
	})
}

var errNaN = errors.New("NaN")

// TestDequantRowVariants compares every variant's int32→float32 epilogue with the reference
// bit for bit over lengths 0…300 at several offsets, with and without a bias, with extreme
// int32 values and scales.
func TestDequantRowVariants(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		k := rowImpl.Get()
		for n := 0; n <= 300; n += 1 + n/40 {
			for off := 0; off < 16; off += 5 {
				cs := make([]int32, n+off)[off:]
				scale, bias := make([]float32, n+off)[off:], make([]float32, n)
				for i := range cs {
					cs[i] = int32(r.Uint32())
					if i%3 == 0 {
						cs[i] >>= r.IntN(31)
					}
					scale[i] = float32(r.ExpFloat64() * 1e-4)
					bias[i] = float32(r.NormFloat64())
				}
				s := float32(r.ExpFloat64() * 0.01)
				for _, b := range [][]float32{bias, nil} {
					got, want := make([]float32, n+off)[off:], make([]float32, n)
					dequantRow(k, got, cs, s, scale, b)
					dequantRowRef(want, cs, s, scale, b)
					for i := range want {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("n=%d off=%d bias %v: y[%d] = %v, reference %v", n, off, b != nil, i, got[i], want[i])
						}
					}
				}
			}
		}
	})
}

// TestMatMulBlocks runs the weight-only Q4_0 and Q8_0 products, every variant, against the
// float64 product with the dequantized weights.
func TestMatMulBlocks(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(15, 16))
		for _, sz := range [][3]int{{1, 1, 32}, {1, 3, 64}, {2, 4, 32}, {3, 9, 256}, {5, 64, 96}, {1, 7, 0}} {
			m, out, in := sz[0], sz[1], sz[2]
			x := randRow(r, m*in, 1)
			wf := randRow(r, out*in, 0.1)
			q4 := make([]BlockQ4_0, out*in/32)
			q8 := make([]BlockQ8_0, out*in/32)
			QuantizeRowQ4_0(q4, wf)
			QuantizeRowQ8_0(q8, wf)
			d4, d8 := make([]float32, out*in), make([]float32, out*in)
			DequantizeRowQ4_0(d4, q4)
			DequantizeRowQ8_0(d8, q8)
			y4, y8 := make([]float32, m*out), make([]float32, m*out)
			for i := range y4 {
				y4[i], y8[i] = 99, 99
			}
			// The products take the scales from s4 and s8: the blocks' own, spoilt here,
			// must not be read.
			s4, s8 := ScalesQ4_0(q4), ScalesQ8_0(q8)
			for i := range q4 {
				q4[i].D, q8[i].D = 0x7c00, 0x7c00 // +Inf
			}
			MatMulQ4_0(y4, x, m, q4, s4, out, in)
			MatMulQ8_0(y8, x, m, q8, s8, out, in)
			for i := 0; i < m; i++ {
				for j := 0; j < out; j++ {
					for _, c := range []struct {
						name string
						y    []float32
						w    []float32
					}{{"Q4_0", y4, d4}, {"Q8_0", y8, d8}} {
						var s, a float64
						for p := 0; p < in; p++ {
							v := float64(x[i*in+p]) * float64(c.w[j*in+p])
							s += v
							a += math.Abs(v)
						}
						if got := float64(c.y[i*out+j]); math.Abs(got-s) > 1e-5*a+1e-6 {
							t.Fatalf("%s %v: y[%d][%d] = %v, want %v", c.name, sz, i, j, got, s)
						}
					}
				}
			}
		}
	})
}

func BenchmarkMatMulQ4_0(b *testing.B) {
	const m, out, in = 1, 3072, 768
	r := rand.New(rand.NewPCG(1, 1))
	x, wf := randRow(r, m*in, 1), randRow(r, out*in, 0.1)
	q4 := make([]BlockQ4_0, out*in/32)
	QuantizeRowQ4_0(q4, wf)
	y, d := make([]float32, m*out), ScalesQ4_0(q4)
	defer kernels.SetThreads(kernels.SetThreads(1))
	b.SetBytes(int64(len(q4) * BlockQ4_0Bytes))
	for i := 0; i < b.N; i++ {
		MatMulQ4_0(y, x, m, q4, d, out, in)
	}
	b.ReportMetric(2*m*out*in*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestLinearStatic checks the fixed-scale int8 Linear against its reference, bit for bit on
// every variant, with rows inside the calibrated range, rows beyond it (saturating) and
// outliers far beyond int32's range after scaling.
func TestLinearStatic(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(21, 22))
		for _, sz := range [][3]int{{1, 64, 96}, {7, 33, 130}, {32, 256, 256}} {
			m, in, out := sz[0], sz[1], sz[2]
			x := randRow(r, m*in, 1)
			x[0] = 1e30 // an outlier: 1e30/s overflows int32
			if m > 1 {
				x[in+1] = -7 // beyond the calibrated range below
			}
			wf := randRow(r, out*in, 0.05)
			bias := randRow(r, out, 0.1)
			w, err := QuantizeWeights(wf, out, in)
			if err != nil {
				t.Fatal(err)
			}
			const sx = 3.0 / 127 // calibrated |x| ≤ 3
			y, ref := make([]float32, m*out), make([]float32, m*out)
			if err := LinearStatic(y, x, m, w, sx, bias); err != nil {
				t.Fatal(err)
			}
			if err := LinearStaticRef(ref, x, m, w, sx, bias); err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if math.Float32bits(y[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%v: y[%d] = %v, reference %v", sz, i, y[i], ref[i])
				}
			}
			q := make([]int8, 3)
			if _, err := QuantizeRowScaled(q, []float32{1e30, -1e30, 1.5 * sx}, sx); err != nil || q[0] != 127 || q[1] != -127 || q[2] != 2 {
				t.Fatalf("saturation: %v %v", q, err)
			}
			if err := LinearStatic(y, x, m, w, 0, bias); err == nil {
				t.Fatal("scale 0 accepted")
			}
			x[in-1] = float32(math.Inf(1))
			if err := LinearStatic(y, x, m, w, sx, bias); err == nil {
				t.Fatal("Inf input accepted")
			}
		}
	})
}

// Group scales (QuantizeRowQ8_0/Q4_0 are group 32, checked against ggml's values by TestQ8_0
// and TestQ4_0): larger groups share one scale across their blocks and stay within half a
// step of it (a step for Q4_0's clamped top).
func TestQuantizeGroups(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	x := randRow(r, 256, 2)
	b8, b4 := make([]BlockQ8_0, 8), make([]BlockQ4_0, 8)
	for _, g := range []int{64, 128, 256} {
		QuantizeRowQ8_0Group(b8, x, g)
		QuantizeRowQ4_0Group(b4, x, g)
		y8, y4 := make([]float32, 256), make([]float32, 256)
		DequantizeRowQ8_0(y8, b8)
		DequantizeRowQ4_0(y4, b4)
		for i := range x {
			blk := i / BlockSize
			if first := (blk / (g / BlockSize)) * (g / BlockSize); b8[blk].D != b8[first].D || b4[blk].D != b4[first].D {
				t.Fatalf("group %d: block %d has its own scale", g, blk)
			}
			d8, d4 := float64(F16ToF32(b8[blk].D)), math.Abs(float64(F16ToF32(b4[blk].D)))
			if math.Abs(float64(y8[i]-x[i])) > d8*0.51+1e-6 || math.Abs(float64(y4[i]-x[i])) > d4*1.01+1e-6 {
				t.Fatalf("group %d: x[%d] = %v came back as %v (q8) / %v (q4)", g, i, x[i], y8[i], y4[i])
			}
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("group 48 accepted")
		}
	}()
	QuantizeRowQ8_0Group(b8, x, 48)
}

// The block dequantizers against their plain references, bit for bit, over random blocks
// with every nibble, extreme scales included, and benchmarks of both.
func TestDequantizeRowsMatchRefs(t *testing.T) {
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(17, 18))
		for _, nb := range []int{0, 1, 3, 96} {
			b4, b8 := make([]BlockQ4_0, nb), make([]BlockQ8_0, nb)
			for i := range b4 {
				b4[i].D, b8[i].D = uint16(r.Uint32()), uint16(r.Uint32())
				for j := range b4[i].Qs {
					b4[i].Qs[j] = uint8(r.Uint32())
				}
				for j := range b8[i].Qs {
					b8[i].Qs[j] = int8(r.Uint32())
				}
			}
			got, want := make([]float32, nb*BlockSize+1), make([]float32, nb*BlockSize+1)
			got[nb*BlockSize], want[nb*BlockSize] = 7, 7 // not written
			DequantizeRowQ4_0(got[:nb*BlockSize], b4)
			dequantizeRowQ4_0Ref(want, b4)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("Q4_0 %d blocks: value %d = %v, reference %v", nb, i, got[i], want[i])
				}
			}
			DequantizeRowQ8_0(got[:nb*BlockSize], b8)
			dequantizeRowQ8_0Ref(want, b8)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Fatalf("Q8_0 %d blocks: value %d = %v, reference %v", nb, i, got[i], want[i])
				}
			}
		}
	})
}

func BenchmarkDequantizeRowQ4_0(b *testing.B) {
	blocks := make([]BlockQ4_0, 768*3072/BlockSize)
	for i := range blocks {
		blocks[i].D = 0x2e66
		for j := range blocks[i].Qs {
			blocks[i].Qs[j] = uint8(i + j)
		}
	}
	y := make([]float32, 768*3072)
	for _, way := range []string{"best", "go", "ref"} {
		b.Run(way, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				switch way {
				case "best":
					DequantizeRowQ4_0(y, blocks)
				case "go":
					dequantizeRowQ4_0Go(y, blocks)
				default:
					dequantizeRowQ4_0Ref(y, blocks)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(y)), "ns/value")
		})
	}
}
