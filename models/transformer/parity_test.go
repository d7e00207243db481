package transformer_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/optim/schedule"
	"github.com/optiformer/optiformer/safetensors"
	"github.com/optiformer/optiformer/tensor"
)

// The fixtures come from testdata/make_parity.py: a PyTorch 1.13 implementation of the same
// three architectures, run in float64 on float32 weights.

type fixture struct {
	f   *safetensors.File
	cfg transformer.Config
}

func openFixture(t *testing.T, name string) *fixture {
	t.Helper()
	f, err := safetensors.Open("testdata/" + name + ".safetensors")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cfg, err := transformer.ParseConfig(strings.NewReader(f.Metadata()["config"]))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{f: f, cfg: cfg}
}

func (fx *fixture) tensor(t *testing.T, name string) *tensor.Tensor {
	t.Helper()
	info, ok := fx.f.Info(name)
	if !ok {
		t.Fatalf("fixture lacks %s", name)
	}
	var out *tensor.Tensor
	var err error
	switch info.DType.String() {
	case "I32":
		var v []int32
		v, err = fx.f.Int32s(name)
		out = tensor.FromI32(v, info.Shape...)
	case "F64":
		var v []float64
		v, err = fx.f.Float64s(name)
		out = tensor.FromF64(v, info.Shape...)
	default:
		var v []float32
		v, err = fx.f.Float32s(name)
		out = tensor.FromF32(v, info.Shape...)
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// params is an nn.Source over the fixture's "param/" tensors.
type params struct {
	fx *fixture
	t  *testing.T
}

func (p params) Names() []string {
	var out []string
	for _, n := range p.fx.f.Names() {
		if s, ok := strings.CutPrefix(n, "param/"); ok {
			out = append(out, s)
		}
	}
	return out
}

func (p params) Tensor(name string) (*tensor.Tensor, error) {
	return p.fx.tensor(p.t, "param/"+name), nil
}

func (fx *fixture) model(t *testing.T, dt tensor.DType) *transformer.Model {
	t.Helper()
	m, err := transformer.New(fx.cfg, dt, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.Load(m, params{fx, t}, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return m
}

// forward returns the model output compared as expect/logits and the training loss.
func (fx *fixture) forward(t *testing.T, m *transformer.Model, c *nn.Ctx) (out, loss *ag.Var) {
	t.Helper()
	in := func(n string) *tensor.Tensor { return fx.tensor(t, "input/"+n) }
	switch fx.cfg.Arch {
	case transformer.EncoderDecoder:
		src := in("src")
		enc, err := m.Encode(c, src)
		if err != nil {
			t.Fatal(err)
		}
		h, err := m.Decode(c, in("tgt_in"), enc, m.PadMask(src), nil)
		if err != nil {
			t.Fatal(err)
		}
		out = m.Logits(c, h)
		loss = ag.CrossEntropy(c.Tape, ag.Reshape(c.Tape, out, -1, fx.cfg.VocabSize), in("labels").Reshape(-1), 0.1, fx.cfg.PadID)
	case transformer.EncoderOnly:
		start, end, err := m.SpanLogits(c, in("ids"))
		if err != nil {
			t.Fatal(err)
		}
		b, n := start.Value.Dim(0), start.Value.Dim(1)
		out = ag.Concat(c.Tape, 2, ag.Reshape(c.Tape, start, b, n, 1), ag.Reshape(c.Tape, end, b, n, 1))
		loss = ag.AddScalars(c.Tape, []float64{0.5, 0.5},
			ag.CrossEntropy(c.Tape, start, in("start"), 0, -100), ag.CrossEntropy(c.Tape, end, in("end"), 0, -100))
	default:
		ids := in("ids")
		h, err := m.Decode(c, ids, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		out = m.Logits(c, h)
		var n int
		loss, n, err = m.CausalLMLoss(c, ids, 0)
		if err != nil || n == 0 {
			t.Fatal(err, n)
		}
	}
	return out, loss
}

// closeAll compares element-wise within tol·(|want| + scale), where scale is the largest
// |want| of the tensor or floor, whichever is larger (gradients that are zero in exact
// arithmetic, such as those of key biases, are rounding noise on the scale of the others).
func closeAll(t *testing.T, what string, got *tensor.Tensor, want *tensor.Tensor, tol, floor float64) {
	t.Helper()
	g, w := got.To(tensor.F64).Contiguous().F64(), want.F64()
	if len(g) != len(w) {
		t.Fatalf("%s: %d values, want %d", what, len(g), len(w))
	}
	scale := floor
	for _, v := range w {
		scale = math.Max(scale, math.Abs(v))
	}
	for i := range g {
		if d := math.Abs(g[i] - w[i]); d > tol*(math.Abs(w[i])+scale) || math.IsNaN(g[i]) {
			t.Errorf("%s[%d] = %.10g, PyTorch %.10g (|diff| %.3g, scale %.3g)", what, i, g[i], w[i], d, scale)
			return
		}
	}
}

var fixtures = []string{"encoder_decoder", "encoder_span", "decoder_lm"}

func tolerance(dt tensor.DType) float64 {
	if dt == tensor.F64 {
		return 1e-10
	}
	return 2e-5
}

// TestParityForwardBackward: logits, loss and every parameter gradient match PyTorch.
func TestParityForwardBackward(t *testing.T) {
	for _, name := range fixtures {
		for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				fx := openFixture(t, name)
				m := fx.model(t, dt)
				var tape ag.Tape
				c := &nn.Ctx{Tape: &tape}
				out, loss := fx.forward(t, m, c)
				tol := tolerance(dt)
				closeAll(t, "logits", out.Value, fx.tensor(t, "expect/logits"), tol, 0)
				closeAll(t, "loss", loss.Value.Reshape(1), fx.tensor(t, "expect/loss"), tol, 0)
				tape.Backward(loss)
				var gscale float64 // the largest gradient anywhere
				for _, p := range m.Params() {
					for _, v := range fx.tensor(t, "expect/grad/"+p.Name).F64() {
						gscale = math.Max(gscale, math.Abs(v))
					}
				}
				for _, p := range m.Params() {
					want := fx.tensor(t, "expect/grad/"+p.Name)
					if p.Param.Grad == nil {
						p.Param.Grad = tensor.New(dt, p.Param.Value.Shape()...)
					}
					// float32 sums leave ~1e-7 relative noise on the largest gradient in
					// gradients that are zero in exact arithmetic
					floor := 1e-3 * gscale
					if dt == tensor.F32 {
						floor = 3e-2 * gscale
					}
					closeAll(t, "grad "+p.Name, p.Param.Grad, want, 10*tol, floor)
				}
			})
		}
	}
}

// TestParityAdamW: the losses of 10 AdamW steps with warm-up, weight decay on Linear weights
// only and clipping match PyTorch's.
func TestParityAdamW(t *testing.T) {
	for _, name := range fixtures {
		for _, dt := range []tensor.DType{tensor.F64, tensor.F32} {
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				fx := openFixture(t, name)
				m := fx.model(t, dt)
				opt := optim.NewAdamW(m.Params(), 0.01, optim.DecayPolicy{})
				sched := schedule.Linear{Peak: 1e-2, Warmup: 3, Total: 10}
				want := fx.tensor(t, "expect/adamw_losses").F64()
				for step := 0; step < 10; step++ {
					var tape ag.Tape
					_, loss := fx.forward(t, m, &nn.Ctx{Tape: &tape})
					got := loss.Value.At()
					tol := 1e-9
					if dt == tensor.F32 {
						tol = 1e-4
					}
					if math.Abs(got-want[step]) > tol*math.Abs(want[step]) {
						t.Fatalf("step %d: loss %.10g, PyTorch %.10g", step, got, want[step])
					}
					opt.ZeroGrad()
					tape.Backward(loss)
					optim.ClipGradNorm(m.Params(), 1)
					opt.Step(sched.LR(step))
				}
			})
		}
	}
}
