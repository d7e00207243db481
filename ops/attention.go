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
	b, t, s, c, d := attnDims("Attention", q, k, v, heads)
	if mask.KeyPad != nil && len(mask.KeyPad) != b*s {
		panic(fmt.Sprintf("ops: Attention: KeyPad has %d entries for %d batch rows of %d keys", len(mask.KeyPad), b, s))
	}
	q, k, v = contig(q), contig(k), contig(v)
	out = tensor.New(q.DType(), b, t, c)
	var probs *tensor.Tensor
	if keep || dropP > 0 {
		probs = tensor.New(q.DType(), b, heads, t, s)
	}
	var drop *DropoutMask
	if dropP > 0 {
		drop = &DropoutMask{Keep: make([]uint8, b*heads*t*s), Scale: 1 / (1 - dropP)}
		fillMask(drop.Keep, dropP, rng)
	}
	if q.DType() == tensor.F32 {
		attention[float32](q, k, v, out, probs, drop, mask, b, t, s, c, d, heads, scale)
	} else {
		attention[float64](q, k, v, out, probs, drop, mask, b, t, s, c, d, heads, scale)
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

func attention[T Float](qt, kt, vt, ot, pt *tensor.Tensor, drop *DropoutMask, mask AttnMask, b, t, s, c, d, heads int, scale float64) {
	q, k, v, o := vals[T](qt), vals[T](kt), vals[T](vt), vals[T](ot)
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
			qo, ko := bi*t*c+h*d, bi*s*c+h*d
			gemmST(false, true, t, s, d, T(scale), q[qo:], c, k[ko:], c, 0, p, s)
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
			gemmST(false, false, t, d, s, 1, pv, s, v[ko:], c, 0, o[qo:], c)
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
	b, t, s, c, d := attnDims("AttentionBackward", q, k, v, heads)
	checkShape("AttentionBackward", "dout", dout, b, t, c)
	checkShape("AttentionBackward", "dq", dq, b, t, c)
	checkShape("AttentionBackward", "dk", dk, b, s, c)
	checkShape("AttentionBackward", "dv", dv, b, s, c)
	if saved == nil || saved.Probs == nil {
		panic("ops: AttentionBackward: the forward pass did not keep its probabilities")
	}
	checkShape("AttentionBackward", "saved probabilities", saved.Probs, b, heads, t, s)
	if q.DType() == tensor.F32 {
		attentionBackward[float32](contig(q), contig(k), contig(v), contig(dout), saved, dq, dk, dv, b, t, s, c, d, heads, scale)
	} else {
		attentionBackward[float64](contig(q), contig(k), contig(v), contig(dout), saved, dq, dk, dv, b, t, s, c, d, heads, scale)
	}
}

func attentionBackward[T Float](qt, kt, vt, dOut *tensor.Tensor, saved *AttnSaved, dqt, dkt, dvt *tensor.Tensor, b, t, s, c, d, heads int, scale float64) {
	q, k, v, do := vals[T](qt), vals[T](kt), vals[T](vt), vals[T](dOut)
	dq, dk, dv := opt[T](dqt), opt[T](dkt), opt[T](dvt)
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
			qo, ko := bi*t*c+h*d, bi*s*c+h*d
			// d(P_dropped) = dO·Vᵀ
			gemmST(false, true, t, s, d, 1, do[qo:], c, v[ko:], c, 0, dp, s)
			peff := p
			if drop != nil {
				keep := drop.Keep[bh*t*s : (bh+1)*t*s]
				sc := T(drop.Scale)
				for i := range dp {
					k := sc * T(keep[i])
					dp[i] *= k
					pv[i] = p[i] * k
				}
				peff = pv
			}
			if dv != nil { // dV += P_droppedᵀ·dO
				gemmST(true, false, s, d, t, 1, peff, s, do[qo:], c, 1, dv[ko:], c)
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
				gemmST(false, false, t, d, s, T(scale), dp, s, k[ko:], c, 1, dq[qo:], c)
			}
			if dk != nil {
				gemmST(true, false, s, d, t, T(scale), dp, s, q[qo:], c, 1, dk[ko:], c)
			}
		}
	})
}
