package main

import (
	"fmt"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The fp32 GEMM micro-kernels. Each computes one tile of C from a packed A micro-panel
// (kc steps of m floats: a[k*m+i]) and packed B panels (kc rows of 32 floats each, panels
// bstride floats apart):
//
//	acc[i][j] = Σ_k a[k*m+i] · b[k*32+j]          (one FMA chain per element, k ascending)
//	c[i*ldc+j] = alpha·acc[i][j] + beta·c[i*ldc+j] (c is not read when beta == ±0)
//
// Every element is computed by the same chain of fused multiply-adds whatever the tile shape,
// so the Go macro-kernel can cut the output into tiles in any way (for any thread count) and
// get bit-identical results.
//
// All kernels share the Go signature
//
//	func(kc int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, ncols int)
//
// "Edge" kernels cover one tile of `width` columns and store only the first ncols of them;
// "multi" kernels cover np whole panels (np·32 columns) and ignore ncols.

const gemmSig = "func(kc int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, ncols int)"

// gemmPrefetchB is how many k steps ahead the AVX-512 kernels prefetch packed B (measured
// 4–16 all help on a Cascade Lake; without it the B stream from L2 stalls the kernel).
const gemmPrefetchB = 8

// gemmUnroll is how many k steps the main loop does per iteration.
const gemmUnroll = 4

func init() { register("gemm", "kernels", genGemm) }

// avx512Multi gives the number of panels the AVX-512 multi kernel for m rows covers: as many
// as fit in 32 zmm registers with m·2·np accumulators, 2·np B registers and one broadcast.
var avx512Multi = map[int]int{1: 4, 2: 4, 3: 3, 4: 3, 5: 2, 6: 2}

// avx512DirectMR is the tallest tile read from an unpacked B.
const avx512DirectMR = 4

// avx512MR is the tallest AVX-512 tile: 2·14 accumulators + 2 B + 1 broadcast = 31 registers.
const avx512MR = 14

// avx2MR is the tallest AVX2 tile: 6 rows × 16 columns = 12 accumulators + 2 B + 1 broadcast.
const avx2MR = 6

// avx2Multi: AVX2 kernels covering one whole 32-column panel for short tiles (m·4 accumulators,
// 4 B registers, 1 broadcast ≤ 16 registers), so a single row still has 4 FMA chains in flight.
var avx2Multi = map[int]int{1: 1, 2: 1}

func genGemm(ctx *build.Context) {
	gemmMask = laneMaskTable(ctx, "gemmMaskTable", 32)
	for m := 1; m <= avx512MR; m++ {
		gemmAVX512(ctx, m, 1, true, false)
	}
	for m := 1; m <= avx512MR; m++ {
		if np, ok := avx512Multi[m]; ok {
			gemmAVX512(ctx, m, np, false, false)
		}
	}
	for m := 1; m <= avx512DirectMR; m++ {
		gemmAVX512(ctx, m, 1, true, true)
		gemmAVX512(ctx, m, avx512Multi[m], false, true)
	}
	for m := 1; m <= avx2MR; m++ {
		gemmAVX2(ctx, m, 16, true)
	}
	for m := 1; m <= avx2MR; m++ {
		if np, ok := avx2Multi[m]; ok {
			gemmAVX2(ctx, m, 32*np, false)
		}
	}
}

// gemmArgs loads the pointer and size arguments shared by all kernels.
type gemmRegs struct {
	kc, a, b, bs, bs3, c, ldc GPPhysical
}

func loadGemmArgs(ctx *build.Context) gemmRegs {
	r := gemmRegs{kc: RCX, a: RSI, b: RDX, bs: RBX, bs3: R9, c: RDI, ldc: R8}
	ctx.Load(ctx.Param("kc"), r.kc)
	ctx.Load(ctx.Param("a"), r.a)
	ctx.Load(ctx.Param("b"), r.b)
	ctx.Load(ctx.Param("bstride"), r.bs)
	ctx.SHLQ(U8(2), r.bs)
	ctx.LEAQ(Mem{Base: r.bs, Index: r.bs, Scale: 2}, r.bs3)
	ctx.Load(ctx.Param("c"), r.c)
	ctx.Load(ctx.Param("ldc"), r.ldc)
	ctx.SHLQ(U8(2), r.ldc)
	return r
}

// panelAddr is the address of panel p (p < 4) of B at byte offset disp.
func (r gemmRegs) panelAddr(p, disp int) Mem {
	switch p {
	case 0:
		return Mem{Base: r.b, Disp: disp}
	case 1:
		return Mem{Base: r.b, Index: r.bs, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: r.b, Index: r.bs, Scale: 2, Disp: disp}
	case 3:
		return Mem{Base: r.b, Index: r.bs3, Scale: 1, Disp: disp}
	}
	panic("panelAddr")
}

// rowAddr is the address of row u (u < 4) of an unpacked B at byte offset disp.
func (r gemmRegs) rowAddr(u, disp int) Mem {
	switch u {
	case 0:
		return Mem{Base: r.b, Disp: disp}
	case 1:
		return Mem{Base: r.b, Index: r.bs, Scale: 1, Disp: disp}
	case 2:
		return Mem{Base: r.b, Index: r.bs, Scale: 2, Disp: disp}
	case 3:
		return Mem{Base: r.b, Index: r.bs3, Scale: 1, Disp: disp}
	}
	panic("rowAddr")
}

// kLoop emits the k loop: `step(u)` emits the work of the u-th step of an unrolled iteration
// (u < gemmUnroll) with displacements relative to the current a and b pointers.
func kLoop(ctx *build.Context, name string, r gemmRegs, m int, step func(u int)) {
	kLoopStep(ctx, name, r, m, U32(gemmUnroll*128), U8(128), step)
}

// kLoopStep is kLoop with the B pointer advanced by step4 per unrolled iteration and by step1
// per tail step.
func kLoopStep(ctx *build.Context, name string, r gemmRegs, m int, step4, step1 Op, step func(u int)) {
	n := R13
	ctx.MOVQ(r.kc, n)
	ctx.SHRQ(U8(2), n)
	ctx.JZ(LabelRef(name + "_tail"))
	ctx.Label(name + "_loop4")
	for u := 0; u < gemmUnroll; u++ {
		step(u)
	}
	ctx.ADDQ(step4, r.b)
	ctx.ADDQ(U32(gemmUnroll*4*m), r.a)
	ctx.DECQ(n)
	ctx.JNZ(LabelRef(name + "_loop4"))
	ctx.Label(name + "_tail")
	ctx.ANDQ(U8(gemmUnroll-1), r.kc)
	ctx.JZ(LabelRef(name + "_done"))
	ctx.Label(name + "_loop1")
	step(0)
	ctx.ADDQ(step1, r.b)
	ctx.ADDQ(U8(4*m), r.a)
	ctx.DECQ(r.kc)
	ctx.JNZ(LabelRef(name + "_loop1"))
	ctx.Label(name + "_done")
}

// gemmAVX512 emits the AVX-512 kernel for m rows and np panels of 32 columns (two zmm each).
//
// With direct, B is not packed: the kernel reads the row-major B itself, bstride is the
// distance between its rows and panel p is the 32 columns at p·32 (for small m, where
// packing B would cost as much as the product); a masked direct kernel also masks its B loads.
func gemmAVX512(ctx *build.Context, m, np int, masked, direct bool) {
	name := fmt.Sprintf("gemmAVX512m%dn%d", m, np)
	if masked {
		name = fmt.Sprintf("gemmAVX512m%dedge", m)
	}
	if direct {
		name += "direct"
	}
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(gemmSig)
	r := loadGemmArgs(ctx)

	nacc := m * np * 2
	acc := func(i, p, h int) VecPhysical { return zmm((i*np+p)*2 + h) }
	bReg := func(p, h int) VecPhysical { return zmm(nacc + p*2 + h) }
	bc := Z31
	if nacc+2*np+1 > 32 {
		panic(name + ": too many registers")
	}
	for i := 0; i < nacc; i++ {
		ctx.VXORPS(zmm(i), zmm(i), zmm(i))
	}
	// Bring the C tile towards L1 while the k loop runs; the epilogue would stall on it.
	ctx.MOVQ(r.c, R11)
	for i := 0; i < m; i++ {
		if i > 0 {
			ctx.ADDQ(r.ldc, R11)
		}
		for l := 0; l < np*2; l++ {
			ctx.PREFETCHT0(Mem{Base: R11, Disp: l * 64})
		}
	}
	masks := [2]OpmaskPhysical{K1, K2}
	if masked {
		ctx.Load(ctx.Param("ncols"), RAX)
		ctx.MOVL(U32(0xffffffff), R10L)
		ctx.BZHIL(EAX, R10L, R10L)
		ctx.KMOVW(R10L, K1)
		ctx.SHRL(U8(16), R10L)
		ctx.KMOVW(R10L, K2)
	}
	if direct {
		// Row u of an unrolled iteration is at (b)(u·bs); the pointer advances 4 rows at once.
		ctx.LEAQ(Mem{Base: r.bs, Index: r.bs, Scale: 1}, R10)
		ctx.SHLQ(U8(1), R10)
		kLoopStep(ctx, name, r, m, R10, r.bs, func(u int) {
			for p := 0; p < np; p++ {
				for h := 0; h < 2; h++ {
					addr := r.rowAddr(u, p*128+h*64)
					if masked {
						ctx.VMOVUPS_Z(addr, masks[h], bReg(p, h))
					} else {
						ctx.VMOVUPS(addr, bReg(p, h))
					}
				}
			}
			for i := 0; i < m; i++ {
				ctx.VBROADCASTSS(Mem{Base: r.a, Disp: (u*m + i) * 4}, bc)
				for p := 0; p < np; p++ {
					for h := 0; h < 2; h++ {
						ctx.VFMADD231PS(bReg(p, h), bc, acc(i, p, h))
					}
				}
			}
		})
	} else {
		gemmAVX512Loop(ctx, name, r, m, np, bReg, acc, bc)
	}
	gemmAVX512Epilogue(ctx, name, r, m, np, masked, acc)
}

// gemmAVX512Loop is the k loop over packed B.
func gemmAVX512Loop(ctx *build.Context, name string, r gemmRegs, m, np int, bReg func(p, h int) VecPhysical, acc func(i, p, h int) VecPhysical, bc VecPhysical) {
	kLoop(ctx, name, r, m, func(u int) {
		for p := 0; p < np; p++ {
			for h := 0; h < 2; h++ {
				ctx.VMOVUPS(r.panelAddr(p, u*128+h*64), bReg(p, h))
			}
			if gemmPrefetchB > 0 {
				// Fetch the B rows gemmPrefetchB steps ahead into L1 (they stream from L2).
				ctx.PREFETCHT0(r.panelAddr(p, u*128+gemmPrefetchB*128))
				ctx.PREFETCHT0(r.panelAddr(p, u*128+gemmPrefetchB*128+64))
			}
		}
		for i := 0; i < m; i++ {
			ctx.VBROADCASTSS(Mem{Base: r.a, Disp: (u*m + i) * 4}, bc)
			for p := 0; p < np; p++ {
				for h := 0; h < 2; h++ {
					ctx.VFMADD231PS(bReg(p, h), bc, acc(i, p, h))
				}
			}
		}
	})
}

// gemmAVX512Epilogue stores acc = alpha·acc (+ beta·C) under the column mask (K1, K2).
func gemmAVX512Epilogue(ctx *build.Context, name string, r gemmRegs, m, np int, masked bool, acc func(i, p, h int) VecPhysical) {
	nacc := m * np * 2
	alpha, beta, tmp := Z31, Z30, Z29
	ctx.VBROADCASTSS(paramAddr(ctx, "alpha"), alpha)
	ctx.VBROADCASTSS(paramAddr(ctx, "beta"), beta)
	masks := [2]OpmaskPhysical{K1, K2}
	for i := 0; i < nacc; i++ {
		ctx.VMULPS(alpha, zmm(i), zmm(i))
	}
	row := R11
	for _, withBeta := range []bool{true, false} {
		if withBeta {
			ctx.MOVL(paramAddr(ctx, "beta"), R12L)
			ctx.ANDL(U32(0x7fffffff), R12L)
			ctx.JZ(LabelRef(name + "_nobeta"))
		} else {
			ctx.Label(name + "_nobeta")
		}
		ctx.MOVQ(r.c, row)
		for i := 0; i < m; i++ {
			if i > 0 {
				ctx.ADDQ(r.ldc, row)
			}
			for p := 0; p < np; p++ {
				for h := 0; h < 2; h++ {
					addr := Mem{Base: row, Disp: p*128 + h*64}
					if withBeta {
						if masked {
							ctx.VMOVUPS_Z(addr, masks[h], tmp)
							ctx.VFMADD231PS(tmp, beta, acc(i, p, h))
						} else {
							ctx.VFMADD231PS(addr, beta, acc(i, p, h))
						}
					}
					if masked {
						ctx.VMOVUPS(acc(i, p, h), masks[h], addr)
					} else {
						ctx.VMOVUPS(acc(i, p, h), addr)
					}
				}
			}
		}
		if withBeta {
			ctx.VZEROUPPER()
			ctx.RET()
		}
	}
	ctx.VZEROUPPER()
	ctx.RET()
}

// gemmAVX2 emits the AVX2 kernel for m rows and `cols` columns (16 or 32; a multiple of 8)
// of one panel. With masked, the kernel covers 16 columns and stores only ncols of them.
func gemmAVX2(ctx *build.Context, m, cols int, masked bool) {
	name := fmt.Sprintf("gemmAVX2m%dn%d", m, cols)
	if masked {
		name = fmt.Sprintf("gemmAVX2m%dedge", m)
	}
	ctx.Function(name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(gemmSig)
	r := loadGemmArgs(ctx)

	nv := cols / 8 // ymm per row
	nacc := m * nv
	acc := func(i, v int) VecPhysical { return ymm(i*nv + v) }
	bReg := func(v int) VecPhysical { return ymm(nacc + v) }
	bc := Y15
	if nacc+nv+1 > 16 {
		panic(name + ": too many registers")
	}
	for i := 0; i < nacc; i++ {
		ctx.VXORPS(ymm(i), ymm(i), ymm(i))
	}
	kLoop(ctx, name, r, m, func(u int) {
		for v := 0; v < nv; v++ {
			ctx.VMOVUPS(Mem{Base: r.b, Disp: u*128 + v*32}, bReg(v))
		}
		for i := 0; i < m; i++ {
			ctx.VBROADCASTSS(Mem{Base: r.a, Disp: (u*m + i) * 4}, bc)
			for v := 0; v < nv; v++ {
				ctx.VFMADD231PS(bReg(v), bc, acc(i, v))
			}
		}
	})

	// Epilogue. Registers above the accumulators are free again; tmp reuses alpha's register
	// once every accumulator has been scaled.
	alpha, beta, tmp := Y15, Y14, Y15
	if nacc > 14 {
		panic(name + ": no room for the epilogue")
	}
	ctx.VBROADCASTSS(paramAddr(ctx, "alpha"), alpha)
	ctx.VBROADCASTSS(paramAddr(ctx, "beta"), beta)
	var masks []VecPhysical
	if masked {
		// mask v selects lanes l with l < ncols - 8v: gemmMaskTable[32-ncols+8v : +8].
		if nacc+nv > 14 {
			panic(name + ": no room for masks")
		}
		ctx.Load(ctx.Param("ncols"), RAX)
		ctx.NEGQ(RAX)
		ctx.LEAQ(gemmMask.Offset(128), R10)
		ctx.LEAQ(Mem{Base: R10, Index: RAX, Scale: 4}, R10)
		for v := 0; v < nv; v++ {
			mr := ymm(nacc + v)
			ctx.VMOVDQU(Mem{Base: R10, Disp: 32 * v}, mr)
			masks = append(masks, mr)
		}
	}
	for i := 0; i < nacc; i++ {
		ctx.VMULPS(alpha, ymm(i), ymm(i))
	}
	row := R11
	for _, withBeta := range []bool{true, false} {
		if withBeta {
			ctx.MOVL(paramAddr(ctx, "beta"), R12L)
			ctx.ANDL(U32(0x7fffffff), R12L)
			ctx.JZ(LabelRef(name + "_nobeta"))
		} else {
			ctx.Label(name + "_nobeta")
		}
		ctx.MOVQ(r.c, row)
		for i := 0; i < m; i++ {
			if i > 0 {
				ctx.ADDQ(r.ldc, row)
			}
			for v := 0; v < nv; v++ {
				addr := Mem{Base: row, Disp: v * 32}
				if withBeta {
					if masked {
						ctx.VMASKMOVPS(addr, masks[v], tmp)
						ctx.VFMADD231PS(tmp, beta, acc(i, v))
					} else {
						ctx.VFMADD231PS(addr, beta, acc(i, v))
					}
				}
				if masked {
					ctx.VMASKMOVPS(acc(i, v), masks[v], addr)
				} else {
					ctx.VMOVUPS(acc(i, v), addr)
				}
			}
		}
		if withBeta {
			ctx.VZEROUPPER()
			ctx.RET()
		}
	}
	ctx.VZEROUPPER()
	ctx.RET()
}

// gemmMask is the lane-mask table of the AVX2 edge kernels (see laneMaskTable).
var gemmMask Mem

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
		Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}

func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// paramAddr is the frame address of a scalar argument of the active function.
func paramAddr(ctx *build.Context, name string) Mem {
	b, err := ctx.Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
