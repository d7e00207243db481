package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool. A kernel cuts its output into a fixed number of parts that do not depend on
// who runs them, then calls parallel: the caller and any idle workers take parts in turn
// until none is left. The caller never waits for a worker to start, so a busy or slow-to-wake
// worker costs nothing but its share, concurrent callers cannot deadlock, and the results are
// the same whoever ran which part.

var (
	threads  atomic.Int32
	poolMu   sync.Mutex
	poolSize int                   // worker goroutines started (they never exit)
	poolJobs = make(chan *job, 64) // wake-ups; a full channel just means fewer helpers
)

type job struct {
	fn   func(part int)
	n    int
	next atomic.Int64 // next part to take
	done sync.WaitGroup
}

// work takes parts until none is left.
func (j *job) work() {
	for {
		i := int(j.next.Add(1)) - 1
		if i >= j.n {
			return
		}
		j.fn(i)
		j.done.Done()
	}
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

// spinFor is how long an idle worker keeps polling for the next job before it parks. Waking
// a parked goroutine on an idle P takes tens of microseconds, as long as a whole decoding-step
// product; back-to-back kernels (a model's forward pass) keep the workers spinning instead.
const spinFor = 200 * time.Microsecond

func worker() {
	for {
		var j *job
		for t0 := time.Now(); j == nil && time.Since(t0) < spinFor; {
			select {
			case j = <-poolJobs:
			default:
				runtime.Gosched()
			}
		}
		if j == nil {
			j = <-poolJobs
		}
		j.work()
	}
}

// parallel runs fn(0), …, fn(n-1), spread over the calling goroutine and up to n-1 workers,
// and returns when all are done. fn must not call parallel itself.
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
	j := &job{fn: fn, n: n}
	j.done.Add(n)
	for i := 0; i < n-1; i++ {
		select {
		case poolJobs <- j:
		default:
		}
	}
	j.work()
	j.done.Wait()
}

// split returns the start of part i when n items are cut into `parts` nearly equal parts,
// the first ones one item longer.
func split(n, parts, i int) int {
	q, r := n/parts, n%parts
	return i*q + min(i, r)
}

// ParallelFor runs fn over [0, n) cut into contiguous ranges, on up to Threads() threads, when
// there is at least `grain` items per thread; otherwise fn(0, n) runs on the caller. The
// ranges depend only on n, grain and the thread count, and fn must compute each item the same
// whatever range it arrives in, so results do not depend on the thread count.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	t := min(Threads(), n/max(grain, 1))
	if t <= 1 {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	parallel(t, func(i int) { fn(split(n, t, i), split(n, t, i+1)) })
}
