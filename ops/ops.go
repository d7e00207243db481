// Package ops holds the tensor-level forward functions of the transformer and their Backward
// twins. ag records them on a tape; nn and the models never do arithmetic themselves.
//
// Conventions:
//   - Tensors are F32 (the fast path, through package kernels) or F64 (a plain Go path used
//     as the oracle: gradient checks by finite differences and parity tests run in float64).
//     All inputs of one call share a dtype.
//   - Inputs are read as contiguous (a strided view is copied first); outputs are new
//     contiguous tensors.
//   - A Backward function takes the forward's inputs (and whatever the forward returned for it)
//     plus dy, and ADDS each input's gradient into the tensor given for it; a nil destination
//     means that gradient is not wanted. Accumulating in place is what gradient accumulation
//     over micro-batches and shared parameters need, and it saves a temporary per gradient.
//   - Shape mismatches are programmer errors and panic with an "ops: " message.
//
// Shapes use DESIGN.md's letters: B batch, T time, S source length, C width, H heads, D head
// size, V vocabulary, N any number of rows.
package ops

import (
	"fmt"
	"slices"

	"github.com/optiformer/optiformer/tensor"
)

// Float is an element type of the reference path.
type Float interface{ float32 | float64 }

// vals returns the elements of a contiguous tensor of element type T.
func vals[T Float](t *tensor.Tensor) []T {
	var z T
	switch any(z).(type) {
	case float32:
		return any(t.F32()).([]T)
	default:
		return any(t.F64()).([]T)
	}
}

// dtypeOf is the tensor dtype of T.
func dtypeOf[T Float]() tensor.DType {
	var z T
	if _, ok := any(z).(float32); ok {
		return tensor.F32
	}
	return tensor.F64
}

// contig returns t as a contiguous tensor (a copy when it is a strided view).
func contig(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || t.IsContiguous() {
		return t
	}
	return t.Contiguous()
}

// checkFloat panics unless every non-nil tensor is F32, or every one is F64.
func checkFloat(op string, ts ...*tensor.Tensor) tensor.DType {
	var dt tensor.DType
	for _, t := range ts {
		if t == nil {
			continue
		}
		if d := t.DType(); d != tensor.F32 && d != tensor.F64 {
			panic(fmt.Sprintf("ops: %s: dtype %v, want float32 or float64", op, d))
		} else if dt == 0 {
			dt = d
		} else if d != dt {
			panic(fmt.Sprintf("ops: %s: mixed dtypes %v and %v", op, dt, d))
		}
	}
	return dt
}

// checkShape panics unless t has exactly the given shape.
func checkShape(op, name string, t *tensor.Tensor, shape ...int) {
	if t == nil {
		return
	}
	if s := t.Shape(); !slices.Equal(s, shape) {
		panic(fmt.Sprintf("ops: %s: %s has shape %v, want %v", op, name, s, shape))
	}
}

// rows returns the number of rows and the last dimension of t viewed as (N, C).
func rows(op string, t *tensor.Tensor) (n, c int) {
	if t.Rank() == 0 {
		panic(fmt.Sprintf("ops: %s: needs at least one dimension, got a scalar", op))
	}
	c = t.Dim(-1)
	if c == 0 {
		return 0, 0
	}
	return t.Len() / c, c
}

// like returns a new zeroed tensor with t's dtype and shape.
func like(t *tensor.Tensor) *tensor.Tensor { return tensor.New(t.DType(), t.Shape()...) }

// likeEmpty is like for an output the op overwrites completely (see tensor.Empty).
func likeEmpty(t *tensor.Tensor) *tensor.Tensor { return tensor.Empty(t.DType(), t.Shape()...) }
