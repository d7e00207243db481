package ops

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// rowGrain is the number of elements a thread gets at least in row-wise work.
const rowGrain = 1 << 13

// Softmax returns softmax over the last dimension of x (torch.softmax(x, -1)), after adding
// mask when it is not nil (mask has x's shape or a suffix of it; 0 keeps, -Inf removes). A row
// that is entirely -Inf gives zeros (see kernels.Softmax).
func Softmax(x, mask *tensor.Tensor) *tensor.Tensor {
	checkFloat("Softmax", x, mask)
	n, c := rows("Softmax", x)
	rep := 1
	if mask != nil {
		rep = broadcastSuffix("Softmax", x, mask)
		if mask.Len()%max(c, 1) != 0 {
			panic(fmt.Sprintf("ops: Softmax: mask %v does not cover whole rows of %v", mask.Shape(), x.Shape()))
		}
	}
	x, mask = contig(x), contig(mask)
	y := likeEmpty(x)
	if c == 0 {
		return y
	}
	mrows := n / rep // rows of the mask before it repeats
	if x.DType() == tensor.F32 {
		src, dst, m := vals[float32](x), vals[float32](y), opt[float32](mask)
		kernels.ParallelFor(n, max(1, rowGrain/c), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				var mr []float32
				if m != nil {
					mr = m[(i%mrows)*c : (i%mrows+1)*c]
				}
				kernels.Softmax(dst[i*c:(i+1)*c], src[i*c:(i+1)*c], mr)
			}
		})
		return y
	}
	src, dst, m := vals[float64](x), vals[float64](y), opt[float64](mask)
	for i := 0; i < n; i++ {
		var mr []float64
		if m != nil {
			mr = m[(i%mrows)*c : (i%mrows+1)*c]
		}
		kernels.SoftmaxRef(dst[i*c:(i+1)*c], src[i*c:(i+1)*c], mr)
	}
	return y
}

// SoftmaxBackward adds the gradient of y = Softmax(x, mask) into dx, from y itself:
// dx = y ⊙ (dy − Σ dy⊙y) per row.
func SoftmaxBackward(y, dy, dx *tensor.Tensor) {
	checkFloat("SoftmaxBackward", y, dy, dx)
	checkShape("SoftmaxBackward", "dy", dy, y.Shape()...)
	checkShape("SoftmaxBackward", "dx", dx, y.Shape()...)
	n, c := rows("SoftmaxBackward", y)
	if y.DType() == tensor.F32 {
		ys, g, d := vals[float32](contig(y)), vals[float32](contig(dy)), vals[float32](dx)
		kernels.ParallelFor(n, max(1, rowGrain/max(c, 1)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				softmaxBackwardRow(ys[i*c:(i+1)*c], g[i*c:(i+1)*c], d[i*c:(i+1)*c])
			}
		})
		return
	}
	ys, g, d := vals[float64](contig(y)), vals[float64](contig(dy)), vals[float64](dx)
	for i := 0; i < n; i++ {
		softmaxBackwardRow(ys[i*c:(i+1)*c], g[i*c:(i+1)*c], d[i*c:(i+1)*c])
	}
}

func softmaxBackwardRow[T Float](y, dy, dx []T) {
	s := dot(dy, y)
	for j, p := range y {
		dx[j] += p * (dy[j] - s)
	}
}

// dot is Σ x·y (kernels.Dot for float32).
func dot[T Float](x, y []T) T {
	if x32, ok := any(x).([]float32); ok {
		return T(kernels.Dot(x32, any(y).([]float32)))
	}
	return kernels.DotRef(x, y)
}

// LogSoftmax returns log(softmax(x)) over the last dimension (torch.log_softmax(x, -1)),
// computed as x − max − log Σ exp(x − max) so that it does not overflow.
func LogSoftmax(x *tensor.Tensor) *tensor.Tensor {
	checkFloat("LogSoftmax", x)
	n, c := rows("LogSoftmax", x)
	x = contig(x)
	y := likeEmpty(x)
	if x.DType() == tensor.F32 {
		src, dst := vals[float32](x), vals[float32](y)
		kernels.ParallelFor(n, max(1, rowGrain/max(c, 1)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				kernels.LogSoftmax(dst[i*c:(i+1)*c], src[i*c:(i+1)*c])
			}
		})
		return y
	}
	src, dst := vals[float64](x), vals[float64](y)
	for i := 0; i < n; i++ {
		logSoftmaxRow(dst[i*c:(i+1)*c], src[i*c:(i+1)*c])
	}
	return y
}

// logSoftmaxRow writes log softmax(src) into dst (which must not be src).
func logSoftmaxRow[T Float](dst, src []T) {
	if len(src) == 0 {
		return
	}
	m := src[0]
	for _, v := range src[1:] {
		m = max(m, v)
	}
	if math.IsInf(float64(m), -1) { // every element -Inf: no finite log-probability
		for j := range dst {
			dst[j] = T(math.Inf(-1))
		}
		return
	}
	// dst holds exp(x − max) first, then the result.
	for j, v := range src {
		dst[j] = v - m
	}
	if d32, ok := any(dst).([]float32); ok {
		kernels.Exp(d32, d32)
	} else {
		for j, v := range dst {
			dst[j] = T(math.Exp(float64(v)))
		}
	}
	var s float64
	for _, e := range dst {
		s += float64(e)
	}
	ls := T(math.Log(s))
	for j, v := range src {
		dst[j] = v - m - ls
	}
}

// LogSoftmaxBackward adds the gradient of y = LogSoftmax(x) into dx:
// dx = dy − softmax(x)·Σ dy, with softmax(x) = exp(y).
func LogSoftmaxBackward(y, dy, dx *tensor.Tensor) {
	checkFloat("LogSoftmaxBackward", y, dy, dx)
	checkShape("LogSoftmaxBackward", "dy", dy, y.Shape()...)
	checkShape("LogSoftmaxBackward", "dx", dx, y.Shape()...)
	n, c := rows("LogSoftmaxBackward", y)
	if y.DType() == tensor.F32 {
		logSoftmaxBackward(vals[float32](contig(y)), vals[float32](contig(dy)), vals[float32](dx), n, c)
	} else {
		logSoftmaxBackward(vals[float64](contig(y)), vals[float64](contig(dy)), vals[float64](dx), n, c)
	}
}

func logSoftmaxBackward[T Float](y, dy, dx []T, n, c int) {
	for i := 0; i < n; i++ {
		yr, gr, dr := y[i*c:(i+1)*c], dy[i*c:(i+1)*c], dx[i*c:(i+1)*c]
		var s T
		for _, g := range gr {
			s += g
		}
		for j, v := range yr {
			dr[j] += gr[j] - T(math.Exp(float64(v)))*s
		}
	}
}

// LayerNorm normalises each row of x over its last dimension and applies gamma and beta
// (torch.nn.functional.layer_norm with the biased variance): y = (x − mean)·rstd·gamma + beta
// with rstd = 1/√(var + eps). gamma and beta are (C) or nil. It also returns mean and rstd
// per row (…) for the backward pass.
func LayerNorm(x, gamma, beta *tensor.Tensor, eps float64) (y, mean, rstd *tensor.Tensor) {
	checkFloat("LayerNorm", x, gamma, beta)
	n, c := rows("LayerNorm", x)
	checkShape("LayerNorm", "gamma", gamma, x.Dim(-1))
	checkShape("LayerNorm", "beta", beta, x.Dim(-1))
	x, gamma, beta = contig(x), contig(gamma), contig(beta)
	y = likeEmpty(x)
	rs := x.Shape()[:x.Rank()-1]
	mean, rstd = tensor.New(x.DType(), rs...), tensor.New(x.DType(), rs...)
	if x.DType() == tensor.F32 {
		src, dst, g, b := vals[float32](x), vals[float32](y), opt[float32](gamma), opt[float32](beta)
		mu, rsd := vals[float32](mean), vals[float32](rstd)
		kernels.ParallelFor(n, max(1, rowGrain/max(c, 1)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				mu[i], rsd[i] = kernels.LayerNorm(dst[i*c:(i+1)*c], src[i*c:(i+1)*c], g, b, float32(eps))
			}
		})
		return y, mean, rstd
	}
	src, dst, g, b := vals[float64](x), vals[float64](y), opt[float64](gamma), opt[float64](beta)
	mu, rsd := vals[float64](mean), vals[float64](rstd)
	for i := 0; i < n; i++ {
		mu[i], rsd[i] = kernels.LayerNormRef(dst[i*c:(i+1)*c], src[i*c:(i+1)*c], g, b, eps)
	}
	return y, mean, rstd
}

// LayerNormBackward adds the gradients of y = LayerNorm(x, gamma, beta) into dx, dgamma and
// dbeta (each may be nil), from the mean and rstd LayerNorm returned. With x̂ = (x−mean)·rstd
// and g = dy·gamma: dx = rstd·(g − mean(g) − x̂·mean(g·x̂)), dgamma = Σ dy·x̂, dbeta = Σ dy.
func LayerNormBackward(x, gamma, mean, rstd, dy, dx, dgamma, dbeta *tensor.Tensor) {
	checkFloat("LayerNormBackward", x, gamma, mean, rstd, dy, dx, dgamma, dbeta)
	n, c := rows("LayerNormBackward", x)
	checkShape("LayerNormBackward", "dy", dy, x.Shape()...)
	checkShape("LayerNormBackward", "dx", dx, x.Shape()...)
	checkShape("LayerNormBackward", "dgamma", dgamma, c)
	checkShape("LayerNormBackward", "dbeta", dbeta, c)
	if x.DType() == tensor.F32 {
		layerNormBackward(vals[float32](contig(x)), opt[float32](contig(gamma)), vals[float32](mean), vals[float32](rstd),
			vals[float32](contig(dy)), opt[float32](dx), opt[float32](dgamma), opt[float32](dbeta), n, c)
	} else {
		layerNormBackward(vals[float64](contig(x)), opt[float64](contig(gamma)), vals[float64](mean), vals[float64](rstd),
			vals[float64](contig(dy)), opt[float64](dx), opt[float64](dgamma), opt[float64](dbeta), n, c)
	}
}

func layerNormBackward[T Float](x, gamma, mean, rstd, dy, dx, dgamma, dbeta []T, n, c int) {
	if c == 0 {
		return
	}
	// Rows are independent for dx; dgamma and dbeta sum over rows, so each chunk of rows sums
	// into its own buffer and the buffers are added in order afterwards. The chunks depend
	// only on n, so the sums do not depend on the thread count.
	const chunk = 64
	parts := (n + chunk - 1) / chunk
	type acc struct{ dg, db []T }
	accs := make([]acc, parts)
	kernels.ParallelFor(parts, max(1, rowGrain/(chunk*c)), func(plo, phi int) {
		for p := plo; p < phi; p++ {
			lo, hi := p*chunk, min(n, (p+1)*chunk)
			a := acc{make([]T, c), make([]T, c)}
			xhat := make([]T, c)
			g := make([]T, c)
			for i := lo; i < hi; i++ {
				xr, gr := x[i*c:(i+1)*c], dy[i*c:(i+1)*c]
				mu, rs := mean[i], rstd[i]
				var sg, sgx T
				for j := range xr {
					xhat[j] = (xr[j] - mu) * rs
					g[j] = gr[j]
					if gamma != nil {
						g[j] *= gamma[j]
					}
					sg += g[j]
					sgx += g[j] * xhat[j]
					a.dg[j] += gr[j] * xhat[j]
					a.db[j] += gr[j]
				}
				if dx != nil {
					mg, mgx := sg/T(c), sgx/T(c)
					dr := dx[i*c : (i+1)*c]
					for j := range dr {
						dr[j] += rs * (g[j] - mg - xhat[j]*mgx)
					}
				}
			}
			accs[p] = a
		}
	})
	for _, a := range accs {
		if dgamma != nil {
			axpy(1, a.dg, dgamma)
		}
		if dbeta != nil {
			axpy(1, a.db, dbeta)
		}
	}
}
