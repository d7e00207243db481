package ag_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/internal/testutil/gradcheck"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

func rnd(seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandNormal(rand.New(rand.NewPCG(seed, 99)), tensor.F64, 0, 1, shape...)
}

// away returns values with |x| ≥ 0.1, for functions with a kink at 0 (ReLU).
func away(seed uint64, shape ...int) *tensor.Tensor {
	t := rnd(seed, shape...)
	for i, v := range t.F64() {
		if math.Abs(v) < 0.1 {
			t.F64()[i] = 0.1 + math.Abs(v)
		}
	}
	return t
}

func check(t *testing.T, name string, f func(tp *ag.Tape, p []*ag.Param) *ag.Var, inputs ...*tensor.Tensor) {
	t.Helper()
	if err := gradcheck.Check(f, inputs, 1e-5, 1e-7); err != nil {
		t.Errorf("%s: %v", name, err)
	}
}

func TestGradMatMul(t *testing.T) {
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		m, k, n := 3, 4, 5
		as, bs := []int{m, k}, []int{k, n}
		if tr[0] {
			as = []int{k, m}
		}
		if tr[1] {
			bs = []int{n, k}
		}
		check(t, "MatMul 2-D", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.MatMul(tp, &p[0].Var, &p[1].Var, tr[0], tr[1]) },
			rnd(1, as...), rnd(2, bs...))
		check(t, "MatMul batched, shared b", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.MatMul(tp, &p[0].Var, &p[1].Var, tr[0], tr[1]) },
			rnd(3, append([]int{2}, as...)...), rnd(4, bs...))
		check(t, "MatMul batched", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.MatMul(tp, &p[0].Var, &p[1].Var, tr[0], tr[1]) },
			rnd(5, append([]int{2}, as...)...), rnd(6, append([]int{2}, bs...)...))
	}
}

func TestGradLinear(t *testing.T) {
	check(t, "Linear with bias", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Linear(tp, &p[0].Var, p[1], p[2])
	}, rnd(1, 2, 3, 4), rnd(2, 5, 4), rnd(3, 5))
	check(t, "Linear without bias", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Linear(tp, &p[0].Var, p[1], nil)
	}, rnd(1, 6, 4), rnd(2, 5, 4))
}

func TestGradElementwise(t *testing.T) {
	check(t, "Add", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Add(tp, &p[0].Var, &p[1].Var) }, rnd(1, 2, 3), rnd(2, 2, 3))
	check(t, "Add broadcast", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Add(tp, &p[0].Var, &p[1].Var) }, rnd(1, 2, 3, 4), rnd(2, 3, 4))
	check(t, "Mul", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Mul(tp, &p[0].Var, &p[1].Var) }, rnd(1, 2, 3), rnd(2, 2, 3))
	check(t, "Mul broadcast", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Mul(tp, &p[0].Var, &p[1].Var) }, rnd(1, 4, 3), rnd(2, 3))
	check(t, "Scale", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Scale(tp, &p[0].Var, -1.7) }, rnd(1, 5))
	check(t, "ReLU", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Activate(tp, &p[0].Var, ops.ReLU) }, away(1, 3, 7))
	check(t, "GELU", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Activate(tp, &p[0].Var, ops.GELU) }, rnd(1, 3, 7))
	check(t, "GELUTanh", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Activate(tp, &p[0].Var, ops.GELUTanh) }, rnd(1, 3, 7))
	check(t, "Sum", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Sum(tp, &p[0].Var) }, rnd(1, 3, 2))
}

func TestGradSoftmaxAndNorm(t *testing.T) {
	mask := tensor.FromF64([]float64{0, math.Inf(-1), 0, 0, 0}, 5)
	check(t, "Softmax", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Softmax(tp, &p[0].Var, nil) }, rnd(1, 3, 5))
	check(t, "Softmax masked", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Softmax(tp, &p[0].Var, mask) }, rnd(1, 3, 5))
	check(t, "LogSoftmax", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.LogSoftmax(tp, &p[0].Var) }, rnd(1, 3, 5))
	check(t, "LayerNorm", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.LayerNorm(tp, &p[0].Var, p[1], p[2], 1e-5)
	}, rnd(1, 2, 3, 6), rnd(2, 6), rnd(3, 6))
	check(t, "LayerNorm without affine", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.LayerNorm(tp, &p[0].Var, nil, nil, 1e-5)
	}, rnd(1, 4, 6))
}

func TestGradEmbeddingDropoutShapes(t *testing.T) {
	ids := tensor.FromI32([]int32{2, 0, 3, 2, 1, 0}, 2, 3)
	check(t, "Embedding", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Embedding(tp, p[0], ids, -1) }, rnd(1, 4, 5))
	check(t, "Dropout", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Dropout(tp, &p[0].Var, 0.3, rand.New(rand.NewPCG(7, 7)))
	}, rnd(1, 4, 9))
	check(t, "Reshape", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Reshape(tp, &p[0].Var, 3, -1) }, rnd(1, 2, 3, 2))
	check(t, "Transpose", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Transpose(tp, &p[0].Var, 0, 2) }, rnd(1, 2, 3, 4))
	check(t, "Concat", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Concat(tp, 1, &p[0].Var, &p[1].Var) }, rnd(1, 2, 3, 2), rnd(2, 2, 1, 2))
	check(t, "Slice", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.Slice(tp, &p[0].Var, 1, 1, 3) }, rnd(1, 2, 4, 3))
}

func TestGradAttention(t *testing.T) {
	b, tq, s, h, d := 2, 3, 4, 2, 3
	c := h * d
	masks := map[string]ops.AttnMask{
		"none":         {},
		"padding":      {KeyPad: []bool{false, false, true, true, false, false, false, true}},
		"causal":       {Causal: true, Offset: 1},
		"both":         {KeyPad: []bool{false, true, false, false, false, false, false, true}, Causal: true, Offset: 1},
		"fully masked": {KeyPad: []bool{true, true, true, true, false, false, false, false}},
	}
	for name, m := range masks {
		check(t, "Attention "+name, func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			return ag.Attention(tp, &p[0].Var, &p[1].Var, &p[2].Var, h, m, 1/math.Sqrt(float64(d)), 0, nil)
		}, rnd(1, b, tq, c), rnd(2, b, s, c), rnd(3, b, s, c))
	}
	check(t, "Attention dropout", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Attention(tp, &p[0].Var, &p[1].Var, &p[2].Var, h, ops.AttnMask{Causal: true, Offset: 1}, 0.5, 0.25, rand.New(rand.NewPCG(3, 3)))
	}, rnd(1, b, tq, c), rnd(2, b, s, c), rnd(3, b, s, c))
}

func TestGradLosses(t *testing.T) {
	targets := tensor.FromI32([]int32{1, 4, -100, 0}, 4)
	for _, eps := range []float64{0, 0.1} {
		check(t, "CrossEntropy", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			return ag.CrossEntropy(tp, &p[0].Var, targets, eps, -100)
		}, rnd(1, 4, 5))
	}
	teacher := rnd(9, 3, 5)
	check(t, "KLDiv", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.KLDiv(tp, &p[0].Var, teacher, 2.5) }, rnd(1, 3, 5))
	check(t, "MSE", func(tp *ag.Tape, p []*ag.Param) *ag.Var { return ag.MSE(tp, &p[0].Var, &p[1].Var) }, rnd(1, 3, 4), rnd(2, 3, 4))
	check(t, "AddScalars", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.AddScalars(tp, []float64{0.3, 2}, ag.MSE(tp, &p[0].Var, &p[1].Var), ag.Sum(tp, &p[0].Var))
	}, rnd(1, 3, 4), rnd(2, 3, 4))
}

// Rows of the padding id get no gradient (torch's padding_idx), even when the id is used.
func TestEmbeddingPaddingGetsNoGradient(t *testing.T) {
	w := ag.NewParam(rnd(1, 4, 3), ag.RoleEmbedding)
	var tp ag.Tape
	y := ag.Embedding(&tp, w, tensor.FromI32([]int32{0, 2, 0, 1}, 4), 0)
	tp.Backward(ag.Sum(&tp, y))
	g := w.Grad.F64()
	for j := 0; j < 3; j++ {
		if g[j] != 0 || g[3+j] != 1 || g[6+j] != 1 || g[9+j] != 0 {
			t.Fatalf("gradient rows %v, want row 0 (padding) and row 3 (unused) zero, rows 1 and 2 one", g)
		}
	}
}

// Gradients accumulate over Backward calls until ZeroGrad (micro-batches), and the tape is
// empty after Backward.
func TestGradientAccumulation(t *testing.T) {
	w := ag.NewParam(rnd(1, 3, 2), ag.RoleWeight)
	x := ag.NewVar(rnd(2, 5, 2))
	var tp ag.Tape
	step := func() {
		tp.Backward(ag.Sum(&tp, ag.Linear(&tp, x, w, nil)))
	}
	step()
	once := append([]float64(nil), w.Grad.F64()...)
	if tp.Len() != 0 {
		t.Fatalf("tape holds %d nodes after Backward", tp.Len())
	}
	step()
	for i, v := range w.Grad.F64() {
		if math.Abs(v-2*once[i]) > 1e-12 {
			t.Fatalf("after two steps grad[%d] = %v, want %v", i, v, 2*once[i])
		}
	}
	w.ZeroGrad()
	tp.NoGrad(func() {
		if y := ag.Linear(&tp, x, w, nil); y.RequiresGrad() || tp.Len() != 0 {
			t.Fatal("NoGrad recorded an operation")
		}
	})
	if y := ag.Linear(nil, x, w, nil); y.RequiresGrad() {
		t.Fatal("a nil tape recorded an operation")
	}
}

func TestGradLinearCrossEntropy(t *testing.T) {
	targets := tensor.FromI32([]int32{1, 4, -100, 0, 2}, 5)
	check(t, "LinearCrossEntropy", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.LinearCrossEntropy(tp, &p[0].Var, p[1], targets, 0.1, -100)
	}, rnd(1, 5, 3), rnd(2, 6, 3))
	// Equal to the unfused composition.
	x, w := rnd(3, 5, 3), rnd(4, 6, 3)
	fused := ag.LinearCrossEntropy(nil, ag.NewVar(x), ag.NewParam(w, ag.RoleWeight), targets, 0.1, -100).Value.At()
	unfused := ag.CrossEntropy(nil, ag.Linear(nil, ag.NewVar(x), ag.NewParam(w, ag.RoleWeight), nil), targets, 0.1, -100).Value.At()
	if math.Abs(fused-unfused) > 1e-12 {
		t.Fatalf("fused %v, unfused %v", fused, unfused)
	}
}

// With a vocabulary large enough to need several chunks, the fused loss and gradients equal
// the unfused ones.
func TestLinearCrossEntropyChunks(t *testing.T) {
	n, c, v := 150, 3, 40000
	x, w := rnd(5, n, c), rnd(6, v, c)
	tg := make([]int32, n)
	for i := range tg {
		tg[i] = int32(i * 997 % v)
	}
	tg[7] = -100
	targets := tensor.FromI32(tg, n)
	run := func(fused bool) (float64, []float64, []float64) {
		var tp ag.Tape
		xv := ag.NewParam(x.Clone(), ag.RoleWeight)
		wp := ag.NewParam(w.Clone(), ag.RoleWeight)
		var loss *ag.Var
		if fused {
			loss = ag.LinearCrossEntropy(&tp, &xv.Var, wp, targets, 0.1, -100)
		} else {
			loss = ag.CrossEntropy(&tp, ag.Linear(&tp, &xv.Var, wp, nil), targets, 0.1, -100)
		}
		tp.Backward(loss)
		return loss.Value.At(), xv.Grad.F64(), wp.Grad.F64()
	}
	l1, dx1, dw1 := run(true)
	l2, dx2, dw2 := run(false)
	if math.Abs(l1-l2) > 1e-12 {
		t.Fatalf("loss %v vs %v", l1, l2)
	}
	for i := range dx1 {
		if math.Abs(dx1[i]-dx2[i]) > 1e-12 {
			t.Fatalf("dx[%d] %v vs %v", i, dx1[i], dx2[i])
		}
	}
	for i := range dw1 {
		if math.Abs(dw1[i]-dw2[i]) > 1e-12 {
			t.Fatalf("dw[%d] %v vs %v", i, dw1[i], dw2[i])
		}
	}
}

func TestGradLinearCatAndAttentionQKV(t *testing.T) {
	check(t, "LinearCat", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.LinearCat(tp, &p[0].Var, []*ag.Param{p[1], p[2]}, []*ag.Param{p[3], nil}, nil)
	}, rnd(1, 2, 3, 4), rnd(2, 5, 4), rnd(3, 2, 4), rnd(4, 5))
	h, d := 2, 3
	c := h * d
	for _, m := range []ops.AttnMask{{}, {KeyPad: []bool{false, false, true, false, false, false, false, true}, Causal: true}} {
		check(t, "AttentionQKV", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			return ag.AttentionQKV(tp, &p[0].Var, h, m, 0.4, 0, nil)
		}, rnd(5, 2, 4, 3*c))
	}
	check(t, "AttentionQKV dropout", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.AttentionQKV(tp, &p[0].Var, h, ops.AttnMask{Causal: true}, 0.4, 0.3, rand.New(rand.NewPCG(4, 4)))
	}, rnd(6, 2, 4, 3*c))
	// The fused forms equal the separate ones.
	x, wq, wk, wv := rnd(7, 2, 4, c), rnd(8, c, c), rnd(9, c, c), rnd(10, c, c)
	qkv := ops.LinearCat(x, []*tensor.Tensor{wq, wk, wv}, nil, nil)
	fused, _ := ops.AttentionQKV(qkv, h, ops.AttnMask{Causal: true}, 0.5, 0, nil, false)
	sep, _ := ops.Attention(ops.Linear(x, wq, nil, nil), ops.Linear(x, wk, nil, nil), ops.Linear(x, wv, nil, nil), h, ops.AttnMask{Causal: true}, 0.5, 0, nil, false)
	for i, v := range fused.F64() {
		if math.Abs(v-sep.F64()[i]) > 1e-12 {
			t.Fatalf("element %d: fused %v, separate %v", i, v, sep.F64()[i])
		}
	}
}

// A backward step that is the first to reach an input hands it its output's gradient buffer
// (element-wise ops) or overwrites a fresh one (Linear); later ones add. Each op here sees
// its input both ways: used once, used again before it, used again after it, and twice by
// the same Add.
func TestGradFirstAndLaterContributions(t *testing.T) {
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(7, 7)) }
	unary := map[string]func(tp *ag.Tape, x *ag.Var) *ag.Var{
		"ReLU":    func(tp *ag.Tape, x *ag.Var) *ag.Var { return ag.Activate(tp, x, ops.ReLU) },
		"GELU":    func(tp *ag.Tape, x *ag.Var) *ag.Var { return ag.Activate(tp, x, ops.GELU) },
		"Dropout": func(tp *ag.Tape, x *ag.Var) *ag.Var { return ag.Dropout(tp, x, 0.3, rng()) },
		"Scale":   func(tp *ag.Tape, x *ag.Var) *ag.Var { return ag.Scale(tp, x, -1.5) },
	}
	for name, f := range unary {
		check(t, name+" then another use", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			y := f(tp, &p[0].Var)
			return ag.Add(tp, y, ag.Mul(tp, &p[0].Var, &p[0].Var))
		}, away(1, 3, 8))
		check(t, "another use then "+name, func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			sq := ag.Mul(tp, &p[0].Var, &p[0].Var)
			return ag.Add(tp, sq, f(tp, &p[0].Var))
		}, away(2, 3, 8))
		check(t, name+" of an intermediate", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
			h := ag.Linear(tp, &p[0].Var, p[1], nil)
			return ag.Mul(tp, f(tp, h), h)
		}, rnd(3, 2, 3, 4), rnd(4, 5, 4))
	}
	check(t, "Add(x, x)", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Mul(tp, ag.Add(tp, &p[0].Var, &p[0].Var), &p[1].Var)
	}, rnd(5, 2, 3), rnd(6, 2, 3))
	c := ag.NewVar(rnd(7, 2, 3))
	check(t, "Add(constant, x)", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		return ag.Mul(tp, ag.Add(tp, c, &p[0].Var), &p[0].Var)
	}, rnd(8, 2, 3))
	check(t, "Add(x, broadcast b) used again", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		h := ag.Linear(tp, &p[0].Var, p[2], nil)
		return ag.Mul(tp, ag.Add(tp, h, &p[1].Var), h)
	}, rnd(9, 2, 3, 4), rnd(10, 3, 5), rnd(11, 5, 4))
	check(t, "Linear: x and w each used twice", func(tp *ag.Tape, p []*ag.Param) *ag.Var {
		a := ag.Linear(tp, &p[0].Var, p[1], p[3])
		b := ag.Linear(tp, &p[0].Var, p[2], nil)
		d := ag.Linear(tp, &p[4].Var, p[1], nil)
		return ag.Add(tp, ag.Add(tp, ag.Mul(tp, a, b), d), a)
	}, rnd(12, 3, 4), rnd(13, 5, 4), rnd(14, 5, 4), rnd(15, 5), rnd(16, 3, 4))
}
