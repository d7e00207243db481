package ops

import (
	"fmt"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// lmChunkFloats is about how many logits LinearCrossEntropy holds at a time (8 MiB): 262 rows
// of an 8k vocabulary, 64 of a 32k one, where the full (N, V) logits of a batch take hundreds
// of MiB. Larger chunks mean fewer passes over dW, which every chunk updates.
const lmChunkFloats = 1 << 21

// LinearCEGrads are the gradients LinearCrossEntropy computed along with the loss, for a
// gradient of 1 on the loss; the Backward scales them by the real one.
type LinearCEGrads struct {
	DX, DW *tensor.Tensor
}

// LinearCrossEntropy returns the mean cross-entropy of the logits x·wᵀ (x is (N, C), w is
// (V, C)) against targets (N, I32), with label smoothing eps and ignoreIndex left out: the
// output projection and CrossEntropy fused. The logits are made lmChunk rows at a time and
// never stored whole; with grads, the gradients with respect to x and w are computed in the
// same pass (one more pair of GEMMs per chunk, as the unfused backward does) and returned for
// LinearCrossEntropyBackward. The result equals CrossEntropy(Linear(x, w, nil, …), …) up to
// float rounding. packed, when not nil, is w packed as Linear takes it.
func LinearCrossEntropy(x, w *tensor.Tensor, packed *kernels.PackedB, targets *tensor.Tensor, eps float64, ignoreIndex int, grads bool) (float64, *LinearCEGrads) {
	checkFloat("LinearCrossEntropy", x, w)
	if x.Rank() != 2 || w.Rank() != 2 || x.Dim(1) != w.Dim(1) {
		panic(fmt.Sprintf("ops: LinearCrossEntropy: x %v and w %v: want (N, C) and (V, C)", x.Shape(), w.Shape()))
	}
	n, c, v := x.Dim(0), x.Dim(1), w.Dim(0)
	if targets.DType() != tensor.I32 || targets.Len() != n {
		panic(fmt.Sprintf("ops: LinearCrossEntropy: targets are %v %v, want %d int32", targets.DType(), targets.Shape(), n))
	}
	tg := contig(targets).I32()
	count := 0
	for _, t := range tg {
		if int(t) == ignoreIndex {
			continue
		}
		if t < 0 || int(t) >= v {
			panic(fmt.Sprintf("ops: LinearCrossEntropy: target %d outside [0, %d)", t, v))
		}
		count++
	}
	x, w = contig(x), contig(w)
	var g *LinearCEGrads
	if grads {
		g = &LinearCEGrads{DX: like(x), DW: like(w)}
	}
	chunk := min(n, max(64, lmChunkFloats/max(v, 1)))
	// One logits buffer and one gradient buffer serve every chunk.
	logitsBuf := tensor.New(x.DType(), chunk, v)
	var dlBuf *tensor.Tensor
	if g != nil {
		dlBuf = tensor.New(x.DType(), chunk, v)
	}
	var sum float64
	for r0 := 0; r0 < n; r0 += chunk {
		r1 := min(n, r0+chunk)
		xc := x.Slice(0, r0, r1)
		logits := logitsBuf.Slice(0, 0, r1-r0)
		if x.DType() == tensor.F32 {
			linear[float32](xc, w, nil, packed, logits, r1-r0, c, v)
		} else {
			linear[float64](xc, w, nil, nil, logits, r1-r0, c, v)
		}
		tc := tensor.FromI32(tg[r0:r1], r1-r0)
		l, saved := CrossEntropy(logits, tc, eps, ignoreIndex)
		if saved.Count > 0 {
			sum += l * float64(saved.Count)
		}
		if g == nil || saved.Count == 0 {
			continue
		}
		// d logits of the whole batch's mean: this chunk's mean-gradient scaled by its share.
		dl := dlBuf.Slice(0, 0, r1-r0)
		clearTensor(dl)
		CrossEntropyBackward(logits, tc, eps, ignoreIndex, saved, float64(saved.Count)/float64(count), dl)
		LinearBackward(xc, w, dl, g.DX.Slice(0, r0, r1), g.DW, nil)
	}
	return sum / float64(count), g
}

// LinearCrossEntropyBackward adds dloss times the gradients LinearCrossEntropy computed into
// dx and dw (either may be nil).
func LinearCrossEntropyBackward(g *LinearCEGrads, dloss float64, dx, dw *tensor.Tensor) {
	if g == nil {
		panic("ops: LinearCrossEntropyBackward: the forward pass did not compute gradients")
	}
	if dx != nil {
		ScaleBackward(g.DX, dloss, dx)
	}
	if dw != nil {
		ScaleBackward(g.DW, dloss, dw)
	}
}

// clearTensor zeroes a contiguous tensor.
func clearTensor(t *tensor.Tensor) {
	if t.DType() == tensor.F32 {
		clear(t.F32())
	} else {
		clear(t.F64())
	}
}
