package tensor

import (
	"sync"

	"github.com/optiformer/optiformer/kernels"
)

// A recycling pool for the storage of large float tensors. Model code that knows a
// temporary is dead (an activation consumed at inference, a gradient Backward is done with)
// hands it back with Release; New then reuses the storage instead of asking the runtime for
// fresh memory, which for tensors of megabytes costs page faults and zeroing on every layer.

const (
	poolMinElems  = 1 << 14   // smaller tensors are cheap to allocate
	poolMaxBytes  = 512 << 20 // the most the pool holds
	poolPerLength = 8         // buffers kept per exact length
)

var pool struct {
	sync.Mutex
	f32   map[int][][]float32
	f64   map[int][][]float64
	bytes int
}

// Release gives the storage of t back for reuse by New. The caller guarantees that nothing
// else refers to t or any view of it any more: t must not be used after Release. Tensors that
// are views, small, or of other dtypes are left to the garbage collector.
func Release(t *Tensor) {
	if t == nil || t.offset != 0 {
		return
	}
	pool.Lock()
	defer pool.Unlock()
	switch t.dtype {
	case F32:
		n := cap(t.f32)
		if n < poolMinElems || n != numel(t.shape) || pool.bytes+4*n > poolMaxBytes || len(pool.f32[n]) >= poolPerLength {
			return
		}
		if pool.f32 == nil {
			pool.f32 = map[int][][]float32{}
		}
		pool.f32[n] = append(pool.f32[n], t.f32[:n])
		pool.bytes += 4 * n
	case F64:
		n := cap(t.f64)
		if n < poolMinElems || n != numel(t.shape) || pool.bytes+8*n > poolMaxBytes || len(pool.f64[n]) >= poolPerLength {
			return
		}
		if pool.f64 == nil {
			pool.f64 = map[int][][]float64{}
		}
		pool.f64[n] = append(pool.f64[n], t.f64[:n])
		pool.bytes += 8 * n
	default:
		return
	}
	t.f32, t.f64 = nil, nil // a use after Release fails loudly instead of corrupting
}

// reuse32 returns a recycled buffer of exactly n floats, or nil; zeroed when zero is set.
func reuse32(n int, zero bool) []float32 {
	if n < poolMinElems {
		return nil
	}
	pool.Lock()
	bufs := pool.f32[n]
	if len(bufs) == 0 {
		pool.Unlock()
		return nil
	}
	b := bufs[len(bufs)-1]
	pool.f32[n] = bufs[:len(bufs)-1]
	pool.bytes -= 4 * n
	pool.Unlock()
	if zero {
		clearParallel(b)
	}
	return b
}

// clearParallel zeroes b, large buffers on all the kernel threads (zeroing a recycled
// gradient of megabytes is otherwise a serial pause in a parallel step).
func clearParallel[T float32 | float64](b []T) {
	const grain = 1 << 17
	if len(b) < 2*grain {
		clear(b)
		return
	}
	kernels.ParallelFor(len(b), grain, func(lo, hi int) { clear(b[lo:hi]) })
}

func reuse64(n int, zero bool) []float64 {
	if n < poolMinElems {
		return nil
	}
	pool.Lock()
	bufs := pool.f64[n]
	if len(bufs) == 0 {
		pool.Unlock()
		return nil
	}
	b := bufs[len(bufs)-1]
	pool.f64[n] = bufs[:len(bufs)-1]
	pool.bytes -= 8 * n
	pool.Unlock()
	if zero {
		clearParallel(b)
	}
	return b
}
