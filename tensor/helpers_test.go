package tensor

import (
	"fmt"
	"strings"
	"testing"
	"unsafe"
)

// mustPanic asserts that f panics with a string message starting with prefix (which should
// itself start with "tensor: ") and returns the message.
func mustPanic(t testing.TB, prefix string, f func()) string {
	t.Helper()
	if !strings.HasPrefix(prefix, "tensor: ") {
		t.Fatalf("mustPanic: prefix %q lacks the package prefix", prefix)
	}
	r, panicked := func() (r any, panicked bool) {
		defer func() {
			if r = recover(); r != nil {
				panicked = true
			}
		}()
		f()
		return nil, false
	}()
	if !panicked {
		t.Fatalf("no panic, want one starting with %q", prefix)
	}
	s, ok := r.(string)
	if !ok {
		t.Fatalf("panic with %T %v, want a string starting with %q", r, r, prefix)
	}
	if !strings.HasPrefix(s, prefix) {
		t.Fatalf("panic %q, want prefix %q", s, prefix)
	}
	return s
}

// catch runs f and returns its panic message, if any. Panics that are not strings with the
// package prefix (runtime errors, index out of range) are reported as failures.
func catch(t testing.TB, f func()) (msg string, panicked bool) {
	t.Helper()
	defer func() {
		t.Helper()
		if r := recover(); r != nil {
			s, ok := r.(string)
			if !ok || !strings.HasPrefix(s, "tensor: ") {
				t.Fatalf("undocumented panic: %v", r)
			}
			msg, panicked = s, true
		}
	}()
	f()
	return "", false
}

// forEachIndex calls f with every index of shape in row-major order (once, with an empty
// index, for a scalar). f must not keep idx.
func forEachIndex(shape []int, f func(idx []int)) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	idx := make([]int, len(shape))
	for k := 0; k < n; k++ {
		f(idx)
		for d := len(shape) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// flatIndex is the row-major position of idx in shape.
func flatIndex(idx, shape []int) int {
	p := 0
	for d, x := range idx {
		p = p*shape[d] + x
	}
	return p
}

// storageLen returns the length of t's storage and a pointer identifying it (nil if empty).
func storageOf(t *Tensor) (int, unsafe.Pointer) {
	switch t.dtype {
	case F32:
		return len(t.f32), unsafe.Pointer(unsafe.SliceData(t.f32))
	case F64:
		return len(t.f64), unsafe.Pointer(unsafe.SliceData(t.f64))
	case I32:
		return len(t.i32), unsafe.Pointer(unsafe.SliceData(t.i32))
	case I8:
		return len(t.i8), unsafe.Pointer(unsafe.SliceData(t.i8))
	}
	panic("bad dtype")
}

// sameStorage reports whether a and b share a non-empty storage.
func sameStorage(a, b *Tensor) bool {
	na, pa := storageOf(a)
	nb, pb := storageOf(b)
	return na > 0 && nb > 0 && pa == pb
}

// rawAt reads storage position p as float64, bypassing the tensor's layout.
func rawAt(t *Tensor, p int) float64 {
	switch t.dtype {
	case F32:
		return float64(t.f32[p])
	case F64:
		return t.f64[p]
	case I32:
		return float64(t.i32[p])
	case I8:
		return float64(t.i8[p])
	}
	panic("bad dtype")
}

// flatData returns the contiguous data of t as float64 through the typed accessor.
func flatData(t *Tensor) []float64 {
	var out []float64
	switch t.dtype {
	case F32:
		for _, v := range t.F32() {
			out = append(out, float64(v))
		}
	case F64:
		out = append(out, t.F64()...)
	case I32:
		for _, v := range t.I32() {
			out = append(out, float64(v))
		}
	case I8:
		for _, v := range t.I8() {
			out = append(out, float64(v))
		}
	}
	return out
}

// values returns all elements of t in row-major order through At.
func values(t *Tensor) []float64 {
	var out []float64
	forEachIndex(t.Shape(), func(idx []int) { out = append(out, t.At(idx...)) })
	return out
}

func eqFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(a[i] != a[i] && b[i] != b[i]) {
			return false
		}
	}
	return true
}

func eqInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var allDTypes = []DType{F32, F64, I32, I8}

func (r *ref) String() string {
	return fmt.Sprintf("ref%v addr=%v alias=%v", r.shape, r.addr, r.alias)
}

// contiguousStrides returns the row-major strides of shape.
func contiguousStrides(shape []int) []int {
	st := make([]int, len(shape))
	fillContiguousStrides(st, shape)
	return st
}
