package tensor

import (
	"fmt"
	"math"
	"math/bits"
)

// mulInt returns a·b for non-negative a and b and whether it fits in an int.
func mulInt(a, b int) (int, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt {
		return 0, false
	}
	return int(lo), true
}

// checkShape panics unless every dimension is non-negative and the layout of a compact
// tensor of that shape is addressable: the product of the dimensions, with zeros counted as
// ones, must fit in an int (so the element count and every contiguous stride fit too). It
// returns the element count.
func checkShape(op string, shape []int) int {
	n, span := 1, 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: %s: negative dimension in shape %v", op, shape))
		}
		var ok bool
		if span, ok = mulInt(span, max(d, 1)); !ok {
			panic(fmt.Sprintf("tensor: %s: element count of shape %v overflows int", op, shape))
		}
		n *= d // cannot overflow: |n| ≤ span
	}
	return n
}

// numel returns the product of an already checked shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// contiguousStrides returns the row-major strides of an already checked shape. A dimension
// of size 0 counts as 1, as in PyTorch, so the strides stay meaningful.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= max(shape[i], 1)
	}
	return st
}

// normAxis maps axis (negative counts from the end) into [0, rank), or returns -1.
func normAxis(axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		return -1
	}
	return axis
}

// inferShape resolves a requested shape for a tensor of n elements, where at most one entry
// may be -1 (inferred). It panics, naming op and the tensor's shape, when the request is
// malformed or its element count differs from n.
func inferShape(op string, req []int, old []int, n int) []int {
	call := op + "(" + fmtArgs(req...) + ")"
	shape := append([]int(nil), req...)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer >= 0:
			panic(fmt.Sprintf("tensor: %s of shape %v: only one dimension can be -1", call, old))
		case d == -1:
			infer = i
		case d < 0:
			panic(fmt.Sprintf("tensor: %s of shape %v: negative dimension %d", call, old, d))
		default:
			var ok bool
			if known, ok = mulInt(known, d); !ok {
				panic(fmt.Sprintf("tensor: %s of shape %v: element count overflows int", call, old))
			}
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			panic(fmt.Sprintf("tensor: %s of shape %v (%d elements): cannot infer the -1 dimension", call, old, n))
		}
		shape[infer] = n / known
	} else if known != n {
		panic(fmt.Sprintf("tensor: %s of shape %v: shape has %d elements, tensor has %d", call, old, known, n))
	}
	checkShape(call, shape)
	return shape
}

// fmtArgs formats integers as an argument list: "2, 5".
func fmtArgs(a ...int) string {
	s := fmt.Sprint(a)
	s = s[1 : len(s)-1]
	out := make([]byte, 0, len(s)+len(a))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
