//go:build !purego

package kernels

import "github.com/optiformer/optiformer/internal/cpu"

// The assembly row kernels (internal/asmgen/rows.go). Softmax and LayerNorm are one function
// per row; the dispatchers in rows.go check lengths and handle empty and fully masked rows.

func init() {
	dotImpl.Add(cpu.AVX2, dotAVX2)
	dotImpl.Add(cpu.AVX512, dotAVX512)
	axpyImpl.Add(cpu.AVX2, axpyAVX2)
	axpyImpl.Add(cpu.AVX512, axpyAVX512)
	scaleImpl.Add(cpu.AVX2, scaleAVX2)
	scaleImpl.Add(cpu.AVX512, scaleAVX512)
	expImpl.Add(cpu.AVX2, expAVX2)
	expImpl.Add(cpu.AVX512, expAVX512)
	softmaxImpl.Add(cpu.AVX2, softmaxAVX2)
	softmaxImpl.Add(cpu.AVX512, softmaxAVX512)
	maxSumExpImpl.Add(cpu.AVX2, maxSumExpAVX2)
	maxSumExpImpl.Add(cpu.AVX512, maxSumExpAVX512)
	addConstImpl.Add(cpu.AVX2, addConstAVX2)
	addConstImpl.Add(cpu.AVX512, addConstAVX512)
	layerNormImpl.Add(cpu.AVX2, layerNormAVX2)
	layerNormImpl.Add(cpu.AVX512, layerNormAVX512)
	geluImpl.Add(cpu.AVX2, geluAVX2)
	geluImpl.Add(cpu.AVX512, geluAVX512)
	geluTanhImpl.Add(cpu.AVX2, geluTanhAVX2)
	geluTanhImpl.Add(cpu.AVX512, geluTanhAVX512)
}
