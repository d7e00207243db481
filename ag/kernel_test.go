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
