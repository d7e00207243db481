package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The lane-layout Q4_0 products of package kernels/q8 (Q4_0Matrix).
//
// The ggml layout puts one block's 32 values side by side, so a product dequantizes a block
// into two vectors, multiplies them by x, and scales the block's sum by d: three FMA-unit
// operations per block and row (MUL, FMA, FMA). Here a weight row's blocks are taken sixteen
// at a time, block i of a group in lane i: the nibbles of position t of all sixteen blocks
// form one vector (looked up as q − 8 by VPERMPS), x is read in the same transposed order
// (x_T[t][i] = x[32·(16g+i) + t], prepared once per row of x), and lane i accumulates block
// i's sum over the 32 positions with one FMA per position; the sixteen sums are then scaled
// by their sixteen d in one FMA. That is 2 + 1/16 FMA-unit operations per block and row.
//
// A row of nb blocks (nb a multiple of 8) is nb/16 groups of 16 blocks, then one group of 8
// when nb is odd in eights, 16 bytes a block in both: a group of 16 is four 64-byte chunks, the
// dword of lane i in chunk L holding positions 8L … 8L+7 of block i, position 8L+n in bits
// 4n … 4n+3; a group of 8 is four 32-byte chunks of eight dwords, read two at a time. The
// scales of a row are nb float32 in block order.

func init() { register("q4lanes", "q8", genQ4Lanes) }

func genQ4Lanes(ctx *build.Context) {
	levels := q4LevelTable(ctx, "q4LevelsLanes")
	for _, rows := range []int{1, 4} {
		genQ4LanesDot(ctx, rows, levels)
	}
}

// genQ4LanesDot: rows weight rows against one transposed row of x.
func genQ4LanesDot(c *build.Context, rows int, levelsMem Mem) {
	name := fmt.Sprintf("q40LanesDot%dAVX512", rows)
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(xt *float32, w *uint8, stride int, d *float32, groups int, tail int, out *float32)")
	c.Doc(fmt.Sprintf("%s sets out[r] = Σ_b d_rb·Σ_t (q_rbt − 8)·x[32b+t] for r < %d: weight row r", name, rows),
		"in the lane layout at w + r·stride (stride = 16·nb bytes), its nb scales at d + r·stride/4,",
		"x transposed at xt; groups groups of 16 blocks, then one of 8 when tail is 1.")
	xp, stride, ng, tmp := RSI, RDX, RCX, RDI
	c.Load(c.Param("xt"), xp)
	c.Load(c.Param("stride"), stride)
	c.Load(c.Param("groups"), ng)
	c.MOVQ(stride, tmp)
	c.SHRQ(U8(2), tmp) // the scales' row stride: 4·nb bytes
	wr, dr := blockRowPointers(c, rows, stride, tmp)
	z := func(i int) VecPhysical { return q8zmm[i] }
	levels := z(31)
	acc := func(r int) VecPhysical { return z(r) }
	// Partial sums per row (positions t mod parts): four FMA chains in flight cover the FMA
	// latency.
	parts := 4 / rows
	bs := func(r, t int) VecPhysical { return z(4 + r*parts + t%parts) }
	dv := func(r int) VecPhysical { return z(12 + r) }
	xv := z(24)
	idx := func(r int) VecPhysical { return z(16 + r) }
	wv := func(r int) VecPhysical { return z(20 + r) }
	for r := 0; r < rows; r++ {
		c.VPXORD(acc(r), acc(r), acc(r))
	}
	c.VMOVUPS(levelsMem, levels)

	// group emits one group's products, 16 blocks or 8. Each step loads 64 bytes of a row:
	// one chunk of a group of 16, two chunks of a group of 8, whose upper lanes then hold
	// the same blocks at positions 8 further on (x_T is laid out to match, see lanesX); the
	// two halves of the sums are added at the end. Every operation is a zmm one: a ymm
	// VPERMPS reads only 3 index bits.
	group := func(lanes int) {
		steps := 4 * lanes / 16 // 64-byte loads per row
		for r := 0; r < rows; r++ {
			for p := 0; p < parts; p++ {
				c.VPXORD(bs(r, p), bs(r, p), bs(r, p))
			}
		}
		for L := 0; L < steps; L++ {
			for r := 0; r < rows; r++ {
				c.VMOVDQU32(Mem{Base: wr[r], Disp: 64 * L}, dv(r))
			}
			for n := 0; n < 8; n++ {
				t := 8*L + n
				c.VMOVUPS(Mem{Base: xp, Disp: 64 * t}, xv)
				for r := 0; r < rows; r++ {
					ix := dv(r)
					if n > 0 {
						c.VPSRLD(U8(4*n), dv(r), idx(r))
						ix = idx(r)
					}
					c.VPERMPS(levels, ix, wv(r)) // q − 8, lane by lane
					c.VFMADD231PS(xv, wv(r), bs(r, t))
				}
			}
		}
		for r := 0; r < rows; r++ {
			s := bs(r, 0)
			for p := 1; p < parts; p++ {
				c.VADDPS(bs(r, p), s, s)
			}
			if lanes == 16 {
				c.VFMADD231PS(Mem{Base: dr[r]}, s, acc(r)) // += d ⊙ block sums
			} else {
				// Fold the upper half (positions 8…15 and 24…31) onto the lower; the
				// ymm results zero the upper lanes, so the scaled sums add whole.
				c.VEXTRACTF64X4(U8(1), s, idx(r).AsY())
				c.VADDPS(idx(r).AsY(), s.AsY(), s.AsY())
				c.VMULPS(Mem{Base: dr[r]}, s.AsY(), s.AsY())
				c.VADDPS(s, acc(r), acc(r))
			}
			c.ADDQ(U32(64*steps), wr[r])
			c.ADDQ(U8(4*lanes), dr[r])
		}
		c.ADDQ(U32(4*lanes*32), xp)
	}

	loop, done := name+"_loop", name+"_groups_done"
	c.TESTQ(ng, ng)
	c.JZ(LabelRef(done))
	c.Label(loop)
	group(16)
	c.DECQ(ng)
	c.JNZ(LabelRef(loop))
	c.Label(done)
	c.Load(c.Param("tail"), tmp)
	c.TESTQ(tmp, tmp)
	c.JZ(LabelRef(name + "_end"))
	group(8)
	c.Label(name + "_end")
	out := RDI
	c.Load(c.Param("out"), out)
	storeRowSums(c, q8zmm[:rows], z(4), Mem{Base: out})
	c.VZEROUPPER()
	c.RET()
}
