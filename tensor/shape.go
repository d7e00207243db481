package tensor

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// mulInt returns a·b for non-negative a and b and whether it fits in an int.
func mulInt(a, b int) (int, bool) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt {
		return 0, false
	}
	return int(lo), true
}

// shapeSize returns the element count of shape, or why the shape is invalid: a dimension is
// negative, or the layout of a compact tensor of that shape is not addressable because the
// product of the dimensions, with zeros counted as ones, overflows int (so the element count
// and every contiguous stride fit when the shape is valid).
func shapeSize(shape []int) (int, string) {
	n, span := 1, 1
	for _, d := range shape {
		if d < 0 {
			return 0, "negative dimension in shape " + fmtShape(shape)
		}
		var ok bool
		if span, ok = mulInt(span, max(d, 1)); !ok {
			return 0, "element count of shape " + fmtShape(shape) + " overflows int"
		}
		n *= d // cannot overflow: n ≤ span
	}
	return n, ""
}

// checkShape returns the element count of shape or panics, naming op, when it is invalid.
func checkShape(op string, shape []int) int {
	n, why := shapeSize(shape)
	if why != "" {
		panic(fmt.Sprintf("tensor: %s: %s", op, why))
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

// newLayout returns a shape and a strides slice of rank r carved from one allocation.
func newLayout(r int) (shape, strides []int) {
	buf := make([]int, 2*r)
	return buf[:r:r], buf[r:]
}

// compactLayout returns a copy of an already checked shape and its row-major strides.
func compactLayout(shape []int) (sh, st []int) {
	sh, st = newLayout(len(shape))
	copy(sh, shape)
	fillContiguousStrides(st, sh)
	return sh, st
}

// fillContiguousStrides writes the row-major strides of an already checked shape to st. A
// dimension of size 0 counts as 1, as in PyTorch, so the strides stay meaningful.
func fillContiguousStrides(st, shape []int) {
	s := 1
	for i := len(shape) - 1; i >= 0; i-- {
		st[i] = s
		s *= max(shape[i], 1)
	}
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
// may be -1 (inferred), and returns it with an uninitialized strides slice of the same rank.
// It panics, naming op and the tensor's shape old, when the request is malformed or its
// element count differs from n.
func inferShape(op string, req []int, old []int, n int) (shape, strides []int) {
	bad := func(format string, args ...any) {
		panic(fmt.Sprintf("tensor: %s(%s) of shape %v", op, fmtArgs(req...), old) + fmt.Sprintf(format, args...))
	}
	shape, strides = newLayout(len(req))
	copy(shape, req)
	infer := -1
	known := 1
	for i, d := range shape {
		switch {
		case d == -1 && infer >= 0:
			bad(": only one dimension can be -1")
		case d == -1:
			infer = i
		case d < 0:
			bad(": negative dimension %d", d)
		default:
			var ok bool
			if known, ok = mulInt(known, d); !ok {
				bad(": element count overflows int")
			}
		}
	}
	if infer >= 0 {
		if known == 0 || n%known != 0 {
			bad(" (%d elements): cannot infer the -1 dimension", n)
		}
		shape[infer] = n / known
	} else if known != n {
		bad(": shape has %d elements, tensor has %d", known, n)
	}
	if _, why := shapeSize(shape); why != "" {
		bad(": %s", why)
	}
	return shape, strides
}

// fmtArgs formats integers as an argument list: "2, 5". Unlike fmt, it does not make its
// argument escape, so variadic calls on the success path stay allocation-free.
func fmtArgs(a ...int) string { return string(appendInts(nil, a, ", ")) }

// fmtShape formats a shape as fmt's %v does: "[2 3]".
func fmtShape(a []int) string {
	b := append(appendInts([]byte{'['}, a, " "), ']')
	return string(b)
}

func appendInts(b []byte, a []int, sep string) []byte {
	for i, x := range a {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendInt(b, int64(x), 10)
	}
	return b
}
