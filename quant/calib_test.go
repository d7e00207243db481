package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func histOf(xs []float64, amax float64) []float64 {
	h := make([]float64, histBins)
	for _, x := range xs {
		h[min(histBins-1, int(math.Abs(x)/(amax/histBins)))]++
	}
	return h
}

// The thresholds on distributions whose answer is known.
func TestThresholds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	// Uniform magnitudes: clipping only loses, so entropy keeps (nearly) everything.
	u := make([]float64, 200000)
	for i := range u {
		u[i] = r.Float64()
	}
	if thr := entropyThreshold(histOf(u, 1), 1); thr < 0.9 {
		t.Errorf("uniform: entropy threshold %v, want ≥ 0.9", thr)
	}
	if thr := percentileThreshold(histOf(u, 1), 1, 99); math.Abs(thr-0.99) > 0.002 {
		t.Errorf("uniform: 99th percentile %v, want 0.99", thr)
	}
	// Gaussian bulk with a few huge outliers: min-max would waste almost all levels on them.
	g := make([]float64, 200000)
	for i := range g {
		g[i] = r.NormFloat64()
	}
	g[0], g[1], g[2] = 100, -90, 80
	ht := histOf(g, 100)
	thr := entropyThreshold(ht, 100)
	if thr < 2 || thr > 15 {
		t.Errorf("gaussian + outliers: entropy threshold %v, want a few σ", thr)
	}
	p := percentileThreshold(ht, 100, 99.99)
	if p < 3 || p > 6 {
		t.Errorf("gaussian + outliers: 99.99th percentile %v, want about 3.9", p)
	}
	if percentileThreshold(make([]float64, histBins), 5, 99) != 5 {
		t.Error("empty histogram")
	}
}
