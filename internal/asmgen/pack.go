package main

import (
	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Packing routines for the GEMM macro-kernel (kernels/gemm.go, packA and packB). They only
// move data, so every variant gives identical packed buffers.
//
//	packBCopy(dst, src, kb, ldb, np, psz): for p < kb, q < np:
//	    dst[q*psz + p*32 : +32] = src[p*ldb + q*32 : +32]
//	packAGather(dst, src, k, idx, mt): for p < k, i < mt:
//	    dst[p*mt + i] = src[idx[i] + p]        (idx[i] = i·lda, so row i of A)

func init() { register("pack", "kernels", genPack) }

const (
	packBSig = "func(dst, src *float32, kb, ldb, np, psz int)"
	packASig = "func(dst, src *float32, k int, idx *int32, mt int)"
	// packPrefetchRows is how many rows ahead packBCopy prefetches its source: each row of B
	// starts a new page, where the hardware prefetcher starts cold.
	packPrefetchRows = 2
)

func genPack(ctx *build.Context) {
	packMask = laneMaskTable(ctx, "packMaskTable", 8)
	genPackBCopy(ctx, "packBCopyAVX512", 64)
	genPackBCopy(ctx, "packBCopyAVX2", 32)
	genPackAGatherAVX512(ctx)
	genPackAGatherAVX2(ctx)
	genTranspose16(ctx)
	genPackACopy(ctx)
}

// genPackBCopy copies 128-byte row pieces with vector registers of vb bytes.
func genPackBCopy(ctx *build.Context, name string, vb int) {
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(packBSig)
	dst, src, kb, ldb, np, psz := RDI, RSI, RCX, RBX, R8, R9
	ctx.Load(ctx.Param("dst"), dst)
	ctx.Load(ctx.Param("src"), src)
	ctx.Load(ctx.Param("kb"), kb)
	ctx.Load(ctx.Param("ldb"), ldb)
	ctx.SHLQ(U8(2), ldb)
	ctx.Load(ctx.Param("np"), np)
	ctx.Load(ctx.Param("psz"), psz)
	ctx.SHLQ(U8(2), psz)
	s, d, q, pf := R10, R11, R12, R13
	regs := []VecPhysical{Z0, Z1}
	if vb == 32 {
		regs = []VecPhysical{Y0, Y1, Y2, Y3}
	}
	ctx.TESTQ(kb, kb)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.TESTQ(np, np)
	ctx.JZ(LabelRef(name + "_done"))
	// pf = packPrefetchRows·ldb: the distance to the row being prefetched.
	ctx.MOVQ(ldb, pf)
	ctx.SHLQ(U8(1), pf)
	ctx.Label(name + "_row")
	ctx.MOVQ(src, s)
	ctx.MOVQ(dst, d)
	ctx.MOVQ(np, q)
	ctx.Label(name + "_panel")
	ctx.PREFETCHT0(Mem{Base: s, Index: pf, Scale: 1})
	ctx.PREFETCHT0(Mem{Base: s, Index: pf, Scale: 1, Disp: 64})
	for i, r := range regs {
		ctx.VMOVUPS(Mem{Base: s, Disp: i * vb}, r)
	}
	for i, r := range regs {
		ctx.VMOVUPS(r, Mem{Base: d, Disp: i * vb})
	}
	ctx.ADDQ(U8(128), s)
	ctx.ADDQ(psz, d)
	ctx.DECQ(q)
	ctx.JNZ(LabelRef(name + "_panel"))
	ctx.ADDQ(ldb, src)
	ctx.ADDQ(U8(128), dst)
	ctx.DECQ(kb)
	ctx.JNZ(LabelRef(name + "_row"))
	ctx.Label(name + "_done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// genPackAGatherAVX512 gathers column p of an mt-row tile (mt ≤ 16) with one VGATHERDPS and
// stores its mt lanes under a mask. Two gathers alternate registers so that one does not wait
// for the other (a gather merges into its destination).
func genPackAGatherAVX512(ctx *build.Context) {
	name := "packAGatherAVX512"
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(packASig)
	dst, src, k, idx, mt, bits := RDI, RSI, RCX, RDX, R8, R10
	ctx.Load(ctx.Param("dst"), dst)
	ctx.Load(ctx.Param("src"), src)
	ctx.Load(ctx.Param("k"), k)
	ctx.Load(ctx.Param("idx"), idx)
	ctx.Load(ctx.Param("mt"), mt)
	ctx.VMOVDQU32(Mem{Base: idx}, Z0)
	ctx.MOVL(U32(0xffffffff), bits.As32())
	ctx.BZHIL(mt.As32(), bits.As32(), bits.As32())
	ctx.SHLQ(U8(2), mt) // bytes per packed column
	ctx.TESTQ(k, k)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.Label(name + "_loop")
	ctx.KMOVW(bits.As32(), K1)
	ctx.VPXORD(Z1, Z1, Z1)
	ctx.VGATHERDPS(Mem{Base: src, Index: Z0, Scale: 4}, K1, Z1)
	ctx.KMOVW(bits.As32(), K2)
	ctx.VMOVUPS(Z1, K2, Mem{Base: dst})
	ctx.ADDQ(U8(4), src)
	ctx.ADDQ(mt, dst)
	ctx.DECQ(k)
	ctx.JNZ(LabelRef(name + "_loop"))
	ctx.Label(name + "_done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// genPackAGatherAVX2 is the AVX2 version for mt ≤ 8: the lane mask is a vector, read from
// gemmMaskTable like the AVX2 GEMM edge kernels do.
func genPackAGatherAVX2(ctx *build.Context) {
	name := "packAGatherAVX2"
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(packASig)
	dst, src, k, idx, mt := RDI, RSI, RCX, RDX, R8
	ctx.Load(ctx.Param("dst"), dst)
	ctx.Load(ctx.Param("src"), src)
	ctx.Load(ctx.Param("k"), k)
	ctx.Load(ctx.Param("idx"), idx)
	ctx.Load(ctx.Param("mt"), mt)
	ctx.VMOVDQU(Mem{Base: idx}, Y0)
	// Y1 = lanes < mt: packMaskTable[8-mt : 16-mt].
	ctx.MOVQ(mt, RAX)
	ctx.NEGQ(RAX)
	ctx.LEAQ(packMask.Offset(32), R10)
	ctx.VMOVDQU(Mem{Base: R10, Index: RAX, Scale: 4}, Y1)
	ctx.SHLQ(U8(2), mt)
	ctx.TESTQ(k, k)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.Label(name + "_loop")
	ctx.VMOVDQU(Y1, Y2) // the gather clears its mask
	ctx.VXORPS(Y3, Y3, Y3)
	ctx.VGATHERDPS(Y2, Mem{Base: src, Index: Y0, Scale: 4}, Y3)
	ctx.VMASKMOVPS(Y3, Y1, Mem{Base: dst})
	ctx.ADDQ(U8(4), src)
	ctx.ADDQ(mt, dst)
	ctx.DECQ(k)
	ctx.JNZ(LabelRef(name + "_loop"))
	ctx.Label(name + "_done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// packMask is the lane-mask table of packAGatherAVX2 (see laneMaskTable).
var packMask Mem

// genTranspose16 emits
//
//	transposeAVX512(dst *float32, ldd int, src *float32, lds int, rows, k int)
//	    dst[p*ldd + i] = src[i*lds + p]   for i < rows (≤ 16), p < k
//
// 16 columns at a time: load up to 16 rows of 16 floats (the last chunk masked), transpose
// the 16×16 block in registers (64 shuffles), store each column's `rows` lanes under a mask.
// packA (tiles of A) and packBT (panels of a transposed B) are both this.
func genTranspose16(ctx *build.Context) {
	name := "transposeAVX512"
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(dst *float32, ldd int, src *float32, lds int, rows, k int)")
	dst, ldd, src, lds, rows, k := RDI, RBX, RSI, RDX, R8, RCX
	ctx.Load(ctx.Param("dst"), dst)
	ctx.Load(ctx.Param("ldd"), ldd)
	ctx.SHLQ(U8(2), ldd)
	ctx.Load(ctx.Param("src"), src)
	ctx.Load(ctx.Param("lds"), lds)
	ctx.SHLQ(U8(2), lds)
	ctx.Load(ctx.Param("rows"), rows)
	ctx.Load(ctx.Param("k"), k)
	ptr, n, bits := R9, R10, R11
	// K2: the lanes (rows) to store.
	ctx.MOVL(U32(0xffffffff), bits.As32())
	ctx.BZHIL(rows.As32(), bits.As32(), bits.As32())
	ctx.KMOVW(bits.As32(), K2)

	ctx.Label(name + "_chunk")
	ctx.TESTQ(k, k)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.MOVQ(U32(16), n)
	ctx.CMPQ(k, n)
	ctx.CMOVQLT(k, n) // n = min(16, k)
	ctx.MOVL(U32(0xffffffff), bits.As32())
	ctx.BZHIL(n.As32(), bits.As32(), bits.As32())
	ctx.KMOVW(bits.As32(), K1)
	ctx.MOVQ(src, ptr)
	for i := 0; i < 16; i++ {
		ctx.VMOVUPS_Z(Mem{Base: ptr}, K1, zmm(i))
		if i < 15 {
			ctx.CMPQ(rows, U8(i+1))
			ctx.JEQ(LabelRef(name + "_loaded"))
			ctx.ADDQ(lds, ptr)
		}
	}
	ctx.Label(name + "_loaded")
	// Stage 1: 32-bit interleave of row pairs into Z16…Z31.
	for j := 0; j < 8; j++ {
		a, b := zmm(2*j), zmm(2*j+1)
		ctx.VUNPCKLPS(b, a, zmm(16+2*j))
		ctx.VUNPCKHPS(b, a, zmm(16+2*j+1))
	}
	// Stage 2: 64-bit interleave: u[4j+e] holds, per 128-bit lane L, rows 4j…4j+3 of column 4L+e.
	for j := 0; j < 4; j++ {
		t := func(x int) VecPhysical { return zmm(16 + 4*j + x) }
		ctx.VUNPCKLPD(t(2), t(0), zmm(4*j+0))
		ctx.VUNPCKHPD(t(2), t(0), zmm(4*j+1))
		ctx.VUNPCKLPD(t(3), t(1), zmm(4*j+2))
		ctx.VUNPCKHPD(t(3), t(1), zmm(4*j+3))
	}
	// Stages 3 and 4: transpose the 4×4 grid of 128-bit lanes for each e.
	for e := 0; e < 4; e++ {
		u := func(j int) VecPhysical { return zmm(4*j + e) }
		v := func(x int) VecPhysical { return zmm(16 + 4*e + x) }
		ctx.VSHUFF32X4(U8(0x44), u(1), u(0), v(0))
		ctx.VSHUFF32X4(U8(0xee), u(1), u(0), v(1))
		ctx.VSHUFF32X4(U8(0x44), u(3), u(2), v(2))
		ctx.VSHUFF32X4(U8(0xee), u(3), u(2), v(3))
	}
	for e := 0; e < 4; e++ {
		v := func(x int) VecPhysical { return zmm(16 + 4*e + x) }
		// column c = 4L+e goes to Z(c)
		ctx.VSHUFF32X4(U8(0x88), v(2), v(0), zmm(0+e))
		ctx.VSHUFF32X4(U8(0xdd), v(2), v(0), zmm(4+e))
		ctx.VSHUFF32X4(U8(0x88), v(3), v(1), zmm(8+e))
		ctx.VSHUFF32X4(U8(0xdd), v(3), v(1), zmm(12+e))
	}
	for p := 0; p < 16; p++ {
		if p > 0 {
			ctx.CMPQ(n, U8(p))
			ctx.JEQ(LabelRef(name + "_stored"))
		}
		ctx.VMOVUPS(zmm(p), K2, Mem{Base: dst})
		ctx.ADDQ(ldd, dst)
	}
	ctx.Label(name + "_stored")
	ctx.ADDQ(U8(64), src)
	ctx.SUBQ(n, k)
	ctx.JMP(LabelRef(name + "_chunk"))
	ctx.Label(name + "_done")
	ctx.VZEROUPPER()
	ctx.RET()
}

// genPackACopy emits packACopyAVX512(dst, src *float32, k, lda, mt, tiles, tstride int):
//
//	dst[j*tstride + p*mt : +mt] = src[p*lda + j*mt : +mt]   for p < k, j < tiles, mt ≤ 16
//
// the packing of a transposed A (the activations of a weight gradient dW = dYᵀ·X) into
// `tiles` consecutive tiles at once, so that each row of A is read front to back once per
// call rather than once per tile; one masked load and store per tile and k step.
func genPackACopy(ctx *build.Context) {
	name := "packACopyAVX512"
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr("func(dst, src *float32, k, lda, mt, tiles, tstride int)")
	dst, src, k, lda, mt, bits := RDI, RSI, RCX, RBX, R8, R10
	tiles, tstride, s, d, j := R9, R11, R12, R13, RDX
	ctx.Load(ctx.Param("dst"), dst)
	ctx.Load(ctx.Param("src"), src)
	ctx.Load(ctx.Param("k"), k)
	ctx.Load(ctx.Param("lda"), lda)
	ctx.SHLQ(U8(2), lda)
	ctx.Load(ctx.Param("mt"), mt)
	ctx.Load(ctx.Param("tiles"), tiles)
	ctx.Load(ctx.Param("tstride"), tstride)
	ctx.SHLQ(U8(2), tstride)
	ctx.MOVL(U32(0xffffffff), bits.As32())
	ctx.BZHIL(mt.As32(), bits.As32(), bits.As32())
	ctx.KMOVW(bits.As32(), K1)
	ctx.SHLQ(U8(2), mt) // bytes per tile row
	ctx.TESTQ(k, k)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.TESTQ(tiles, tiles)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.Label(name + "_row")
	ctx.MOVQ(src, s)
	ctx.MOVQ(dst, d)
	ctx.MOVQ(tiles, j)
	ctx.Label(name + "_tile")
	ctx.VMOVUPS_Z(Mem{Base: s}, K1, Z0)
	ctx.VMOVUPS(Z0, K1, Mem{Base: d})
	ctx.ADDQ(mt, s)
	ctx.ADDQ(tstride, d)
	ctx.DECQ(j)
	ctx.JNZ(LabelRef(name + "_tile"))
	ctx.ADDQ(lda, src)
	ctx.ADDQ(mt, dst)
	ctx.DECQ(k)
	ctx.JNZ(LabelRef(name + "_row"))
	ctx.Label(name + "_done")
	ctx.VZEROUPPER()
	ctx.RET()
}
