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
	reluBackward.Add(cpu.AVX2, reluBackwardAVX2)
	reluBackward.Add(cpu.AVX512, reluBackwardAVX512)
	reluMask.Add(cpu.AVX2, reluMaskAVX2)
	reluMask.Add(cpu.AVX512, reluMaskAVX512)
	// The gather kernels handle whole vectors only; other widths take the reference.
	dotGather.Add(cpu.AVX2, wholeVectors(8, false, dotGatherAVX2, DotGatherRef[float32]))
	dotGather.Add(cpu.AVX512, wholeVectors(16, false, dotGatherAVX512, DotGatherRef[float32]))
	axpyGather.Add(cpu.AVX2, wholeVectors(8, true, axpyGatherAVX2, AxpyGatherRef[float32]))
	axpyGather.Add(cpu.AVX512, wholeVectors(16, true, axpyGatherAVX512, AxpyGatherRef[float32]))
	layerNormImpl.Add(cpu.AVX2, layerNormAVX2)
	layerNormImpl.Add(cpu.AVX512, layerNormAVX512)
	geluImpl.Add(cpu.AVX2, geluAVX2)
	geluImpl.Add(cpu.AVX512, geluAVX512)
	geluTanhImpl.Add(cpu.AVX2, geluTanhAVX2)
	geluTanhImpl.Add(cpu.AVX512, geluTanhAVX512)
}

// wholeVectors runs fast when the head width (len(a), or len(c) when byOut) is a multiple of
// width, and ref otherwise.
func wholeVectors(width int, byOut bool, fast, ref func(a, b []float32, offs []int32, c []float32)) func(a, b []float32, offs []int32, c []float32) {
	return func(a, b []float32, offs []int32, c []float32) {
		n := len(a)
		if byOut {
			n = len(c)
		}
		if n%width != 0 {
			ref(a, b, offs, c)
			return
		}
		fast(a, b, offs, c)
	}
}
