package q8

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/internal/testutil"
	"github.com/optiformer/optiformer/kernels"
)

// TestQ4_0Matrix runs Q4_0Matrix.MatMul, every variant (the lane kernels where in is a
// multiple of 256, the block kernels otherwise and below AVX-512), against the float64
// product with the dequantized weights, over shapes that exercise groups of 16 and 8 blocks,
// rows in fours and alone, and several rows of x.
func TestQ4_0Matrix(t *testing.T) {
	if q4LanesDot4 != nil && cpu.Detected() >= q4LanesLevel {
		// The lane layout must be in use here, or this test checks only the fallback.
		if NewQ4_0Matrix(make([]BlockQ4_0, 4*256/BlockSize), 4, 256).lanes == nil {
			t.Fatal("no lane layout for a 4×256 matrix on a processor with the lane kernels")
		}
	}
	shapes := [][3]int{ // m, out, in
		{1, 4, 256}, {1, 1, 256}, {1, 7, 512}, {2, 9, 768}, {3, 13, 1024}, {1, 64, 1280},
		{5, 6, 2048}, {1, 5, 96}, {2, 3, 32}, {1, 0, 256}, {0, 4, 256},
	}
	testutil.ForEachLevel(t, func(t *testing.T, l cpu.Level) {
		r := rand.New(rand.NewPCG(31, 32))
		for _, sz := range shapes {
			m, out, in := sz[0], sz[1], sz[2]
			x := randRow(r, m*in, 1)
			wf := randRow(r, out*in, 0.1)
			blocks := make([]BlockQ4_0, out*in/BlockSize)
			QuantizeRowQ4_0(blocks, wf)
			deq := make([]float32, out*in)
			DequantizeRowQ4_0(deq, blocks)
			w := NewQ4_0Matrix(blocks, out, in)
			y := make([]float32, m*out)
			for i := range y {
				y[i] = 99
			}
			w.MatMul(y, x, m)
			for i := 0; i < m; i++ {
				for j := 0; j < out; j++ {
					var s, a float64
					for p := 0; p < in; p++ {
						v := float64(x[i*in+p]) * float64(deq[j*in+p])
						s += v
						a += math.Abs(v)
					}
					if got := float64(y[i*out+j]); math.Abs(got-s) > 1e-5*a+1e-6 {
						t.Fatalf("%v (lanes %v): y[%d][%d] = %v, want %v", sz, w.lanes != nil, i, j, got, s)
					}
				}
			}
		}
	})
}

// TestPackQ4Lanes checks the layout on its definition: the dword of lane i in chunk L of a
// group holds positions 8L…8L+7 of block g0+i.
func TestPackQ4Lanes(t *testing.T) {
	const out, in = 2, 768 // 24 blocks a row: a group of 16, then one of 8
	nb := in / BlockSize
	blocks := make([]BlockQ4_0, out*nb)
	for b := range blocks {
		for k := range blocks[b].Qs {
			blocks[b].Qs[k] = uint8((b*7 + k*3) & 0xff)
		}
	}
	p := packQ4Lanes(blocks, out, in)
	for j := 0; j < out; j++ {
		for b := 0; b < nb; b++ {
			g0, lanes := 0, 16
			if b >= 16 {
				g0, lanes = 16, 8
			}
			for tpos := 0; tpos < BlockSize; tpos++ {
				L, n := tpos/8, tpos%8
				off := j*nb*16 + g0*16 + L*4*lanes + 4*(b-g0)
				dw := uint32(p[off]) | uint32(p[off+1])<<8 | uint32(p[off+2])<<16 | uint32(p[off+3])<<24
				if got, want := uint8(dw>>(4*n)&15), nibbleQ4_0(&blocks[j*nb+b], tpos); got != want {
					t.Fatalf("row %d block %d position %d: %d, want %d", j, b, tpos, got, want)
				}
			}
		}
	}
}

// BenchmarkQ4_0Matrix compares, one row and one thread, the block kernels (ggml layout) with
// Q4_0Matrix (the lane layout where the processor has it) on decoder-step products: BERT-base's
// 768→3072 and a 256-wide model's FC1 and 8,000-word output layer (rows of 8 blocks, the
// 8-lane path only).
func BenchmarkQ4_0Matrix(b *testing.B) {
	defer kernels.SetThreads(kernels.SetThreads(1))
	for _, sh := range [][2]int{{3072, 768}, {1024, 256}, {8000, 256}} {
		out, in := sh[0], sh[1]
		r := rand.New(rand.NewPCG(1, 1))
		x, wf := randRow(r, in, 1), randRow(r, out*in, 0.1)
		q4 := make([]BlockQ4_0, out*in/32)
		QuantizeRowQ4_0(q4, wf)
		w := NewQ4_0Matrix(q4, out, in)
		y := make([]float32, out)
		for _, v := range []struct {
			name string
			f    func()
		}{
			{"blocks", func() { MatMulQ4_0(y, x, 1, q4, w.D, out, in) }},
			{"matrix", func() { w.MatMul(y, x, 1) }},
		} {
			b.Run(fmt.Sprintf("%s/1x%dx%d", v.name, in, out), func(b *testing.B) {
				b.SetBytes(int64(len(q4) * BlockQ4_0Bytes))
				for b.Loop() {
					v.f()
				}
				b.ReportMetric(2*float64(out*in)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
