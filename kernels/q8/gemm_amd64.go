//go:build !purego

package q8

import "github.com/optiformer/optiformer/internal/cpu"

func init() {
	avx2 := [3]avx2TileFn{1: gemmAVX2m1, 2: gemmAVX2m2}
	gemmImpl.Add(cpu.AVX2, func(m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32) {
		gemmTilesAVX2(avx2, m, a, lda, b, c, ldc, sums)
	})
	if cpu.Detect().VNNI {
		tiles := [7]tileFn{1: gemmVNNIm1, 2: gemmVNNIm2, 3: gemmVNNIm3, 4: gemmVNNIm4, 5: gemmVNNIm5, 6: gemmVNNIm6}
		gemmImpl.Add(cpu.AVX512, func(m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32) {
			gemmTiles(tiles, m, a, lda, b, c, ldc, sums)
		})
	}
}
