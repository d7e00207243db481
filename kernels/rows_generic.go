package kernels

import "math"

// The plain references of the row kernels, generic over float32 and float64 and always
// compiled. Tests compare every variant with the float64 instantiation; several float32
// instantiations are the portable implementations themselves. Transcendental functions are
// evaluated in float64 (package math) whatever T is; sums are accumulated in T.
// The references do not check lengths: see the exported kernels for the contracts.

// DotRef is the plain reference for Dot: one running sum in the precision of T.
func DotRef[T Float](x, y []T) T {
	var s T
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

// AxpyRef is the plain reference for Axpy: y[i] += alpha·x[i].
func AxpyRef[T Float](alpha T, x, y []T) {
	for i := range y {
		y[i] += alpha * x[i]
	}
}

// ScaleRef is the plain reference for Scale: x[i] *= alpha.
func ScaleRef[T Float](alpha T, x []T) {
	for i := range x {
		x[i] *= alpha
	}
}

// ExpRef is the plain reference for Exp: math.Exp rounded to T.
func ExpRef[T Float](dst, src []T) {
	for i, v := range src {
		dst[i] = T(math.Exp(float64(v)))
	}
}

// LogSoftmaxRef is the plain reference for LogSoftmax, with its special rows: all NaN when an
// element is NaN or +Inf, all -Inf when every element is -Inf. dst may be src.
func LogSoftmaxRef[T Float](dst, src []T) {
	m := math.Inf(-1)
	for _, v := range src {
		if v != v || math.IsInf(float64(v), 1) {
			for j := range dst {
				dst[j] = T(math.NaN())
			}
			return
		}
		m = math.Max(m, float64(v))
	}
	if math.IsInf(m, -1) {
		for j := range dst {
			dst[j] = T(m)
		}
		return
	}
	var s float64
	for _, v := range src {
		s += math.Exp(float64(v) - m)
	}
	lse := m + math.Log(s)
	for i, v := range src {
		dst[i] = T(float64(v) - lse)
	}
}

// DotGatherRef is the plain reference for DotGather.
func DotGatherRef[T Float](q, base []T, offs []int32, out []T) {
	for j, off := range offs {
		var s T
		for i, v := range q {
			s += v * base[int(off)+i]
		}
		out[j] = s
	}
}

// AxpyGatherRef is the plain reference for AxpyGather.
func AxpyGatherRef[T Float](p, base []T, offs []int32, o []T) {
	for j, off := range offs {
		for i := range o {
			o[i] += p[j] * base[int(off)+i]
		}
	}
}

// ReLUBackwardRef is the plain reference for ReLUBackward, without a branch per element.
func ReLUBackwardRef(dx, dy, x []float32) {
	dx, dy = dx[:len(x)], dy[:len(x)]
	for i, v := range x {
		dx[i] += math.Float32frombits(math.Float32bits(dy[i]) & reluKeep(v))
	}
}

// ReLUMaskRef is the plain reference for ReLUMask.
func ReLUMaskRef(g, x []float32) {
	g = g[:len(x)]
	for i, v := range x {
		g[i] = math.Float32frombits(math.Float32bits(g[i]) & reluKeep(v))
	}
}

// reluKeep is all ones when x > 0 (sign bit clear, not ±0) or x is NaN, else 0.
func reluKeep(v float32) uint32 {
	b := int32(math.Float32bits(v))
	mask := uint32((-b & ^b) >> 31)
	if v != v { // rare: the branch is predicted
		mask = ^uint32(0)
	}
	return mask
}

// ReLURef is the plain reference for ReLU, without a branch per element: the bits of x are
// cleared when its sign bit is set, and a NaN of either sign is put back.
func ReLURef(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		b := int32(math.Float32bits(v))
		dst[i] = math.Float32frombits(uint32(b) & uint32(^(b >> 31)))
		if v != v { // rare: the branch is predicted
			dst[i] = v
		}
	}
}

// IndexAboveRef is the plain reference for IndexAbove.
func IndexAboveRef[T Float](x []T, thr T) int {
	for i, v := range x {
		if v > thr {
			return i
		}
	}
	return len(x)
}

// AddConstRef is the plain reference for the addConst row kernel: dst[i] = src[i] + c.
func AddConstRef[T Float](dst, src []T, c T) {
	for i, v := range src {
		dst[i] = v + c
	}
}

// maxSumExpGeneric is the portable maxSumExp row: the maximum (NaN if an element is NaN)
// and Σ e^(src[i] − max), summed in float64; sum 0 when the maximum is -Inf.
func maxSumExpGeneric(src []float32) (m, sum float32) {
	m = float32(math.Inf(-1))
	for _, v := range src {
		if v != v {
			return v, v
		}
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		return m, 0
	}
	var s float64
	for _, v := range src {
		s += math.Exp(float64(v - m))
	}
	return m, float32(s)
}

// SoftmaxRef is the plain reference for Softmax, with its special rows: all zeros when every
// element of src + mask is -Inf, all NaN when one is NaN. mask may be nil; dst may be src.
func SoftmaxRef[T Float](dst, src, mask []T) {
	m := T(math.Inf(-1))
	for i, v := range src {
		if mask != nil {
			v += mask[i]
		}
		if v != v {
			for j := range dst {
				dst[j] = T(math.NaN())
			}
			return
		}
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) {
		clear(dst)
		return
	}
	var s T
	for i, v := range src {
		if mask != nil {
			v += mask[i]
		}
		e := T(math.Exp(float64(v - m)))
		dst[i] = e
		s += e
	}
	for i := range dst {
		dst[i] /= s
	}
}

// LayerNormRef is the plain reference for LayerNorm (two passes, biased variance). gamma and
// beta may be nil; dst may be x.
func LayerNormRef[T Float](dst, x, gamma, beta []T, eps T) (mean, rstd T) {
	if len(x) == 0 {
		return 0, T(1 / math.Sqrt(float64(eps)))
	}
	n := T(len(x))
	var s T
	for _, v := range x {
		s += v
	}
	mean = s / n
	var ss T
	for _, v := range x {
		d := v - mean
		ss += d * d
	}
	rstd = T(1 / math.Sqrt(float64(ss/n+eps)))
	for i, v := range x {
		y := (v - mean) * rstd
		if gamma != nil {
			y *= gamma[i]
		}
		if beta != nil {
			y += beta[i]
		}
		dst[i] = y
	}
	return mean, rstd
}

// GELURef is the plain reference for GELU: x·Φ(x) with Φ(x) = erfc(-x/√2)/2 (the same as
// (1 + erf(x/√2))/2, without the cancellation for negative x), and GELU(-Inf) = -0.
func GELURef[T Float](dst, src []T) {
	for i, v := range src {
		x := float64(v)
		if math.IsInf(x, -1) {
			dst[i] = T(math.Copysign(0, -1))
			continue
		}
		dst[i] = T(0.5 * x * math.Erfc(-x/math.Sqrt2))
	}
}

// GELUTanhRef is the plain reference for GELUTanh: PyTorch's formula in float64, and
// GELUTanh(-Inf) = -0.
func GELUTanhRef[T Float](dst, src []T) {
	for i, v := range src {
		x := float64(v)
		if math.IsInf(x, -1) {
			dst[i] = T(math.Copysign(0, -1))
			continue
		}
		u := math.Sqrt(2/math.Pi) * (x + 0.044715*x*x*x)
		dst[i] = T(0.5 * x * (1 + math.Tanh(u)))
	}
}

// dotGeneric is the portable Dot: four running sums, so the additions pipeline.
func dotGeneric(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// softmaxGeneric is the portable Softmax row. It returns false, leaving dst untouched, when
// the row maximum is -Inf (every element -Inf or NaN); Softmax then finishes the row. The sum
// is accumulated in float64, which costs nothing in scalar code.
func softmaxGeneric(dst, src, mask []float32) bool {
	m := float32(math.Inf(-1))
	for i, v := range src {
		if mask != nil {
			v += mask[i]
		}
		if v > m { // NaN is skipped here and caught by the sum below
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		return false
	}
	var s float64
	for i, v := range src {
		if mask != nil {
			v += mask[i]
		}
		e := math.Exp(float64(v - m))
		dst[i] = float32(e)
		s += e
	}
	r := 1 / s
	for i, e := range dst {
		dst[i] = float32(float64(e) * r)
	}
	return true
}

// layerNormGeneric is the portable LayerNorm row: LayerNormRef with the sums and the
// normalisation in float64, which scalar code gets for free and which keeps long rows
// accurate.
func layerNormGeneric(dst, x, gamma, beta []float32, eps float32) (mean, rstd float32) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	m := s / float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - m
		ss += d * d
	}
	r := 1 / math.Sqrt(ss/float64(len(x))+float64(eps))
	for i, v := range x {
		y := (float64(v) - m) * r
		if gamma != nil {
			y *= float64(gamma[i])
		}
		if beta != nil {
			y += float64(beta[i])
		}
		dst[i] = float32(y)
	}
	return float32(m), float32(r)
}
