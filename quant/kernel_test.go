package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/kernels"
)

// Every kernel, at every row count (both sides of the block kernels' GEMM threshold), with
// strided outputs and accumulation, against float32 arithmetic on its dequantized weights.
func TestKernelsMulT(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	// 768 inputs: w4 decodes through q8's lane kernels (a multiple of 256 inputs), 42 rows
	// leave two for the one-row kernels.
	for _, sh := range [][2]int{{40, 64}, {42, 768}} {
		testKernelsMulT(t, r, sh[0], sh[1])
	}
}

func testKernelsMulT(t *testing.T, r *rand.Rand, out, in int) {
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.1)
	}
	for _, s := range Schemes {
		k, deq, err := quantizeWeight(s, w, out, in, 0.05, 32)
		if err != nil {
			t.Fatal(s, err)
		}
		for _, n := range []int{1, 2, 5, 7, 8, 9, 20} {
			x := make([]float32, n*in)
			for i := range x {
				x[i] = float32(r.NormFloat64())
			}
			ldy := out + 3
			for _, beta := range []float32{0, 1} {
				y := make([]float32, n*ldy)
				want := make([]float32, n*ldy)
				for i := range y {
					y[i] = float32(i%5) - 2
					want[i] = y[i]
				}
				k.MulT(y, ldy, x, n, beta)
				kernels.GemmRef(false, true, n, out, in, 1, x, in, deq, in, beta, want, ldy)
				tol := 1e-4
				if s == Int8Dynamic || s == Int8Static {
					tol = 0.15 // activations rounded to int8 (static: 0.05·127 ≈ 6.35 range, x up to ~4)
				}
				for i := range y {
					if i%ldy >= out {
						if y[i] != want[i] {
							t.Fatalf("%s n=%d: wrote past the row end at %d", s, n, i)
						}
						continue
					}
					if math.Abs(float64(y[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("%s n=%d beta=%v: y[%d] = %v, float product of the dequantized weights %v", s, n, beta, i, y[i], want[i])
					}
				}
			}
		}
	}
}

// Kernels that add the bias themselves give the same bits as MulT onto rows holding the bias
// (the sum is rounded once either way), write only their columns of strided rows, and carry
// NaN inputs through the float product.
func TestKernelsMulTBias(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	const out, in = 40, 64
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.1)
	}
	bias := make([]float32, out)
	for i := range bias {
		bias[i] = float32(r.NormFloat64())
	}
	for _, s := range []Scheme{Int8Dynamic, Int8Static} {
		kw, _, err := quantizeWeight(s, w, out, in, 0.05, 32)
		if err != nil {
			t.Fatal(s, err)
		}
		k := kw.(*int8Kernel)
		for _, perTensor := range []bool{false, true} {
			k.perTensor = perTensor && s == Int8Dynamic
			for _, n := range []int{1, 3, 8, 17} {
				x := make([]float32, n*in)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				if n == 8 {
					x[5*in+3] = float32(math.NaN())
				}
				const ldy = out + 5
				for _, b := range [][]float32{bias, nil} {
					y, want := make([]float32, n*ldy), make([]float32, n*ldy)
					for i := range y {
						y[i] = float32(i%7) - 3
						want[i] = y[i]
					}
					for row := 0; row < n; row++ {
						if b != nil {
							copy(want[row*ldy:row*ldy+out], b)
						}
					}
					beta := float32(0)
					if b != nil {
						beta = 1
					}
					k.MulT(want, ldy, x, n, beta)
					k.MulTBias(y, ldy, x, n, b)
					for i := range y {
						if math.Float32bits(y[i]) != math.Float32bits(want[i]) && !(y[i] != y[i] && want[i] != want[i]) {
							t.Fatalf("%s per-tensor %v n=%d bias %v: y[%d] = %v, MulT onto the bias %v", s, k.perTensor, n, b != nil, i, y[i], want[i])
						}
					}
					if n == 8 && y[5*ldy] == y[5*ldy] {
						t.Fatalf("%s n=%d: a NaN input gave %v", s, n, y[5*ldy])
					}
				}
			}
		}
	}
}
