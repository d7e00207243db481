// Package optim holds the optimizers (SGD with momentum, Adam, AdamW), weight-decay policies
// by parameter role, and gradient clipping. Updates follow PyTorch 1.13's formulas operation
// by operation, so a float64 run matches torch.optim in double precision.
package optim

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/tensor"
)

// DecayPolicy says which parameters weight decay applies to. Matrices of Linear layers always
// decay and biases and LayerNorm parameters never do (the usual practice, e.g. BERT's and
// Hugging Face's); token embeddings and learned positions decay only when asked.
type DecayPolicy struct {
	Embeddings bool
	Positions  bool
}

// Decays reports whether a parameter of role r decays.
func (d DecayPolicy) Decays(r ag.Role) bool {
	switch r {
	case ag.RoleWeight:
		return true
	case ag.RoleEmbedding:
		return d.Embeddings
	case ag.RolePosition:
		return d.Positions
	}
	return false
}

// Describe lists which parameters decay and which do not, for the trainer to print.
func (d DecayPolicy) Describe(params []nn.NamedParam) string {
	var yes, no []string
	var ny, nn int
	for _, p := range params {
		n := p.Param.Value.Len()
		if d.Decays(p.Param.Role) {
			yes = append(yes, p.Name)
			ny += n
		} else {
			no = append(no, p.Name)
			nn += n
		}
	}
	sort.Strings(yes)
	sort.Strings(no)
	return fmt.Sprintf("weight decay on %d tensors (%d values): %s\nno weight decay on %d tensors (%d values): %s",
		len(yes), ny, strings.Join(yes, ", "), len(no), nn, strings.Join(no, ", "))
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update with learning rate lr, then marks the parameters changed.
	Step(lr float64)
	// ZeroGrad drops the gradients.
	ZeroGrad()
	// Params are the parameters being optimized.
	Params() []nn.NamedParam
	// State and SetState save and restore the optimizer's moments and step count
	// (checkpoints); SetState checks names and shapes.
	State() State
	SetState(State) error
}

// State is an optimizer's saved state: the step count and named buffers (e.g. "m/<param>").
type State struct {
	Step    int
	Buffers map[string]*tensor.Tensor
}

// Adam implements Adam (Kingma & Ba) and AdamW (Loshchilov & Hutter): torch.optim.Adam and
// torch.optim.AdamW. With Decoupled the decay is p ← p·(1 − lr·wd) before the update (AdamW);
// otherwise wd·p is added to the gradient (Adam with L2 regularisation).
type Adam struct {
	Beta1, Beta2, Eps, WeightDecay float64
	Decoupled                      bool
	Policy                         DecayPolicy
	params                         []nn.NamedParam
	m, v                           []*tensor.Tensor
	step                           int
}

// NewAdamW is torch.optim.AdamW's defaults with the given weight decay: β = (0.9, 0.999),
// eps = 1e-8, decoupled decay.
func NewAdamW(params []nn.NamedParam, weightDecay float64, policy DecayPolicy) *Adam {
	return &Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, Decoupled: true, Policy: policy, params: params}
}

// NewAdam is torch.optim.Adam with L2 weight decay added to the gradient.
func NewAdam(params []nn.NamedParam, weightDecay float64, policy DecayPolicy) *Adam {
	a := NewAdamW(params, weightDecay, policy)
	a.Decoupled = false
	return a
}

// Params are the optimized parameters.
func (a *Adam) Params() []nn.NamedParam { return a.params }

// ZeroGrad drops every gradient.
func (a *Adam) ZeroGrad() { zeroGrad(a.params) }

func zeroGrad(ps []nn.NamedParam) {
	for _, p := range ps {
		p.Param.ZeroGrad()
	}
}

// Step applies one Adam(W) update with learning rate lr. Parameters without a gradient (not
// reached by the loss) are left alone, as PyTorch does.
func (a *Adam) Step(lr float64) {
	if a.m == nil {
		a.m = make([]*tensor.Tensor, len(a.params))
		a.v = make([]*tensor.Tensor, len(a.params))
	}
	a.step++
	bc1 := 1 - math.Pow(a.Beta1, float64(a.step))
	bc2 := 1 - math.Pow(a.Beta2, float64(a.step))
	for i, np := range a.params {
		p := np.Param
		if p.Grad == nil || !p.RequiresGrad() {
			continue
		}
		if a.m[i] == nil {
			a.m[i] = tensor.New(p.Value.DType(), p.Value.Shape()...)
			a.v[i] = tensor.New(p.Value.DType(), p.Value.Shape()...)
		}
		wd := 0.0
		if a.Policy.Decays(p.Role) {
			wd = a.WeightDecay
		}
		h := adamHyper{lr: lr, b1: a.Beta1, b2: a.Beta2, eps: a.Eps, wd: wd, decoupled: a.Decoupled, bc1: bc1, bc2: bc2}
		// Element-wise, so any cut over threads gives the same result.
		if p.Value.DType() == tensor.F32 {
			pv, g, m, v := p.Value.F32(), p.Grad.F32(), a.m[i].F32(), a.v[i].F32()
			kernels.ParallelFor(len(pv), 1<<15, func(lo, hi int) { adamUpdate(pv[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], h) })
		} else {
			adamUpdate(p.Value.F64(), p.Grad.F64(), a.m[i].F64(), a.v[i].F64(), h)
		}
		p.Changed()
	}
}

type adamHyper struct {
	lr, b1, b2, eps, wd float64
	decoupled           bool
	bc1, bc2            float64
}

// adamUpdate is torch.optim's single-tensor Adam/AdamW step, operation by operation in the
// parameter's precision.
func adamUpdate[T float32 | float64](p, g, m, v []T, h adamHyper) {
	b1, b2 := T(h.b1), T(h.b2)
	stepSize := T(h.lr / h.bc1)
	bc2sqrt := T(math.Sqrt(h.bc2))
	eps := T(h.eps)
	decay := T(1 - h.lr*h.wd)
	wd := T(h.wd)
	for i := range p {
		gi := g[i]
		if h.wd != 0 {
			if h.decoupled {
				p[i] *= decay
			} else {
				gi += wd * p[i]
			}
		}
		m[i] = m[i]*b1 + gi*(1-b1)
		v[i] = v[i]*b2 + (1-b2)*gi*gi // addcmul_(g, g, value=1−β2): (value·g)·g
		denom := T(math.Sqrt(float64(v[i])))/bc2sqrt + eps
		p[i] -= stepSize * m[i] / denom
	}
}

// State returns the moments (by parameter name) and the step count.
func (a *Adam) State() State {
	s := State{Step: a.step, Buffers: map[string]*tensor.Tensor{}}
	for i, p := range a.params {
		if a.m != nil && a.m[i] != nil {
			s.Buffers["m/"+p.Name] = a.m[i]
			s.Buffers["v/"+p.Name] = a.v[i]
		}
	}
	return s
}

// SetState restores what State returned.
func (a *Adam) SetState(s State) error {
	m := make([]*tensor.Tensor, len(a.params))
	v := make([]*tensor.Tensor, len(a.params))
	used := 0
	for i, p := range a.params {
		mt, vt := s.Buffers["m/"+p.Name], s.Buffers["v/"+p.Name]
		if (mt == nil) != (vt == nil) {
			return fmt.Errorf("optim: state has only one of the moments of %s", p.Name)
		}
		if mt == nil {
			continue
		}
		for _, t := range []*tensor.Tensor{mt, vt} {
			if !slices.Equal(t.Shape(), p.Param.Value.Shape()) {
				return fmt.Errorf("optim: state of %s has shape %v, the parameter %v", p.Name, t.Shape(), p.Param.Value.Shape())
			}
		}
		m[i], v[i] = mt.To(p.Param.Value.DType()), vt.To(p.Param.Value.DType())
		used += 2
	}
	if used != len(s.Buffers) {
		return fmt.Errorf("optim: state holds %d buffers, %d match parameters", len(s.Buffers), used)
	}
	a.m, a.v, a.step = m, v, s.Step
	return nil
}

// SGD is torch.optim.SGD with momentum (dampening 0), optional Nesterov momentum and L2
// weight decay added to the gradient.
type SGD struct {
	Momentum, WeightDecay float64
	Nesterov              bool
	Policy                DecayPolicy
	params                []nn.NamedParam
	buf                   []*tensor.Tensor
	step                  int
}

// NewSGD makes an SGD optimizer.
func NewSGD(params []nn.NamedParam, momentum, weightDecay float64, nesterov bool, policy DecayPolicy) *SGD {
	return &SGD{Momentum: momentum, WeightDecay: weightDecay, Nesterov: nesterov, Policy: policy, params: params}
}

// Params are the optimized parameters.
func (s *SGD) Params() []nn.NamedParam { return s.params }

// ZeroGrad drops every gradient.
func (s *SGD) ZeroGrad() { zeroGrad(s.params) }

// Step applies one update: d = g + wd·p; buf = μ·buf + d (buf = d the first time);
// p −= lr·(d + μ·buf) with Nesterov, else lr·buf.
func (s *SGD) Step(lr float64) {
	if s.buf == nil {
		s.buf = make([]*tensor.Tensor, len(s.params))
	}
	s.step++
	for i, np := range s.params {
		p := np.Param
		if p.Grad == nil || !p.RequiresGrad() {
			continue
		}
		wd := 0.0
		if s.Policy.Decays(p.Role) {
			wd = s.WeightDecay
		}
		first := false
		if s.buf[i] == nil && s.Momentum != 0 {
			s.buf[i] = tensor.New(p.Value.DType(), p.Value.Shape()...)
			first = true
		}
		if p.Value.DType() == tensor.F32 {
			sgdUpdate(p.Value.F32(), p.Grad.F32(), bufOf[float32](s.buf[i]), float32(lr), float32(wd), float32(s.Momentum), s.Nesterov, first)
		} else {
			sgdUpdate(p.Value.F64(), p.Grad.F64(), bufOf[float64](s.buf[i]), lr, wd, s.Momentum, s.Nesterov, first)
		}
		p.Changed()
	}
}

func bufOf[T float32 | float64](t *tensor.Tensor) []T {
	if t == nil {
		return nil
	}
	var z T
	if _, ok := any(z).(float32); ok {
		return any(t.F32()).([]T)
	}
	return any(t.F64()).([]T)
}

func sgdUpdate[T float32 | float64](p, g, buf []T, lr, wd, mu T, nesterov, first bool) {
	for i := range p {
		d := g[i]
		if wd != 0 {
			d += wd * p[i]
		}
		if buf != nil {
			if first {
				buf[i] = d
			} else {
				buf[i] = buf[i]*mu + d
			}
			if nesterov {
				d += mu * buf[i]
			} else {
				d = buf[i]
			}
		}
		p[i] -= lr * d
	}
}

// State returns the momentum buffers and the step count.
func (s *SGD) State() State {
	st := State{Step: s.step, Buffers: map[string]*tensor.Tensor{}}
	for i, p := range s.params {
		if s.buf != nil && s.buf[i] != nil {
			st.Buffers["momentum/"+p.Name] = s.buf[i]
		}
	}
	return st
}

// SetState restores what State returned.
func (s *SGD) SetState(st State) error {
	buf := make([]*tensor.Tensor, len(s.params))
	used := 0
	for i, p := range s.params {
		t := st.Buffers["momentum/"+p.Name]
		if t == nil {
			continue
		}
		if !slices.Equal(t.Shape(), p.Param.Value.Shape()) {
			return fmt.Errorf("optim: state of %s has shape %v, the parameter %v", p.Name, t.Shape(), p.Param.Value.Shape())
		}
		buf[i] = t.To(p.Param.Value.DType())
		used++
	}
	if used != len(st.Buffers) {
		return fmt.Errorf("optim: state holds %d buffers, %d match parameters", len(st.Buffers), used)
	}
	s.buf, s.step = buf, st.Step
	return nil
}

// ClipGradNorm scales all gradients so that their global L2 norm is at most maxNorm
// (torch.nn.utils.clip_grad_norm_: coefficient maxNorm/(norm + 1e-6) when below 1) and
// returns the norm before clipping. The norm is summed in float64.
func ClipGradNorm(params []nn.NamedParam, maxNorm float64) float64 {
	var sq float64
	for _, p := range params {
		if g := p.Param.Grad; g != nil {
			if g.DType() == tensor.F32 {
				for _, x := range g.F32() {
					sq += float64(x) * float64(x)
				}
			} else {
				for _, x := range g.F64() {
					sq += x * x
				}
			}
		}
	}
	norm := math.Sqrt(sq)
	coef := maxNorm / (norm + 1e-6)
	if coef < 1 {
		for _, p := range params {
			if g := p.Param.Grad; g != nil {
				if g.DType() == tensor.F32 {
					c, v := float32(coef), g.F32()
					for i := range v {
						v[i] *= c
					}
				} else {
					v := g.F64()
					for i := range v {
						v[i] *= coef
					}
				}
			}
		}
	}
	return norm
}
