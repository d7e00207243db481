//go:build !purego

package q8

import (
	"unsafe"

	"github.com/optiformer/optiformer/internal/cpu"
)

func init() {
	// The block layouts of Go's BlockQ4_0 and BlockQ8_0 are ggml's packed bytes (no padding).
	if unsafe.Sizeof(BlockQ4_0{}) != BlockQ4_0Bytes || unsafe.Sizeof(BlockQ8_0{}) != BlockQ8_0Bytes {
		panic("q8: block structs are not ggml's packed layout")
	}
	q4LanesDot1, q4LanesDot4 = q40LanesDot1AVX512, q40LanesDot4AVX512
	q4Impl.Add(cpu.AVX512, func(y, x []float32, m int, w []BlockQ4_0, d []float32, out, in int) {
		blockMatMul(q40Dot1AVX512, q40Dot4AVX512, y, x, m, unsafe.Pointer(&w[0]), BlockQ4_0Bytes, d, out, in)
	})
	dequantQ4Impl.Add(cpu.AVX512, func(dst []float32, src []BlockQ4_0) {
		if len(src) > 0 {
			dequantQ4_0AVX512(&dst[0], (*uint8)(unsafe.Pointer(&src[0])), len(src))
		}
	})
	dequantQ8Impl.Add(cpu.AVX512, func(dst []float32, src []BlockQ8_0) {
		if len(src) > 0 {
			dequantQ8_0AVX512(&dst[0], (*uint8)(unsafe.Pointer(&src[0])), len(src))
		}
	})
	q8Impl.Add(cpu.AVX512, func(y, x []float32, m int, w []BlockQ8_0, d []float32, out, in int) {
		blockMatMul(q80Dot1AVX512, q80Dot4AVX512, y, x, m, unsafe.Pointer(&w[0]), BlockQ8_0Bytes, d, out, in)
	})
}
