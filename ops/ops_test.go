package ops_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// The float64 path is checked against finite differences in package ag; these tests check
// that the float32 fast path (kernels, threads) computes the same thing, forward and backward.

func rnd(dt tensor.DType, seed uint64, shape ...int) *tensor.Tensor {
	return tensor.RandNormal(rand.New(rand.NewPCG(seed, 5)), tensor.F64, 0, 1, shape...).To(dt)
}

func zeros(dt tensor.DType, shape ...int) *tensor.Tensor { return tensor.New(dt, shape...) }

// compare checks two runs of the same computation, one in float32 and one in float64.
func compare(t *testing.T, name string, run func(dt tensor.DType) []*tensor.Tensor, rtol float64) {
	t.Helper()
	a, b := run(tensor.F32), run(tensor.F64)
	for i := range a {
		x, y := a[i].To(tensor.F64).F64(), b[i].F64()
		var scale float64
		for _, v := range y {
			scale = math.Max(scale, math.Abs(v))
		}
		for j := range x {
			// float32 rounding grows with the size of the terms, which the largest output
			// stands for; a wrong formula misses by far more.
			if math.IsNaN(y[j]) != math.IsNaN(x[j]) || math.Abs(x[j]-y[j]) > rtol*(math.Abs(y[j])+scale) {
				t.Errorf("%s: output %d element %d: float32 %v, float64 %v", name, i, j, x[j], y[j])
				return
			}
		}
	}
}

// threadsIdentical checks that a float32 run gives the same bits with 1 and 3 threads.
func threadsIdentical(t *testing.T, name string, run func(dt tensor.DType) []*tensor.Tensor) {
	t.Helper()
	defer kernels.SetThreads(kernels.SetThreads(1))
	a := run(tensor.F32)
	kernels.SetThreads(3)
	b := run(tensor.F32)
	for i := range a {
		x, y := a[i].F32(), b[i].F32()
		for j := range x {
			if math.Float32bits(x[j]) != math.Float32bits(y[j]) {
				t.Fatalf("%s: output %d element %d differs with 3 threads: %v vs %v", name, i, j, y[j], x[j])
			}
		}
	}
}

func both(t *testing.T, name string, rtol float64, run func(dt tensor.DType) []*tensor.Tensor) {
	t.Helper()
	compare(t, name, run, rtol)
	threadsIdentical(t, name, run)
}

func TestMatMulAndLinear(t *testing.T) {
	for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
		both(t, fmt.Sprint("MatMul ", tr), 1e-5, func(dt tensor.DType) []*tensor.Tensor {
			as, bs := []int{3, 70, 40}, []int{40, 50}
			if tr[0] {
				as = []int{3, 40, 70}
			}
			if tr[1] {
				bs = []int{50, 40}
			}
			a, b := rnd(dt, 1, as...), rnd(dt, 2, bs...)
			y := ops.MatMul(a, b, tr[0], tr[1])
			da, db := zeros(dt, as...), zeros(dt, bs...)
			ops.MatMulBackward(a, b, rnd(dt, 3, y.Shape()...), tr[0], tr[1], da, db)
			return []*tensor.Tensor{y, da, db}
		})
	}
	both(t, "Linear", 1e-5, func(dt tensor.DType) []*tensor.Tensor {
		x, w, b := rnd(dt, 1, 4, 30, 64), rnd(dt, 2, 96, 64), rnd(dt, 3, 96)
		var p *kernels.PackedB
		if dt == tensor.F32 {
			p = kernels.PackB(true, 64, 96, w.F32(), 64)
		}
		y := ops.Linear(x, w, b, p)
		dx, dw, db := zeros(dt, 4, 30, 64), zeros(dt, 96, 64), zeros(dt, 96)
		ops.LinearBackward(x, w, rnd(dt, 4, 4, 30, 96), dx, dw, db)
		return []*tensor.Tensor{y, dx, dw, db}
	})
}

func TestRowOps(t *testing.T) {
	both(t, "Softmax", 1e-5, func(dt tensor.DType) []*tensor.Tensor {
		x := rnd(dt, 1, 50, 77)
		mask := zeros(dt, 77)
		for i := 0; i < 77; i += 5 {
			mask.Set(math.Inf(-1), i)
		}
		y := ops.Softmax(x, mask)
		dx := zeros(dt, 50, 77)
		ops.SoftmaxBackward(y, rnd(dt, 2, 50, 77), dx)
		return []*tensor.Tensor{y, dx}
	})
	both(t, "LogSoftmax", 1e-5, func(dt tensor.DType) []*tensor.Tensor {
		x := rnd(dt, 1, 20, 300)
		y := ops.LogSoftmax(x)
		dx := zeros(dt, 20, 300)
		ops.LogSoftmaxBackward(y, rnd(dt, 2, 20, 300), dx)
		return []*tensor.Tensor{y, dx}
	})
	both(t, "LayerNorm", 1e-4, func(dt tensor.DType) []*tensor.Tensor {
		x, g, b := rnd(dt, 1, 300, 64), rnd(dt, 2, 64), rnd(dt, 3, 64)
		y, mean, rstd := ops.LayerNorm(x, g, b, 1e-5)
		dx, dg, db := zeros(dt, 300, 64), zeros(dt, 64), zeros(dt, 64)
		ops.LayerNormBackward(x, g, mean, rstd, rnd(dt, 4, 300, 64), dx, dg, db)
		return []*tensor.Tensor{y, mean, rstd, dx, dg, db}
	})
	for _, act := range []ops.Activation{ops.ReLU, ops.GELU, ops.GELUTanh} {
		both(t, act.String(), 1e-5, func(dt tensor.DType) []*tensor.Tensor {
			x := rnd(dt, 1, 40, 1000)
			y := ops.Activate(x, act)
			dx := zeros(dt, 40, 1000)
			ops.ActivateBackward(x, rnd(dt, 2, 40, 1000), act, dx)
			return []*tensor.Tensor{y, dx}
		})
	}
	both(t, "Add/Mul", 1e-6, func(dt tensor.DType) []*tensor.Tensor {
		a, b := rnd(dt, 1, 30, 700), rnd(dt, 2, 700)
		s := ops.Add(a, b)
		p := ops.Mul(a, b)
		da, db := zeros(dt, 30, 700), zeros(dt, 700)
		ops.AddBackward(rnd(dt, 3, 30, 700), da, db)
		ops.MulBackward(a, b, rnd(dt, 4, 30, 700), da, db)
		return []*tensor.Tensor{s, p, da, db}
	})
}

func TestAttention(t *testing.T) {
	for _, cfg := range []struct {
		name    string
		b, t, s int
		mask    ops.AttnMask
		drop    float64
	}{
		{"plain", 2, 17, 17, ops.AttnMask{}, 0},
		{"padding+causal", 2, 9, 12, ops.AttnMask{KeyPad: padding(2, 12, []int{12, 7}), Causal: true, Offset: 3}, 0},
		{"dropout", 3, 8, 8, ops.AttnMask{Causal: true}, 0.2},
		{"big", 2, 128, 128, ops.AttnMask{KeyPad: padding(2, 128, []int{128, 100})}, 0},
	} {
		both(t, "Attention "+cfg.name, 1e-4, func(dt tensor.DType) []*tensor.Tensor {
			h, d := 4, 16
			q, k, v := rnd(dt, 1, cfg.b, cfg.t, h*d), rnd(dt, 2, cfg.b, cfg.s, h*d), rnd(dt, 3, cfg.b, cfg.s, h*d)
			out, saved := ops.Attention(q, k, v, h, cfg.mask, 0.25, cfg.drop, rand.New(rand.NewPCG(1, 1)), true)
			dq, dk, dv := zeros(dt, q.Shape()...), zeros(dt, k.Shape()...), zeros(dt, v.Shape()...)
			ops.AttentionBackward(q, k, v, rnd(dt, 4, out.Shape()...), h, 0.25, saved, dq, dk, dv)
			return []*tensor.Tensor{out, dq, dk, dv}
		})
	}
}

func padding(b, s int, lens []int) []bool {
	p := make([]bool, b*s)
	for i, l := range lens {
		for j := l; j < s; j++ {
			p[i*s+j] = true
		}
	}
	return p
}

// The fused attention must equal the composition of the unfused ops: per head
// softmax(Q·Kᵀ·scale + mask)·V through MatMul and Softmax.
func TestAttentionMatchesUnfused(t *testing.T) {
	b, tq, s, h, d := 2, 5, 6, 3, 4
	dt := tensor.F64
	q, k, v := rnd(dt, 1, b, tq, h*d), rnd(dt, 2, b, s, h*d), rnd(dt, 3, b, s, h*d)
	pad := padding(b, s, []int{6, 4})
	out, _ := ops.Attention(q, k, v, h, ops.AttnMask{KeyPad: pad, Causal: true, Offset: 1}, 0.5, 0, nil, false)
	split := func(x *tensor.Tensor, n int) *tensor.Tensor { // (B, N, H·D) → (B, H, N, D)
		return x.Reshape(b, n, h, d).Permute(0, 2, 1, 3).Contiguous()
	}
	scores := ops.Scale(ops.MatMul(split(q, tq), split(k, s), false, true), 0.5) // (B, H, T, S)
	for bi := 0; bi < b; bi++ {
		for hi := 0; hi < h; hi++ {
			for i := 0; i < tq; i++ {
				for j := 0; j < s; j++ {
					if pad[bi*s+j] || j > i+1 {
						scores.Set(math.Inf(-1), bi, hi, i, j)
					}
				}
			}
		}
	}
	want := ops.MatMul(ops.Softmax(scores, nil), split(v, s), false, false).Permute(0, 2, 1, 3).Contiguous().Reshape(b, tq, h*d)
	for i, x := range out.F64() {
		if math.Abs(x-want.F64()[i]) > 1e-12 {
			t.Fatalf("element %d: fused %v, unfused %v", i, x, want.F64()[i])
		}
	}
}

func TestLosses(t *testing.T) {
	both(t, "CrossEntropy", 1e-5, func(dt tensor.DType) []*tensor.Tensor {
		logits := rnd(dt, 1, 40, 1000)
		tg := make([]int32, 40)
		for i := range tg {
			tg[i] = int32(i * 37 % 1000)
		}
		tg[3] = -100
		targets := tensor.FromI32(tg, 40)
		loss, saved := ops.CrossEntropy(logits, targets, 0.1, -100)
		d := zeros(dt, 40, 1000)
		ops.CrossEntropyBackward(logits, targets, 0.1, -100, saved, 1.5, d)
		return []*tensor.Tensor{tensor.Full(dt, loss), d}
	})
	both(t, "KLDiv", 1e-5, func(dt tensor.DType) []*tensor.Tensor {
		s, tch := rnd(dt, 1, 20, 300), rnd(dt, 2, 20, 300)
		loss, p := ops.KLDiv(s, tch, 2)
		d := zeros(dt, 20, 300)
		ops.KLDivBackward(p, tch, 2, 1, d)
		return []*tensor.Tensor{tensor.Full(dt, loss), d}
	})
}

// PyTorch values for cross-entropy with label smoothing, computed by hand from the formula
// torch documents: loss = (1−ε)·nll + ε·mean_j(−log p_j).
func TestCrossEntropyKnownValue(t *testing.T) {
	logits := tensor.FromF64([]float64{1, 2, 3, 0, 0, 0}, 2, 3)
	loss, _ := ops.CrossEntropy(logits, tensor.FromI32([]int32{2, 0}, 2), 0.1, -100)
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3))
	l0 := 0.9*(lse-3) + 0.1*(lse-2)
	l1 := 0.9*math.Log(3) + 0.1*math.Log(3)
	if want := (l0 + l1) / 2; math.Abs(loss-want) > 1e-12 {
		t.Fatalf("loss %v, want %v", loss, want)
	}
}

func TestShapeMismatchesPanic(t *testing.T) {
	x := tensor.New(tensor.F32, 2, 3)
	for name, fn := range map[string]func(){
		"MatMul":    func() { ops.MatMul(x, tensor.New(tensor.F32, 4, 5), false, false) },
		"Linear":    func() { ops.Linear(x, tensor.New(tensor.F32, 5, 4), nil, nil) },
		"Add":       func() { ops.Add(x, tensor.New(tensor.F32, 2)) },
		"mixed":     func() { ops.Add(x, tensor.New(tensor.F64, 3)) },
		"Embedding": func() { ops.Embedding(x, tensor.FromI32([]int32{2}, 1)) },
		"CE target": func() { ops.CrossEntropy(x, tensor.FromI32([]int32{0, 3}, 2), 0, -100) },
		"heads": func() {
			ops.Attention(tensor.New(tensor.F32, 1, 2, 6), tensor.New(tensor.F32, 1, 2, 6), tensor.New(tensor.F32, 1, 2, 6), 4, ops.AttnMask{}, 1, 0, nil, false)
		},
	} {
		func() {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.HasPrefix(msg, "ops: ") {
					t.Errorf("%s: panic %q, want an ops: panic", name, msg)
				}
			}()
			fn()
		}()
	}
}

func TestReLUSpecialValues(t *testing.T) {
	nan := float32(math.NaN())
	negNaN := math.Float32frombits(math.Float32bits(nan) | 1<<31)
	negZero := float32(math.Copysign(0, -1))
	in := []float32{0, negZero, 1, -1, nan, negNaN, float32(math.Inf(1)), float32(math.Inf(-1)), 1e-45, -1e-45}
	y := ops.Activate(tensor.FromF32(in, len(in)), ops.ReLU).F32()
	dx := tensor.New(tensor.F32, len(in))
	dy := make([]float32, len(in))
	for i := range dy {
		dy[i] = 1
	}
	ops.ActivateBackward(tensor.FromF32(in, len(in)), tensor.FromF32(dy, len(in)), ops.ReLU, dx)
	for i, v := range in {
		want, wantGrad := float32(0), float32(0)
		if v > 0 {
			want, wantGrad = v, 1
		}
		if v != v {
			want, wantGrad = v, 1
		}
		got := y[i]
		if !(got == want && math.Signbit(float64(got)) == math.Signbit(float64(want)) || got != got && want != want) {
			t.Errorf("relu(%v) = %v, want %v", v, got, want)
		}
		if dx.F32()[i] != wantGrad {
			t.Errorf("relu'(%v) = %v, want %v", v, dx.F32()[i], wantGrad)
		}
	}
}
