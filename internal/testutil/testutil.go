// Package testutil holds what the project's tests share: closeness measures, guarded output
// buffers that catch out-of-bounds writes, and a loop over every kernel variant the processor
// can run.
package testutil

import (
	"fmt"
	"math"
	"testing"

	"github.com/optiformer/optiformer/internal/cpu"
)

// Float is float32 or float64.
type Float interface{ ~float32 | ~float64 }

// NMSE is the normalised mean squared error Σ(got-want)² / Σwant² (0 when both are zero).
// It is +Inf when got has a NaN or Inf that want does not.
func NMSE[T Float](got []T, want []float64) float64 {
	if len(got) != len(want) {
		panic(fmt.Sprintf("testutil: NMSE of %d values against %d", len(got), len(want)))
	}
	var num, den float64
	for i, g := range got {
		d := float64(g) - want[i]
		if math.IsNaN(d) || math.IsInf(d, 0) {
			return math.Inf(1)
		}
		num += d * d
		den += want[i] * want[i]
	}
	if num == 0 {
		return 0
	}
	if den == 0 {
		return math.Inf(1)
	}
	return num / den
}

// Close reports whether got is within atol + rtol·|want| of want. NaN matches NaN and an
// infinity matches the same infinity.
func Close(got, want, rtol, atol float64) bool {
	if math.IsNaN(want) || math.IsNaN(got) {
		return math.IsNaN(want) && math.IsNaN(got)
	}
	if math.IsInf(want, 0) || math.IsInf(got, 0) {
		return got == want
	}
	return math.Abs(got-want) <= atol+rtol*math.Abs(want)
}

// AllClose returns the index of the first element of got not Close to want, or -1.
func AllClose[T Float](got []T, want []float64, rtol, atol float64) int {
	if len(got) != len(want) {
		panic(fmt.Sprintf("testutil: AllClose of %d values against %d", len(got), len(want)))
	}
	for i, g := range got {
		if !Close(float64(g), want[i], rtol, atol) {
			return i
		}
	}
	return -1
}

// F64 widens a slice to float64 (for reference computations).
func F64[T Float](x []T) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// Guard is the value written around guarded buffers. It is a NaN with a payload no
// arithmetic produces, so an overwrite is recognisable.
var Guard = math.Float32frombits(0x7fa5a5a5)

// Guarded is a float32 buffer with guard cells before and after the usable part and a chosen
// misalignment of its start.
type Guarded struct {
	all        []float32
	start, len int
}

// NewGuarded returns n usable floats starting `offset` floats (0…15) past a 64-byte boundary,
// surrounded by 32 guard cells on each side.
func NewGuarded(n, offset int) *Guarded {
	const pad = 32
	raw := make([]float32, n+2*pad+32)
	base := 0
	for (uintptrOf(raw, base) & 63) != 0 {
		base++
	}
	g := &Guarded{all: raw[base : base+n+2*pad+offset], start: pad + offset, len: n}
	for i := range g.all {
		g.all[i] = Guard
	}
	return g
}

// Data is the usable part.
func (g *Guarded) Data() []float32 { return g.all[g.start : g.start+g.len : g.start+g.len] }

// Check reports an error when a guard cell was overwritten.
func (g *Guarded) Check() error {
	for i, v := range g.all {
		if i >= g.start && i < g.start+g.len {
			continue
		}
		if math.Float32bits(v) != math.Float32bits(Guard) {
			return fmt.Errorf("guard cell %d (relative to data start) overwritten with %v", i-g.start, v)
		}
	}
	return nil
}

// ForEachLevel runs fn as a subtest once for every instruction-set level the processor
// supports (generic, avx2, avx512), with kernel dispatch capped at that level.
func ForEachLevel(t *testing.T, fn func(t *testing.T, l cpu.Level)) {
	t.Helper()
	for _, l := range cpu.Supported() {
		t.Run(l.String(), func(t *testing.T) {
			restore := cpu.Cap(l)
			defer restore()
			fn(t, l)
		})
	}
}
