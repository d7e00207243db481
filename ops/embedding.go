package ops

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// Embedding returns the rows of weight (V, C) selected by ids (an I32 tensor of any shape);
// the result has shape (ids…, C) (torch.nn.functional.embedding). An id outside [0, V)
// panics: callers validate ids that come from outside.
func Embedding(weight, ids *tensor.Tensor) *tensor.Tensor {
	checkFloat("Embedding", weight)
	if weight.Rank() != 2 {
		panic(fmt.Sprintf("ops: Embedding: weight has shape %v, want (V, C)", weight.Shape()))
	}
	if ids.DType() != tensor.I32 {
		panic(fmt.Sprintf("ops: Embedding: ids have dtype %v, want int32", ids.DType()))
	}
	v, c := weight.Dim(0), weight.Dim(1)
	id := contig(ids).I32()
	for _, i := range id {
		if i < 0 || int(i) >= v {
			panic(fmt.Sprintf("ops: Embedding: id %d outside [0, %d)", i, v))
		}
	}
	y := tensor.Empty(weight.DType(), append(ids.Shape(), c)...)
	weight = contig(weight)
	if weight.DType() == tensor.F32 {
		gather(vals[float32](weight), vals[float32](y), id, c)
	} else {
		gather(vals[float64](weight), vals[float64](y), id, c)
	}
	return y
}

func gather[T Float](w, y []T, ids []int32, c int) {
	for i, id := range ids {
		copy(y[i*c:(i+1)*c], w[int(id)*c:(int(id)+1)*c])
	}
}

// EmbeddingBackward adds the gradient of y = Embedding(weight, ids) into dweight: each row of
// dy is added to the row of its id (a scatter-add). Rows whose id equals paddingIdx get no
// gradient (torch's padding_idx); pass -1 for none.
func EmbeddingBackward(ids, dy, dweight *tensor.Tensor, paddingIdx int) {
	checkFloat("EmbeddingBackward", dy, dweight)
	c := dweight.Dim(1)
	id := contig(ids).I32()
	if dy.Len() != len(id)*c {
		panic(fmt.Sprintf("ops: EmbeddingBackward: dy has shape %v for %d ids of width %d", dy.Shape(), len(id), c))
	}
	if dy.DType() == tensor.F32 {
		scatterAdd(vals[float32](contig(dy)), vals[float32](dweight), id, c, paddingIdx)
	} else {
		scatterAdd(vals[float64](contig(dy)), vals[float64](dweight), id, c, paddingIdx)
	}
}

func scatterAdd[T Float](dy, dw []T, ids []int32, c, paddingIdx int) {
	for i, id := range ids {
		if int(id) == paddingIdx {
			continue
		}
		axpy(1, dy[i*c:(i+1)*c], dw[int(id)*c:(int(id)+1)*c])
	}
}

// Sinusoidal returns the (T, C) sinusoidal position encodings of Vaswani et al. for positions
// offset … offset+T−1, in the layout of the PyTorch tutorial (and tensor2tensor):
//
//	div[i] = exp(2i · −ln(10000)/C),  pe[p, 2i] = sin(p·div[i]),  pe[p, 2i+1] = cos(p·div[i])
//
// In float32 every intermediate is rounded to float32 as PyTorch computes it, so the table
// matches PyTorch's to about one ulp even at large positions.
func Sinusoidal(dt tensor.DType, t, c, offset int) *tensor.Tensor {
	y := tensor.New(dt, t, c)
	if dt == tensor.F32 {
		ys := vals[float32](y)
		k := float32(-math.Log(10000) / float64(c))
		for p := 0; p < t; p++ {
			pos := float32(p + offset)
			for i := 0; i < c; i += 2 {
				div := float32(math.Exp(float64(float32(i) * k)))
				angle := float64(pos * div)
				ys[p*c+i] = float32(math.Sin(angle))
				if i+1 < c {
					ys[p*c+i+1] = float32(math.Cos(angle))
				}
			}
		}
		return y
	}
	ys := vals[float64](y)
	k := -math.Log(10000) / float64(c)
	for p := 0; p < t; p++ {
		pos := float64(p + offset)
		for i := 0; i < c; i += 2 {
			angle := pos * math.Exp(float64(i)*k)
			ys[p*c+i] = math.Sin(angle)
			if i+1 < c {
				ys[p*c+i+1] = math.Cos(angle)
			}
		}
	}
	return y
}

// DropoutMask holds which elements dropout kept (1) or zeroed (0), and the scale 1/(1−p) it
// applied. Bytes rather than bools, so that applying the mask is a multiplication instead of
// a branch the processor mispredicts half the time.
type DropoutMask struct {
	Keep  []uint8
	Scale float64
}

// Dropout zeroes each element of x with probability p and scales the rest by 1/(1−p)
// (torch.nn.functional.dropout in training). The mask is drawn from rng in element order, so
// the same seed gives the same mask whatever the thread count. p = 0 returns x itself and a
// nil mask.
func Dropout(x *tensor.Tensor, p float64, rng *rand.Rand) (*tensor.Tensor, *DropoutMask) {
	checkFloat("Dropout", x)
	if p < 0 || p >= 1 || math.IsNaN(p) {
		panic(fmt.Sprintf("ops: Dropout: p = %v, want 0 ≤ p < 1", p))
	}
	if p == 0 {
		return x, nil
	}
	x = contig(x)
	m := &DropoutMask{Keep: make([]uint8, x.Len()), Scale: 1 / (1 - p)}
	fillMask(m.Keep, p, rng)
	y := likeEmpty(x)
	if x.DType() == tensor.F32 {
		dst, src := vals[float32](y), vals[float32](x)
		kernels.ParallelFor(len(src), elementwiseGrain, func(lo, hi int) {
			applyMask(dst[lo:hi], src[lo:hi], &DropoutMask{Keep: m.Keep[lo:hi], Scale: m.Scale})
		})
	} else {
		applyMask(vals[float64](y), vals[float64](x), m)
	}
	return y, m
}

// fillMask draws keep[i] = (u ≥ p) with 16-bit uniforms, four per 64-bit draw (p is thus
// rounded to a multiple of 2⁻¹⁶, a difference no training notices). Large masks are drawn
// in chunks of maskChunk on all the kernel threads: rng gives one seed per call, and chunk c
// draws from its own PCG stream (seed, c), so the mask depends on rng's state and the length
// only, never on the thread count.
func fillMask(keep []uint8, p float64, rng *rand.Rand) {
	thr := uint64(p*(1<<16) + 0.5)
	if len(keep) <= maskChunk {
		fillMaskFrom(keep, thr, rng.Uint64)
		return
	}
	seed := rng.Uint64()
	chunks := (len(keep) + maskChunk - 1) / maskChunk
	kernels.ParallelFor(chunks, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			src := rand.NewPCG(seed, uint64(c))
			fillMaskFrom(keep[c*maskChunk:min(len(keep), (c+1)*maskChunk)], thr, src.Uint64)
		}
	})
}

// maskChunk is the number of mask bytes drawn from one random stream.
const maskChunk = 1 << 16

func fillMaskFrom(keep []uint8, thr uint64, next func() uint64) {
	i := 0
	for ; i+4 <= len(keep); i += 4 {
		r := next()
		k := keep[i : i+4 : i+4]
		k[0] = b2u(r&0xffff >= thr)
		k[1] = b2u(r>>16&0xffff >= thr)
		k[2] = b2u(r>>32&0xffff >= thr)
		k[3] = b2u(r>>48 >= thr)
	}
	if i < len(keep) {
		r := next()
		for ; i < len(keep); i++ {
			keep[i] = b2u(r&0xffff >= thr)
			r >>= 16
		}
	}
}

// b2u is 1 for true and 0 for false (the compiler makes it a SETcc, no branch).
func b2u(b bool) uint8 {
	var u uint8
	if b {
		u = 1
	}
	return u
}

func applyMask[T Float](dst, src []T, m *DropoutMask) {
	s := T(m.Scale)
	keep := m.Keep[:len(src)]
	for i, v := range src {
		dst[i] = v * s * T(keep[i])
	}
}

// DropoutBackward adds the gradient of y = Dropout(x) into dx: dy scaled where kept, 0
// elsewhere. A nil mask (p = 0) passes dy through.
func DropoutBackward(dy *tensor.Tensor, m *DropoutMask, dx *tensor.Tensor) {
	checkFloat("DropoutBackward", dy, dx)
	checkShape("DropoutBackward", "dx", dx, dy.Shape()...)
	if m == nil {
		accumulate(dx, dy)
		return
	}
	if len(m.Keep) != dy.Len() {
		panic(fmt.Sprintf("ops: DropoutBackward: mask of %d for %d elements", len(m.Keep), dy.Len()))
	}
	if dy.DType() == tensor.F32 {
		d, g := vals[float32](dx), vals[float32](contig(dy))
		kernels.ParallelFor(len(g), elementwiseGrain, func(lo, hi int) {
			addMasked(d[lo:hi], g[lo:hi], &DropoutMask{Keep: m.Keep[lo:hi], Scale: m.Scale})
		})
	} else {
		addMasked(vals[float64](dx), vals[float64](contig(dy)), m)
	}
}

// DropoutGradInPlace turns g, the gradient of Dropout's output, into the gradient of its
// input in place (g scaled where kept, 0 elsewhere). A nil mask leaves g as it is.
func DropoutGradInPlace(g *tensor.Tensor, m *DropoutMask) {
	checkFloat("DropoutGradInPlace", g)
	if m == nil {
		return
	}
	if len(m.Keep) != g.Len() || !g.IsContiguous() {
		panic(fmt.Sprintf("ops: DropoutGradInPlace: mask of %d for %d elements (contiguous: %v)", len(m.Keep), g.Len(), g.IsContiguous()))
	}
	if g.DType() == tensor.F32 {
		v := vals[float32](g)
		kernels.ParallelFor(len(v), elementwiseGrain, func(lo, hi int) {
			applyMask(v[lo:hi], v[lo:hi], &DropoutMask{Keep: m.Keep[lo:hi], Scale: m.Scale})
		})
	} else {
		v := vals[float64](g)
		applyMask(v, v, m)
	}
}

func addMasked[T Float](dx, dy []T, m *DropoutMask) {
	s := T(m.Scale)
	keep := m.Keep[:len(dy)]
	for i, g := range dy {
		dx[i] += g * s * T(keep[i])
	}
}
