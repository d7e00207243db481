package safetensors

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDTypeNames(t *testing.T) {
	// The spellings and bit widths of the Rust library's Dtype enum, in its declaration order
	// (which is also the rank the writer sorts by).
	want := []struct {
		name string
		bits int
	}{
		{"BOOL", 8}, {"F4", 4}, {"F6_E2M3", 6}, {"F6_E3M2", 6}, {"U8", 8}, {"I8", 8},
		{"F8_E5M2", 8}, {"F8_E4M3", 8}, {"F8_E8M0", 8}, {"F8_E4M3FNUZ", 8}, {"F8_E5M2FNUZ", 8},
		{"I16", 16}, {"U16", 16}, {"F16", 16}, {"BF16", 16}, {"I32", 32}, {"U32", 32},
		{"F32", 32}, {"C64", 64}, {"F64", 64}, {"I64", 64}, {"U64", 64},
	}
	if int(maxDType)-1 != len(want) {
		t.Fatalf("%d dtypes declared, want %d", maxDType-1, len(want))
	}
	for i, w := range want {
		d := DType(i + 1)
		if d.String() != w.name || d.Bits() != w.bits {
			t.Errorf("DType(%d) = %s/%d bits, want %s/%d", i+1, d, d.Bits(), w.name, w.bits)
		}
		if p, ok := ParseDType(w.name); !ok || p != d {
			t.Errorf("ParseDType(%q) = %v, %v", w.name, p, ok)
		}
		if w.bits%8 == 0 && d.Size() != w.bits/8 || w.bits%8 != 0 && d.Size() != 0 {
			t.Errorf("%v.Size() = %d", d, d.Size())
		}
	}
	for _, bad := range []string{"", "f32", "F 32", "FLOAT32", "float32", "F32 ", "I4", "C128"} {
		if _, ok := ParseDType(bad); ok {
			t.Errorf("ParseDType(%q) accepted", bad)
		}
	}
	for _, d := range []DType{0, maxDType, 255} {
		if d.Valid() || d.Bits() != 0 || d.Size() != 0 || d.String() == "" {
			t.Errorf("invalid %d: valid=%v bits=%d size=%d %q", uint8(d), d.Valid(), d.Bits(), d.Size(), d)
		}
	}
	if !(U64 > I64 && I64 > F64 && F64 > C64 && C64 > F32 && F32 > U32 && U32 > I32 && I32 > BF16 && BF16 > F16) {
		t.Error("DType constants are not in the Rust enum's order")
	}
}

// refF16 decodes binary16 from its fields with float64 arithmetic: (-1)^s · 2^(e-15) · (1 + m/2¹⁰),
// or 2⁻¹⁴ · m/2¹⁰ for e = 0.
func refF16(h uint16) float64 {
	s, e, m := h>>15, int(h>>10)&0x1f, float64(h&0x3ff)
	var v float64
	switch e {
	case 0:
		v = math.Ldexp(m/1024, -14)
	case 31:
		if m != 0 {
			return math.NaN()
		}
		v = math.Inf(1)
	default:
		v = math.Ldexp(1+m/1024, e-15)
	}
	if s == 1 {
		v = math.Copysign(v, -1)
	}
	return v
}

// refBF16 decodes bfloat16 from its fields: 8 exponent bits (bias 127), 7 mantissa bits.
func refBF16(h uint16) float64 {
	s, e, m := h>>15, int(h>>7)&0xff, float64(h&0x7f)
	var v float64
	switch e {
	case 0:
		v = math.Ldexp(m/128, -126)
	case 255:
		if m != 0 {
			return math.NaN()
		}
		v = math.Inf(1)
	default:
		v = math.Ldexp(1+m/128, e-127)
	}
	if s == 1 {
		v = math.Copysign(v, -1)
	}
	return v
}

// TestF16ToFloat32Exhaustive checks all 65536 bit patterns against refF16.
func TestF16ToFloat32Exhaustive(t *testing.T) {
	subnormals := 0
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := F16ToFloat32(h)
		ref := refF16(h)
		gb := math.Float32bits(got)
		if math.IsNaN(ref) {
			// A NaN stays a NaN with its sign and its 10-bit payload at the top of the mantissa.
			if !math.IsNaN(float64(got)) || gb>>31 != uint32(h>>15) || (gb>>13)&0x3ff != uint32(h&0x3ff) {
				t.Fatalf("F16ToFloat32(%#04x) = %#08x, want NaN with the same sign and payload", h, gb)
			}
			continue
		}
		if want := math.Float32bits(float32(ref)); gb != want || float64(got) != ref {
			t.Fatalf("F16ToFloat32(%#04x) = %v (%#08x), want %v (%#08x)", h, got, gb, ref, want)
		}
		if h&0x7c00 == 0 && h&0x3ff != 0 {
			subnormals++
		}
	}
	if subnormals != 2*1023 {
		t.Fatalf("saw %d subnormals", subnormals)
	}
	// Spot values, as a reader would recognise them.
	for h, want := range map[uint16]float32{
		0x3c00: 1, 0xc000: -2, 0x7bff: 65504, 0x0400: 0x1p-14, 0x0001: 0x1p-24, 0x03ff: 0x3ffp-24,
		0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)), 0x3555: 0x155p-12 + 0.25,
	} {
		if got := F16ToFloat32(h); got != want {
			t.Errorf("F16ToFloat32(%#04x) = %v, want %v", h, got, want)
		}
	}
	if got := F16ToFloat32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("F16ToFloat32(0x8000) = %v, want -0", got)
	}
}

// TestBF16ToFloat32Exhaustive checks all 65536 bit patterns against refBF16.
func TestBF16ToFloat32Exhaustive(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		got := BF16ToFloat32(h)
		ref := refBF16(h)
		gb := math.Float32bits(got)
		if math.IsNaN(ref) {
			if !math.IsNaN(float64(got)) || gb>>16 != uint32(h) {
				t.Fatalf("BF16ToFloat32(%#04x) = %#08x, want NaN %#04x0000", h, gb, h)
			}
			continue
		}
		if want := math.Float32bits(float32(ref)); gb != want || float64(got) != ref {
			t.Fatalf("BF16ToFloat32(%#04x) = %v (%#08x), want %v (%#08x)", h, got, gb, ref, want)
		}
	}
}

// narrowRef rounds x to the 16-bit format whose positive finite values (as float64) map to
// their bits in table, with mantBits fraction bits, minimum normal exponent minExp and
// overflow threshold: round to nearest, ties to even, by float64 arithmetic on the quantum.
func narrowRef(x float32, table map[float64]uint16, mantBits, minExp int, overflow float64, inf uint16) uint16 {
	a := math.Abs(float64(x))
	var sign uint16
	if math.Signbit(float64(x)) {
		sign = 0x8000
	}
	if a >= overflow {
		return sign | inf
	}
	_, exp := math.Frexp(a) // a = frac·2^exp, frac ∈ [0.5, 1): floor(log2 a) = exp−1
	e := exp - 1
	if a == 0 || e < minExp {
		e = minExp
	}
	q := math.Ldexp(1, e-mantBits)
	k := a / q // exact: a power-of-two division of a float32
	fl := math.Floor(k)
	switch {
	case k-fl > 0.5:
		fl++
	case k-fl == 0.5 && math.Mod(fl, 2) == 1:
		fl++
	}
	bits, ok := table[fl*q]
	if !ok {
		panic("narrowRef: rounded value not in table")
	}
	return sign | bits
}

func halfTable(decode func(uint16) float64, inf uint16) map[float64]uint16 {
	m := map[float64]uint16{}
	for h := uint16(0); h < inf; h++ {
		m[decode(h)] = h
	}
	m[math.Inf(1)] = inf // a round-up past the largest finite value is the overflow
	return m
}

// testNarrowing checks conv against narrowRef on every 16-bit value, the midpoints between
// neighbours and the float32 values around them, and a million random float32s.
func testNarrowing(t *testing.T, name string, conv func(float32) uint16, decode func(uint16) float64,
	mantBits, minExp int, overflow float64, inf uint16) {
	table := halfTable(decode, inf)
	check := func(x float32) {
		t.Helper()
		got := conv(x)
		if math.IsNaN(float64(x)) {
			if !math.IsNaN(decode(got)) || got>>15 != uint16(math.Float32bits(x)>>31) {
				t.Fatalf("%s(NaN %#08x) = %#04x, want a NaN of the same sign", name, math.Float32bits(x), got)
			}
			return
		}
		if want := narrowRef(x, table, mantBits, minExp, overflow, inf); got != want {
			t.Fatalf("%s(%v = %#08x) = %#04x, want %#04x", name, x, math.Float32bits(x), got, want)
		}
	}
	for h := 0; h < 1<<16; h++ {
		v := decode(uint16(h))
		check(float32(v)) // exact values round-trip (NaNs stay NaN)
		if h&0x7fff < int(inf) {
			next := decode(uint16(h + 1))
			if h&0x7fff == int(inf)-1 {
				next = math.Copysign(2*overflow-math.Abs(v), v) // the power of two past the largest
			}
			mid := float32((v + next) / 2) // exact in float32
			check(mid)
			check(math.Nextafter32(mid, float32(math.Inf(1))))
			check(math.Nextafter32(mid, float32(math.Inf(-1))))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		check(math.Float32frombits(rng.Uint32()))
	}
	check(float32(math.Inf(1)))
	check(float32(math.Inf(-1)))
	check(math.MaxFloat32)
	check(math.SmallestNonzeroFloat32)
}

func TestFloat32ToF16(t *testing.T) {
	testNarrowing(t, "Float32ToF16", Float32ToF16, refF16, 10, -14, 65520, 0x7c00)
	// NaN payloads survive the round trip F16 → float32 → F16.
	for _, h := range []uint16{0x7e00, 0x7c01, 0xfd23, 0x7fff} {
		if got := Float32ToF16(F16ToFloat32(h)); got != h|0x0200 {
			t.Errorf("NaN %#04x came back as %#04x", h, got)
		}
	}
}

func TestFloat32ToBF16(t *testing.T) {
	testNarrowing(t, "Float32ToBF16", Float32ToBF16, refBF16, 7, -126, 0x1.ffp127, 0x7f80)
}
