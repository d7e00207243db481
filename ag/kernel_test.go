package ag_test

import (
	"math"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/tensor"
)

// scaledKernel computes 2·x·Wᵀ (+ beta·y), so a test can tell whether it ran.
type scaledKernel struct {
	w       []float32
	out, in int
	calls   int
}

func (k *scaledKernel) MulT(y []float32, ldy int, x []float32, n int, beta float32) {
	k.calls++
	for r := 0; r < n; r++ {
		for j := 0; j < k.out; j++ {
			var s float32
			for p := 0; p < k.in; p++ {
				s += x[r*k.in+p] * k.w[j*k.in+p]
			}
			y[r*ldy+j] = 2*s + beta*y[r*ldy+j]
		}
	}
}

func f32(seed uint64, shape ...int) *tensor.Tensor { return rnd(seed, shape...).To(tensor.F32) }

func close32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// Inference (nothing recording) takes a weight's kernel; recording takes the float value;
// Changed drops the kernel.
func TestWeightKernel(t *testing.T) {
	x := ag.NewVar(f32(1, 2, 3, 5)) // (B, T, In)
	ws := []*ag.Param{ag.NewParam(f32(2, 4, 5), ag.RoleWeight), ag.NewParam(f32(3, 6, 5), ag.RoleWeight)}
	bs := []*ag.Param{ag.NewParam(f32(4, 4), ag.RoleBias), nil}
	plain := ag.Linear(nil, x, ws[0], bs[0]).Value.F32()
	cat := ag.LinearCat(nil, x, ws, bs, nil).Value.F32()
	ks := make([]*scaledKernel, 2)
	for i, w := range ws {
		ks[i] = &scaledKernel{w: w.Value.F32(), out: w.Value.Dim(0), in: 5}
		w.SetKernel(ks[i])
	}
	// y = 2·x·Wᵀ + b: 2·(plain − b) + b
	b := bs[0].Value.F32()
	want := make([]float32, len(plain))
	for i := range plain {
		want[i] = 2*(plain[i]-b[i%4]) + b[i%4]
	}
	y := ag.Linear(nil, x, ws[0], bs[0])
	if ks[0].calls != 1 || !close32(y.Value.F32(), want, 1e-5) || len(y.Value.Shape()) != 3 || y.Value.Dim(2) != 4 {
		t.Fatalf("Linear with a kernel: %d calls, shape %v", ks[0].calls, y.Value.Shape())
	}
	yc := ag.LinearCat(nil, x, ws, bs, nil).Value.F32()
	for r := 0; r < 6; r++ {
		for j := 0; j < 10; j++ {
			w := 2 * cat[r*10+j]
			if j < 4 {
				w = 2*(cat[r*10+j]-b[j]) + b[j]
			}
			if math.Abs(float64(yc[r*10+j]-w)) > 1e-5 {
				t.Fatalf("LinearCat row %d col %d: %v, want %v", r, j, yc[r*10+j], w)
			}
		}
	}
	// Recording: the float path, whatever the kernel.
	var tape ag.Tape
	xr := ag.NewLeaf(x.Value)
	yr := ag.Linear(&tape, xr, ws[0], bs[0])
	if !close32(yr.Value.F32(), plain, 1e-6) || ks[0].calls != 2 {
		t.Fatalf("a recording Linear used the kernel (%d calls)", ks[0].calls)
	}
	// Under NoGrad the tape does not record: the kernel runs.
	tape.NoGrad(func() { ag.Linear(&tape, xr, ws[0], bs[0]) })
	if ks[0].calls != 3 {
		t.Fatalf("NoGrad: %d kernel calls", ks[0].calls)
	}
	ws[0].Changed()
	if ws[0].Kernel() != nil {
		t.Fatal("Changed kept a kernel derived from the old value")
	}
	if !close32(ag.Linear(nil, x, ws[0], bs[0]).Value.F32(), plain, 1e-6) {
		t.Fatal("after Changed the float path should run")
	}
}

func roundTo(step float32) func([]float32) {
	return func(v []float32) {
		for i, x := range v {
			v[i] = float32(math.Round(float64(x/step))) * step
		}
	}
}

// Fake quantization: recorded products use the rounded weight and inputs, and the gradients
// are the rounded product's, passed straight through to the float weight and input.
func TestFakeQuant(t *testing.T) {
	fq := &ag.FakeQuant{
		Weight: func(w []float32, out, in int) []float32 {
			c := append([]float32(nil), w...)
			roundTo(0.25)(c)
			return c
		},
		Rows: roundTo(0.5),
	}
	xv := f32(11, 2, 3, 5)
	w := ag.NewParam(f32(12, 4, 5), ag.RoleWeight)
	b := ag.NewParam(f32(13, 4), ag.RoleBias)
	xq, wq := xv.Clone(), w.Value.Clone()
	roundTo(0.5)(xq.F32())
	roundTo(0.25)(wq.F32())

	// The reference: the rounded tensors as plain inputs.
	var rt ag.Tape
	rx, rw, rb := ag.NewLeaf(xq), ag.NewParam(wq, ag.RoleWeight), ag.NewParam(b.Value.Clone(), ag.RoleBias)
	ry := ag.Linear(&rt, rx, rw, rb)
	rt.Backward(ag.Sum(&rt, ry))

	w.SetFakeQuant(fq)
	var tp ag.Tape
	x := ag.NewLeaf(xv)
	y := ag.Linear(&tp, x, w, b)
	if !close32(y.Value.F32(), ry.Value.F32(), 1e-6) {
		t.Fatal("the recorded product is not the rounded one")
	}
	tp.Backward(ag.Sum(&tp, y))
	for _, c := range []struct {
		name     string
		got, ref *tensor.Tensor
	}{{"dx", x.Grad, rx.Grad}, {"dW", w.Grad, rw.Grad}, {"db", b.Grad, rb.Grad}} {
		if !close32(c.got.F32(), c.ref.F32(), 1e-5) {
			t.Fatalf("%s: straight-through gradient differs from the rounded product's", c.name)
		}
	}
	// Not recording: the float value, unrounded.
	plain := ag.Linear(nil, ag.NewVar(xv), w, b).Value.F32()
	w.SetFakeQuant(nil)
	if !close32(plain, ag.Linear(nil, ag.NewVar(xv), w, b).Value.F32(), 0) {
		t.Fatal("inference used the fake quantization")
	}
	// LinearCat rounds each weight the same way.
	w2 := ag.NewParam(f32(14, 3, 5), ag.RoleWeight)
	w.SetFakeQuant(fq)
	w2.SetFakeQuant(fq)
	var ct ag.Tape
	cat := ag.LinearCat(&ct, ag.NewLeaf(xv), []*ag.Param{w, w2}, []*ag.Param{b, nil}, nil).Value.F32()
	for r := 0; r < 6; r++ {
		for j := 0; j < 4; j++ {
			if math.Abs(float64(cat[r*7+j]-ry.Value.F32()[r*4+j])) > 1e-5 {
				t.Fatalf("LinearCat row %d col %d: %v, want %v", r, j, cat[r*7+j], ry.Value.F32()[r*4+j])
			}
		}
	}
	// LinearCrossEntropy: the loss of the rounded head and inputs.
	targets := tensor.FromI32([]int32{0, 1, 2, 3, 1, 0}, 6)
	var lt ag.Tape
	got := ag.LinearCrossEntropy(&lt, ag.NewLeaf(xv.Reshape(6, 5)), w, targets, 0, -100).Value.At()
	want := ag.LinearCrossEntropy(nil, ag.NewVar(xq.Reshape(6, 5)), ag.NewParam(wq, ag.RoleWeight), targets, 0, -100).Value.At()
	if math.Abs(got-want) > 1e-5 {
		t.Fatalf("LinearCrossEntropy with fake quantization %v, rounded %v", got, want)
	}
}
