package optim_test

import (
	"math"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/optim/schedule"
	"github.com/optiformer/optiformer/tensor"
)

func params() []nn.NamedParam {
	w := ag.NewParam(tensor.FromF64([]float64{1, -2, 3, 0.5}, 2, 2), ag.RoleWeight)
	b := ag.NewParam(tensor.FromF64([]float64{0.1, -0.1}, 2), ag.RoleBias)
	e := ag.NewParam(tensor.FromF64([]float64{2, 2}, 1, 2), ag.RoleEmbedding)
	for _, p := range []*ag.Param{w, b, e} {
		g := tensor.New(tensor.F64, p.Value.Shape()...)
		for i := range g.F64() {
			g.F64()[i] = 0.5 - 0.25*float64(i)
		}
		p.Grad = g
	}
	return []nn.NamedParam{{Name: "w", Param: w}, {Name: "b", Param: b}, {Name: "e", Param: e}}
}

// Two AdamW steps on w[0] by hand, with the formulas of torch.optim.AdamW.
func TestAdamWByHand(t *testing.T) {
	ps := params()
	opt := optim.NewAdamW(ps, 0.1, optim.DecayPolicy{})
	p, g := 1.0, 0.5
	m, v := 0.0, 0.0
	for step := 1; step <= 2; step++ {
		lr := 0.01 * float64(step)
		opt.Step(lr)
		p *= 1 - lr*0.1
		m = 0.9*m + 0.1*g
		v = 0.999*v + 0.001*g*g
		p -= lr / (1 - math.Pow(0.9, float64(step))) * m / (math.Sqrt(v)/math.Sqrt(1-math.Pow(0.999, float64(step))) + 1e-8)
	}
	if got := ps[0].Param.Value.F64()[0]; math.Abs(got-p) > 1e-15 {
		t.Fatalf("w[0] = %v, want %v", got, p)
	}
	// The bias (no decay) moved by Adam alone; the embedding did not decay either.
	if opt.State().Step != 2 || len(opt.State().Buffers) != 6 {
		t.Fatalf("state %+v", opt.State())
	}
}

func TestDecayPolicy(t *testing.T) {
	d := optim.DecayPolicy{}
	if !d.Decays(ag.RoleWeight) || d.Decays(ag.RoleBias) || d.Decays(ag.RoleNorm) || d.Decays(ag.RoleEmbedding) || d.Decays(ag.RolePosition) {
		t.Fatal("default policy wrong")
	}
	if !(optim.DecayPolicy{Embeddings: true}).Decays(ag.RoleEmbedding) {
		t.Fatal("Embeddings: true ignored")
	}
	desc := d.Describe(params())
	if !strings.Contains(desc, "weight decay on 1 tensors (4 values): w") || !strings.Contains(desc, "no weight decay on 2 tensors (4 values): b, e") {
		t.Fatalf("Describe:\n%s", desc)
	}
}

func TestAdamL2DiffersFromAdamW(t *testing.T) {
	a, b := params(), params()
	optim.NewAdamW(a, 0.1, optim.DecayPolicy{}).Step(0.1)
	optim.NewAdam(b, 0.1, optim.DecayPolicy{}).Step(0.1)
	if a[0].Param.Value.F64()[0] == b[0].Param.Value.F64()[0] {
		t.Fatal("L2 and decoupled decay gave the same update")
	}
	if a[1].Param.Value.F64()[0] != b[1].Param.Value.F64()[0] {
		t.Fatal("a parameter without decay differs between Adam and AdamW")
	}
}

func TestSGDMomentum(t *testing.T) {
	ps := params()
	opt := optim.NewSGD(ps, 0.9, 0, false, optim.DecayPolicy{})
	opt.Step(0.1) // buf = g, p -= 0.1 g
	opt.Step(0.1) // buf = 0.9 g + g, p -= 0.1·1.9 g
	if got, want := ps[0].Param.Value.F64()[0], 1-0.1*0.5-0.1*1.9*0.5; math.Abs(got-want) > 1e-15 {
		t.Fatalf("p = %v, want %v", got, want)
	}
	st := opt.State()
	opt2 := optim.NewSGD(params(), 0.9, 0, false, optim.DecayPolicy{})
	if err := opt2.SetState(st); err != nil {
		t.Fatal(err)
	}
	st.Buffers["momentum/nope"] = tensor.New(tensor.F64, 1)
	if err := opt2.SetState(st); err == nil {
		t.Fatal("a state with an unknown buffer was accepted")
	}
}

func TestClipGradNorm(t *testing.T) {
	ps := params()
	var sq float64
	for _, p := range ps {
		for _, g := range p.Param.Grad.F64() {
			sq += g * g
		}
	}
	norm := optim.ClipGradNorm(ps, 0.1)
	if math.Abs(norm-math.Sqrt(sq)) > 1e-12 {
		t.Fatalf("norm %v, want %v", norm, math.Sqrt(sq))
	}
	sq = 0
	for _, p := range ps {
		for _, g := range p.Param.Grad.F64() {
			sq += g * g
		}
	}
	if math.Abs(math.Sqrt(sq)-0.1) > 1e-6 {
		t.Fatalf("norm after clipping %v, want 0.1", math.Sqrt(sq))
	}
}

func TestSchedules(t *testing.T) {
	lin := schedule.Linear{Peak: 1, Warmup: 4, Total: 10}
	for step, want := range map[int]float64{0: 0, 2: 0.5, 4: 1, 7: 0.5, 10: 0, 12: 0} {
		if got := lin.LR(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("linear(%d) = %v, want %v", step, got, want)
		}
	}
	cos := schedule.Cosine{Peak: 2, Warmup: 0, Total: 10}
	if cos.LR(0) != 2 || math.Abs(cos.LR(5)-1) > 1e-12 || math.Abs(cos.LR(10)) > 1e-12 || math.Abs(cos.LR(15)) > 1e-12 {
		t.Errorf("cosine: %v %v %v %v", cos.LR(0), cos.LR(5), cos.LR(10), cos.LR(15))
	}
	inv := schedule.InverseSqrt{Peak: 1, Warmup: 4}
	if inv.LR(3) != 1 || math.Abs(inv.LR(15)-0.5) > 1e-12 {
		t.Errorf("inverse sqrt: %v %v", inv.LR(3), inv.LR(15))
	}
	if _, err := schedule.Parse("step", 1, 0, 0); err == nil {
		t.Error("unknown schedule accepted")
	}
	if _, err := schedule.Parse("linear", 0, 0, 0); err == nil {
		t.Error("zero peak accepted")
	}
}
