package tensor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// This file checks random sequences of view operations against a reference that knows
// nothing of strides: it keeps, for each element in row-major order, the storage position it
// lives at (addr) and the base element it came from (val), and transforms those lists by
// plain index arithmetic.

// ref is the reference model of a tensor derived from a base tensor.
type ref struct {
	dt    DType
	shape []int
	addr  []int // storage position of each element, row-major
	val   []int // base position whose value the element holds
	alias bool  // addr points into the base's storage
}

func (r *ref) n() int { return len(r.addr) }

// remap builds the reference of a tensor of newShape whose element at idx is the element
// of r at old(idx).
func (r *ref) remap(newShape []int, old func(idx []int) []int) *ref {
	out := &ref{dt: r.dt, shape: slices.Clone(newShape), alias: r.alias}
	forEachIndex(newShape, func(idx []int) {
		k := flatIndex(old(idx), r.shape)
		out.addr = append(out.addr, r.addr[k])
		out.val = append(out.val, r.val[k])
	})
	return out
}

// reshaped keeps the element order and changes the shape.
func (r *ref) reshaped(shape []int) *ref {
	return &ref{dt: r.dt, shape: slices.Clone(shape), addr: r.addr, val: r.val, alias: r.alias}
}

// copied is the reference of a compact copy.
func (r *ref) copied() *ref {
	out := &ref{dt: r.dt, shape: slices.Clone(r.shape), val: r.val}
	for i := range r.addr {
		out.addr = append(out.addr, i)
	}
	return out
}

// contiguous: the elements sit at consecutive positions.
func (r *ref) contiguous() bool {
	for i, a := range r.addr {
		if a != r.addr[0]+i {
			return false
		}
	}
	return true
}

// viewable reports whether some non-negative strides s and offset o put element idx of
// newShape at o + Σ idx·s, as the reference positions require. A unit step along each
// dimension determines its stride; then every element is checked.
func (r *ref) viewable(newShape []int) bool {
	if r.n() == 0 {
		return true
	}
	st := make([]int, len(newShape))
	unit := make([]int, len(newShape))
	for d := range newShape {
		if newShape[d] > 1 {
			unit[d] = 1
			st[d] = r.addr[flatIndex(unit, newShape)] - r.addr[0]
			unit[d] = 0
			if st[d] < 0 {
				return false
			}
		}
	}
	ok := true
	k := 0
	forEachIndex(newShape, func(idx []int) {
		p := r.addr[0]
		for d, x := range idx {
			p += x * st[d]
		}
		if p != r.addr[k] {
			ok = false
		}
		k++
	})
	return ok
}

func normAxisRef(a, rank int) (int, bool) {
	if a < -rank || a >= rank {
		return 0, false
	}
	if a < 0 {
		a += rank
	}
	return a, true
}

// resolveRef resolves a requested shape with at most one -1, independently of inferShape.
func resolveRef(req []int, n int) ([]int, bool) {
	out := slices.Clone(req)
	neg, known := -1, 1
	for i, d := range req {
		if d == -1 {
			if neg >= 0 {
				return nil, false
			}
			neg = i
			continue
		}
		if d < 0 {
			return nil, false
		}
		known *= d
	}
	if neg < 0 {
		return out, known == n
	}
	if known == 0 || n%known != 0 {
		return nil, false
	}
	out[neg] = n / known
	return out, true
}

// valueOf is the value stored at base position p.
func valueOf(dt DType, p int) float64 {
	if dt == I8 {
		return float64(p%100 + 1)
	}
	return float64(p + 1)
}

// checkRef compares a tensor with its reference element by element.
func checkRef(t testing.TB, step string, x *Tensor, r *ref, base *Tensor) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: %s\ntensor %+v\n%v", step, fmt.Sprintf(format, args...), x, r)
	}
	if x.DType() != r.dt {
		fail("dtype %v, want %v", x.DType(), r.dt)
	}
	if !eqInts(x.Shape(), r.shape) || x.Rank() != len(r.shape) {
		fail("shape %v, want %v", x.Shape(), r.shape)
	}
	if x.Len() != r.n() {
		fail("Len %d, want %d", x.Len(), r.n())
	}
	st := x.Strides()
	if len(st) != len(r.shape) {
		fail("%d strides for rank %d", len(st), len(r.shape))
	}
	for _, s := range st {
		if s < 0 {
			fail("negative stride")
		}
	}
	if x.IsContiguous() != r.contiguous() {
		fail("IsContiguous %v, reference says %v", x.IsContiguous(), r.contiguous())
	}
	size, _ := storageOf(x)
	if x.offset < 0 || x.offset > size {
		fail("offset %d outside [0, %d]", x.offset, size)
	}
	k := 0
	forEachIndex(r.shape, func(idx []int) {
		p := x.offset
		for d, i := range idx {
			p += i * st[d]
		}
		if p != r.addr[k] {
			fail("element %v at storage %d, want %d", idx, p, r.addr[k])
		}
		if p < 0 || p >= size {
			fail("element %v at storage %d outside [0, %d)", idx, p, size)
		}
		if got, want := x.At(idx...), valueOf(base.dtype, r.val[k]); got != want {
			fail("At%v = %v, want %v", idx, got, want)
		}
		k++
	})
	if x.IsContiguous() {
		got := flatData(x)
		if len(got) != r.n() {
			fail("typed data has %d elements, want %d", len(got), r.n())
		}
		for i, v := range got {
			if want := valueOf(base.dtype, r.val[i]); v != want {
				fail("typed data[%d] = %v, want %v", i, v, want)
			}
		}
	}
	if r.alias && r.n() > 0 && !sameStorage(x, base) {
		fail("lost the base's storage")
	}
	if !r.alias && sameStorage(x, base) {
		fail("shares the base's storage after a copy")
	}
}

// byteSrc turns fuzz input into small choices; it yields zeros once exhausted.
type byteSrc struct {
	b []byte
	i int
}

func (s *byteSrc) next() int {
	if s.i >= len(s.b) {
		return 0
	}
	s.i++
	return int(s.b[s.i-1])
}

func (s *byteSrc) intn(n int) int { return s.next() % n }

// axis returns an axis in [-rank-1, rank+1], so out-of-range axes occur.
func (s *byteSrc) axis(rank int) int { return s.intn(2*rank+3) - rank - 1 }

// genShape returns a shape that usually holds n elements, sometimes with a -1 and
// sometimes wrong.
func (s *byteSrc) genShape(n int) []int {
	rank := s.intn(5)
	shape := make([]int, rank)
	rem := n
	for i := range shape {
		if i == rank-1 {
			shape[i] = rem
			break
		}
		if rem == 0 {
			shape[i] = s.intn(4)
			continue
		}
		var divs []int
		for d := 1; d <= rem; d++ {
			if rem%d == 0 {
				divs = append(divs, d)
			}
		}
		shape[i] = divs[s.intn(len(divs))]
		rem /= shape[i]
	}
	switch c := s.intn(8); {
	case rank > 0 && c < 3:
		shape[s.intn(rank)] = -1
	case rank > 0 && c == 3:
		shape[s.intn(rank)] += s.intn(3) - 1 // may be wrong, or -1, or fine
	case rank > 1 && c == 4:
		shape[0], shape[1] = -1, -1
	}
	return shape
}

// runViewProgram builds a base tensor from the input, applies a sequence of view operations
// chosen by the input, and checks every intermediate result against the reference. An
// operation the reference deems invalid must panic with "tensor: <Op>(", and a valid one must
// not panic.
func runViewProgram(t testing.TB, input []byte) {
	s := &byteSrc{b: input}
	dt := allDTypes[s.intn(len(allDTypes))]
	shape := make([]int, s.intn(5))
	for i := range shape {
		if b := s.next(); b%8 == 0 {
			shape[i] = 0
		} else {
			shape[i] = 1 + b%4
		}
	}
	base := New(dt, shape...)
	r := &ref{dt: dt, shape: slices.Clone(shape), alias: true}
	for i := range base.Len() {
		r.addr = append(r.addr, i)
		r.val = append(r.val, i)
		switch dt {
		case F32:
			base.f32[i] = float32(valueOf(dt, i))
		case F64:
			base.f64[i] = valueOf(dt, i)
		case I32:
			base.i32[i] = int32(valueOf(dt, i))
		case I8:
			base.i8[i] = int8(valueOf(dt, i))
		}
	}
	snapshot := values(base)
	x := base
	checkRef(t, "base", x, r, base)
	var trace []string

	nops := s.intn(16)
	for range nops {
		var (
			name  string
			args  string
			valid bool
			call  func() *Tensor
			want  func() *ref
		)
		rank := len(r.shape)
		switch op := s.intn(11); op {
		case 0:
			a, b := s.axis(rank), s.axis(rank)
			name, args = "Transpose", fmt.Sprint(a, b)
			i, ok1 := normAxisRef(a, rank)
			j, ok2 := normAxisRef(b, rank)
			valid = ok1 && ok2
			call = func() *Tensor { return x.Transpose(a, b) }
			want = func() *ref {
				sh := slices.Clone(r.shape)
				sh[i], sh[j] = sh[j], sh[i]
				return r.remap(sh, func(idx []int) []int {
					o := slices.Clone(idx)
					o[i], o[j] = o[j], o[i]
					return o
				})
			}
		case 1:
			perm := make([]int, rank)
			for i := range perm {
				perm[i] = i
			}
			for i := rank - 1; i > 0; i-- {
				j := s.intn(i + 1)
				perm[i], perm[j] = perm[j], perm[i]
			}
			axes := slices.Clone(perm)
			for i := range axes {
				if s.intn(3) == 0 {
					axes[i] -= rank
				}
			}
			switch c := s.intn(10); {
			case c == 0 && rank > 0:
				axes[s.intn(rank)] = s.axis(rank)
			case c == 1:
				axes = append(axes, s.axis(rank))
			}
			name, args = "Permute", fmt.Sprint(axes)
			valid = len(axes) == rank
			seen := map[int]bool{}
			for _, a := range axes {
				k, ok := normAxisRef(a, rank)
				valid = valid && ok && !seen[k]
				seen[k] = true
			}
			call = func() *Tensor { return x.Permute(axes...) }
			want = func() *ref {
				sh := make([]int, rank)
				for i, a := range axes {
					k, _ := normAxisRef(a, rank)
					sh[i] = r.shape[k]
				}
				return r.remap(sh, func(idx []int) []int {
					o := make([]int, rank)
					for i, a := range axes {
						k, _ := normAxisRef(a, rank)
						o[k] = idx[i]
					}
					return o
				})
			}
		case 2:
			a := s.axis(rank)
			k, ok := normAxisRef(a, rank)
			dim := 3
			if ok {
				dim = r.shape[k]
			}
			start := s.intn(dim+2) - s.intn(2)
			end := start + s.intn(dim+2) - s.intn(2)
			name, args = "Slice", fmt.Sprint(a, start, end)
			valid = ok && start >= 0 && start <= end && end <= dim
			call = func() *Tensor { return x.Slice(a, start, end) }
			want = func() *ref {
				sh := slices.Clone(r.shape)
				sh[k] = end - start
				return r.remap(sh, func(idx []int) []int {
					o := slices.Clone(idx)
					o[k] += start
					return o
				})
			}
		case 3, 4:
			req := s.genShape(r.n())
			ns, ok := resolveRef(req, r.n())
			if op == 3 {
				name = "View"
				valid = ok && r.viewable(ns)
				call = func() *Tensor { return x.View(req...) }
				want = func() *ref { return r.reshaped(ns) }
			} else {
				name = "Reshape"
				valid = ok
				call = func() *Tensor { return x.Reshape(req...) }
				want = func() *ref {
					if r.viewable(ns) {
						return r.reshaped(ns)
					}
					return r.copied().reshaped(ns)
				}
			}
			args = fmt.Sprint(req)
		case 5:
			name, valid = "Contiguous", true
			call = func() *Tensor { return x.Contiguous() }
			want = func() *ref {
				if r.contiguous() {
					return r
				}
				return r.copied()
			}
		case 6:
			name, valid = "Clone", true
			call = func() *Tensor { return x.Clone() }
			want = func() *ref { return r.copied() }
		case 7:
			var axes []int
			for range s.intn(3) {
				axes = append(axes, s.axis(rank))
			}
			name, args = "Squeeze", fmt.Sprint(axes)
			valid = true
			drop := make([]bool, rank)
			for _, a := range axes {
				k, ok := normAxisRef(a, rank)
				valid = valid && ok && r.shape[k] == 1
				if ok {
					drop[k] = true
				}
			}
			if len(axes) == 0 {
				for i, d := range r.shape {
					drop[i] = d == 1
				}
			}
			call = func() *Tensor { return x.Squeeze(axes...) }
			want = func() *ref {
				sh := []int{}
				for i, d := range r.shape {
					if !drop[i] {
						sh = append(sh, d)
					}
				}
				return r.reshaped(sh)
			}
		case 8:
			a := s.axis(rank + 1)
			name, args = "Unsqueeze", fmt.Sprint(a)
			k, ok := normAxisRef(a, rank+1)
			valid = ok
			call = func() *Tensor { return x.Unsqueeze(a) }
			want = func() *ref { return r.reshaped(slices.Insert(slices.Clone(r.shape), k, 1)) }
		case 9:
			lead := s.intn(3)
			req := make([]int, 0, lead+rank)
			for range lead {
				req = append(req, s.intn(4))
			}
			for _, d := range r.shape {
				switch c := s.intn(8); {
				case c == 0:
					req = append(req, -1)
				case d == 1 && c < 5:
					req = append(req, s.intn(4))
				case c == 7:
					req = append(req, s.intn(5)-1) // often wrong
				default:
					req = append(req, d)
				}
			}
			if s.intn(10) == 0 && len(req) > 0 {
				req = req[1:] // may drop below the rank
			}
			name, args = "Expand", fmt.Sprint(req)
			k := len(req) - rank
			valid = k >= 0
			ns := make([]int, len(req))
			size := 1
			for i, d := range req {
				switch {
				case !valid:
				case i < k:
					valid = d >= 0
					ns[i] = d
				case d == -1 || d == r.shape[i-k]:
					ns[i] = r.shape[i-k]
				default:
					valid = d >= 0 && r.shape[i-k] == 1
					ns[i] = d
				}
				size *= max(ns[i], 1)
			}
			if valid && size > 4096 {
				continue // keep the reference small
			}
			call = func() *Tensor { return x.Expand(req...) }
			want = func() *ref {
				return r.remap(ns, func(idx []int) []int {
					o := make([]int, rank)
					for j := range o {
						if r.shape[j] != 1 {
							o[j] = idx[j+k]
						}
					}
					return o
				})
			}
		case 10:
			to := []DType{F32, F64, I32, r.dt}[s.intn(4)]
			if base.dtype == I8 && s.intn(2) == 0 {
				to = I8
			}
			name, args, valid = "To", to.String(), true
			call = func() *Tensor { return x.To(to) }
			want = func() *ref {
				c := r.copied()
				c.dt = to
				return c
			}
		}
		step := fmt.Sprintf("%v %s(%s)", trace, name, args)
		var y *Tensor
		msg, panicked := catch(t, func() { y = call() })
		switch {
		case valid && panicked:
			t.Fatalf("%s: unexpected panic %q on %+v", step, msg, x)
		case !valid && !panicked:
			t.Fatalf("%s: no panic on %+v, got %+v", step, x, y)
		case !valid:
			if prefix := "tensor: " + name + "("; len(msg) < len(prefix) || msg[:len(prefix)] != prefix {
				t.Fatalf("%s: panic %q lacks prefix %q", step, msg, prefix)
			}
			continue
		}
		trace = append(trace, name+"("+args+")")
		r = want()
		x = y
		checkRef(t, step, x, r, base)
	}

	// Writes: through an aliasing view they reach the base (and every element sharing the
	// position); through a copy they leave the base alone.
	if got := values(base); !eqFloats(got, snapshot) {
		t.Fatalf("%v: base changed without a write", trace)
	}
	if r.n() == 0 {
		return
	}
	k := s.intn(r.n())
	idx := make([]int, len(r.shape))
	rem := k
	for d := len(r.shape) - 1; d >= 0; d-- {
		idx[d] = rem % r.shape[d]
		rem /= r.shape[d]
	}
	const marker = -7
	x.Set(marker, idx...)
	j := 0
	forEachIndex(r.shape, func(i []int) {
		want := valueOf(base.dtype, r.val[j])
		if r.addr[j] == r.addr[k] {
			want = marker
		}
		if got := x.At(i...); got != want {
			t.Fatalf("%v: after Set%v, At%v = %v, want %v", trace, idx, i, got, want)
		}
		j++
	})
	for p, v := range values(base.View(-1)) {
		want := snapshot[p]
		if r.alias && p == r.addr[k] {
			want = marker
		}
		if v != want {
			t.Fatalf("%v: after Set%v through a view (alias %v), base[%d] = %v, want %v", trace, idx, r.alias, p, v, want)
		}
	}
}

func TestViewPrograms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 4000
	if testing.Short() {
		n = 500
	}
	buf := make([]byte, 96)
	for range n {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		runViewProgram(t, buf)
	}
}

func FuzzViews(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 3, 2, 3, 4, 5, 6, 0, 1, 2, 3, 3, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{1, 2, 2, 3, 8, 0, 0, 0, 0})
	f.Add([]byte{2, 4, 1, 2, 3, 4, 9, 10, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 16 {
		b := make([]byte, 64)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 512 {
			b = b[:512]
		}
		runViewProgram(t, b)
	})
}
