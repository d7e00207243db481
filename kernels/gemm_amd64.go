//go:build !purego

package kernels

import "github.com/optiformer/optiformer/internal/cpu"

func init() {
	avx512 := &kernelSet{mr: 14, directMR: 4}
	avx512.width = panelWidth
	avx512.edge = [maxMR + 1]kernFn{1: gemmAVX512m1edge, 2: gemmAVX512m2edge, 3: gemmAVX512m3edge,
		4: gemmAVX512m4edge, 5: gemmAVX512m5edge, 6: gemmAVX512m6edge, 7: gemmAVX512m7edge,
		8: gemmAVX512m8edge, 9: gemmAVX512m9edge, 10: gemmAVX512m10edge, 11: gemmAVX512m11edge,
		12: gemmAVX512m12edge, 13: gemmAVX512m13edge, 14: gemmAVX512m14edge}
	avx512.multi = [maxMR + 1]kernFn{1: gemmAVX512m1n4, 2: gemmAVX512m2n4, 3: gemmAVX512m3n3,
		4: gemmAVX512m4n3, 5: gemmAVX512m5n2, 6: gemmAVX512m6n2}
	avx512.multiN = [maxMR + 1]int{1: 4, 2: 4, 3: 3, 4: 3, 5: 2, 6: 2}
	avx512.direct = tileKernels{
		width: panelWidth,
		edge: [maxMR + 1]kernFn{1: gemmAVX512m1edgedirect, 2: gemmAVX512m2edgedirect,
			3: gemmAVX512m3edgedirect, 4: gemmAVX512m4edgedirect},
		multi: [maxMR + 1]kernFn{1: gemmAVX512m1n4direct, 2: gemmAVX512m2n4direct,
			3: gemmAVX512m3n3direct, 4: gemmAVX512m4n3direct},
		multiN: [maxMR + 1]int{1: 4, 2: 4, 3: 3, 4: 3},
	}
	avx512.packBCopy = packBCopyAVX512
	avx512.packAGather = packAGatherAVX512
	avx512.gatherMax = 16
	avx512.transpose = transposeAVX512
	avx512.packACopy = packACopyAVX512
	gemmKernels.Add(cpu.AVX512, avx512)

	avx2 := &kernelSet{mr: 6}
	avx2.width = 16
	avx2.edge = [maxMR + 1]kernFn{1: gemmAVX2m1edge, 2: gemmAVX2m2edge, 3: gemmAVX2m3edge,
		4: gemmAVX2m4edge, 5: gemmAVX2m5edge, 6: gemmAVX2m6edge}
	avx2.multi = [maxMR + 1]kernFn{1: gemmAVX2m1n32, 2: gemmAVX2m2n32}
	avx2.multiN = [maxMR + 1]int{1: 1, 2: 1}
	avx2.packBCopy = packBCopyAVX2
	avx2.packAGather = packAGatherAVX2
	avx2.gatherMax = 8
	gemmKernels.Add(cpu.AVX2, avx2)
}
