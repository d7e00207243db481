package kernels

import (
	"sync"
	"time"
)

// PeakGFLOPS measures the fp32 throughput of the current variant's tallest GEMM micro-kernel
// on operands that stay in L1, run on `threads` goroutines at once for about d, and returns
// the total GFLOP/s. It is the practical FMA ceiling of the machine at that moment: on a
// shared machine it moves, and with two threads it shows whether the second vCPU is a real
// core. Benchmarks print it beside their figures.
func PeakGFLOPS(threads int, d time.Duration) float64 {
	ks := gemmKernels.Get()
	m, kc := ks.mr, 256
	flopsPerCall := 2 * m * ks.width * kc
	var wg sync.WaitGroup
	rates := make([]float64, threads)
	start := make(chan struct{})
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := alignedFloats(m * kc)
			b := alignedFloats(kc * panelWidth)
			c := alignedFloats(m * panelWidth)
			for i := range a {
				a[i] = 1e-3
			}
			for i := range b {
				b[i] = 1e-3
			}
			f := ks.edge[m]
			<-start
			calls := 0
			t0 := time.Now()
			for time.Since(t0) < d {
				for i := 0; i < 1000; i++ {
					f(kc, &a[0], &b[0], kc*panelWidth, &c[0], panelWidth, 1, 1, ks.width)
				}
				calls += 1000
			}
			rates[w] = float64(calls) * float64(flopsPerCall) / time.Since(t0).Seconds() / 1e9
		}()
	}
	close(start)
	wg.Wait()
	var total float64
	for _, r := range rates {
		total += r
	}
	return total
}
