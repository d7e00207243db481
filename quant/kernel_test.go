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
	const out, in = 40, 64
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
			const ldy = out + 3
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
