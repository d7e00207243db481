package ops

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// AttnMask says which keys each query may not see.
type AttnMask struct {
	// KeyPad, when not nil, has B·S entries; true marks a padding key (masked for every query
	// of that batch row), as torch's key_padding_mask.
	KeyPad []bool
	// Causal masks key j for query i when j > i + Offset (a decoder's self-attention; Offset
	// is the number of positions already in the KV cache).
	Causal bool
	Offset int
}

// AttnSaved is what AttentionBackward needs from the forward pass.
type AttnSaved struct {
	Probs *tensor.Tensor // (B, H, T, S) softmax probabilities before dropout
	Drop  *DropoutMask   // attention dropout, nil when none
}

// Attention is multi-head scaled dot-product attention over heads laid out side by side in
// the channel dimension (no transposes): q is (B, T, H·D), k and v are (B, S, H·D), and per
// batch row b and head h
//
//	out[b, :, h] = dropout(softmax(q[b,:,h]·k[b,:,h]ᵀ·scale + mask))·v[b,:,h]
//
// with -Inf where mask says so (a query that sees no key gets zeros). It matches
// torch.nn.functional.scaled_dot_product_attention / nn.MultiheadAttention's inner step.
// With keep (training), the probabilities are returned for AttentionBackward; dropP > 0
// draws the dropout mask from rng.
func Attention(q, k, v *tensor.Tensor, heads int, mask AttnMask, scale, dropP float64, rng *rand.Rand, keep bool) (out *tensor.Tensor, saved *AttnSaved) {
	checkFloat("Attention", q, k, v)
	b, t, s, c, _ := attnDims("Attention", q, k, v, heads)
	q, k, v = contig(q), contig(k), contig(v)
	return attentionMats(Mat{q, 0, t * c, c}, Mat{k, 0, s * c, c}, Mat{v, 0, s * c, c}, b, t, s, c, heads, mask, scale, dropP, rng, keep)
}

// Mat locates a (B, N, C) operand inside a tensor's storage: element (b, i, j) is at
// Off + b·BStride + i·LD + j of T, which must be contiguous. Column blocks of a fused
// projection (q, k and v side by side) and the first rows of a longer KV cache are Mats
// without copies.
type Mat struct {
	T                *tensor.Tensor
	Off, BStride, LD int
}

func (m Mat) check(op, name string, b, n, c int) {
	if m.T == nil || !m.T.IsContiguous() {
		panic(fmt.Sprintf("ops: %s: %s must be a contiguous tensor", op, name))
	}
	if b == 0 || n == 0 || c == 0 {
		return
	}
	if m.Off < 0 || m.LD < c || m.BStride < 0 || m.Off+(b-1)*m.BStride+(n-1)*m.LD+c > m.T.Len() {
		panic(fmt.Sprintf("ops: %s: %s (offset %d, batch stride %d, row stride %d) does not hold %d×%d×%d in %d elements",
			op, name, m.Off, m.BStride, m.LD, b, n, c, m.T.Len()))
	}
}

// AttentionMats is Attention over operands located by Mats: q holds b×t rows, k and v b×s
// rows, of c = heads·D channels. The output is a new (B, T, C) tensor.
func AttentionMats(q, k, v Mat, b, t, s, c, heads int, mask AttnMask, scale, dropP float64, rng *rand.Rand, keep bool) (out *tensor.Tensor, saved *AttnSaved) {
	checkFloat("AttentionMats", q.T, k.T, v.T)
	if heads <= 0 || c%heads != 0 {
		panic(fmt.Sprintf("ops: AttentionMats: %d channels do not split into %d heads", c, heads))
	}
	q.check("AttentionMats", "q", b, t, c)
	k.check("AttentionMats", "k", b, s, c)
	v.check("AttentionMats", "v", b, s, c)
	return attentionMats(q, k, v, b, t, s, c, heads, mask, scale, dropP, rng, keep)
}

func attentionMats(q, k, v Mat, b, t, s, c, heads int, mask AttnMask, scale, dropP float64, rng *rand.Rand, keep bool) (out *tensor.Tensor, saved *AttnSaved) {
	if mask.KeyPad != nil && len(mask.KeyPad) != b*s {
		panic(fmt.Sprintf("ops: Attention: KeyPad has %d entries for %d batch rows of %d keys", len(mask.KeyPad), b, s))
	}
	out = tensor.Empty(q.T.DType(), b, t, c)
	var probs *tensor.Tensor
	if keep || dropP > 0 {
		probs = tensor.Empty(q.T.DType(), b, heads, t, s)
	}
	var drop *DropoutMask
	if dropP > 0 {
		drop = &DropoutMask{Keep: make([]uint8, b*heads*t*s), Scale: 1 / (1 - dropP)}
		fillMask(drop.Keep, dropP, rng)
	}
	o := Mat{out, 0, t * c, c}
	if q.T.DType() == tensor.F32 {
		attention[float32](q, k, v, o, probs, drop, mask, b, t, s, c/heads, heads, scale)
	} else {
		attention[float64](q, k, v, o, probs, drop, mask, b, t, s, c/heads, heads, scale)
	}
	if !keep {
		return out, nil
	}
	return out, &AttnSaved{Probs: probs, Drop: drop}
}

func attnDims(op string, q, k, v *tensor.Tensor, heads int) (b, t, s, c, d int) {
	if q.Rank() != 3 || k.Rank() != 3 || v.Rank() != 3 {
		panic(fmt.Sprintf("ops: %s: q %v, k %v, v %v: want (B, T, H·D)", op, q.Shape(), k.Shape(), v.Shape()))
	}
	b, t, c = q.Dim(0), q.Dim(1), q.Dim(2)
	s = k.Dim(1)
	if k.Dim(0) != b || v.Dim(0) != b || k.Dim(2) != c || v.Dim(2) != c || v.Dim(1) != s {
		panic(fmt.Sprintf("ops: %s: q %v, k %v, v %v do not fit together", op, q.Shape(), k.Shape(), v.Shape()))
	}
	if heads <= 0 || c%heads != 0 {
		panic(fmt.Sprintf("ops: %s: %d channels do not split into %d heads", op, c, heads))
	}
	return b, t, s, c, c / heads
}

func attention[T Float](qm, km, vm, om Mat, pt *tensor.Tensor, drop *DropoutMask, mask AttnMask, b, t, s, d, heads int, scale float64) {
	q, k, v, o := vals[T](qm.T), vals[T](km.T), vals[T](vm.T), vals[T](om.T)
	var probs []T
	if pt != nil {
		probs = vals[T](pt)
	}
	grain := max(1, (1<<16)/max(1, t*s*d)) // (b, h) pairs per thread: keep tiny heads together
	kernels.ParallelFor(b*heads, grain, func(lo, hi int) {
		var buf []T
		if probs == nil || drop != nil {
			buf = make([]T, t*s)
		}
		for bh := lo; bh < hi; bh++ {
			bi, h := bh/heads, bh%heads
			p := buf
			if probs != nil {
				p = probs[bh*t*s : (bh+1)*t*s]
			}
			qo, ko, vo, oo := qm.Off+bi*qm.BStride+h*d, km.Off+bi*km.BStride+h*d, vm.Off+bi*vm.BStride+h*d, om.Off+bi*om.BStride+h*d
			gemmST(false, true, t, s, d, T(scale), q[qo:], qm.LD, k[ko:], km.LD, 0, p, s)
			maskScores(p, mask, bi, t, s)
			softmaxRows(p, t, s)
			pv := p
			if drop != nil {
				pv = buf
				keep := drop.Keep[bh*t*s : (bh+1)*t*s]
				sc := T(drop.Scale)
				for i, x := range p {
					pv[i] = x * sc * T(keep[i])
				}
			}
			gemmST(false, false, t, d, s, 1, pv, s, v[vo:], vm.LD, 0, o[oo:], om.LD)
		}
	})
}

// gemmST is gemm on the calling goroutine: attention already runs its heads in parallel.
func gemmST[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kernels.GemmST(transA, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernels.GemmRef(transA, transB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// maskScores writes -Inf into the masked scores of batch row bi.
func maskScores[T Float](p []T, mask AttnMask, bi, t, s int) {
	ninf := T(math.Inf(-1))
	if mask.KeyPad != nil {
		pad := mask.KeyPad[bi*s : (bi+1)*s]
		for j, isPad := range pad {
			if isPad {
				for i := 0; i < t; i++ {
					p[i*s+j] = ninf
				}
			}
		}
	}
	if mask.Causal {
		for i := 0; i < t; i++ {
			for j := max(0, i+mask.Offset+1); j < s; j++ {
				p[i*s+j] = ninf
			}
		}
	}
}

// softmaxRows applies softmax to each of the t rows of p in place.
func softmaxRows[T Float](p []T, t, s int) {
	if p32, ok := any(p).([]float32); ok {
		for i := 0; i < t; i++ {
			kernels.Softmax(p32[i*s:(i+1)*s], p32[i*s:(i+1)*s], nil)
		}
		return
	}
	for i := 0; i < t; i++ {
		kernels.SoftmaxRef(p[i*s:(i+1)*s], p[i*s:(i+1)*s], nil)
	}
}

// AttentionBackward adds the gradients of out = Attention(q, k, v, …) into dq, dk and dv
// (each may be nil), from the probabilities the forward pass kept.
func AttentionBackward(q, k, v, dout *tensor.Tensor, heads int, scale float64, saved *AttnSaved, dq, dk, dv *tensor.Tensor) {
	checkFloat("AttentionBackward", q, k, v, dout, dq, dk, dv)
	b, t, s, c, _ := attnDims("AttentionBackward", q, k, v, heads)
	checkShape("AttentionBackward", "dq", dq, b, t, c)
	checkShape("AttentionBackward", "dk", dk, b, s, c)
	checkShape("AttentionBackward", "dv", dv, b, s, c)
	q, k, v = contig(q), contig(k), contig(v)
	mat := func(x *tensor.Tensor, n int) *Mat {
		if x == nil {
			return nil
		}
		return &Mat{x, 0, n * c, c}
	}
	attentionBackwardMats(Mat{q, 0, t * c, c}, Mat{k, 0, s * c, c}, Mat{v, 0, s * c, c}, dout, b, t, s, c, heads, scale, saved,
		mat(dq, t), mat(dk, s), mat(dv, s))
}

// attentionBackwardMats is AttentionBackward over located operands; the gradients are added
// into the Mats given (nil: not wanted).
func attentionBackwardMats(q, k, v Mat, dout *tensor.Tensor, b, t, s, c, heads int, scale float64, saved *AttnSaved, dq, dk, dv *Mat) {
	checkShape("AttentionBackward", "dout", dout, b, t, c)
	if saved == nil || saved.Probs == nil {
		panic("ops: AttentionBackward: the forward pass did not keep its probabilities")
	}
	checkShape("AttentionBackward", "saved probabilities", saved.Probs, b, heads, t, s)
	do := Mat{contig(dout), 0, t * c, c}
	if q.T.DType() == tensor.F32 {
		attentionBackward[float32](q, k, v, do, saved, dq, dk, dv, b, t, s, c/heads, heads, scale)
	} else {
		attentionBackward[float64](q, k, v, do, saved, dq, dk, dv, b, t, s, c/heads, heads, scale)
	}
}

func attentionBackward[T Float](qm, km, vm, dom Mat, saved *AttnSaved, dqm, dkm, dvm *Mat, b, t, s, d, heads int, scale float64) {
	q, k, v, do := vals[T](qm.T), vals[T](km.T), vals[T](vm.T), vals[T](dom.T)
	var dq, dk, dv []T
	if dqm != nil {
		dq = vals[T](dqm.T)
	}
	if dkm != nil {
		dk = vals[T](dkm.T)
	}
	if dvm != nil {
		dv = vals[T](dvm.T)
	}
	probs := vals[T](saved.Probs)
	drop := saved.Drop
	grain := max(1, (1<<16)/max(1, t*s*d))
	kernels.ParallelFor(b*heads, grain, func(lo, hi int) {
		dp := make([]T, t*s)
		var pv []T
		if drop != nil {
			pv = make([]T, t*s)
		}
		for bh := lo; bh < hi; bh++ {
			bi, h := bh/heads, bh%heads
			p := probs[bh*t*s : (bh+1)*t*s]
			qo, ko, vo, doo := qm.Off+bi*qm.BStride+h*d, km.Off+bi*km.BStride+h*d, vm.Off+bi*vm.BStride+h*d, dom.Off+bi*dom.BStride+h*d
			// d(P_dropped) = dO·Vᵀ
			gemmST(false, true, t, s, d, 1, do[doo:], dom.LD, v[vo:], vm.LD, 0, dp, s)
			peff := p
			if drop != nil {
				keep := drop.Keep[bh*t*s : (bh+1)*t*s]
				sc := T(drop.Scale)
				for i := range dp {
					kk := sc * T(keep[i])
					dp[i] *= kk
					pv[i] = p[i] * kk
				}
				peff = pv
			}
			if dv != nil { // dV += P_droppedᵀ·dO
				gemmST(true, false, s, d, t, 1, peff, s, do[doo:], dom.LD, 1, dv[dvm.Off+bi*dvm.BStride+h*d:], dvm.LD)
			}
			// dS = P ⊙ (dP − Σ dP⊙P), then dQ += scale·dS·K and dK += scale·dSᵀ·Q.
			for i := 0; i < t; i++ {
				pr, gr := p[i*s:(i+1)*s], dp[i*s:(i+1)*s]
				sum := dot(gr, pr)
				for j := range gr {
					gr[j] = pr[j] * (gr[j] - sum)
				}
			}
			if dq != nil {
				gemmST(false, false, t, d, s, T(scale), dp, s, k[ko:], km.LD, 1, dq[dqm.Off+bi*dqm.BStride+h*d:], dqm.LD)
			}
			if dk != nil {
				gemmST(true, false, s, d, t, T(scale), dp, s, q[qo:], qm.LD, 1, dk[dkm.Off+bi*dkm.BStride+h*d:], dkm.LD)
			}
		}
	})
}

// AttentionQKV is Attention for self-attention over a fused projection: qkv is (B, T, 3C)
// holding q, k and v side by side (the output of one Linear with the three weights stacked).
func AttentionQKV(qkv *tensor.Tensor, heads int, mask AttnMask, scale, dropP float64, rng *rand.Rand, keep bool) (*tensor.Tensor, *AttnSaved) {
	checkFloat("AttentionQKV", qkv)
	b, t, c3 := qkvDims("AttentionQKV", qkv, heads)
	c := c3 / 3
	qkv = contig(qkv)
	return attentionMats(Mat{qkv, 0, t * c3, c3}, Mat{qkv, c, t * c3, c3}, Mat{qkv, 2 * c, t * c3, c3}, b, t, t, c, heads, mask, scale, dropP, rng, keep)
}

func qkvDims(op string, qkv *tensor.Tensor, heads int) (b, t, c3 int) {
	if qkv.Rank() != 3 || qkv.Dim(2)%3 != 0 || heads <= 0 || (qkv.Dim(2)/3)%heads != 0 {
		panic(fmt.Sprintf("ops: %s: qkv %v with %d heads: want (B, T, 3·H·D)", op, qkv.Shape(), heads))
	}
	return qkv.Dim(0), qkv.Dim(1), qkv.Dim(2)
}

// AttentionQKVBackward adds the gradient of AttentionQKV into dqkv (B, T, 3C).
func AttentionQKVBackward(qkv, dout *tensor.Tensor, heads int, scale float64, saved *AttnSaved, dqkv *tensor.Tensor) {
	checkFloat("AttentionQKVBackward", qkv, dout, dqkv)
	b, t, c3 := qkvDims("AttentionQKVBackward", qkv, heads)
	checkShape("AttentionQKVBackward", "dqkv", dqkv, b, t, c3)
	c := c3 / 3
	qkv = contig(qkv)
	m := func(x *tensor.Tensor, off int) Mat { return Mat{x, off, t * c3, c3} }
	dq, dk, dv := m(dqkv, 0), m(dqkv, c), m(dqkv, 2*c)
	attentionBackwardMats(m(qkv, 0), m(qkv, c), m(qkv, 2*c), dout, b, t, t, c, heads, scale, saved, &dq, &dk, &dv)
}
