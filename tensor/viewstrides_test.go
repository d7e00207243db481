package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestViewStridesArbitraryLayouts checks viewStrides (PyTorch's computeStride) against the
// brute-force reference on layouts with arbitrary strides, including zero and overlapping
// ones that no sequence of views produces: it must find strides exactly when some exist.
func TestViewStridesArbitraryLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var nyes, nno int
	for it := range 20000 {
		rank := rng.IntN(4)
		shape, strides := make([]int, rank), make([]int, rank)
		for i := range shape {
			shape[i] = 1 + rng.IntN(4)
			strides[i] = rng.IntN(13)
		}
		n := numel(shape)
		r := &ref{shape: shape}
		forEachIndex(shape, func(idx []int) {
			p := 0
			for d, x := range idx {
				p += x * strides[d]
			}
			r.addr = append(r.addr, p)
		})
		src := &byteSrc{b: []byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())}}
		req := src.genShape(n)
		ns, ok := resolveRef(req, n)
		if !ok {
			continue
		}
		st := make([]int, len(ns))
		got := viewStrides(shape, strides, ns, st)
		if got {
			nyes++
		} else {
			nno++
		}
		if want := r.viewable(ns); got != want {
			t.Fatalf("#%d: shape %v strides %v -> %v: viewStrides found %v, reference %v", it, shape, strides, ns, got, want)
		}
		if !got {
			continue
		}
		k := 0
		forEachIndex(ns, func(idx []int) {
			p := 0
			for d, x := range idx {
				p += x * st[d]
			}
			if p != r.addr[k] {
				t.Fatalf("#%d: shape %v strides %v -> %v strides %v: element %v at %d, want %d", it, shape, strides, ns, st, idx, p, r.addr[k])
			}
			k++
		})
	}
	t.Logf("viewable %d, not viewable %d", nyes, nno)
	if nyes < 1000 || nno < 1000 {
		t.Fatalf("too few cases of one kind: %d viewable, %d not", nyes, nno)
	}
}
