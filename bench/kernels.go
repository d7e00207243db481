package bench

import (
	_ "embed"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
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
// FMA ceiling at the time of the run. Each sample measures every thread count in turn, so
// that when both 1 and 2 threads are asked for, the `scaling/…` lines compare them in the
// same window (the second vCPU of a shared machine comes and goes).
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

	peers := make([]*Peer, len(o.Threads))
	if !o.NoPeer {
		for i, t := range o.Threads {
			p, err := StartPython("openblas", gemmNumpy, nil,
				fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", t), fmt.Sprintf("OMP_NUM_THREADS=%d", t))
			if err != nil {
				logf("%v\n", err)
				break
			}
			peers[i] = p
			logf("peer: %v (threads %d)\n", p.Info["openblas_config"], t)
		}
	}
	defer func() {
		for _, p := range peers {
			p.Close()
		}
	}()

	// series[name][thread index] holds the samples of one figure.
	type series struct{ ours, peer [][]float64 }
	var names []string
	all := map[string]*series{}
	add := func(name string, ti int, ours, peer float64, hasPeer bool) {
		s := all[name]
		if s == nil {
			s = &series{ours: make([][]float64, len(o.Threads)), peer: make([][]float64, len(o.Threads))}
			all[name] = s
			names = append(names, name)
		}
		s.ours[ti] = append(s.ours[ti], ours)
		if hasPeer {
			s.peer[ti] = append(s.peer[ti], peer)
		}
	}

	for range o.Samples {
		for ti, t := range o.Threads {
			add("peak/fma", ti, kernels.PeakGFLOPS(t, o.Sample/2), 0, false)
		}
	}
	for _, sh := range GemmShapes {
		m, k, n := sh[0], sh[1], sh[2]
		logf("gemm %dx%dx%d\n", m, k, n)
		g := newGemmBench(m, k, n)
		name := fmt.Sprintf("%dx%dx%d", m, k, n)
		for range o.Samples {
			for ti, t := range o.Threads {
				kernels.SetThreads(t)
				plain := Rate(o.Sample, g.call) * g.flops / 1e9
				packed := Rate(o.Sample, g.callPacked) * g.flops / 1e9
				var theirs float64
				if p := peers[ti]; p != nil {
					var resp struct{ Gflops float64 }
					if err := p.Call(map[string]any{"op": "gemm", "m": m, "k": k, "n": n, "seconds": o.Sample.Seconds()}, &resp); err != nil {
						logf("%v\n", err)
						p.Close()
						peers[ti] = nil
					}
					theirs = resp.Gflops
				}
				add("gemm/"+name, ti, plain, theirs, peers[ti] != nil)
				add("gemm-prepacked/"+name, ti, packed, theirs, peers[ti] != nil)
			}
		}
	}

	variant := cpu.Current().String()
	notes := map[string]string{
		"peak":    "peak/fma: the " + variant + " GEMM micro-kernel on L1-resident data (the FMA ceiling at the time of the run); with 2 threads it shows whether the second vCPU is a real core",
		"gemm-pr": "gemm-prepacked: B packed once beforehand (weights at load time); the peer computes the same product its usual way",
		"scaling": "scaling/…: median over samples of (figure with N threads / figure with the first thread count), both taken in the same sample; the peer's likewise",
	}
	note := func(name string) string {
		for k, v := range notes {
			if strings.HasPrefix(name, k) {
				return v
			}
		}
		return ""
	}
	var rs []Result
	for ti, t := range o.Threads {
		for _, name := range names {
			s := all[name]
			r := Result{Name: name, Threads: t, Value: Median(s.ours[ti]), Unit: "GFLOP/s", HigherIsBetter: true,
				Samples: len(s.ours[ti]), Note: note(name)}
			if len(s.peer[ti]) == o.Samples {
				r.SetPeerPaired("openblas", s.ours[ti], s.peer[ti])
			}
			rs = append(rs, r)
		}
	}
	// Same-window scaling from the first thread count to each other one.
	for ti := 1; ti < len(o.Threads); ti++ {
		for _, name := range names {
			s := all[name]
			r := Result{Name: "scaling/" + name, Threads: o.Threads[ti], Unit: "x",
				HigherIsBetter: true, Value: Median(ratios(s.ours[ti], s.ours[0])), Samples: len(s.ours[ti]), Note: notes["scaling"]}
			if len(s.peer[ti]) == o.Samples && len(s.peer[0]) == o.Samples {
				r.SetPeer("openblas", Median(ratios(s.peer[ti], s.peer[0])))
			}
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// ratios is num[i]/den[i].
func ratios(num, den []float64) []float64 {
	r := make([]float64, min(len(num), len(den)))
	for i := range r {
		r[i] = num[i] / den[i]
	}
	return r
}

// gemmBench is one product with its operands, through Gemm and through GemmPacked.
type gemmBench struct {
	flops            float64
	call, callPacked func()
}

func newGemmBench(m, k, n int) *gemmBench {
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
	g := &gemmBench{
		flops:      2 * float64(m) * float64(k) * float64(n),
		call:       func() { kernels.Gemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n) },
		callPacked: func() { kernels.GemmPacked(false, m, 1, a, k, pb, 0, c, n) },
	}
	g.call()
	g.callPacked()
	return g
}
