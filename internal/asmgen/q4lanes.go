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
// 4n … 4n+3; a group of 8 is four 32-byte chunks of eight dwords. The scales of a row are nb
// float32 in block order.

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
	// Partial sums per row (positions t mod parts): enough FMA chains in flight to cover the
	// FMA latency, four for zmm; ymm FMAs issue two a cycle where zmm ones issue one (Zen 4),
	// so the 8-lane group keeps twice as many.
	parts := func(lanes int) int { return 4 / rows * (16 / lanes) }
	bs := func(r, t, lanes int) VecPhysical { return z(4 + r*parts(lanes) + t%parts(lanes)) }
	dv := func(r int) VecPhysical { return z(12 + r) }
	xv := z(24)
	idx := func(r int) VecPhysical { return z(16 + r) }
	wv := func(r int) VecPhysical { return z(20 + r) }
	for r := 0; r < rows; r++ {
		c.VPXORD(acc(r), acc(r), acc(r))
	}
	c.VMOVUPS(levelsMem, levels)
	// A ymm VPERMPS reads 3 index bits (8 entries): the group of 8 looks its nibbles up with
	// VPERMI2PS, whose 4th index bit picks the second table, levels 8…15.
	levelsHi := z(30).AsY()
	hi := levelsMem
	hi.Disp += 32
	c.VMOVUPS(hi, levelsHi)

	// group emits one group's products: lanes 16 (zmm) or 8 (ymm).
	group := func(lanes int) {
		v := func(x VecPhysical) Register {
			if lanes == 8 {
				return x.AsY()
			}
			return x
		}
		chunk := 4 * lanes // bytes of one chunk: four bytes a lane
		for r := 0; r < rows; r++ {
			for p := 0; p < parts(lanes); p++ {
				c.VPXORD(v(bs(r, p, lanes)), v(bs(r, p, lanes)), v(bs(r, p, lanes)))
			}
		}
		for L := 0; L < 4; L++ {
			for r := 0; r < rows; r++ {
				c.VMOVDQU32(Mem{Base: wr[r], Disp: L * chunk}, v(dv(r)))
			}
			for n := 0; n < 8; n++ {
				t := 8*L + n
				c.VMOVUPS(Mem{Base: xp, Disp: 4 * lanes * t}, v(xv))
				for r := 0; r < rows; r++ {
					if lanes == 8 {
						if n == 0 {
							c.VMOVDQA32(dv(r).AsY(), idx(r).AsY())
						} else {
							c.VPSRLD(U8(4*n), dv(r).AsY(), idx(r).AsY())
						}
						c.VPERMI2PS(levelsHi, levels.AsY(), idx(r).AsY()) // q − 8, in place of the index
						c.VFMADD231PS(xv.AsY(), idx(r).AsY(), bs(r, t, lanes).AsY())
						continue
					}
					ix := dv(r)
					if n > 0 {
						c.VPSRLD(U8(4*n), dv(r), idx(r))
						ix = idx(r)
					}
					c.VPERMPS(levels, ix, wv(r)) // q − 8 of position t, lane by lane
					c.VFMADD231PS(xv, wv(r), bs(r, t, lanes))
				}
			}
		}
		for r := 0; r < rows; r++ {
			s := bs(r, 0, lanes)
			for p := 1; p < parts(lanes); p++ {
				c.VADDPS(v(bs(r, p, lanes)), v(s), v(s))
			}
			if lanes == 16 {
				c.VFMADD231PS(Mem{Base: dr[r]}, s, acc(r)) // += d ⊙ block sums
			} else {
				// The ymm result zeroes the upper lanes of the zmm it writes, so the
				// tail is scaled apart and added whole.
				c.VMULPS(Mem{Base: dr[r]}, s.AsY(), s.AsY())
				c.VADDPS(s, acc(r), acc(r))
			}
			c.ADDQ(U32(4*chunk), wr[r])
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
	for r := 0; r < rows; r++ {
		q8hreduce(c, true, c.VADDPS, acc(r), z(4), false) // (VEX: a register below 16)
		c.VMOVSS(acc(r).AsX(), Mem{Base: out, Disp: 4 * r})
	}
	c.VZEROUPPER()
	c.RET()
}
