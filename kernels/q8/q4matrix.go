package q8

import (
	"encoding/binary"
	"sync"
	"unsafe"

	"github.com/optiformer/optiformer/internal/cpu"
)

// Q4_0Matrix is a Q4_0 weight (out×in, ggml blocks row after row) prepared for products:
// its scales as float32 and, when the processor has the lane kernels and in is a multiple of
// 256, its nibbles again in the lane layout those kernels read (internal/asmgen/q4lanes.go:
// sixteen blocks side by side, block i of a group in vector lane i), 16 more bytes a block.
// Blocks must not change after NewQ4_0Matrix.
type Q4_0Matrix struct {
	Blocks  []BlockQ4_0
	D       []float32 // the blocks' scales (ScalesQ4_0)
	Out, In int
	lanes   []uint8
}

// laneDotFn is a lane-layout product: see internal/asmgen/q4lanes.go.
type laneDotFn func(xt *float32, w *uint8, stride int, d *float32, groups int, tail int, out *float32)

// The lane kernels (nil where the build has none) and the level they need.
var (
	q4LanesDot1, q4LanesDot4 laneDotFn
	q4LanesLevel             = cpu.AVX512
)

// NewQ4_0Matrix prepares w (out·in/32 blocks) for MatMul.
func NewQ4_0Matrix(w []BlockQ4_0, out, in int) *Q4_0Matrix {
	checkMatMul("NewQ4_0Matrix", 0, 0, 0, len(w), len(w), out, in)
	m := &Q4_0Matrix{Blocks: w, D: ScalesQ4_0(w), Out: out, In: in}
	if q4LanesDot4 != nil && cpu.Detected() >= q4LanesLevel && in > 0 && in%(8*BlockSize) == 0 {
		m.lanes = packQ4Lanes(w, out, in)
	}
	return m
}

// MatMul computes y = x·Wᵀ for m rows of x (m, in): MatMulQ4_0, through the lane kernels
// where the matrix has their layout. Results agree with the dequantized float product to
// rounding.
func (w *Q4_0Matrix) MatMul(y, x []float32, m int) {
	checkMatMul("Q4_0Matrix.MatMul", len(y), len(x), m, len(w.Blocks), len(w.D), w.Out, w.In)
	if m == 0 || w.Out == 0 {
		return
	}
	if w.In == 0 {
		clear(y)
		return
	}
	if w.lanes == nil || cpu.Current() < q4LanesLevel {
		q4Impl.Get()(y, x, m, w.Blocks, w.D, w.Out, w.In)
		return
	}
	w.lanesMatMul(y, x, m)
}

// nibbleQ4_0 is value t (0…31) of a block as its 4-bit code q (the value is q − 8).
func nibbleQ4_0(b *BlockQ4_0, t int) uint8 {
	if t < BlockSize/2 {
		return b.Qs[t] & 15
	}
	return b.Qs[t-BlockSize/2] >> 4
}

// laneGroups calls f for each group of a row of nb blocks (nb a multiple of 8): groups of 16
// blocks, then one of 8 when nb is odd in eights; g0 is the group's first block.
func laneGroups(nb int, f func(g0, lanes int)) {
	for g0 := 0; g0 < nb; {
		lanes := 16
		if nb-g0 < 16 {
			lanes = 8
		}
		f(g0, lanes)
		g0 += lanes
	}
}

// packQ4Lanes writes the nibbles of w in the lane layout: per row, per group, four chunks of
// one little-endian dword per lane; in chunk L the dword of lane i holds positions 8L…8L+7 of
// the group's block i, position 8L+n in bits 4n…4n+3.
func packQ4Lanes(w []BlockQ4_0, out, in int) []uint8 {
	nb := in / BlockSize
	dst := make([]uint8, out*nb*16)
	for j := 0; j < out; j++ {
		row, blocks := dst[j*nb*16:(j+1)*nb*16], w[j*nb:(j+1)*nb]
		laneGroups(nb, func(g0, lanes int) {
			for L := 0; L < 4; L++ {
				for i := 0; i < lanes; i++ {
					var dw uint32
					for n := 0; n < 8; n++ {
						dw |= uint32(nibbleQ4_0(&blocks[g0+i], 8*L+n)) << (4 * n)
					}
					binary.LittleEndian.PutUint32(row[g0*16+L*4*lanes+4*i:], dw)
				}
			}
		})
	}
	return dst
}

// lanesX writes a row of x (nb blocks of 32 values) in the order the lane kernels read it:
// per group, 32 vectors of 16 values. In a group of 16, vector t holds position t of the
// group's blocks (dst[32·g0 + 16t + i] = x[32·(g0+i) + t]). A group of 8 is read two chunks
// at a time, so its vector 8P+n holds position 16P+n of the 8 blocks in its lower half and
// position 16P+8+n in its upper half.
func lanesX(dst, x []float32, nb int) {
	laneGroups(nb, func(g0, lanes int) {
		for i := 0; i < lanes; i++ {
			for t, v := range x[(g0+i)*BlockSize : (g0+i+1)*BlockSize] {
				o := 16*t + i
				if lanes == 8 {
					P, half, n := t/16, t/8%2, t%8
					o = 16*(8*P+n) + 8*half + i
				}
				dst[g0*BlockSize+o] = v
			}
		}
	})
}

var lanesScratch sync.Pool // of *[]float32: transposed rows of x

func (w *Q4_0Matrix) lanesMatMul(y, x []float32, m int) {
	in, out, nb := w.In, w.Out, w.In/BlockSize
	buf, _ := lanesScratch.Get().(*[]float32)
	if buf == nil || cap(*buf) < m*in {
		b := make([]float32, m*in)
		buf = &b
	}
	xt := (*buf)[:m*in]
	defer lanesScratch.Put(buf)
	for i := 0; i < m; i++ {
		lanesX(xt[i*in:(i+1)*in], x[i*in:(i+1)*in], nb)
	}
	// The lane kernels, as block kernels of 16-byte blocks for the shared driver.
	lanes := func(dot laneDotFn) dotFn {
		return func(x *float32, w *uint8, stride int, d *float32, nb int, out *float32) {
			dot(x, w, stride, d, nb/16, nb%16/8, out)
		}
	}
	blockMatMul(lanes(q4LanesDot1), lanes(q4LanesDot4), y, xt, m, unsafe.Pointer(&w.lanes[0]), 16, w.D, out, in)
}
