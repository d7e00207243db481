package ops_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// poison fills the tensor pool with NaN-filled buffers of n elements, so that any op whose
// output is allocated with tensor.Empty and not overwritten completely shows NaNs.
func poison(dt tensor.DType, n int) {
	var ps []*tensor.Tensor
	for i := 0; i < 8; i++ { // all made before any is released, or New would reuse them
		ps = append(ps, tensor.Full(dt, math.NaN(), n))
	}
	for _, p := range ps {
		tensor.Release(p)
	}
}

// TestOutputsOverwritten checks every op that skips zeroing its output: its result must not
// depend on what the recycled storage held.
func TestOutputsOverwritten(t *testing.T) {
	const b, s, c, heads = 2, 64, 256, 4 // b·s·c = 32768 floats: large enough to be pooled
	ids := tensor.New(tensor.I32, b, s)
	for i := range ids.I32() {
		ids.I32()[i] = int32(i % 50)
	}
	ops := map[string]func(dt tensor.DType) *tensor.Tensor{
		"Add":      func(dt tensor.DType) *tensor.Tensor { return ops.Add(rnd(dt, 1, b, s, c), rnd(dt, 2, c)) },
		"Activate": func(dt tensor.DType) *tensor.Tensor { return ops.Activate(rnd(dt, 1, b, s, c), ops.GELU) },
		"Embedding": func(dt tensor.DType) *tensor.Tensor {
			return ops.Embedding(rnd(dt, 1, 50, c), ids)
		},
		"Dropout": func(dt tensor.DType) *tensor.Tensor {
			y, _ := ops.Dropout(rnd(dt, 1, b, s, c), 0.3, rand.New(rand.NewPCG(1, 1)))
			return y
		},
		"MatMul": func(dt tensor.DType) *tensor.Tensor {
			return ops.MatMul(rnd(dt, 1, b*s, 32), rnd(dt, 2, 32, c), false, false)
		},
		"Linear": func(dt tensor.DType) *tensor.Tensor {
			return ops.Linear(rnd(dt, 1, b, s, 32), rnd(dt, 2, c, 32), nil, nil)
		},
		"LinearBias": func(dt tensor.DType) *tensor.Tensor {
			return ops.Linear(rnd(dt, 1, b, s, 32), rnd(dt, 2, c, 32), rnd(dt, 3, c), nil)
		},
		"LinearCat": func(dt tensor.DType) *tensor.Tensor {
			ws := []*tensor.Tensor{rnd(dt, 2, c/2, 32), rnd(dt, 3, c/2, 32)}
			return ops.LinearCat(rnd(dt, 1, b, s, 32), ws, []*tensor.Tensor{nil, rnd(dt, 4, c/2)}, nil)
		},
		"Softmax":    func(dt tensor.DType) *tensor.Tensor { return ops.Softmax(rnd(dt, 1, b, s, c), nil) },
		"LogSoftmax": func(dt tensor.DType) *tensor.Tensor { return ops.LogSoftmax(rnd(dt, 1, b, s, c)) },
		"LayerNorm": func(dt tensor.DType) *tensor.Tensor {
			y, _, _ := ops.LayerNorm(rnd(dt, 1, b, s, c), rnd(dt, 2, c), rnd(dt, 3, c), 1e-5)
			return y
		},
		"Attention": func(dt tensor.DType) *tensor.Tensor {
			y, _ := ops.Attention(rnd(dt, 1, b, s, c), rnd(dt, 2, b, s, c), rnd(dt, 3, b, s, c), heads,
				ops.AttnMask{Causal: true}, 0.125, 0, nil, false)
			return y
		},
		"AttentionProbs": func(dt tensor.DType) *tensor.Tensor {
			_, saved := ops.Attention(rnd(dt, 1, b, s, c), rnd(dt, 2, b, s, c), rnd(dt, 3, b, s, c), 2*heads*c/s,
				ops.AttnMask{}, 0.125, 0, nil, true)
			return saved.Probs
		},
	}
	for name, op := range ops {
		for _, dt := range []tensor.DType{tensor.F32, tensor.F64} {
			want := op(dt)
			poison(dt, want.Len())
			got := op(dt)
			x, y := got.To(tensor.F64).F64(), want.To(tensor.F64).F64()
			for i := range x {
				if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
					t.Errorf("%s %v: element %d is %v over recycled storage, %v over fresh", name, dt, i, x[i], y[i])
					break
				}
			}
		}
	}
}
