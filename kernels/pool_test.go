package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestParallelRunsEveryPartOnce(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 17, 100} {
		counts := make([]atomic.Int32, n)
		parallel(n, func(i int) { counts[i].Add(1) })
		for i := range counts {
			if c := counts[i].Load(); c != 1 {
				t.Fatalf("n=%d: part %d ran %d times", n, i, c)
			}
		}
	}
}

// Many goroutines calling parallel at once must all finish (no deadlock when the workers are
// busy with someone else's parts).
func TestParallelConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				parallel(4, func(i int) { total.Add(int64(i + 1)) })
			}
		}()
	}
	wg.Wait()
	if want := int64(16 * 200 * 10); total.Load() != want {
		t.Fatalf("total %d, want %d", total.Load(), want)
	}
}

func TestSplit(t *testing.T) {
	for n := 0; n < 50; n++ {
		for parts := 1; parts < 9; parts++ {
			if split(n, parts, 0) != 0 || split(n, parts, parts) != n {
				t.Fatalf("split(%d, %d) does not cover [0, n)", n, parts)
			}
			for i := 0; i < parts; i++ {
				size := split(n, parts, i+1) - split(n, parts, i)
				if size < n/parts || size > n/parts+1 {
					t.Fatalf("split(%d, %d) part %d has %d items", n, parts, i, size)
				}
			}
		}
	}
	if prev := SetThreads(0); Threads() != 1 {
		t.Fatalf("SetThreads(0) gave %d threads, want 1", Threads())
	} else {
		SetThreads(prev)
	}
}

func TestParallelFor(t *testing.T) {
	defer SetThreads(SetThreads(3))
	for _, n := range []int{0, 1, 5, 100, 1000} {
		for _, grain := range []int{0, 1, 10, 1000} {
			seen := make([]atomic.Int32, n)
			ParallelFor(n, grain, func(lo, hi int) {
				for i := lo; i < hi; i++ {
					seen[i].Add(1)
				}
			})
			for i := range seen {
				if seen[i].Load() != 1 {
					t.Fatalf("n=%d grain=%d: item %d seen %d times", n, grain, i, seen[i].Load())
				}
			}
		}
	}
}
