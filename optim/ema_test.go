package optim_test

import (
	"math"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/tensor"
)

// The average follows d·ema + (1−d)·p from the initial weights, WithAverage exposes it and
// restores the raw weights, and State/SetState carry it so a resumed run continues exactly.
func TestEMA(t *testing.T) {
	if _, err := optim.NewEMA(optim.NewSGD(params(), 0, 0, false, optim.DecayPolicy{}), 1); err == nil {
		t.Fatal("decay 1 accepted")
	}
	const d = 0.9
	ps := params()
	e, err := optim.NewEMA(optim.NewSGD(ps, 0, 0, false, optim.DecayPolicy{}), d)
	if err != nil {
		t.Fatal(err)
	}
	// Before any step the average is the parameters.
	if err := e.WithAverage(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	// SGD without momentum: p ← p − lr·g with the fixed gradient of params().
	p, g, avg := 1.0, 0.5, 1.0
	for step := 1; step <= 3; step++ {
		e.Step(0.1)
		p -= 0.1 * g
		avg = d*avg + (1-d)*p
	}
	w := ps[0].Param.Value.F64()
	if math.Abs(w[0]-p) > 1e-15 {
		t.Fatalf("raw w[0] = %v, want %v", w[0], p)
	}
	v0 := ps[0].Param.Version()
	var seen float64
	if err := e.WithAverage(func() error {
		seen = ps[0].Param.Value.F64()[0]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if math.Abs(seen-avg) > 1e-15 {
		t.Fatalf("averaged w[0] = %v, want %v", seen, avg)
	}
	if ps[0].Param.Value.F64()[0] != w[0] || ps[0].Param.Version() == v0 {
		t.Fatal("WithAverage did not restore the raw weights or mark the change")
	}

	// Resume: a fresh wrapper restored from State continues bit for bit.
	st := e.State()
	if st.Buffers["ema/w"] == nil || len(st.Buffers) != 3 {
		t.Fatalf("state buffers %v", keys(st.Buffers))
	}
	ps2 := params()
	for i := range ps2 {
		copy(ps2[i].Param.Value.F64(), ps[i].Param.Value.F64())
	}
	e2, _ := optim.NewEMA(optim.NewSGD(ps2, 0, 0, false, optim.DecayPolicy{}), d)
	if err := e2.SetState(clone(st)); err != nil {
		t.Fatal(err)
	}
	e.Step(0.1)
	e2.Step(0.1)
	var a1, a2 []float64
	_ = e.WithAverage(func() error { a1 = append([]float64(nil), ps[0].Param.Value.F64()...); return nil })
	_ = e2.WithAverage(func() error { a2 = append([]float64(nil), ps2[0].Param.Value.F64()...); return nil })
	for i := range a1 {
		if a1[i] != a2[i] {
			t.Fatalf("resumed average differs: %v vs %v", a1, a2)
		}
	}

	// A state without averages restarts them; one with some of them is an error.
	e3, _ := optim.NewEMA(optim.NewSGD(params(), 0, 0, false, optim.DecayPolicy{}), d)
	if err := e3.SetState(optim.State{Buffers: map[string]*tensor.Tensor{}}); err != nil {
		t.Fatal(err)
	}
	part := clone(st)
	delete(part.Buffers, "ema/b")
	if err := e3.SetState(part); err == nil || !strings.Contains(err.Error(), "no average of b") {
		t.Fatalf("partial averages: %v", err)
	}
	bad := clone(st)
	bad.Buffers["ema/w"] = tensor.New(tensor.F64, 3)
	if err := e3.SetState(bad); err == nil || !strings.Contains(err.Error(), "shape") {
		t.Fatalf("wrong shape: %v", err)
	}
}

func keys(m map[string]*tensor.Tensor) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	return k
}

func clone(s optim.State) optim.State {
	b := map[string]*tensor.Tensor{}
	for k, v := range s.Buffers {
		b[k] = v.Clone()
	}
	return optim.State{Step: s.Step, Buffers: b}
}
