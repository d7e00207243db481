package quant

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
)

// Calibration methods: how int8-static turns the activations seen on sample data into a
// scale.
const (
	// MinMax takes the largest magnitude seen: nothing saturates, outliers cost resolution.
	MinMax = "minmax"
	// Percentile takes the given percentile of the magnitudes (99.99 by default).
	Percentile = "percentile"
	// Entropy takes the clipping threshold whose 128-level quantized histogram is closest to
	// the observed one in Kullback-Leibler divergence (the method TensorRT calls entropy
	// calibration).
	Entropy = "entropy"
)

// CalibOptions control Calibrate.
type CalibOptions struct {
	Method     string  // MinMax (default), Percentile or Entropy
	Percentile float64 // for Percentile, in (0, 100] (0: 99.99)
}

// histBins is the resolution of the magnitude histograms.
const histBins = 2048

// recorder stands in for a weight's product during calibration: it records the inputs'
// magnitudes and computes the float product.
type recorder struct {
	p    *ag.Param
	amax float64
	hist []float64 // nil in the first pass
	n    float64
}

func (r *recorder) MulT(y []float32, ldy int, x []float32, n int, beta float32) {
	in := r.p.Value.Dim(1)
	xs := x[:n*in]
	if r.hist == nil {
		for _, v := range xs {
			if a := math.Abs(float64(v)); a > r.amax && !math.IsInf(a, 0) {
				r.amax = a
			}
		}
	} else if r.amax > 0 {
		w := r.amax / histBins
		for _, v := range xs {
			a := math.Abs(float64(v))
			if a != a {
				continue
			}
			r.hist[min(histBins-1, int(a/w))]++
		}
	}
	r.n += float64(len(xs))
	kernels.GemmPacked(false, n, 1, xs, in, r.p.PackedT(), beta, y, ldy)
}

// Calibrate finds int8-static's activation scales: it puts a recorder on every weight that o
// selects, calls run (which must run the float model on sample data, e.g. translate
// calibration sentences) once to find each input's largest magnitude and, for Percentile and
// Entropy, once more to build a histogram of the magnitudes, then returns each weight's
// scale (threshold/127) by name. The model is unchanged afterwards.
func Calibrate(model any, tiedHead bool, o Options, c CalibOptions, run func() error) (map[string]float32, error) {
	o.Scheme = Int8Static
	sel, _, err := selectWeights(model, tiedHead, &o)
	if err != nil {
		return nil, err
	}
	switch c.Method {
	case "":
		c.Method = MinMax
	case MinMax, Entropy:
	case Percentile:
		if c.Percentile == 0 {
			c.Percentile = 99.99
		}
		if !(c.Percentile > 0 && c.Percentile <= 100) {
			return nil, fmt.Errorf("quant: percentile %v: want a value in (0, 100]", c.Percentile)
		}
	default:
		return nil, fmt.Errorf("quant: unknown calibration method %q (want minmax, percentile or entropy)", c.Method)
	}
	recs := make([]*recorder, len(sel))
	for i, p := range sel {
		if p.Param.Kernel() != nil {
			return nil, fmt.Errorf("quant: %s is already quantized", p.Name)
		}
		recs[i] = &recorder{p: p.Param}
		p.Param.SetKernel(recs[i])
	}
	defer func() {
		for _, p := range sel {
			p.Param.SetKernel(nil)
		}
	}()
	if err := run(); err != nil {
		return nil, err
	}
	if c.Method != MinMax {
		for _, r := range recs {
			r.hist = make([]float64, histBins)
		}
		if err := run(); err != nil {
			return nil, err
		}
	}
	scales := make(map[string]float32, len(sel))
	for i, p := range sel {
		r := recs[i]
		if r.n == 0 {
			return nil, fmt.Errorf("quant: calibration never ran %s (does the sample data reach it?)", p.Name)
		}
		thr := r.amax
		switch c.Method {
		case Percentile:
			thr = percentileThreshold(r.hist, r.amax, c.Percentile)
		case Entropy:
			thr = entropyThreshold(r.hist, r.amax)
		}
		if !(thr > 0) {
			thr = 1 // all inputs zero: any scale represents them
		}
		scales[p.Name] = float32(thr / 127)
	}
	return scales, nil
}

// percentileThreshold is the upper edge of the bin where the cumulative count reaches pct%.
func percentileThreshold(hist []float64, amax, pct float64) float64 {
	var total float64
	for _, h := range hist {
		total += h
	}
	if total == 0 {
		return amax
	}
	want := total * pct / 100
	var cum float64
	for i, h := range hist {
		cum += h
		if cum >= want {
			return float64(i+1) * amax / float64(len(hist))
		}
	}
	return amax
}

// entropyThreshold tries every clipping point from 128 bins to all of them (as MXNet's and
// TensorRT's entropy calibration do): the reference distribution P is the histogram up to the
// point with everything beyond added to its last bin; Q merges the clipped histogram into 128
// groups of equal width (the last takes the remainder) and spreads each group's count evenly
// over the bins where P is not empty, which is what int8 can represent. It returns the point
// whose KL(P‖Q) is smallest, at the middle of its bin.
func entropyThreshold(hist []float64, amax float64) float64 {
	const levels = 128
	nb := len(hist)
	best, bestKL := nb, math.Inf(1)
	p := make([]float64, nb)
	q := make([]float64, nb)
	var beyond float64
	for _, h := range hist {
		beyond += h
	}
	for i := 0; i < levels-1; i++ {
		beyond -= hist[i]
	}
	for end := levels; end <= nb; end++ {
		beyond -= hist[end-1]
		copy(p, hist[:end])
		p[end-1] += beyond
		m := end / levels
		for g := 0; g < levels; g++ {
			lo, hi := g*m, (g+1)*m
			if g == levels-1 {
				hi = end
			}
			var sum float64
			nz := 0
			for j := lo; j < hi; j++ {
				sum += hist[j]
				if p[j] != 0 {
					nz++
				}
			}
			for j := lo; j < hi; j++ {
				q[j] = 0
				if p[j] != 0 {
					q[j] = sum / float64(nz)
				}
			}
		}
		if kl := klDivergence(p[:end], q[:end]); kl < bestKL {
			best, bestKL = end, kl
		}
	}
	return (float64(best) + 0.5) * amax / float64(nb)
}

// klDivergence is KL(p‖q) of the normalised histograms; bins where q is empty but p is not
// get a small floor so the divergence stays finite.
func klDivergence(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.Inf(1)
	}
	const eps = 1e-10
	var kl float64
	for i := range p {
		if p[i] == 0 {
			continue
		}
		pi := p[i] / sp
		qi := math.Max(q[i]/sq, eps)
		kl += pi * math.Log(pi/qi)
	}
	return kl
}
