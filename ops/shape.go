package ops

import (
	"fmt"

	"github.com/optiformer/optiformer/tensor"
)

// Reshape returns x with a new shape of the same size (a view when x is contiguous; one
// dimension may be -1), torch.reshape.
func Reshape(x *tensor.Tensor, shape ...int) *tensor.Tensor { return x.Reshape(shape...) }

// ReshapeBackward adds dy, reshaped to dx's shape, into dx.
func ReshapeBackward(dy, dx *tensor.Tensor) {
	checkFloat("ReshapeBackward", dy, dx)
	if dy.Len() != dx.Len() {
		panic(fmt.Sprintf("ops: ReshapeBackward: dy %v and dx %v differ in size", dy.Shape(), dx.Shape()))
	}
	accumulate(dx, contig(dy).Reshape(dx.Shape()...))
}

// Transpose returns x with axes a and b swapped, as a new contiguous tensor (torch.transpose
// followed by .contiguous()).
func Transpose(x *tensor.Tensor, a, b int) *tensor.Tensor { return x.Transpose(a, b).Contiguous() }

// TransposeBackward adds dy, transposed back, into dx.
func TransposeBackward(dy *tensor.Tensor, a, b int, dx *tensor.Tensor) {
	checkFloat("TransposeBackward", dy, dx)
	g := dy.Transpose(a, b)
	checkShape("TransposeBackward", "dx", dx, g.Shape()...)
	accumulate(dx, g.Contiguous())
}

// blocks describes x split around an axis: outer blocks, each holding n slices of inner
// elements along the axis.
func blocks(x *tensor.Tensor, axis int) (outer, n, inner int) {
	s := x.Shape()
	outer, inner = 1, 1
	for _, d := range s[:axis] {
		outer *= d
	}
	for _, d := range s[axis+1:] {
		inner *= d
	}
	return outer, s[axis], inner
}

func normAxis(op string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		panic(fmt.Sprintf("ops: %s: axis out of range for rank %d", op, rank))
	}
	return axis
}

// Concat joins xs along axis (torch.cat); all other dimensions must agree.
func Concat(axis int, xs ...*tensor.Tensor) *tensor.Tensor {
	if len(xs) == 0 {
		panic("ops: Concat: no tensors")
	}
	checkFloat("Concat", xs...)
	axis = normAxis("Concat", axis, xs[0].Rank())
	shape := xs[0].Shape()
	total := 0
	for _, x := range xs {
		s := x.Shape()
		if len(s) != len(shape) {
			panic(fmt.Sprintf("ops: Concat: shapes %v and %v", shape, s))
		}
		for i := range s {
			if i != axis && s[i] != shape[i] {
				panic(fmt.Sprintf("ops: Concat: shapes %v and %v differ outside axis %d", shape, s, axis))
			}
		}
		total += s[axis]
	}
	shape[axis] = total
	y := tensor.New(xs[0].DType(), shape...)
	off := 0
	for _, x := range xs {
		n := x.Dim(axis)
		addBlock(y, contig(x), axis, off, false)
		off += n
	}
	return y
}

// ConcatBackward adds the slices of dy that belong to each input into dxs (nil entries are
// skipped); sizes gives each input's length along axis.
func ConcatBackward(dy *tensor.Tensor, axis int, sizes []int, dxs ...*tensor.Tensor) {
	axis = normAxis("ConcatBackward", axis, dy.Rank())
	off := 0
	for i, n := range sizes {
		if dxs[i] != nil {
			accumulate(dxs[i], contig(dy).Slice(axis, off, off+n).Contiguous())
		}
		off += n
	}
}

// Slice returns x[…, start:end, …] along axis as a new contiguous tensor.
func Slice(x *tensor.Tensor, axis, start, end int) *tensor.Tensor {
	axis = normAxis("Slice", axis, x.Rank())
	return x.Slice(axis, start, end).Contiguous()
}

// SliceBackward adds dy into the [start, end) part of dx along axis.
func SliceBackward(dy *tensor.Tensor, axis, start int, dx *tensor.Tensor) {
	checkFloat("SliceBackward", dy, dx)
	axis = normAxis("SliceBackward", axis, dx.Rank())
	addBlock(dx, contig(dy), axis, start, true)
}

// addBlock writes (or adds, with add) the contiguous src into dst at offset off along axis.
func addBlock(dst, src *tensor.Tensor, axis, off int, add bool) {
	outer, n, inner := blocks(src, axis)
	_, m, _ := blocks(dst, axis)
	if off < 0 || off+n > m {
		panic(fmt.Sprintf("ops: %v does not fit into %v at %d along axis %d", src.Shape(), dst.Shape(), off, axis))
	}
	if dst.DType() == tensor.F32 {
		copyBlock(vals[float32](dst), vals[float32](src), outer, n, m, inner, off, add)
	} else {
		copyBlock(vals[float64](dst), vals[float64](src), outer, n, m, inner, off, add)
	}
}

func copyBlock[T Float](dst, src []T, outer, n, m, inner, off int, add bool) {
	for o := 0; o < outer; o++ {
		d := dst[(o*m+off)*inner : (o*m+off+n)*inner]
		s := src[o*n*inner : (o+1)*n*inner]
		if add {
			axpy(1, s, d)
		} else {
			copy(d, s)
		}
	}
}
