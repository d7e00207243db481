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
	indexAbove.Add(cpu.AVX2, indexAboveAVX2)
	indexAbove.Add(cpu.AVX512, indexAboveAVX512)
	reluImpl.Add(cpu.AVX2, reluAVX2)
	reluImpl.Add(cpu.AVX512, reluAVX512)
	// The gather kernels handle whole vectors only; other widths take the reference.
	dotGather.Add(cpu.AVX2, func(q, base []float32, offs []int32, out []float32) {
		if len(q)%8 != 0 {
			DotGatherRef(q, base, offs, out)
			return
		}
		dotGatherAVX2(q, base, offs, out)
	})
	dotGather.Add(cpu.AVX512, func(q, base []float32, offs []int32, out []float32) {
		if len(q)%16 != 0 {
			DotGatherRef(q, base, offs, out)
			return
		}
		dotGatherAVX512(q, base, offs, out)
	})
	axpyGather.Add(cpu.AVX2, func(p, base []float32, offs []int32, o []float32) {
		if len(o)%8 != 0 {
			AxpyGatherRef(p, base, offs, o)
			return
		}
		axpyGatherAVX2(p, base, offs, o)
	})
	axpyGather.Add(cpu.AVX512, func(p, base []float32, offs []int32, o []float32) {
		if len(o)%16 != 0 {
			AxpyGatherRef(p, base, offs, o)
			return
		}
		axpyGatherAVX512(p, base, offs, o)
	})
	layerNormImpl.Add(cpu.AVX2, layerNormAVX2)
	layerNormImpl.Add(cpu.AVX512, layerNormAVX512)
	geluImpl.Add(cpu.AVX2, geluAVX2)
	geluImpl.Add(cpu.AVX512, geluAVX512)
	geluTanhImpl.Add(cpu.AVX2, geluTanhAVX2)
	geluTanhImpl.Add(cpu.AVX512, geluTanhAVX512)
}
