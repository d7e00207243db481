//go:build !purego

package q8

import "github.com/optiformer/optiformer/internal/cpu"

func init() {
	rowImpl.Add(cpu.AVX2, rowKernels{width: 8, absMax: absMaxAVX2, quant: quantRowAVX2, dequant: dequantRowAVX2})
	rowImpl.Add(cpu.AVX512, rowKernels{width: 16, absMax: absMaxAVX512, quant: quantRowAVX512, dequant: dequantRowAVX512})
}
