package bench

import (
	_ "embed"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/kernels"
)

//go:embed gemm_numpy.py
var gemmNumpy string

// GemmShapes are the M×K×N products `bench kernels` measures: a square reference, the
// projections and FFN layers of a BERT-base-sized model over 128 tokens, and the same for one
// decoding step.
var GemmShapes = [][3]int{{512, 512, 512}, {128, 768, 768}, {128, 768, 3072}, {128, 3072, 768}, {1, 768, 768}, {1, 768, 3072}}

// KernelOptions configure Kernels.
type KernelOptions struct {
	Threads []int         // thread counts to measure (default 1 and 2)
	Samples int           // samples per figure (default 7)
	Sample  time.Duration // length of one sample (default 100ms)
	NoPeer  bool          // skip the OpenBLAS peer
	Log     io.Writer     // progress and peer problems (may be nil)
}

// Kernels measures fp32 GEMM (with per-call packing, and with B prepacked) for GemmShapes,
// beside numpy/OpenBLAS with the same thread count when it is installed, plus the machine's
// FMA ceiling at the time of the run.
func Kernels(o KernelOptions) ([]Result, error) {
	if len(o.Threads) == 0 {
		o.Threads = []int{1, 2}
	}
	if o.Samples <= 0 {
		o.Samples = 7
	}
	if o.Sample <= 0 {
		o.Sample = 100 * time.Millisecond
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, a...)
		}
	}
	prev := kernels.SetThreads(1)
	defer kernels.SetThreads(prev)
	variant := cpu.Current().String()

	var rs []Result
	for _, t := range o.Threads {
		var peer *Peer
		if !o.NoPeer {
			p, err := StartPython("openblas", gemmNumpy,
				fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", t), fmt.Sprintf("OMP_NUM_THREADS=%d", t))
			if err != nil {
				logf("%v\n", err)
			} else {
				peer = p
				logf("peer: %v (threads %d)\n", p.Info["openblas_config"], t)
			}
		}
		kernels.SetThreads(t)
		var peaks []float64
		for range o.Samples {
			peaks = append(peaks, kernels.PeakGFLOPS(t, o.Sample/2))
		}
		rs = append(rs, Result{Name: "peak/fma", Threads: t, Value: Median(peaks), Unit: "GFLOP/s",
			HigherIsBetter: true, Samples: len(peaks),
			Note: "peak/fma: the " + variant + " micro-kernel on L1-resident data; with 2 threads it shows whether the second vCPU is a real core"})
		for _, sh := range GemmShapes {
			m, k, n := sh[0], sh[1], sh[2]
			logf("gemm %dx%dx%d, %d thread(s)\n", m, k, n, t)
			r, rp, err := benchGemm(m, k, n, t, o, peer)
			if err != nil {
				logf("%v\n", err)
				peer.Close()
				peer = nil
			}
			rs = append(rs, r, rp)
		}
		peer.Close()
	}
	return rs, nil
}

func benchGemm(m, k, n, threads int, o KernelOptions, peer *Peer) (plain, packed Result, err error) {
	rng := rand.New(rand.NewPCG(1, 2))
	a := make([]float32, m*k)
	b := make([]float32, k*n)
	c := make([]float32, m*n)
	for i := range a {
		a[i] = float32(rng.NormFloat64())
	}
	for i := range b {
		b[i] = float32(rng.NormFloat64())
	}
	pb := kernels.PackB(false, k, n, b, n)
	flops := 2 * float64(m) * float64(k) * float64(n)
	call := func() { kernels.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) }
	callPacked := func() { kernels.GemmPacked(false, m, 1, a, k, pb, 0, c, n) }
	call()
	callPacked()
	var ours, oursPacked, theirs []float64
	for range o.Samples {
		ours = append(ours, Rate(o.Sample, call)*flops/1e9)
		oursPacked = append(oursPacked, Rate(o.Sample, callPacked)*flops/1e9)
		if peer != nil && err == nil {
			var resp struct{ Gflops float64 }
			err = peer.Call(map[string]any{"op": "gemm", "m": m, "k": k, "n": n, "seconds": o.Sample.Seconds()}, &resp)
			theirs = append(theirs, resp.Gflops)
		}
	}
	name := fmt.Sprintf("%dx%dx%d", m, k, n)
	plain = Result{Name: "gemm/" + name, Threads: threads, Value: Median(ours), Unit: "GFLOP/s", HigherIsBetter: true, Samples: len(ours)}
	packed = Result{Name: "gemm-prepacked/" + name, Threads: threads, Value: Median(oursPacked), Unit: "GFLOP/s", HigherIsBetter: true, Samples: len(oursPacked),
		Note: "gemm-prepacked: B packed once beforehand (weights at load time); the peer computes the same product its usual way"}
	if peer != nil && err == nil {
		pv := Median(theirs)
		plain.SetPeer("openblas", pv)
		packed.SetPeer("openblas", pv)
	}
	return plain, packed, err
}
