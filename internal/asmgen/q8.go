package main

import (
	"fmt"
	"math"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The int8 GEMM micro-kernels of package kernels/q8 (AVX-512 VNNI).
//
// VPDPBUSD multiplies unsigned bytes by signed bytes, four at a time, and adds the four
// products into each int32 lane. The weights are the unsigned operand: packing stores b+128
// (b XOR 0x80), and the caller subtracts 128·Σ_p a[i][p] from row i afterwards, so the result
// is the exact Σ a·b. The activations are the signed operand, four bytes of a row broadcast to
// every lane.
//
// A packed panel is 64 output columns: for each group of four k, four zmm of 16 columns × 4
// bytes (column c, k 4g+t at byte 4c+t), 256 bytes per group. A tile is mr ≤ 6 rows × 64
// columns: 24 accumulators, 4 weight registers, 2 broadcast registers. Per group it loads 4
// weight vectors and mr broadcasts and issues 4·mr VPDPBUSD, so it is bound by VPDPBUSD
// throughput (two a cycle) rather than loads.

func init() { register("gemm", "q8", genQ8Gemm) }

const q8MR = 6

func genQ8Gemm(ctx *build.Context) {
	for mr := 1; mr <= q8MR; mr++ {
		genQ8Tile(ctx, mr)
	}
	q8MaskMem = laneMaskTable(ctx, "q8Mask", 8)
	q4LevelsMem = q4LevelTable(ctx, "q4Levels")
	for mr := 1; mr <= 2; mr++ {
		genQ8TileAVX2(ctx, mr)
	}
	for _, wide := range []bool{false, true} {
		genAbsMax(ctx, wide)
		genQuantRow(ctx, wide)
		genDequantRow(ctx, wide)
	}
	for _, rows := range []int{1, 4} {
		genBlockDot(ctx, rows, true)
		genBlockDot(ctx, rows, false)
	}
	genDequantBlocks(ctx, true)
	genDequantBlocks(ctx, false)
}

// blockLoopStart sets up a loop over nb ggml blocks (nb may be 0): it returns the loop's and
// the exit's labels, and leaves the code at the top of the loop.
func blockLoopStart(c *build.Context, name string, nb GPPhysical) (loop, done string) {
	loop, done = name+"_loop", name+"_done"
	c.TESTQ(nb, nb)
	c.JZ(LabelRef(done))
	c.Label(loop)
	return loop, done
}

// genDequantBlocks: nb ggml blocks (Q4_0 or Q8_0) to float32, d·(q−8) or d·q, one block (two
// zmm) per iteration; q−8 is exact in float32, so each value is the single rounding of the
// product, as in the Go reference.
func genDequantBlocks(c *build.Context, q4 bool) {
	kind, bsize := "Q8_0", 34
	if q4 {
		kind, bsize = "Q4_0", 18
	}
	name := "dequant" + kind + "AVX512"
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(dst *float32, w *uint8, nb int)")
	c.Doc(name + " writes the 32·nb values of nb " + fmt.Sprint(bsize) + "-byte ggml " + kind + " blocks at w to dst.")
	dst, w, nb := RDI, RSI, RCX
	c.Load(c.Param("dst"), dst)
	c.Load(c.Param("w"), w)
	c.Load(c.Param("nb"), nb)
	z := func(i int) VecPhysical { return q8zmm[i] }
	lo, hi, d, levels := z(0), z(1), z(2), z(3)
	if q4 {
		c.VMOVUPS(q4LevelsMem, levels)
	}
	loop, done := blockLoopStart(c, name, nb)
	if q4 {
		c.VPMOVZXBD(Mem{Base: w, Disp: 2}, hi)
		c.VPERMPS(levels, hi, lo) // low nibble − 8
		c.VPSRLD(U8(4), hi, hi)
		c.VPERMPS(levels, hi, hi) // high nibble − 8
	} else {
		c.VPMOVSXBD(Mem{Base: w, Disp: 2}, lo)
		c.VPMOVSXBD(Mem{Base: w, Disp: 18}, hi)
		c.VCVTDQ2PS(lo, lo)
		c.VCVTDQ2PS(hi, hi)
	}
	c.VPBROADCASTW(Mem{Base: w}, d.AsY())
	c.VCVTPH2PS(d.AsY(), d)
	c.VMULPS(d, lo, lo)
	c.VMULPS(d, hi, hi)
	c.VMOVUPS(lo, Mem{Base: dst})
	c.VMOVUPS(hi, Mem{Base: dst, Disp: 64})
	c.ADDQ(U8(bsize), w)
	c.ADDQ(U8(128), dst)
	c.DECQ(nb)
	c.JNZ(LabelRef(loop))
	c.Label(done)
	c.VZEROUPPER()
	c.RET()
}

// genBlockDot: rows weight rows in ggml blocks (Q4_0 or Q8_0) against one float32 row x,
// the weights dequantized in registers: per block, the 32 values become two zmm of float32
// (Q4_0: the low and high nibbles, each looked up as q − 8 in q4Levels by VPERMPS), their
// products with x are summed in a vector, and the vector is scaled by the block's d into the
// row's accumulator. Horizontal sums happen once, at the end.
//
// The scales come as float32 from a separate array (the caller converts the blocks' float16
// d once): the FMA broadcasts its scale straight from memory, where converting the float16
// took a broadcast and a VCVTPH2PS, two shuffle-unit operations a block and row on top of the
// three (Q4_0) the nibbles need — the unit that bounds this loop.
func genBlockDot(c *build.Context, rows int, q4 bool) {
	kind, bsize := "q80", 34
	if q4 {
		kind, bsize = "q40", 18
	}
	name := fmt.Sprintf("%sDot%dAVX512", kind, rows)
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(x *float32, w *uint8, stride int, d *float32, nb int, out *float32)")
	c.Doc(fmt.Sprintf("%s sets out[r] = Σ_b d_rb·Σ_t v_rbt·x[32b+t] for r < %d: weight row r is nb", name, rows),
		fmt.Sprintf("%d-byte ggml blocks at w + r·stride, its scales nb float32 at d + r·nb (the blocks' own d are not read).", bsize))
	xp, nb, stride, dstride := RSI, RCX, RDX, RDI
	c.Load(c.Param("x"), xp)
	c.Load(c.Param("stride"), stride)
	c.Load(c.Param("nb"), nb)
	c.MOVQ(nb, dstride)
	c.SHLQ(U8(2), dstride)
	wr, dr := blockRowPointers(c, rows, stride, dstride)
	z := func(i int) VecPhysical { return q8zmm[i] }
	for r := 0; r < rows; r++ {
		c.VPXORD(z(r), z(r), z(r))
	}
	x0, x1, levels := z(4), z(5), z(7)
	if q4 {
		c.VMOVUPS(q4LevelsMem, levels)
	}
	loop, done := blockLoopStart(c, name, nb)
	c.VMOVUPS(Mem{Base: xp}, x0)
	c.VMOVUPS(Mem{Base: xp, Disp: 64}, x1)
	for r := 0; r < rows; r++ {
		base := 8 + 4*(r%2) // two register sets, so that neighbouring rows overlap
		lo, hi := z(base), z(base+1)
		if q4 {
			c.VPMOVZXBD(Mem{Base: wr[r], Disp: 2}, hi)
			c.VPERMPS(levels, hi, lo) // low nibble − 8
			c.VPSRLD(U8(4), hi, hi)
			c.VPERMPS(levels, hi, hi) // high nibble − 8
		} else {
			c.VPMOVSXBD(Mem{Base: wr[r], Disp: 2}, lo)
			c.VPMOVSXBD(Mem{Base: wr[r], Disp: 18}, hi)
			c.VCVTDQ2PS(lo, lo)
			c.VCVTDQ2PS(hi, hi)
		}
		c.VMULPS(x0, lo, lo)
		c.VFMADD231PS(x1, hi, lo)
		c.VFMADD231PS_BCST(Mem{Base: dr[r]}, lo, z(r)) // += d_rb·(Σ of the block)
		c.ADDQ(U8(bsize), wr[r])
		c.ADDQ(U8(4), dr[r])
	}
	c.ADDQ(U8(128), xp)
	c.DECQ(nb)
	c.JNZ(LabelRef(loop))
	c.Label(done)
	out := RDI
	c.Load(c.Param("out"), out)
	storeRowSums(c, q8zmm[:rows], z(9), Mem{Base: out})
	c.VZEROUPPER()
	c.RET()
}

// blockRowPointers loads the parameters w and d, the first row's weights and scales, into
// the registers of rows rows and sets the others: row r's weights stride bytes after row
// r−1's, its scales dstride bytes after.
func blockRowPointers(c *build.Context, rows int, stride, dstride GPPhysical) (wr, dr []GPPhysical) {
	wr, dr = []GPPhysical{RAX, R10, R11, R12}[:rows], []GPPhysical{R8, R9, RBX, R13}[:rows]
	c.Load(c.Param("w"), wr[0])
	c.Load(c.Param("d"), dr[0])
	for r := 1; r < rows; r++ {
		c.LEAQ(Mem{Base: wr[r-1], Index: stride, Scale: 1}, wr[r])
		c.LEAQ(Mem{Base: dr[r-1], Index: dstride, Scale: 1}, dr[r])
	}
	return wr, dr
}

// storeRowSums writes the horizontal sum of each accumulator (registers below 16: the
// reduction uses VEX instructions) to consecutive floats at out, tmp a scratch register.
// Four accumulators are reduced together: each is halved to an xmm, and three VHADDPS give
// the four sums in one register (20 instructions where four separate reductions take 36).
func storeRowSums(c *build.Context, accs []VecPhysical, tmp VecPhysical, out Mem) {
	if len(accs) != 4 {
		for r, a := range accs {
			q8hreduce(c, true, c.VADDPS, a, tmp, false)
			o := out
			o.Disp += 4 * r
			c.VMOVSS(a.AsX(), o)
		}
		return
	}
	for _, a := range accs {
		c.VEXTRACTF64X4(U8(1), a, tmp.AsY())
		c.VADDPS(tmp.AsY(), a.AsY(), a.AsY())
		c.VEXTRACTF128(U8(1), a.AsY(), tmp.AsX())
		c.VADDPS(tmp.AsX(), a.AsX(), a.AsX())
	}
	c.VHADDPS(accs[1].AsX(), accs[0].AsX(), accs[0].AsX()) // a0 pairs, a1 pairs
	c.VHADDPS(accs[3].AsX(), accs[2].AsX(), accs[2].AsX()) // a2 pairs, a3 pairs
	c.VHADDPS(accs[2].AsX(), accs[0].AsX(), accs[0].AsX()) // the four sums
	c.VMOVUPS(accs[0].AsX(), out)
}

var q8MaskMem Mem

// q4LevelsMem holds the 16 values of a Q4_0 nibble as float32, q − 8 for q = 0…15: VPERMPS
// with the nibbles as indices (it reads the low four bits of each lane) turns them into
// floats in one step, the −8 included.
var q4LevelsMem Mem

func q4LevelTable(ctx *build.Context, name string) Mem {
	m := ctx.StaticGlobal(name)
	ctx.DataAttributes(attr.RODATA | attr.NOPTR)
	for q := 0; q < 16; q++ {
		ctx.AppendDatum(U32(math.Float32bits(float32(q - 8))))
	}
	return m
}

// genQ8TileAVX2 is the AVX2 tile (no VNNI): mr ≤ 2 rows × 16 columns, one 64-byte chunk of
// each group of the packed panel. The exact way without VNNI: bytes widen to int16
// (weights zero-extended, activations sign-extended) and VPMADDWD multiplies pairs into int32
// without saturation (VPMADDUBSW would saturate). A ymm of weights holds 4 columns × 4 k, so
// each accumulator lane holds half a column's sum; VPHADDD and VPERMQ put the halves
// together at the end.
func genQ8TileAVX2(c *build.Context, mr int) {
	name := fmt.Sprintf("gemmAVX2m%d", mr)
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(kg int, a *int8, lda int, b *uint8, cp *int32, ldc int, ncols int, corr *int32)")
	c.Doc(name+" computes a tile of "+fmt.Sprint(mr)+" rows × 16 columns:",
		"C[i][j] = Σ_p a[i·lda+p]·(b[j][p]+128) − corr[i] over p < 4·kg, where b points at a",
		"64-byte chunk of group 0 of a packed panel (groups 256 bytes apart); it stores the first",
		"ncols ≤ 16 columns of each row at cp + i·ldc.")
	kg, off, bp, cptr, ldc, rows := q8TileArgs(c, mr)
	y := func(i int) VecPhysical { return q8vec(false, i) }
	acc := func(r, s int) VecPhysical { return y(4*r + s) }
	for r := 0; r < mr; r++ {
		for s := 0; s < 4; s++ {
			c.VPXOR(acc(r, s), acc(r, s), acc(r, s))
		}
	}
	c.XORQ(off, off)
	loop, store := name+"_loop", name+"_store"
	c.TESTQ(kg, kg)
	c.JZ(LabelRef(store))
	c.Label(loop)
	for s := 0; s < 4; s++ {
		c.VPMOVZXBW(Mem{Base: bp, Disp: 16 * s}, y(8+s))
	}
	for r := 0; r < mr; r++ {
		av := y(12)
		c.VPBROADCASTD(Mem{Base: rows[r], Index: off, Scale: 1}, av.AsX())
		c.VPMOVSXBW(av.AsX(), av)
		for s := 0; s < 4; s++ {
			t := y(14 + s%2)
			c.VPMADDWD(y(8+s), av, t)
			c.VPADDD(t, acc(r, s), acc(r, s))
		}
	}
	c.ADDQ(U8(4), off)
	c.ADDQ(U32(256), bp)
	c.DECQ(kg)
	c.JNZ(LabelRef(loop))

	c.Label(store)
	// Store masks: the first t0 = clamp(ncols, 0, 8) lanes, then t1 = clamp(ncols−8, 0, 8).
	n, t := RBX, R11
	c.Load(c.Param("ncols"), n)
	mask := []VecPhysical{y(10), y(11)}
	for h := 0; h < 2; h++ {
		q8clamp(c, fmt.Sprintf("%s_t%d", name, h), n, t, 8*h, 8)
		c.NEGQ(t)
		c.LEAQ(q8MaskMem.Offset(32), R12)
		c.VMOVDQU(Mem{Base: R12, Index: t, Scale: 4}, mask[h])
	}
	cr := RDI
	c.Load(c.Param("corr"), cr)
	c.SHLQ(U8(2), ldc)
	for r := 0; r < mr; r++ {
		corr := y(12)
		c.VPBROADCASTD(Mem{Base: cr, Disp: 4 * r}, corr)
		for h := 0; h < 2; h++ {
			o := y(14 + h)
			c.VPHADDD(acc(r, 2*h+1), acc(r, 2*h), o)
			c.VPERMQ(U8(0xd8), o, o)
			c.VPSUBD(corr, o, o)
			c.VPMASKMOVD(o, mask[h], Mem{Base: cptr, Disp: 32 * h})
		}
		if r+1 < mr {
			c.ADDQ(ldc, cptr)
		}
	}
	c.VZEROUPPER()
	c.RET()
}

// q8vec is vector register i of the ISA: ymm for AVX2, zmm for AVX-512.
func q8vec(wide bool, i int) VecPhysical {
	if wide {
		return q8zmm[i]
	}
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

func q8isa(wide bool) (string, int) {
	if wide {
		return "AVX512", 16
	}
	return "AVX2", 8
}

// q8hreduce folds the vector v into lane 0 with op (VMAXPS, VADDPS, VPADDD); tmp is scratch.
func q8hreduce(c *build.Context, wide bool, op func(...Op), v, tmp VecPhysical, integer bool) {
	if wide {
		if integer {
			c.VEXTRACTI64X4(U8(1), v, tmp.AsY())
		} else {
			c.VEXTRACTF64X4(U8(1), v, tmp.AsY())
		}
		op(tmp.AsY(), v.AsY(), v.AsY())
	}
	if integer {
		c.VEXTRACTI128(U8(1), v.AsY(), tmp.AsX())
	} else {
		c.VEXTRACTF128(U8(1), v.AsY(), tmp.AsX())
	}
	op(tmp.AsX(), v.AsX(), v.AsX())
	c.VPSHUFD(U8(0x4e), v.AsX(), tmp.AsX())
	op(tmp.AsX(), v.AsX(), v.AsX())
	c.VPSHUFD(U8(0xb1), v.AsX(), tmp.AsX())
	op(tmp.AsX(), v.AsX(), v.AsX())
}

// genAbsMax: the largest |x[i]| over whole vectors, and Σ x[i]·0, which is NaN exactly when an
// element is NaN or infinite.
func genAbsMax(c *build.Context, wide bool) {
	isa, L := q8isa(wide)
	name := "absMax" + isa
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(x []float32) (amax, check float32)")
	c.Doc(name+" returns max |x[i]| and Σ x[i]·0 (NaN when an element is NaN or ±Inf) over the first",
		fmt.Sprintf("len(x) − len(x)%%%d elements.", L))
	x, n, i := RSI, RCX, RAX
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("x").Len(), n)
	c.ANDQ(I32(-L), n)
	v := func(j int) VecPhysical { return q8vec(wide, j) }
	abs, zero := v(15), v(14)
	if wide {
		c.VPTERNLOGD(U8(0xff), abs, abs, abs)
	} else {
		c.VPCMPEQD(abs, abs, abs)
	}
	c.VPSRLD(U8(1), abs, abs)
	c.VXORPS(zero, zero, zero)
	for j := 0; j < 4; j++ {
		c.VXORPS(v(j), v(j), v(j))
		c.VXORPS(v(4+j), v(4+j), v(4+j))
	}
	c.XORQ(i, i)
	loop, done := name+"_loop", name+"_done"
	c.Label(loop)
	c.CMPQ(i, n)
	c.JAE(LabelRef(done))
	t := v(8)
	c.VANDPS(Mem{Base: x, Index: i, Scale: 4}, abs, t)
	c.VMAXPS(t, v(0), v(0))
	c.VFMADD231PS(t, zero, v(4))
	c.ADDQ(U8(L), i)
	c.JMP(LabelRef(loop))
	c.Label(done)
	q8hreduce(c, wide, c.VMAXPS, v(0), v(9), false)
	q8hreduce(c, wide, c.VADDPS, v(4), v(9), false)
	c.Store(v(0).AsX(), c.Return("amax"))
	c.Store(v(4).AsX(), c.Return("check"))
	c.VZEROUPPER()
	c.RET()
}

// genDequantRow: y[j] = float32(c[j])·(s·scale[j]) + bias[j] over whole vectors, each
// product and sum rounded on its own (no FMA) as in the Go reference; bias may be empty.
func genDequantRow(c *build.Context, wide bool) {
	isa, L := q8isa(wide)
	name := "dequantRow" + isa
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(y []float32, cs []int32, s float32, scale, bias []float32)")
	c.Doc(name+" sets y[j] = float32(cs[j])·(s·scale[j]) + bias[j] (each operation rounded to",
		fmt.Sprintf("float32; no bias when bias is empty) for the first len(cs) − len(cs)%%%d elements.", L))
	y, cs, sc, b, n, i := RDI, RSI, RDX, R8, RCX, RAX
	c.Load(c.Param("y").Base(), y)
	c.Load(c.Param("cs").Base(), cs)
	c.Load(c.Param("scale").Base(), sc)
	c.Load(c.Param("bias").Base(), b)
	c.Load(c.Param("cs").Len(), n)
	c.ANDQ(I32(-L), n)
	v := func(j int) VecPhysical { return q8vec(wide, j) }
	sv := v(15)
	c.VBROADCASTSS(rowArg(c, "s"), sv)
	c.XORQ(i, i)
	c.Load(c.Param("bias").Len(), R9)
	nobias, loop, loopNB, done := name+"_nobias", name+"_loop", name+"_loopnb", name+"_done"
	c.TESTQ(R9, R9)
	c.JZ(LabelRef(nobias))
	body := func(withBias bool) {
		a, t := v(0), v(1)
		c.VMULPS(Mem{Base: sc, Index: i, Scale: 4}, sv, t)
		c.VCVTDQ2PS(Mem{Base: cs, Index: i, Scale: 4}, a)
		c.VMULPS(t, a, a)
		if withBias {
			c.VADDPS(Mem{Base: b, Index: i, Scale: 4}, a, a)
		}
		c.VMOVUPS(a, Mem{Base: y, Index: i, Scale: 4})
		c.ADDQ(U8(L), i)
	}
	c.Label(loop)
	c.CMPQ(i, n)
	c.JAE(LabelRef(done))
	body(true)
	c.JMP(LabelRef(loop))
	c.Label(nobias)
	c.Label(loopNB)
	c.CMPQ(i, n)
	c.JAE(LabelRef(done))
	body(false)
	c.JMP(LabelRef(loopNB))
	c.Label(done)
	c.VZEROUPPER()
	c.RET()
}

// genQuantRow: dst[i] = clamp(RNE(x[i]·inv), −127, 127) over whole vectors, and their sum.
func genQuantRow(c *build.Context, wide bool) {
	isa, L := q8isa(wide)
	name := "quantRow" + isa
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(dst []int8, x []float32, inv float32) int32")
	c.Doc(name+" sets dst[i] = clamp(RNE(x[i]·inv), −127, 127) (float32 product, rounding to nearest",
		fmt.Sprintf("even) for the first len(x) − len(x)%%%d elements and returns their sum.", L))
	dst, x, n, i := RDI, RSI, RCX, RAX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("x").Len(), n)
	c.ANDQ(I32(-L), n)
	v := func(j int) VecPhysical { return q8vec(wide, j) }
	inv, lo, hi, sum := v(15), v(14), v(13), v(12)
	c.VBROADCASTSS(rowArg(c, "inv"), inv)
	c.MOVL(U32(0xffffff81), R8L) // −127
	c.VMOVD(R8L, lo.AsX())
	c.VPBROADCASTD(lo.AsX(), lo)
	c.MOVL(U32(127), R8L)
	c.VMOVD(R8L, hi.AsX())
	c.VPBROADCASTD(hi.AsX(), hi)
	c.VPXOR(sum.AsY(), sum.AsY(), sum.AsY())
	if wide {
		c.VPXORD(sum, sum, sum)
	}
	c.XORQ(i, i)
	loop, done := name+"_loop", name+"_done"
	c.Label(loop)
	c.CMPQ(i, n)
	c.JAE(LabelRef(done))
	a := v(0)
	c.VMULPS(Mem{Base: x, Index: i, Scale: 4}, inv, a)
	c.VCVTPS2DQ(a, a)
	c.VPMAXSD(lo, a, a)
	c.VPMINSD(hi, a, a)
	c.VPADDD(a, sum, sum)
	if wide {
		c.VPMOVSDB(a, Mem{Base: dst, Index: i, Scale: 1})
	} else {
		b := v(1)
		c.VEXTRACTI128(U8(1), a, b.AsX())
		c.VPACKSSDW(b.AsX(), a.AsX(), a.AsX())
		c.VPACKSSWB(a.AsX(), a.AsX(), a.AsX())
		c.VMOVQ(a.AsX(), Mem{Base: dst, Index: i, Scale: 1})
	}
	c.ADDQ(U8(L), i)
	c.JMP(LabelRef(loop))
	c.Label(done)
	q8hreduce(c, wide, c.VPADDD, sum, v(1), true)
	c.VMOVD(sum.AsX(), R8L)
	c.Store(R8L, c.ReturnIndex(0))
	c.VZEROUPPER()
	c.RET()
}

// q8TileArgs loads the arguments shared by the GEMM tiles (kg, a, lda, b, cp, ldc) and
// points one register at each of the mr rows of A; off (the byte offset into the rows) is
// left to the caller.
func q8TileArgs(c *build.Context, mr int) (kg, off, bp, cptr, ldc GPPhysical, rows []GPPhysical) {
	var lda GPPhysical
	kg, off, bp, cptr, ldc, lda = RCX, RSI, RDI, RDX, R9, R8
	rows = []GPPhysical{RAX, R10, R11, R12, R13, R14}[:mr]
	c.Load(c.Param("kg"), kg)
	c.Load(c.Param("a"), rows[0])
	c.Load(c.Param("lda"), lda)
	c.Load(c.Param("b"), bp)
	c.Load(c.Param("cp"), cptr)
	c.Load(c.Param("ldc"), ldc)
	for r := 1; r < mr; r++ {
		c.LEAQ(Mem{Base: rows[r-1], Index: lda, Scale: 1}, rows[r])
	}
	return
}

// q8clamp emits t = clamp(n − sub, 0, hi).
func q8clamp(c *build.Context, label string, n, t GPPhysical, sub, hi int) {
	c.MOVQ(n, t)
	if sub > 0 {
		c.SUBQ(U8(sub), t)
	}
	zero, done := label+"zero", label+"done"
	c.CMPQ(t, U8(0))
	c.JLE(LabelRef(zero))
	c.CMPQ(t, U8(hi))
	c.JLE(LabelRef(done))
	c.MOVQ(U32(hi), t)
	c.JMP(LabelRef(done))
	c.Label(zero)
	c.XORQ(t, t)
	c.Label(done)
}

var q8zmm = []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
	Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}

func genQ8Tile(c *build.Context, mr int) {
	name := fmt.Sprintf("gemmVNNIm%d", mr)
	c.Function(name)
	c.Attributes(attr.NOSPLIT)
	c.SignatureExpr("func(kg int, a *int8, lda int, b *uint8, cp *int32, ldc int, ncols int, corr *int32, accumulate bool)")
	c.Doc(name+" computes a tile of "+fmt.Sprint(mr)+" rows × 64 columns:",
		"C[i][j] (+)= Σ_p a[i·lda+p]·(b[j][p]+128) − corr[i] over p < 4·kg, from a packed panel b",
		"(see the package comment); it stores the first ncols ≤ 64 columns of each row at",
		"cp + i·ldc, adding to them when accumulate is set.")
	kg, off, bp, cptr, ldc, rows := q8TileArgs(c, mr)
	acc := func(r, j int) VecPhysical { return q8zmm[4*r+j] }
	for r := 0; r < mr; r++ {
		for j := 0; j < 4; j++ {
			c.VPXORD(acc(r, j), acc(r, j), acc(r, j))
		}
	}
	c.XORQ(off, off)
	loop, store := name+"_loop", name+"_store"
	c.TESTQ(kg, kg)
	c.JZ(LabelRef(store))
	c.Label(loop)
	w := q8zmm[24:28]
	for j := 0; j < 4; j++ {
		c.VMOVDQU32(Mem{Base: bp, Disp: 64 * j}, w[j])
	}
	for r := 0; r < mr; r++ {
		bc := q8zmm[28+r%2]
		c.VPBROADCASTD(Mem{Base: rows[r], Index: off, Scale: 1}, bc)
		for j := 0; j < 4; j++ {
			c.VPDPBUSD(bc, w[j], acc(r, j))
		}
	}
	c.ADDQ(U8(4), off)
	c.ADDQ(U32(256), bp)
	c.DECQ(kg)
	c.JNZ(LabelRef(loop))

	c.Label(store)
	// Column masks K1…K4 from ncols: lanes [16j, 16j+16) that are below ncols.
	n, t, ones := RBX, R15, RSI
	c.Load(c.Param("ncols"), n)
	c.MOVL(U32(0xffff), ones.As32())
	masks := []OpmaskPhysical{K1, K2, K3, K4}
	for j := 0; j < 4; j++ {
		q8clamp(c, fmt.Sprintf("%s_m%d", name, j), n, t, 16*j, 16)
		c.BZHIL(t.As32(), ones.As32(), t.As32())
		c.KMOVW(t.As32(), masks[j])
	}
	// Subtract each row's correction (128·Σ_p a[i][p] removes the +128 of the packing).
	cr := RDI
	c.Load(c.Param("corr"), cr)
	for r := 0; r < mr; r++ {
		c.VPBROADCASTD(Mem{Base: cr, Disp: 4 * r}, q8zmm[28])
		for j := 0; j < 4; j++ {
			c.VPSUBD(q8zmm[28], acc(r, j), acc(r, j))
		}
	}
	c.SHLQ(U8(2), ldc) // bytes
	c.Load(c.Param("accumulate"), t.As8())
	plain := name + "_plain"
	c.TESTB(t.As8(), t.As8())
	c.JZ(LabelRef(plain))
	for r := 0; r < mr; r++ {
		for j := 0; j < 4; j++ {
			m := Mem{Base: cptr, Disp: 64 * j}
			c.VPADDD(m, acc(r, j), masks[j], acc(r, j))
			c.VMOVDQU32(acc(r, j), masks[j], m)
		}
		if r+1 < mr {
			c.ADDQ(ldc, cptr)
		}
	}
	c.VZEROUPPER()
	c.RET()
	c.Label(plain)
	for r := 0; r < mr; r++ {
		for j := 0; j < 4; j++ {
			c.VMOVDQU32(acc(r, j), masks[j], Mem{Base: cptr, Disp: 64 * j})
		}
		if r+1 < mr {
			c.ADDQ(ldc, cptr)
		}
	}
	c.VZEROUPPER()
	c.RET()
}
