// Package q8 holds the integer side of the kernels: ggml-compatible int8 and int4 weight blocks
// (Q8_0, Q4_0), symmetric int8 quantization of rows, and the int8×int8→int32 products built
// on them. Every function here has a plain reference that is bit-exact on every CPU: integer
// results never depend on the processor or the variant.
//
// Block layouts follow ggml (ggml-common.h), so GGUF tensors of these types map directly:
//
//	block_q8_0 { ggml_half d; int8_t  qs[32]; }   x[i] ≈ d·qs[i]            34 bytes
//	block_q4_0 { ggml_half d; uint8_t qs[16]; }   x[i] ≈ d·(q[i] − 8)       18 bytes
//
// where q4_0 keeps element j (j < 16) in the low nibble of qs[j] and element j+16 in its high
// nibble. Quantization follows ggml's reference rows (quantize_row_q8_0_ref,
// quantize_row_q4_0_ref) operation by operation in float32, so the blocks are the bytes ggml
// writes for the same input.
package q8

import (
	"fmt"
	"math"

	"github.com/x448/float16"

	"github.com/optiformer/optiformer/internal/cpu"
)

// BlockSize is the number of values in a Q8_0 or Q4_0 block.
const BlockSize = 32

// BlockQ8_0 is ggml's block_q8_0: 32 int8 values and their float16 scale.
type BlockQ8_0 struct {
	D  uint16 // scale, IEEE float16 bits
	Qs [BlockSize]int8
}

// BlockQ4_0 is ggml's block_q4_0: 32 4-bit values (offset by 8) and their float16 scale.
type BlockQ4_0 struct {
	D  uint16 // scale, IEEE float16 bits
	Qs [BlockSize / 2]uint8
}

// Bytes per block in ggml's (packed) layout.
const (
	BlockQ8_0Bytes = 2 + BlockSize
	BlockQ4_0Bytes = 2 + BlockSize/2
)

func checkBlocks(what string, n, blocks int) {
	if n%BlockSize != 0 || n/BlockSize != blocks {
		panic(fmt.Sprintf("q8: %s: %d values for %d blocks of %d", what, n, blocks, BlockSize))
	}
}

// f16 rounds a float32 to float16 bits (round to nearest even, as ggml's GGML_FP32_TO_FP16).
func f16(x float32) uint16 { return uint16(float16.Fromfloat32(x)) }

// F16ToF32 converts float16 bits to float32 (exact).
func F16ToF32(h uint16) float32 { return float16.Frombits(h).Float32() }

// QuantizeRowQ8_0 quantizes x (a multiple of 32 values) into blocks: per block d = max|x|/127,
// q = round(x/d) (half away from zero), the scale stored as float16. It panics when the lengths
// do not match.
func QuantizeRowQ8_0(dst []BlockQ8_0, x []float32) {
	QuantizeRowQ8_0Group(dst, x, BlockSize)
}

// DequantizeRowQ8_0 writes d·q for every value of the blocks into dst.
func DequantizeRowQ8_0(dst []float32, src []BlockQ8_0) {
	checkBlocks("DequantizeRowQ8_0", len(dst), len(src))
	dequantQ8Impl.Get()(dst, src)
}

// The variants of the block dequantizers: the Go ones below, assembly where the CPU has it.
var (
	dequantQ8Impl = cpu.NewFamily("q8_0dequant", dequantizeRowQ8_0Go)
	dequantQ4Impl = cpu.NewFamily("q4_0dequant", dequantizeRowQ4_0Go)
)

// dequantizeRowQ8_0Go writes each block through a fixed-size array, which lets the compiler
// drop the bounds checks (the same products as the reference).
func dequantizeRowQ8_0Go(dst []float32, src []BlockQ8_0) {
	for b := range src {
		blk := &src[b]
		d := F16ToF32(blk.D)
		out := (*[BlockSize]float32)(dst[b*BlockSize:])
		for j := range out {
			out[j] = float32(blk.Qs[j]) * d
		}
	}
}

// dequantizeRowQ8_0Ref is the reference of DequantizeRowQ8_0.
func dequantizeRowQ8_0Ref(dst []float32, src []BlockQ8_0) {
	for b := range src {
		d := F16ToF32(src[b].D)
		for j, q := range src[b].Qs {
			dst[b*BlockSize+j] = float32(q) * d
		}
	}
}

// QuantizeRowQ4_0 quantizes x (a multiple of 32 values) into blocks as ggml does: per block
// the value m of largest magnitude gives d = m/−8, so that m maps to 0 and the range is
// [−8d, 7d]; q = min(15, ⌊x/d + 8.5⌋). The scale is stored as float16.
func QuantizeRowQ4_0(dst []BlockQ4_0, x []float32) {
	QuantizeRowQ4_0Group(dst, x, BlockSize)
}

// QuantizeRowQ8_0Group is QuantizeRowQ8_0 with one scale per group of group values (a
// multiple of 32 that divides len(x)): d = max|x|/127 over the group, and every block of the
// group stores that d, so the blocks stay ggml's Q8_0. Group 32 is QuantizeRowQ8_0.
func QuantizeRowQ8_0Group(dst []BlockQ8_0, x []float32, group int) {
	checkBlocks("QuantizeRowQ8_0Group", len(x), len(dst))
	checkGroup("QuantizeRowQ8_0Group", len(x), group)
	per := group / BlockSize
	for g := 0; g < len(dst); g += per {
		var amax float32
		for _, v := range x[g*BlockSize : (g+per)*BlockSize] {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for b := g; b < g+per; b++ {
			dst[b].D = f16(d)
			for j, v := range x[b*BlockSize : (b+1)*BlockSize] {
				dst[b].Qs[j] = int8(math.Round(float64(float32(v * id))))
			}
		}
	}
}

// QuantizeRowQ4_0Group is QuantizeRowQ4_0 with one scale per group of group values (a
// multiple of 32 that divides len(x)): the value of largest magnitude over the group gives d,
// which every block of the group stores. Group 32 is QuantizeRowQ4_0.
func QuantizeRowQ4_0Group(dst []BlockQ4_0, x []float32, group int) {
	checkBlocks("QuantizeRowQ4_0Group", len(x), len(dst))
	checkGroup("QuantizeRowQ4_0Group", len(x), group)
	per := group / BlockSize
	for g := 0; g < len(dst); g += per {
		var amax, m float32
		for _, v := range x[g*BlockSize : (g+per)*BlockSize] {
			if a := float32(math.Abs(float64(v))); a > amax {
				amax, m = a, v
			}
		}
		d := m / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		for b := g; b < g+per; b++ {
			xs := x[b*BlockSize : (b+1)*BlockSize]
			dst[b].D = f16(d)
			for j := 0; j < BlockSize/2; j++ {
				q0 := min(15, int8(float32(float32(xs[j]*id)+8.5)))
				q1 := min(15, int8(float32(float32(xs[j+BlockSize/2]*id)+8.5)))
				dst[b].Qs[j] = uint8(q0) | uint8(q1)<<4
			}
		}
	}
}

func checkGroup(what string, n, group int) {
	if group <= 0 || group%BlockSize != 0 || n%group != 0 {
		panic(fmt.Sprintf("q8: %s: group %d for %d values (want a multiple of %d dividing them)", what, group, n, BlockSize))
	}
}

// DequantizeRowQ4_0 writes d·(q − 8) for every value of the blocks into dst.
//
// Per block, the 16 possible values (q−8)·d are computed once and looked up (the same
// products as dequantizeRowQ4_0Ref computes per element), through fixed-size arrays that need
// no bounds checks: this runs for every weight each time a block weight is dequantized whole.
func DequantizeRowQ4_0(dst []float32, src []BlockQ4_0) {
	checkBlocks("DequantizeRowQ4_0", len(dst), len(src))
	dequantQ4Impl.Get()(dst, src)
}

// dequantizeRowQ4_0Go computes, per block, the 16 possible values (q−8)·d once and looks them
// up (the same products as the reference computes per element), through fixed-size arrays
// that need no bounds checks.
func dequantizeRowQ4_0Go(dst []float32, src []BlockQ4_0) {
	var lut [16]float32
	for b := range src {
		blk := &src[b]
		d := F16ToF32(blk.D)
		for i := range lut {
			lut[i] = float32(i-8) * d
		}
		out := (*[BlockSize]float32)(dst[b*BlockSize:])
		for j, q := range blk.Qs {
			out[j] = lut[q&15]
			out[j+BlockSize/2] = lut[q>>4]
		}
	}
}

// dequantizeRowQ4_0Ref is the reference of DequantizeRowQ4_0.
func dequantizeRowQ4_0Ref(dst []float32, src []BlockQ4_0) {
	for b := range src {
		d := F16ToF32(src[b].D)
		out := dst[b*BlockSize : (b+1)*BlockSize]
		for j, q := range src[b].Qs {
			out[j] = float32(int(q&15)-8) * d
			out[j+BlockSize/2] = float32(int(q>>4)-8) * d
		}
	}
}

// AppendQ8_0 appends the blocks in ggml's byte layout (little-endian float16, then the
// values), as a GGUF or safetensors payload holds them.
func AppendQ8_0(b []byte, blocks []BlockQ8_0) []byte {
	for _, blk := range blocks {
		b = append(b, byte(blk.D), byte(blk.D>>8))
		for _, q := range blk.Qs {
			b = append(b, byte(q))
		}
	}
	return b
}

// ParseQ8_0 reads blocks written by AppendQ8_0; the length must be a whole number of blocks.
func ParseQ8_0(b []byte) ([]BlockQ8_0, error) {
	if len(b)%BlockQ8_0Bytes != 0 {
		return nil, fmt.Errorf("q8: %d bytes are not a whole number of %d-byte Q8_0 blocks", len(b), BlockQ8_0Bytes)
	}
	out := make([]BlockQ8_0, len(b)/BlockQ8_0Bytes)
	for i := range out {
		p := b[i*BlockQ8_0Bytes:]
		out[i].D = uint16(p[0]) | uint16(p[1])<<8
		for j := range out[i].Qs {
			out[i].Qs[j] = int8(p[2+j])
		}
	}
	return out, nil
}

// AppendQ4_0 appends the blocks in ggml's byte layout.
func AppendQ4_0(b []byte, blocks []BlockQ4_0) []byte {
	for _, blk := range blocks {
		b = append(b, byte(blk.D), byte(blk.D>>8))
		b = append(b, blk.Qs[:]...)
	}
	return b
}

// ParseQ4_0 reads blocks written by AppendQ4_0; the length must be a whole number of blocks.
func ParseQ4_0(b []byte) ([]BlockQ4_0, error) {
	if len(b)%BlockQ4_0Bytes != 0 {
		return nil, fmt.Errorf("q8: %d bytes are not a whole number of %d-byte Q4_0 blocks", len(b), BlockQ4_0Bytes)
	}
	out := make([]BlockQ4_0, len(b)/BlockQ4_0Bytes)
	for i := range out {
		p := b[i*BlockQ4_0Bytes:]
		out[i].D = uint16(p[0]) | uint16(p[1])<<8
		copy(out[i].Qs[:], p[2:BlockQ4_0Bytes])
	}
	return out, nil
}
