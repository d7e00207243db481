package optim

import (
	"fmt"
	"slices"
	"strings"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// emaPrefix names the averaged weights among the optimizer's saved buffers.
const emaPrefix = "ema/"

// EMA wraps an optimizer and keeps an exponential moving average of the parameters (Polyak
// averaging; Marian's "exponential smoothing"): the average starts equal to the parameters
// before the first step, and after every step becomes d·ema + (1−d)·p, element by element in
// the parameter's precision (torch: ema.mul_(d).add_(p, alpha=1−d)). Training goes on with
// the raw parameters; WithAverage puts the averaged ones in their place for evaluating or
// saving. The average is part of State, so a resumed run continues it exactly.
type EMA struct {
	Optimizer
	Decay  float64
	shadow []*tensor.Tensor // nil until the first step (or a restored state)
}

// NewEMA wraps inner with an average of decay d, which must lie in (0, 1).
func NewEMA(inner Optimizer, d float64) (*EMA, error) {
	if !(d > 0 && d < 1) {
		return nil, fmt.Errorf("optim: EMA decay %v must lie in (0, 1)", d)
	}
	return &EMA{Optimizer: inner, Decay: d}, nil
}

// Step applies the wrapped optimizer's update, then moves the average towards the result.
func (e *EMA) Step(lr float64) {
	ps := e.Optimizer.Params()
	if e.shadow == nil {
		e.shadow = make([]*tensor.Tensor, len(ps))
		for i, p := range ps {
			e.shadow[i] = p.Param.Value.Clone()
		}
	}
	e.Optimizer.Step(lr)
	for i, p := range ps {
		switch p.Param.Value.DType() {
		case tensor.F32:
			s, v := e.shadow[i].F32(), p.Param.Value.F32()
			d := float32(e.Decay)
			a := float32(1 - e.Decay)
			kernels.ParallelFor(len(s), 1<<15, func(lo, hi int) { emaUpdate(s[lo:hi], v[lo:hi], d, a) })
		default:
			emaUpdate(e.shadow[i].F64(), p.Param.Value.F64(), e.Decay, 1-e.Decay)
		}
	}
}

func emaUpdate[T float32 | float64](s, v []T, d, a T) {
	for i := range s {
		s[i] = s[i]*d + a*v[i]
	}
}

func swapValues[T float32 | float64](a, b []T) {
	for i := range a {
		a[i], b[i] = b[i], a[i]
	}
}

// WithAverage runs f with the averaged weights in the parameters' place, and puts the raw
// ones back afterwards (whatever f returns). Before the first step the average is the
// parameters themselves.
func (e *EMA) WithAverage(f func() error) error {
	if e.shadow == nil {
		return f()
	}
	ps := e.Optimizer.Params()
	// The values are exchanged in place: whatever holds the parameters' tensors (a decoding
	// session, a packed copy keyed by Version) sees the change.
	swap := func() {
		for i, p := range ps {
			switch p.Param.Value.DType() {
			case tensor.F32:
				swapValues(p.Param.Value.F32(), e.shadow[i].F32())
			default:
				swapValues(p.Param.Value.F64(), e.shadow[i].F64())
			}
			p.Param.Changed()
		}
	}
	swap()
	defer swap()
	return f()
}

// State is the wrapped optimizer's state with the averaged weights added as "ema/<param>".
func (e *EMA) State() State {
	s := e.Optimizer.State()
	if e.shadow == nil {
		return s
	}
	b := make(map[string]*tensor.Tensor, len(s.Buffers)+len(e.shadow))
	for k, v := range s.Buffers {
		b[k] = v
	}
	for i, p := range e.Optimizer.Params() {
		b[emaPrefix+p.Name] = e.shadow[i]
	}
	s.Buffers = b
	return s
}

// SetState restores what State returned. A state without averaged weights (saved by a run
// that kept none) restarts the average from the parameters at the next step; one with some
// but not all of them is an error.
func (e *EMA) SetState(s State) error {
	ps := e.Optimizer.Params()
	inner := State{Step: s.Step, Buffers: map[string]*tensor.Tensor{}}
	found := 0
	for k, v := range s.Buffers {
		if strings.HasPrefix(k, emaPrefix) {
			found++
		} else {
			inner.Buffers[k] = v
		}
	}
	var shadow []*tensor.Tensor
	if found > 0 {
		shadow = make([]*tensor.Tensor, len(ps))
		for i, p := range ps {
			t := s.Buffers[emaPrefix+p.Name]
			if t == nil {
				return fmt.Errorf("optim: state has no average of %s", p.Name)
			}
			if !slices.Equal(t.Shape(), p.Param.Value.Shape()) {
				return fmt.Errorf("optim: average of %s has shape %v, the parameter %v", p.Name, t.Shape(), p.Param.Value.Shape())
			}
			shadow[i] = t.To(p.Param.Value.DType())
		}
		if found != len(ps) {
			return fmt.Errorf("optim: state holds %d averages, %d match parameters", found, len(ps))
		}
	}
	if err := e.Optimizer.SetState(inner); err != nil {
		return err
	}
	e.shadow = shadow
	return nil
}
