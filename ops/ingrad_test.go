package ops

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// The in-place gradients equal the accumulating ones added into zeros (up to the sign of
// zero), in both dtypes, for lengths within one thread's share and across several.
func TestGradInPlaceMatchesBackward(t *testing.T) {
	defer kernels.SetThreads(kernels.SetThreads(3))
	r := rand.New(rand.NewPCG(5, 6))
	for _, dt := range []tensor.DType{tensor.F32, tensor.F64} {
		for _, n := range []int{1, 17, 3*elementwiseGrain + 5} {
			x := tensor.RandNormal(r, dt, 0, 1, n)
			dy := tensor.RandNormal(r, dt, 0, 1, n)
			x.Set(math.NaN(), 0) // PyTorch keeps the gradient at NaN
			for _, act := range []Activation{ReLU, GELU, GELUTanh} {
				want := tensor.New(dt, n)
				ActivateBackward(x, dy, act, want)
				got := dy.Clone()
				ActivateGradInPlace(x, got, act)
				same(t, "ActivateGradInPlace "+act.String(), got, want)
			}
			_, m := Dropout(x, 0.3, rand.New(rand.NewPCG(1, 2)))
			want := tensor.New(dt, n)
			DropoutBackward(dy, m, want)
			got := dy.Clone()
			DropoutGradInPlace(got, m)
			same(t, "DropoutGradInPlace", got, want)
		}
	}
}

func same(t *testing.T, what string, got, want *tensor.Tensor) {
	t.Helper()
	for i := 0; i < got.Len(); i++ {
		g, w := got.At(i), want.At(i)
		if g != w && !(g != g && w != w) {
			t.Fatalf("%s (%v, %d): element %d is %v, want %v", what, got.DType(), got.Len(), i, g, w)
		}
	}
}
