package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/kernels"
)

// The dropout mask depends on the generator's state and the length only: the same with 1 and
// 3 threads, for lengths below, at and across chunk boundaries; it keeps about 1-p of the
// elements, and no two chunks of a large mask repeat each other.
func TestFillMask(t *testing.T) {
	defer kernels.SetThreads(kernels.SetThreads(1))
	for _, n := range []int{1, 7, maskChunk - 1, maskChunk, maskChunk + 3, 5*maskChunk + 17} {
		for _, p := range []float64{0.1, 0.5} {
			kernels.SetThreads(1)
			a := make([]uint8, n)
			fillMask(a, p, rand.New(rand.NewPCG(3, 4)))
			kernels.SetThreads(3)
			b := make([]uint8, n)
			fillMask(b, p, rand.New(rand.NewPCG(3, 4)))
			kept := 0
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("n %d p %v: element %d differs with 3 threads", n, p, i)
				}
				if a[i] > 1 {
					t.Fatalf("n %d: element %d is %d", n, i, a[i])
				}
				kept += int(a[i])
			}
			if n >= 1000 {
				frac, sd := float64(kept)/float64(n), math.Sqrt(p*(1-p)/float64(n))
				if math.Abs(frac-(1-p)) > 6*sd {
					t.Errorf("n %d p %v: kept %.4f, want %.4f ± %.4f", n, p, frac, 1-p, 6*sd)
				}
			}
			if n > 2*maskChunk {
				same := 0
				for i := 0; i < maskChunk; i++ {
					if a[i] == a[maskChunk+i] {
						same++
					}
				}
				if same == maskChunk {
					t.Errorf("n %d: chunks 0 and 1 are the same draws", n)
				}
			}
		}
	}
	// A second call continues the generator: another mask.
	r := rand.New(rand.NewPCG(5, 6))
	a, b := make([]uint8, 3*maskChunk), make([]uint8, 3*maskChunk)
	fillMask(a, 0.5, r)
	fillMask(b, 0.5, r)
	diff := 0
	for i := range a {
		if a[i] != b[i] {
			diff++
		}
	}
	if diff < len(a)/4 {
		t.Errorf("two successive masks differ in %d of %d elements", diff, len(a))
	}
}
