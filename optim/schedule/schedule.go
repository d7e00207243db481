// Package schedule holds learning-rate schedules: the learning rate as a function of the
// optimizer step (0 for the first update), matching Hugging Face's and fairseq's
// definitions.
package schedule

import (
	"fmt"
	"math"
)

// Schedule gives the learning rate of each optimizer step.
type Schedule interface {
	LR(step int) float64
}

// Constant is a fixed learning rate.
type Constant float64

// LR returns the rate.
func (c Constant) LR(int) float64 { return float64(c) }

// Linear warms up linearly from 0 to Peak over Warmup steps, then decays linearly to 0 at
// Total (transformers.get_linear_schedule_with_warmup; the first step, step 0, has rate 0
// when there is a warm-up, as there).
type Linear struct {
	Peak          float64
	Warmup, Total int
}

// LR returns the rate at step.
func (l Linear) LR(step int) float64 {
	if step < l.Warmup {
		return l.Peak * float64(step) / float64(max(1, l.Warmup))
	}
	return l.Peak * math.Max(0, float64(l.Total-step)/float64(max(1, l.Total-l.Warmup)))
}

// Cosine warms up linearly over Warmup steps, then follows half a cosine from Peak to 0 at
// Total (transformers.get_cosine_schedule_with_warmup with 0.5 cycles).
type Cosine struct {
	Peak          float64
	Warmup, Total int
}

// LR returns the rate at step.
func (c Cosine) LR(step int) float64 {
	if step < c.Warmup {
		return c.Peak * float64(step) / float64(max(1, c.Warmup))
	}
	progress := min(1, float64(step-c.Warmup)/float64(max(1, c.Total-c.Warmup)))
	return c.Peak * math.Max(0, 0.5*(1+math.Cos(math.Pi*progress)))
}

// InverseSqrt warms up linearly over Warmup steps, then decays as Peak·√(Warmup/step)
// (fairseq's inverse_sqrt, the schedule of Vaswani et al. up to the constant).
type InverseSqrt struct {
	Peak   float64
	Warmup int
}

// LR returns the rate at step.
func (s InverseSqrt) LR(step int) float64 {
	if step < s.Warmup {
		return s.Peak * float64(step+1) / float64(max(1, s.Warmup))
	}
	return s.Peak * math.Sqrt(float64(max(1, s.Warmup))/float64(step+1))
}

// Parse makes a schedule from a name ("constant", "linear", "cosine", "inverse_sqrt").
func Parse(name string, peak float64, warmup, total int) (Schedule, error) {
	if !(peak > 0) || warmup < 0 || total < 0 {
		return nil, fmt.Errorf("schedule: peak %v, warmup %d, total %d: want peak > 0 and counts ≥ 0", peak, warmup, total)
	}
	switch name {
	case "constant":
		return Constant(peak), nil
	case "linear":
		return Linear{Peak: peak, Warmup: warmup, Total: total}, nil
	case "cosine":
		return Cosine{Peak: peak, Warmup: warmup, Total: total}, nil
	case "inverse_sqrt":
		return InverseSqrt{Peak: peak, Warmup: warmup}, nil
	}
	return nil, fmt.Errorf("schedule: unknown schedule %q (want constant, linear, cosine or inverse_sqrt)", name)
}
