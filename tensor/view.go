package tensor

import (
	"fmt"
	"slices"
)

// view returns a tensor sharing t's storage with a new layout.
func (t *Tensor) view(shape, strides []int, offset int) *Tensor {
	u := *t
	u.shape, u.strides, u.offset = shape, strides, offset
	return &u
}

// View returns a tensor of the given shape sharing t's storage (torch.Tensor.view). One
// dimension may be -1; it is inferred from the element count. The elements keep their
// row-major order. Like PyTorch, View works on every contiguous tensor and on strided views
// whose dimensions being merged are laid out compatibly (for example splitting a dimension of
// a transposed tensor); it panics when the new shape has a different element count or no
// strides can express it, in which case Reshape copies.
func (t *Tensor) View(shape ...int) *Tensor {
	ns, st := inferShape("View", shape, t.shape, t.Len())
	if !viewStrides(t.shape, t.strides, ns, st) {
		panic(fmt.Sprintf("tensor: View(%s) of a non-contiguous tensor of shape %v, strides %v: not viewable, use Reshape",
			fmtArgs(shape...), t.shape, t.strides))
	}
	return t.view(ns, st, t.offset)
}

// Reshape returns a tensor of the given shape holding t's elements in row-major order
// (torch.reshape): a view sharing storage when View would succeed, otherwise a contiguous
// copy. One dimension may be -1. It panics when the element counts differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	ns, st := inferShape("Reshape", shape, t.shape, t.Len())
	if viewStrides(t.shape, t.strides, ns, st) {
		return t.view(ns, st, t.offset)
	}
	fillContiguousStrides(st, ns)
	return t.compact().view(ns, st, 0)
}

// viewStrides computes into ns the strides that let a tensor with the layout (oldShape,
// oldStrides) be viewed as newShape with the same element order, or reports that none
// exist. It is PyTorch's computeStride (aten/src/ATen/TensorUtils.cpp): the old dimensions
// are split into chunks that are contiguous among themselves, and each chunk must be covered
// exactly by a run of new dimensions. The element counts must already agree; ns has
// len(newShape) elements.
func viewStrides(oldShape, oldStrides, newShape, ns []int) bool {
	if len(oldShape) == 0 {
		for i := range ns {
			ns[i] = 1
		}
		return true
	}
	if numel(oldShape) == 0 {
		if slices.Equal(oldShape, newShape) {
			copy(ns, oldStrides)
		} else {
			fillContiguousStrides(ns, newShape)
		}
		return true
	}
	viewD := len(newShape) - 1
	chunkBase := oldStrides[len(oldStrides)-1]
	tensorNumel, viewNumel := 1, 1
	for d := len(oldShape) - 1; d >= 0; d-- {
		tensorNumel *= oldShape[d]
		if d == 0 || (oldShape[d-1] != 1 && oldStrides[d-1] != tensorNumel*chunkBase) {
			for viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1) {
				ns[viewD] = viewNumel * chunkBase
				viewNumel *= newShape[viewD]
				viewD--
			}
			if viewNumel != tensorNumel {
				return false
			}
			if d > 0 {
				chunkBase = oldStrides[d-1]
				tensorNumel, viewNumel = 1, 1
			}
		}
	}
	if viewD != -1 {
		return false
	}
	return true
}

// Transpose returns a view with axes a and b swapped (torch.transpose); negative axes count
// from the end. The result is usually not contiguous. It panics when an axis is out of
// range, so always for a scalar (PyTorch accepts Transpose(0, 0) there).
func (t *Tensor) Transpose(a, b int) *Tensor {
	r := len(t.shape)
	i, j := normAxis(a, r), normAxis(b, r)
	if i < 0 || j < 0 {
		panic(fmt.Sprintf("tensor: Transpose(%d, %d) of a rank-%d tensor", a, b, r))
	}
	sh, st := newLayout(r)
	copy(sh, t.shape)
	copy(st, t.strides)
	sh[i], sh[j] = sh[j], sh[i]
	st[i], st[j] = st[j], st[i]
	return t.view(sh, st, t.offset)
}

// Permute returns a view whose dimension i is t's dimension axes[i] (torch.permute); axes
// must name every dimension once, negative axes counting from the end. For example
// x.Permute(0, 2, 1, 3) turns (B, T, H, D) into (B, H, T, D).
func (t *Tensor) Permute(axes ...int) *Tensor {
	r := len(t.shape)
	if len(axes) != r {
		panic(fmt.Sprintf("tensor: Permute(%s) of a rank-%d tensor", fmtArgs(axes...), r))
	}
	sh, st := newLayout(r)
	seen := make([]bool, r)
	for i, a := range axes {
		k := normAxis(a, r)
		if k < 0 || seen[k] {
			panic(fmt.Sprintf("tensor: Permute(%s) of a rank-%d tensor: axes must name each dimension once", fmtArgs(axes...), r))
		}
		seen[k] = true
		sh[i], st[i] = t.shape[k], t.strides[k]
	}
	return t.view(sh, st, t.offset)
}

// Slice returns the view of elements start ≤ i < end along axis (t.narrow(axis, start,
// end-start), or t[..., start:end, ...] in Python), sharing storage. Negative axis counts
// from the end; start and end must satisfy 0 ≤ start ≤ end ≤ Dim(axis) (no negative or
// clamped indices). An empty slice is legal.
func (t *Tensor) Slice(axis, start, end int) *Tensor {
	r := len(t.shape)
	a := normAxis(axis, r)
	if a < 0 {
		panic(fmt.Sprintf("tensor: Slice(%d, %d, %d) of a rank-%d tensor", axis, start, end, r))
	}
	if start < 0 || start > end || end > t.shape[a] {
		panic(fmt.Sprintf("tensor: Slice(%d, %d, %d) of shape %v: need 0 <= start <= end <= %d",
			axis, start, end, t.shape, t.shape[a]))
	}
	sh, st := newLayout(r)
	copy(sh, t.shape)
	copy(st, t.strides)
	sh[a] = end - start
	off := t.offset
	if numel(sh) > 0 {
		// An empty result addresses nothing; keeping the offset keeps it inside the storage.
		off += start * t.strides[a]
	}
	return t.view(sh, st, off)
}

// Squeeze returns a view without size-1 dimensions (torch.squeeze). With no axes it drops
// every size-1 dimension; with axes it drops exactly those, and, unlike PyTorch, which skips
// them silently, panics when one of them does not have size 1 or is out of range.
func (t *Tensor) Squeeze(axes ...int) *Tensor {
	r := len(t.shape)
	drop := make([]bool, r)
	if len(axes) == 0 {
		for i, d := range t.shape {
			drop[i] = d == 1
		}
	}
	for _, ax := range axes {
		a := normAxis(ax, r)
		if a < 0 {
			panic(fmt.Sprintf("tensor: Squeeze(%s) of a rank-%d tensor", fmtArgs(axes...), r))
		}
		if t.shape[a] != 1 {
			panic(fmt.Sprintf("tensor: Squeeze(%s) of shape %v: axis %d has size %d, not 1", fmtArgs(axes...), t.shape, ax, t.shape[a]))
		}
		drop[a] = true
	}
	k := 0
	for _, d := range drop {
		if !d {
			k++
		}
	}
	sh, st := newLayout(k)
	k = 0
	for i := range r {
		if !drop[i] {
			sh[k], st[k] = t.shape[i], t.strides[i]
			k++
		}
	}
	return t.view(sh, st, t.offset)
}

// Unsqueeze returns a view with a size-1 dimension inserted at position axis of the result
// (torch.unsqueeze); axis ranges over [-Rank()-1, Rank()], negative values counting from the
// end of the result, so Unsqueeze(-1) appends a dimension.
func (t *Tensor) Unsqueeze(axis int) *Tensor {
	r := len(t.shape)
	a := normAxis(axis, r+1)
	if a < 0 {
		panic(fmt.Sprintf("tensor: Unsqueeze(%d) of a rank-%d tensor", axis, r))
	}
	stride := 1
	if a < r {
		stride = t.shape[a] * t.strides[a]
	}
	sh, st := newLayout(r + 1)
	copy(sh, t.shape[:a])
	copy(sh[a+1:], t.shape[a:])
	copy(st, t.strides[:a])
	copy(st[a+1:], t.strides[a:])
	sh[a], st[a] = 1, stride
	return t.view(sh, st, t.offset)
}

// Expand returns a view broadcast to shape (torch.Tensor.expand): the shape may add leading
// dimensions, and each size-1 dimension may grow to any size (including 0) with stride 0, so
// every position along it reads the same element. -1 keeps a dimension's size (not allowed
// for the added leading ones). Writes through an expanded view reach all positions that
// share an element; do not write through one unless that is meant.
func (t *Tensor) Expand(shape ...int) *Tensor {
	r := len(t.shape)
	k := len(shape) - r
	bad := func(why string) {
		panic(fmt.Sprintf("tensor: Expand(%s) of shape %v: %s", fmtArgs(shape...), t.shape, why))
	}
	if k < 0 {
		bad("fewer dimensions than the tensor")
	}
	sh, st := newLayout(len(shape))
	for i, d := range shape {
		if i < k {
			if d < 0 {
				bad(fmt.Sprintf("new leading dimension %d must be non-negative", i))
			}
			sh[i], st[i] = d, 0
			continue
		}
		old := t.shape[i-k]
		switch {
		case d == -1 || d == old:
			sh[i], st[i] = old, t.strides[i-k]
		case d < 0:
			bad(fmt.Sprintf("negative size %d", d))
		case old == 1:
			sh[i], st[i] = d, 0
		default:
			bad(fmt.Sprintf("dimension %d of size %d cannot expand to %d", i, old, d))
		}
	}
	if _, why := shapeSize(sh); why != "" {
		panic(fmt.Sprintf("tensor: Expand(%s): %s", fmtArgs(shape...), why))
	}
	return t.view(sh, st, t.offset)
}

// Contiguous returns t itself when it is contiguous and otherwise a compact row-major copy
// (torch.Tensor.contiguous). Follow it with F32 (or a sibling) to read any tensor as a slice.
func (t *Tensor) Contiguous() *Tensor {
	if t.IsContiguous() {
		return t
	}
	return t.compact()
}

// Clone returns a compact row-major copy of t that shares nothing with it (torch.clone, with
// contiguous_format).
func (t *Tensor) Clone() *Tensor { return t.compact() }

// compact copies t's elements into new contiguous storage.
func (t *Tensor) compact() *Tensor {
	u := New(t.dtype, t.shape...)
	switch t.dtype {
	case F32:
		gather(u.f32, t.f32, t.shape, t.strides, t.offset)
	case F64:
		gather(u.f64, t.f64, t.shape, t.strides, t.offset)
	case I32:
		gather(u.i32, t.i32, t.shape, t.strides, t.offset)
	case I8:
		gather(u.i8, t.i8, t.shape, t.strides, t.offset)
	}
	return u
}

// gather copies the strided elements of src (shape, strides, offset off) into dst in
// row-major order; len(dst) is the element count.
func gather[T number](dst, src []T, shape, strides []int, off int) {
	n := len(dst)
	if n == 0 {
		return
	}
	r := len(shape)
	if r == 0 {
		dst[0] = src[off]
		return
	}
	inner, is := shape[r-1], strides[r-1]
	idx := make([]int, r-1)
	pos := off
	for d := 0; d < n; d += inner {
		row := dst[d : d+inner]
		if is == 1 {
			copy(row, src[pos:pos+inner])
		} else {
			p := pos
			for i := range row {
				row[i] = src[p]
				p += is
			}
		}
		for k := r - 2; k >= 0; k-- {
			idx[k]++
			pos += strides[k]
			if idx[k] < shape[k] {
				break
			}
			pos -= idx[k] * strides[k]
			idx[k] = 0
		}
	}
}
