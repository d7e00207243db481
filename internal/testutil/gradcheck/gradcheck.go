// Package gradcheck checks the gradients of ag computations against finite differences.
// It is separate from testutil because it imports ag, which the kernel tests below ag cannot.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/tensor"
)

// Check compares the gradients Backward computes for f with central finite differences,
// in float64. f builds its result from the leaves on the given tape (nil when Check only
// wants the value); the result may have any shape: Check differentiates Σ f·R for a fixed
// random R, so every output element counts. Each input arrives as a Param (use &p.Var where
// a Var is wanted). inputs must be F64; each element x gets
// (f(x+h) − f(x−h))/2h with h = 1e-6·max(1, |x|). It returns an error naming the first input
// element whose gradient is off by more than atol + rtol·|numeric|.
func Check(f func(t *ag.Tape, in []*ag.Param) *ag.Var, inputs []*tensor.Tensor, rtol, atol float64) error {
	for i, in := range inputs {
		if in.DType() != tensor.F64 {
			return fmt.Errorf("gradcheck: input %d is %v, want float64", i, in.DType())
		}
	}
	leaves := make([]*ag.Param, len(inputs))
	for i, in := range inputs {
		leaves[i] = ag.NewParam(in, ag.RoleWeight)
	}
	var tape ag.Tape
	out := f(&tape, leaves)
	r := rand.New(rand.NewPCG(12345, 678))
	proj := tensor.RandUniform(r, tensor.F64, -1, 1, out.Value.Shape()...)
	loss := ag.Sum(&tape, ag.Mul(&tape, out, ag.NewVar(proj)))
	tape.Backward(loss)

	eval := func() float64 {
		ls := make([]*ag.Param, len(inputs))
		for i, in := range inputs {
			ls[i] = ag.NewParam(in, ag.RoleWeight)
		}
		o := f(nil, ls).Value.Contiguous().F64()
		var s float64
		for j, v := range o {
			s += v * proj.F64()[j]
		}
		return s
	}
	for i, in := range inputs {
		x := in.F64() // inputs are contiguous leaves: perturb in place
		var g []float64
		if leaves[i].Grad != nil {
			g = leaves[i].Grad.F64()
		}
		for j := range x {
			orig := x[j]
			h := 1e-6 * math.Max(1, math.Abs(orig))
			x[j] = orig + h
			fp := eval()
			x[j] = orig - h
			fm := eval()
			x[j] = orig
			num := (fp - fm) / (2 * h)
			var ana float64
			if g != nil {
				ana = g[j]
			}
			if math.Abs(ana-num) > atol+rtol*math.Abs(num) || math.IsNaN(ana) != math.IsNaN(num) {
				return fmt.Errorf("gradcheck: input %d %v element %d: backward %.10g, finite differences %.10g", i, in.Shape(), j, ana, num)
			}
		}
	}
	return nil
}
