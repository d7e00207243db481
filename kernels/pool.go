package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool. Kernels cut their output into parts and run them with parallel; the caller
// runs part 0 itself so a one-thread pool costs nothing.

var (
	threads   atomic.Int32
	poolMu    sync.Mutex
	poolSize  int // goroutines started (they never exit)
	poolTasks = make(chan task)
)

type task struct {
	fn func(part int)
	i  int
	wg *sync.WaitGroup
}

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many threads multi-threaded kernels use (at least 1) and returns the
// previous value. Results do not depend on it. The default is GOMAXPROCS at start-up.
func SetThreads(n int) int {
	if n < 1 {
		n = 1
	}
	return int(threads.Swap(int32(n)))
}

// Threads is the number of threads multi-threaded kernels use.
func Threads() int { return int(threads.Load()) }

func worker() {
	for t := range poolTasks {
		t.fn(t.i)
		t.wg.Done()
	}
}

// parallel runs fn(0), …, fn(n-1) concurrently, fn(0) on the calling goroutine, and returns
// when all are done.
func parallel(n int, fn func(part int)) {
	if n <= 1 {
		if n == 1 {
			fn(0)
		}
		return
	}
	poolMu.Lock()
	for poolSize < n-1 {
		go worker()
		poolSize++
	}
	poolMu.Unlock()
	var wg sync.WaitGroup
	for i := 1; i < n; i++ {
		wg.Add(1)
		select {
		case poolTasks <- task{fn: fn, i: i, wg: &wg}:
		default:
			// Every worker is busy (another caller, or a nested call): run the part here
			// rather than wait, so concurrent callers can never deadlock.
			fn(i)
			wg.Done()
		}
	}
	fn(0)
	wg.Wait()
}

// split returns the start of part i when n items are cut into `parts` nearly equal parts,
// the first ones one item longer.
func split(n, parts, i int) int {
	q, r := n/parts, n%parts
	return i*q + min(i, r)
}
