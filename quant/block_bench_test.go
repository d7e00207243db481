package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/kernels"
)

// BenchmarkBlockMulT compares, at several row counts, the block kernels (a row of x at a
// time, the weights dequantized in registers) with dequantizing the weight whole for the
// float32 GEMM (blockRowsGemm decides between them), for w4 and w8 at BERT-base shapes and
// those of a 256-wide model (the Multi30k recipe's).
func BenchmarkBlockMulT(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, s := range []Scheme{W4, W8} {
		for _, sz := range [][2]int{{768, 3072}, {3072, 768}, {256, 256}, {1024, 256}} {
			out, in := sz[0], sz[1]
			w := make([]float32, out*in)
			for i := range w {
				w[i] = float32(r.NormFloat64() * 0.05)
			}
			k, _, err := quantizeWeight(s, w, out, in, 0, 32)
			if err != nil {
				b.Fatal(err)
			}
			for _, n := range []int{1, 4, 6, 7, 8, 10, 13, 16, 32, 128} {
				x := make([]float32, n*in)
				for i := range x {
					x[i] = float32(r.NormFloat64())
				}
				y := make([]float32, n*out)
				for _, way := range []string{"blocks", "gemm"} {
					b.Run(fmt.Sprintf("%s/%dx%d/n=%d/%s", s, out, in, n, way), func(b *testing.B) {
						defer kernels.SetThreads(kernels.SetThreads(1))
						defer func(old int) { blockRowsGemm = old }(blockRowsGemm)
						blockRowsGemm = 1 << 30
						if way == "gemm" {
							blockRowsGemm = 0
						}
						for i := 0; i < b.N; i++ {
							k.MulT(y, out, x, n, 0)
						}
					})
				}
			}
		}
	}
}
