package safetensors

import (
	"fmt"
	"math"
)

// DType is the element type of a tensor, spelled in the file as its String. The zero DType is
// invalid.
//
// The constants are declared in the order of the Rust library's Dtype enum
// (huggingface/safetensors, safetensors/src/tensor.rs), so comparing two DTypes compares their
// rank there: the writer lays tensors out by descending rank, then by name, exactly as the
// Rust serializer does, which keeps every tensor aligned to its element size.
type DType uint8

// The element types of the format. Sub-byte types (F4, F6E2M3, F6E3M2) occupy Bits() bits per
// element, packed; a tensor of them must fill a whole number of bytes.
const (
	BOOL       DType = iota + 1 // "BOOL": one byte, 0 or 1
	F4                          // "F4": 4-bit float (OCP MX E2M1), two per byte
	F6E2M3                      // "F6_E2M3": 6-bit float (OCP MX)
	F6E3M2                      // "F6_E3M2": 6-bit float (OCP MX)
	U8                          // "U8"
	I8                          // "I8"
	F8E5M2                      // "F8_E5M2"
	F8E4M3                      // "F8_E4M3" (torch.float8_e4m3fn)
	F8E8M0                      // "F8_E8M0" (torch.float8_e8m0fnu)
	F8E4M3FNUZ                  // "F8_E4M3FNUZ"
	F8E5M2FNUZ                  // "F8_E5M2FNUZ"
	I16                         // "I16"
	U16                         // "U16"
	F16                         // "F16": IEEE 754 binary16
	BF16                        // "BF16": bfloat16, the top 16 bits of a float32
	I32                         // "I32"
	U32                         // "U32"
	F32                         // "F32"
	C64                         // "C64": complex64, two float32
	F64                         // "F64"
	I64                         // "I64"
	U64                         // "U64"
	maxDType
)

var dtypeNames = [maxDType]string{
	BOOL: "BOOL", F4: "F4", F6E2M3: "F6_E2M3", F6E3M2: "F6_E3M2", U8: "U8", I8: "I8",
	F8E5M2: "F8_E5M2", F8E4M3: "F8_E4M3", F8E8M0: "F8_E8M0", F8E4M3FNUZ: "F8_E4M3FNUZ",
	F8E5M2FNUZ: "F8_E5M2FNUZ", I16: "I16", U16: "U16", F16: "F16", BF16: "BF16", I32: "I32",
	U32: "U32", F32: "F32", C64: "C64", F64: "F64", I64: "I64", U64: "U64",
}

var dtypeBits = [maxDType]uint8{
	BOOL: 8, F4: 4, F6E2M3: 6, F6E3M2: 6, U8: 8, I8: 8, F8E5M2: 8, F8E4M3: 8, F8E8M0: 8,
	F8E4M3FNUZ: 8, F8E5M2FNUZ: 8, I16: 16, U16: 16, F16: 16, BF16: 16, I32: 32, U32: 32,
	F32: 32, C64: 64, F64: 64, I64: 64, U64: 64,
}

// Valid reports whether d is one of the declared element types.
func (d DType) Valid() bool { return d > 0 && d < maxDType }

// String returns the name the format uses ("F32", "BF16", "F8_E4M3", …), or "DType(n)" for
// an invalid value.
func (d DType) String() string {
	if d.Valid() {
		return dtypeNames[d]
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Bits returns the number of bits per element, or 0 for an invalid DType.
func (d DType) Bits() int {
	if d.Valid() {
		return int(dtypeBits[d])
	}
	return 0
}

// Size returns the number of bytes per element, or 0 for a sub-byte or invalid DType.
func (d DType) Size() int {
	if b := d.Bits(); b%8 == 0 {
		return b / 8
	}
	return 0
}

// ParseDType returns the DType the format spells name (case-sensitive, as the Rust library
// deserializes it).
func ParseDType(name string) (DType, bool) {
	for d := DType(1); d < maxDType; d++ {
		if dtypeNames[d] == name {
			return d, true
		}
	}
	return 0, false
}

// byteLen returns the number of bytes a tensor of dtype d and the given shape occupies.
// Dimensions are multiplied left to right with overflow checks, as the Rust library does,
// but against math.MaxInt64 rather than u64: a count past int64 fails with ErrOverflow even
// if a later zero dimension would bring it back to 0. A sub-byte tensor must end on a byte
// boundary (ErrMisaligned).
func byteLen(d DType, shape []uint64) (int64, error) {
	n := uint64(1)
	for _, dim := range shape {
		if dim != 0 && n > math.MaxInt64/dim {
			return 0, fmt.Errorf("%w: element count of shape %v", ErrOverflow, shape)
		}
		n *= dim
	}
	bits := uint64(d.Bits())
	if n > math.MaxInt64/bits {
		return 0, fmt.Errorf("%w: %d elements of %v", ErrOverflow, n, d)
	}
	if (n*bits)%8 != 0 {
		return 0, fmt.Errorf("%w: %d elements of %d-bit %v", ErrMisaligned, n, bits, d)
	}
	return int64(n * bits / 8), nil
}

// F16ToFloat32 converts an IEEE 754 binary16 value (F16) to float32. Every half value,
// subnormals included, is exactly representable; infinities and NaNs keep their sign, and
// a NaN keeps its payload (shifted to the top of the float32 mantissa).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0 && mant == 0: // ±0
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: mant·2⁻²⁴, exact in float32 (mant < 2¹⁰)
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(sign | math.Float32bits(v))
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToF16 converts f to IEEE 754 binary16, rounding to nearest, ties to even (as
// torch's float32→float16 cast does). Magnitudes from 65520 up become ±Inf; a NaN stays a
// (quiet) NaN with the top of its payload.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant == 0 {
			return sign | 0x7c00
		}
		return sign | 0x7e00 | uint16(mant>>13)
	}
	e := exp - 127 + 15 // biased half exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 { // subnormal half (or zero): units of 2⁻²⁴
		if e < -10 { // below 2⁻²⁵: rounds to zero
			return sign
		}
		m := mant | 0x800000 // implicit bit; float32 subnormals land in e < -10
		shift := uint(14 - e)
		h := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++ // may carry into the smallest normal, which is the right bits
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // a carry into the exponent is correct, up to Inf
	}
	return sign | uint16(h)
}

// BF16ToFloat32 converts a bfloat16 value to float32: it is the top half of a float32.
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Float32ToBF16 converts f to bfloat16, rounding to nearest, ties to even (as torch's
// float32→bfloat16 cast does). A NaN stays a quiet NaN.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
