package main

import (
	"fmt"
	"math"

	"github.com/mmcloughlin/avo/attr"
	"github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// The fp32 row kernels of package kernels (kernels/rows.go): Dot, Axpy, Scale, Exp, Softmax,
// LayerNorm, GELU and GELUTanh, each for AVX2 (ymm) and AVX-512 (zmm). They all walk a row
// with the same loop (rowFn.loop): an unrolled body over whole vectors, a one-vector loop, and
// a masked tail (an opmask on AVX-512, VMASKMOVPS on AVX2) that never touches memory past the
// end of a slice. Softmax and LayerNorm make their passes over the row in one function.
//
// Vector exp (rowFn.exp), shared by Exp, Softmax, GELU and GELUTanh:
//
//	x = clamp(x, -104, 89)                 NaN-preserving: max/min return their second source
//	n = round(x·log₂e)                     x·log₂e + 1.5·2²³ - 1.5·2²³ (one rounding), |n| ≤ 150
//	r = x - n·ln2hi - n·ln2lo              the first step is exact (FMA), |r| ≤ ln2/2
//	p = 1 + (r + r²·P(r))                  Cephes expf polynomial (degree 7), Estrin's scheme
//	e^x = p·2ⁿ                             VSCALEFPS; on AVX2 (p·2^(n>>1))·2^(n-(n>>1)) so
//	                                       that overflow gives +Inf and underflow a correctly
//	                                       rounded subnormal
//
// -104 already gives 0 (e^-104 < 2^-150) and 89 gives +Inf, so the clamp changes no result; it
// keeps n in range and turns ±Inf into finite arguments. Measured error: 0.68 ulp.
//
// GELU uses Φ(x) = erfc(|x|/√2)/2 for x < 0 and 1 - erfc(|x|/√2)/2 otherwise, with the
// Abramowitz–Stegun 7.1.26 erfc ≈ t·(a1 + t·(a2 + … + t·a5))·e^(-z²), t = 1/(1 + p·z)
// (absolute error ≤ 1.5e-7); GELUTanh uses x/(1 + e^(-2u)).
//
// The element-wise kernels are limited by the length of their dependency chains rather than by
// the execution ports (see rowUnroll), which shaped the exp above and the lockstep groups
// (vgroup) in which unrolled vectors are computed.

func init() { register("rows", "kernels", genRows) }

// rowISA is one vector width.
type rowISA struct {
	name  string // function name suffix: "AVX512" or "AVX2"
	lanes int    // float32 lanes per vector
	wide  bool   // AVX-512: zmm, 32 registers, opmask tails
}

var (
	rowAVX512 = rowISA{name: "AVX512", lanes: 16, wide: true}
	rowAVX2   = rowISA{name: "AVX2", lanes: 8}
)

func (s rowISA) bytes() int { return 4 * s.lanes }

func (s rowISA) nregs() int {
	if s.wide {
		return 32
	}
	return 16
}

func (s rowISA) vec(i int) VecPhysical {
	if s.wide {
		return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15,
			Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
	}
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// rowConsts is the constant table: each value repeated 16 times (64 bytes), so that it can
// be a full-width memory operand of either width or broadcast from its first lane.
var rowConsts = []struct {
	name string
	bits uint32
}{
	{"one", f32bits(1)},
	{"negInf", 0xff800000},
	{"abs", 0x7fffffff},
	{"bias2", 254}, // twice the exponent bias, as an int32
	{"expLo", f32bits(-104)},
	{"expHi", f32bits(89)},
	{"log2e", f32bits(math.Log2E)},
	{"shift", f32bits(0x1.8p23)},
	{"ln2hi", f32bits(ln2hi)},
	{"ln2lo", f32bits(math.Ln2 - ln2hi)},
	// Cephes expf: e^r ≈ 1 + r + r²·(c0 + c1·r + … + c5·r⁵).
	{"c0", f32bits(5.0000001201e-1)},
	{"c1", f32bits(1.6666665459e-1)},
	{"c2", f32bits(4.1665795894e-2)},
	{"c3", f32bits(8.3334519073e-3)},
	{"c4", f32bits(1.3981999507e-3)},
	{"c5", f32bits(1.9875691500e-4)},
	// GELU and GELUTanh: arguments below -20 give -0 either way (clamping avoids -Inf·0).
	{"geluMin", f32bits(-20)},
	{"negHalf", f32bits(-0.5)},
	// Abramowitz–Stegun 7.1.26: p/√2 (so t = 1/(1 + p'·|x|)) and a1…a5 halved (so the
	// polynomial gives erfc/2 = Φ(-|x|) directly).
	{"asP", f32bits(0.3275911 / math.Sqrt2)},
	{"asA1", f32bits(0.254829592 / 2)},
	{"asA2", f32bits(-0.284496736 / 2)},
	{"asA3", f32bits(1.421413741 / 2)},
	{"asA4", f32bits(-1.453152027 / 2)},
	{"asA5", f32bits(1.061405429 / 2)},
	// GELUTanh: -2u = x·(tc1 + tc2·x²).
	{"tc1", f32bits(-2 * math.Sqrt(2/math.Pi))},
	{"tc2", f32bits(-2 * math.Sqrt(2/math.Pi) * 0.044715)},
}

// ln2hi is ln 2 rounded to float32; n·ln2hi is exact for the |n| ≤ 150 of exp.
var ln2hi = float64(float32(math.Ln2))

func f32bits(x float64) uint32 { return math.Float32bits(float32(x)) }

var rowConstMem, rowMaskMem Mem

// rowUnroll is how many vectors each kernel computes in lockstep per loop step, for AVX2 and
// AVX-512. The element-wise kernels are bound by their dependency chains (a few vectors of
// exp fill the scheduler), so interleaving two vectors beats holding every constant in a
// register, and four gains nothing. llvm-mca -mcpu=cascadelake, cycles per vector
// (AVX2 / AVX-512) at the chosen unroll, unroll 1 in brackets: exp 12.4 (12.9) / 9.6 (9.6),
// softmax pass 2 14.7 / 12.3, GELU 22.5 (24.7) / 21.2 (21.2), GELUTanh 19.7 (22.2) / 14.9.
var rowUnroll = map[string][2]int{
	"exp":       {2, 2},
	"softmax":   {2, 2}, // pass 2 (exp); passes 1 and 3 use 4
	"maxSumExp": {2, 2}, // pass 2 (exp); pass 1 uses 4
	"gelu":      {2, 1},
	"geluTanh":  {2, 2},
}

func genRows(ctx *build.Context) {
	rowConstMem = ctx.StaticGlobal("rowsConst")
	ctx.DataAttributes(attr.RODATA | attr.NOPTR)
	for _, c := range rowConsts {
		for i := 0; i < 16; i++ {
			ctx.AppendDatum(U32(c.bits))
		}
	}
	// AVX2 tails: 8 all-ones lanes then 8 zero lanes; the mask for t lanes starts at 32-4t.
	rowMaskMem = laneMaskTable(ctx, "rowsMask", 8)

	for _, s := range []rowISA{rowAVX2, rowAVX512} {
		genDot(newRowFn(ctx, s, "dot", "func(x, y []float32) float32",
			"returns Σ x[i]·y[i]; len(y) ≥ len(x)."))
		genAxpy(newRowFn(ctx, s, "axpy", "func(alpha float32, x, y []float32)",
			"computes y[i] += alpha·x[i] for i < len(x); len(y) ≥ len(x)."))
		genScale(newRowFn(ctx, s, "scale", "func(alpha float32, x []float32)",
			"computes x[i] *= alpha."))
		genElementwise(newRowFn(ctx, s, "exp", "func(dst, src []float32)",
			"computes dst[i] = e^src[i]; len(dst) ≥ len(src)."), 5, (*rowFn).expBody)
		genSoftmax(newRowFn(ctx, s, "softmax", "func(dst, src, mask []float32) bool",
			"computes dst = softmax(src + mask) (mask may be nil); it returns false, having",
			"written nothing, when the row maximum is -Inf. len(src) > 0; dst and mask are as long."))
		genMaxSumExp(newRowFn(ctx, s, "maxSumExp", "func(src []float32) (max, sum float32)",
			"returns the row maximum and Σ e^(src[i] - max) (for log-softmax and log-sum-exp); when",
			"the maximum is -Inf it returns it and sum 0. len(src) > 0."))
		genIndexAbove(newRowFn(ctx, s, "indexAbove", "func(src []float32, thr float32) int",
			"returns the index of the first element greater than thr (NaN never is), or",
			"len(src) when there is none."))
		genDotGather(newRowFn(ctx, s, "dotGather", "func(q, base []float32, offs []int32, out []float32)",
			"computes out[j] = Σ q[i]·base[offs[j]+i] over i < len(q) for j < len(offs): a query's",
			"scores against keys anywhere in base. len(q) is a multiple of the vector width; the",
			"caller checks the offsets and len(out) ≥ len(offs)."))
		genAxpyGather(newRowFn(ctx, s, "axpyGather", "func(p, base []float32, offs []int32, o []float32)",
			"computes o[i] += Σ p[j]·base[offs[j]+i] over j < len(offs) for i < len(o): attention's",
			"weighted sum of values anywhere in base. len(o) is a multiple of the vector width; the",
			"caller checks the offsets and len(p) ≥ len(offs)."))
		genReLU(newRowFn(ctx, s, "relu", "func(dst, src []float32)",
			"computes dst[i] = max(src[i], 0): negatives and -0 give +0, NaN stays NaN;",
			"len(dst) ≥ len(src)."))
		genReLUGrad(newRowFn(ctx, s, "reluBackward", "func(dx, dy, x []float32)",
			"computes dx[i] += dy[i] where x[i] > 0 or x[i] is NaN (adding +0 elsewhere);",
			"len(dx) and len(dy) ≥ len(x)."))
		genReLUGrad(newRowFn(ctx, s, "reluMask", "func(g, x []float32)",
			"keeps g[i] where x[i] > 0 or x[i] is NaN and sets it to +0 elsewhere (ReLU's",
			"gradient in place); len(g) ≥ len(x)."))
		genAddConst(newRowFn(ctx, s, "addConst", "func(dst, src []float32, c float32)",
			"computes dst[i] = src[i] + c; len(dst) ≥ len(src)."))
		genLayerNorm(newRowFn(ctx, s, "layerNorm",
			"func(dst, x, gamma, beta []float32, eps float32) (mean, rstd float32)",
			"normalises the row x into dst; gamma and beta may be nil. len(x) > 0."))
		genElementwise(newRowFn(ctx, s, "gelu", "func(dst, src []float32)",
			"computes dst[i] = GELU(src[i]) (erf form); len(dst) ≥ len(src)."), 7, (*rowFn).geluBody)
		genElementwise(newRowFn(ctx, s, "geluTanh", "func(dst, src []float32)",
			"computes dst[i] = GELUTanh(src[i]); len(dst) ≥ len(src)."), 6, (*rowFn).geluTanhBody)
	}
}

// rowFn is the function being generated.
type rowFn struct {
	ctx   *build.Context
	isa   rowISA
	stem  string // kernel name without the ISA, e.g. "exp"
	name  string
	held  map[string]VecPhysical // constants kept in registers
	top   int                    // registers at and above top hold constants
	low   int                    // working registers an element-wise body needs
	label int
}

func newRowFn(ctx *build.Context, s rowISA, stem, sig string, doc ...string) *rowFn {
	f := &rowFn{ctx: ctx, isa: s, stem: stem, name: stem + s.name, held: map[string]VecPhysical{}, top: s.nregs()}
	ctx.Function(f.name)
	ctx.Attributes(attr.NOSPLIT)
	ctx.SignatureExpr(sig)
	doc[0] = f.name + " " + doc[0]
	ctx.Doc(doc...)
	return f
}

// unroll is the kernel's entry in rowUnroll for this ISA.
func (f *rowFn) unroll() int {
	u := rowUnroll[f.stem]
	if f.isa.wide {
		return u[1]
	}
	return u[0]
}

// v is vector register i; it must be below the held constants.
func (f *rowFn) v(i int) VecPhysical {
	if i >= f.top {
		panic(fmt.Sprintf("%s: register %d is holding a constant", f.name, i))
	}
	return f.isa.vec(i)
}

// tmask is the AVX2 tail mask register, the first above `low` working registers (nil on
// AVX-512, which uses K1).
func (f *rowFn) tmask(low int) VecPhysical {
	if f.isa.wide {
		return nil
	}
	return f.v(low)
}

// lowRegs is the number of working registers plus the AVX2 tail mask.
func (f *rowFn) lowRegs(work int) int {
	if f.isa.wide {
		return work
	}
	return work + 1
}

func (f *rowFn) constAddr(name string) Mem {
	for i, c := range rowConsts {
		if c.name == name {
			return rowConstMem.Offset(64 * i)
		}
	}
	panic("no constant " + name)
}

// hold broadcasts constants into the highest free registers, in order, as long as `low`
// registers stay free below them.
func (f *rowFn) hold(low int, names ...string) {
	for _, n := range names {
		if _, ok := f.held[n]; ok {
			continue
		}
		if f.top <= low {
			return
		}
		f.top--
		r := f.isa.vec(f.top)
		f.ctx.VBROADCASTSS(f.constAddr(n), r)
		f.held[n] = r
	}
}

// k is a constant as a source operand: its register when held, else its memory.
func (f *rowFn) k(name string) Op {
	if r, ok := f.held[name]; ok {
		return r
	}
	return f.constAddr(name)
}

// kr is a constant in a register: its own when held, else tmp, loaded.
func (f *rowFn) kr(name string, tmp VecPhysical) VecPhysical {
	if r, ok := f.held[name]; ok {
		return r
	}
	f.ctx.VMOVUPS(f.constAddr(name), tmp)
	return tmp
}

// movk copies a constant into dst.
func (f *rowFn) movk(name string, dst VecPhysical) {
	if r, ok := f.held[name]; ok {
		f.ctx.VMOVAPS(r, dst)
	} else {
		f.ctx.VMOVUPS(f.constAddr(name), dst)
	}
}

func (f *rowFn) newLabel(what string) string {
	f.label++
	return fmt.Sprintf("%s_%s%d", f.name, what, f.label)
}

// vgroup is a group of vectors computed in lockstep: the registers of each (the value and its
// scratch). Each step emits its instruction for every vector before the next step, so the
// dependency chains interleave and the scheduler sees independent work early.
type vgroup [][]VecPhysical

func (g vgroup) each(fn func(r []VecPhysical)) {
	for _, r := range g {
		fn(r)
	}
}

// sub is the group of registers r[i:j] of every vector.
func (g vgroup) sub(i, j int) vgroup {
	s := make(vgroup, len(g))
	for k, r := range g {
		s[k] = r[i:j]
	}
	return s
}

// group is the registers of vectors us: vector u gets per consecutive registers from u·per.
func (f *rowFn) group(us []int, per int) vgroup {
	g := make(vgroup, len(us))
	for i, u := range us {
		for j := 0; j < per; j++ {
			g[i] = append(g[i], f.v(u*per+j))
		}
	}
	return g
}

// rowTail is the tail mask in the body of a loop (nil for whole vectors).
type rowTail struct {
	k OpmaskPhysical // AVX-512
	y VecPhysical    // AVX2: all-ones lanes to keep
}

// Loop registers: i is the element index, rowLim and rowCnt are scratch.
var (
	rowIdx = RAX
	rowLim = R10
	rowCnt = R11
)

// elem is the address of element i of the slice at base, plus u vectors.
func (f *rowFn) elem(base GPPhysical, u int) Mem {
	return Mem{Base: base, Index: rowIdx, Scale: 4, Disp: u * f.isa.bytes()}
}

// loop emits `for i := 0; i < n; ...` over whole vectors, unroll at a time then one at a
// time, and then over the last n%lanes elements under a mask (tmask: the AVX2 mask register).
// body(us, nil) handles the vectors us (0…unroll-1) of a step at elem(base, u); body([0], t)
// the tail.
func (f *rowFn) loop(n GPPhysical, unroll int, tmask VecPhysical, body func(us []int, t *rowTail)) {
	c, L := f.ctx, f.isa.lanes
	c.XORQ(rowIdx, rowIdx)
	steps := []int{unroll}
	if unroll > 1 {
		steps = append(steps, 1)
	}
	for _, step := range steps {
		top, end := f.newLabel("loop"), f.newLabel("loopend")
		c.MOVQ(n, rowLim)
		c.ANDQ(I32(-step*L), rowLim)
		c.CMPQ(rowIdx, rowLim)
		c.JAE(LabelRef(end))
		c.Label(top)
		var us []int
		for u := 0; u < step; u++ {
			us = append(us, u)
		}
		body(us, nil)
		c.ADDQ(U32(step*L), rowIdx)
		c.CMPQ(rowIdx, rowLim)
		c.JB(LabelRef(top))
		c.Label(end)
	}
	done := f.newLabel("done")
	c.MOVQ(n, rowCnt)
	c.SUBQ(rowIdx, rowCnt)
	c.JZ(LabelRef(done))
	t := &rowTail{}
	if f.isa.wide {
		c.MOVL(U32(0xffffffff), R12L)
		c.BZHIL(rowCnt.As32(), R12L, R12L)
		c.KMOVW(R12L, K1)
		t.k = K1
	} else {
		c.NEGQ(rowCnt)
		c.LEAQ(rowMaskMem.Offset(32), R12)
		c.VMOVDQU(Mem{Base: R12, Index: rowCnt, Scale: 4}, tmask)
		t.y = tmask
	}
	body([]int{0}, t)
	c.Label(done)
}

// load loads a vector (zero in the lanes outside a tail).
func (f *rowFn) load(m Mem, dst VecPhysical, t *rowTail) {
	switch {
	case t == nil:
		f.ctx.VMOVUPS(m, dst)
	case f.isa.wide:
		f.ctx.VMOVUPS_Z(m, t.k, dst)
	default:
		f.ctx.VMASKMOVPS(m, t.y, dst)
	}
}

// store stores a vector (only the lanes of a tail).
func (f *rowFn) store(src VecPhysical, m Mem, t *rowTail) {
	switch {
	case t == nil:
		f.ctx.VMOVUPS(src, m)
	case f.isa.wide:
		f.ctx.VMOVUPS(src, t.k, m)
	default:
		f.ctx.VMASKMOVPS(src, t.y, m)
	}
}

// src is a memory source operand, loaded into tmp under a tail mask.
func (f *rowFn) src(m Mem, tmp VecPhysical, t *rowTail) Op {
	if t == nil {
		return m
	}
	f.load(m, tmp, t)
	return tmp
}

// addTail emits acc += v over the lanes of the tail only.
func (f *rowFn) addTail(v, acc VecPhysical, t *rowTail) {
	if f.isa.wide {
		f.ctx.VADDPS(v, acc, t.k, acc)
		return
	}
	f.ctx.VANDPS(v, t.y, v)
	f.ctx.VADDPS(v, acc, acc)
}

// reduce folds v into lane 0 of its xmm with op (VADDPS or VMAXPS); v and tmp must be
// among the first 16 registers.
func (f *rowFn) reduce(op func(...Op), v, tmp VecPhysical) {
	c := f.ctx
	if f.isa.wide {
		c.VEXTRACTF64X4(U8(1), v, tmp.AsY())
		op(tmp.AsY(), v.AsY(), v.AsY())
	}
	c.VEXTRACTF128(U8(1), v.AsY(), tmp.AsX())
	op(tmp.AsX(), v.AsX(), v.AsX())
	c.VPERMILPS(U8(0x4e), v.AsX(), tmp.AsX())
	op(tmp.AsX(), v.AsX(), v.AsX())
	c.VPERMILPS(U8(0xb1), v.AsX(), tmp.AsX())
	op(tmp.AsX(), v.AsX(), v.AsX())
}

// combine folds accs[1:] into accs[0] pairwise.
func (f *rowFn) combine(op func(...Op), accs []VecPhysical) {
	for w := 1; w < len(accs); w *= 2 {
		for i := 0; i+w < len(accs); i += 2 * w {
			op(accs[i+w], accs[i], accs[i])
		}
	}
}

func (f *rowFn) ret() {
	f.ctx.VZEROUPPER()
	f.ctx.RET()
}

// expConsts are the constants of exp, most valuable in a register first: expLo and expHi
// would each need a load into a scratch register, shift, c5, c3 and c1 are copied (a copy
// between registers costs nothing, a load does), the rest are operands.
var expConsts = []string{"expLo", "expHi", "shift", "c5", "c3", "c1", "log2e", "ln2hi", "ln2lo",
	"c4", "c2", "c0", "one", "bias2"}

// holdExp holds the constants of exp that fit above `low` registers (bias2 is AVX2 only).
func (f *rowFn) holdExp(low int) {
	for _, k := range expConsts {
		if k != "bias2" || !f.isa.wide {
			f.hold(low, k)
		}
	}
}

// exp replaces r[0] by e^r[0] for every vector of g, using the scratch registers r[1:5].
//
// The work per vector is short but its dependency chain is long, and the chains, not the
// execution ports, set the speed: hence rounding with the 1.5·2²³ shift (one FMA, and the
// exact product is rounded), Estrin's scheme for the polynomial, and vectors in lockstep.
func (f *rowFn) exp(g vgroup) {
	c := f.ctx
	// VMAXPS/VMINPS return their first (Go-order) operand when either is NaN, so x stays NaN.
	g.each(func(r []VecPhysical) { c.VMAXPS(r[0], f.kr("expLo", r[1]), r[1]) })
	g.each(func(r []VecPhysical) { c.VMINPS(r[1], f.kr("expHi", r[2]), r[0]) })
	// n = round(x·log₂e): x·log₂e + 1.5·2²³ rounds to an integer; subtracting it is exact.
	g.each(func(r []VecPhysical) { f.movk("shift", r[1]) })
	g.each(func(r []VecPhysical) { c.VFMADD231PS(f.k("log2e"), r[0], r[1]) })
	g.each(func(r []VecPhysical) { c.VSUBPS(f.k("shift"), r[1], r[1]) })
	// r = x - n·ln2, in two steps; the first is exact.
	g.each(func(r []VecPhysical) { c.VFNMADD231PS(f.k("ln2hi"), r[1], r[0]) })
	g.each(func(r []VecPhysical) { c.VFNMADD231PS(f.k("ln2lo"), r[1], r[0]) })
	// e^r = 1 + (r + r²·P(r)), P(r) = (c0 + c1·r) + r²·((c2 + c3·r) + r²·(c4 + c5·r)).
	// Registers: x/r r[0], n r[1], r² r[2], p r[3], q r[4].
	g.each(func(r []VecPhysical) { c.VMULPS(r[0], r[0], r[2]) })
	g.each(func(r []VecPhysical) { f.movk("c5", r[3]) })
	g.each(func(r []VecPhysical) { c.VFMADD213PS(f.k("c4"), r[0], r[3]) })
	g.each(func(r []VecPhysical) { f.movk("c3", r[4]) })
	g.each(func(r []VecPhysical) { c.VFMADD213PS(f.k("c2"), r[0], r[4]) })
	g.each(func(r []VecPhysical) { c.VFMADD231PS(r[3], r[2], r[4]) })
	g.each(func(r []VecPhysical) { f.movk("c1", r[3]) })
	g.each(func(r []VecPhysical) { c.VFMADD213PS(f.k("c0"), r[0], r[3]) })
	g.each(func(r []VecPhysical) { c.VFMADD231PS(r[4], r[2], r[3]) })
	g.each(func(r []VecPhysical) { c.VFMADD231PS(r[3], r[2], r[0]) })
	g.each(func(r []VecPhysical) { c.VADDPS(f.k("one"), r[0], r[0]) })
	if f.isa.wide {
		g.each(func(r []VecPhysical) { c.VSCALEFPS(r[1], r[0], r[0]) })
		return
	}
	// 2ⁿ as two normal powers of two, 2^(n>>1)·2^(n-(n>>1)), with the exponent bias folded
	// in: a = n + 254, a>>1 = (n>>1) + 127, a - (a>>1) = (n - (n>>1)) + 127.
	g.each(func(r []VecPhysical) { c.VCVTPS2DQ(r[1], r[1]) })
	g.each(func(r []VecPhysical) { c.VPADDD(f.k("bias2"), r[1], r[1]) })
	g.each(func(r []VecPhysical) { c.VPSRAD(U8(1), r[1], r[2]) })
	g.each(func(r []VecPhysical) { c.VPSUBD(r[2], r[1], r[1]) })
	g.each(func(r []VecPhysical) { c.VPSLLD(U8(23), r[2], r[2]) })
	g.each(func(r []VecPhysical) { c.VPSLLD(U8(23), r[1], r[1]) })
	g.each(func(r []VecPhysical) { c.VMULPS(r[2], r[0], r[0]) })
	g.each(func(r []VecPhysical) { c.VMULPS(r[1], r[0], r[0]) })
}

func genDot(f *rowFn) {
	c := f.ctx
	x, y, n := RSI, RDI, RCX
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("y").Base(), y)
	c.Load(c.Param("x").Len(), n)
	const unroll = 4
	var acc []VecPhysical
	for u := 0; u < unroll; u++ {
		acc = append(acc, f.v(u))
		c.VXORPS(f.v(u), f.v(u), f.v(u))
	}
	f.loop(n, unroll, f.v(10), func(us []int, t *rowTail) {
		for _, u := range us {
			a := f.v(4 + u)
			f.load(f.elem(x, u), a, t)
			if t == nil {
				c.VFMADD231PS(f.elem(y, u), a, acc[u])
			} else {
				b := f.v(8)
				f.load(f.elem(y, u), b, t)
				c.VFMADD231PS(b, a, acc[0])
			}
		}
	})
	f.combine(c.VADDPS, acc)
	f.reduce(c.VADDPS, acc[0], f.v(4))
	c.VZEROUPPER()
	c.Store(acc[0].AsX(), c.ReturnIndex(0))
	c.RET()
}

func genAxpy(f *rowFn) {
	c := f.ctx
	x, y, n := RSI, RDI, RCX
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("y").Base(), y)
	c.Load(c.Param("x").Len(), n)
	alpha := f.v(15)
	c.VBROADCASTSS(rowArg(c, "alpha"), alpha)
	f.loop(n, 4, f.v(14), func(us []int, t *rowTail) {
		for _, u := range us {
			a := f.v(u)
			f.load(f.elem(y, u), a, t)
			c.VFMADD231PS(f.src(f.elem(x, u), f.v(8), t), alpha, a)
			f.store(a, f.elem(y, u), t)
		}
	})
	f.ret()
}

func genScale(f *rowFn) {
	c := f.ctx
	x, n := RSI, RCX
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("x").Len(), n)
	alpha := f.v(15)
	c.VBROADCASTSS(rowArg(c, "alpha"), alpha)
	f.loop(n, 4, f.v(14), func(us []int, t *rowTail) {
		for _, u := range us {
			a := f.v(u)
			c.VMULPS(f.src(f.elem(x, u), a, t), alpha, a)
			f.store(a, f.elem(x, u), t)
		}
	})
	f.ret()
}

// genElementwise emits dst[i] = fn(src[i]) with per registers for each vector. body(f, g)
// replaces r[0] by fn(r[0]) for each vector of g, using r[1:] as scratch; called with a nil g
// first, it holds its own constants above f.low, and then genElementwise holds those of exp
// in the registers left.
func genElementwise(f *rowFn, per int, body func(f *rowFn, g vgroup)) {
	c := f.ctx
	dst, src, n := RDI, RSI, RCX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("src").Len(), n)
	unroll := f.unroll()
	f.low = f.lowRegs(unroll * per)
	body(f, nil)
	f.holdExp(f.low)
	tmask := f.tmask(unroll * per)
	f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
		g := f.group(us, per)
		for i, u := range us {
			f.load(f.elem(src, u), g[i][0], t)
		}
		body(f, g)
		for i, u := range us {
			f.store(g[i][0], f.elem(dst, u), t)
		}
	})
	f.ret()
}

func (f *rowFn) expBody(g vgroup) {
	if g == nil {
		return
	}
	f.exp(g)
}

// geluBody: r = x, t, p, w and three more scratch registers (exp runs on w, p and those).
func (f *rowFn) geluBody(g vgroup) {
	c := f.ctx
	if g == nil {
		f.hold(f.low, "geluMin", "one", "expLo", "expHi", "asA5", "shift", "c5", "c3", "c1",
			"abs", "asP", "negHalf", "asA4", "asA3", "asA2", "asA1")
		return
	}
	// x = max(x, -20): below, GELU is -0 anyway, and -Inf would give -Inf·0.
	g.each(func(r []VecPhysical) { c.VMAXPS(r[0], f.kr("geluMin", r[1]), r[0]) })
	// w = -x²/2
	g.each(func(r []VecPhysical) { c.VMULPS(f.k("negHalf"), r[0], r[3]) })
	g.each(func(r []VecPhysical) { c.VMULPS(r[0], r[3], r[3]) })
	// t = 1/(1 + p'·|x|)
	g.each(func(r []VecPhysical) { c.VANDPS(f.k("abs"), r[0], r[1]) })
	g.each(func(r []VecPhysical) { c.VFMADD132PS(f.k("asP"), f.kr("one", r[2]), r[1]) })
	g.each(func(r []VecPhysical) { c.VDIVPS(r[1], f.kr("one", r[2]), r[1]) })
	// e^w, in w (scratch p and r[4:7])
	eg := make(vgroup, len(g))
	for i, r := range g {
		eg[i] = []VecPhysical{r[3], r[2], r[4], r[5], r[6]}
	}
	f.exp(eg)
	// p = t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5)))), halved: Φ(-|x|) = p·e^w.
	g.each(func(r []VecPhysical) { f.movk("asA5", r[2]) })
	for _, k := range []string{"asA4", "asA3", "asA2", "asA1"} {
		g.each(func(r []VecPhysical) { c.VFMADD213PS(f.k(k), r[1], r[2]) })
	}
	g.each(func(r []VecPhysical) { c.VMULPS(r[1], r[2], r[2]) })
	g.each(func(r []VecPhysical) { c.VMULPS(r[3], r[2], r[2]) })
	// Φ(x) = h for x < 0 (sign bit set, -0 included), else 1 - h; GELU = x·Φ(x).
	g.each(func(r []VecPhysical) { f.movk("one", r[1]) })
	g.each(func(r []VecPhysical) { c.VSUBPS(r[2], r[1], r[1]) })
	if f.isa.wide {
		g.each(func(r []VecPhysical) { c.VPMOVD2M(r[0], K2); c.VMOVAPS(r[2], K2, r[1]) })
	} else {
		g.each(func(r []VecPhysical) { c.VBLENDVPS(r[0], r[2], r[1], r[1]) })
	}
	g.each(func(r []VecPhysical) { c.VMULPS(r[1], r[0], r[0]) })
}

// geluTanhBody: r = x, s and four scratch registers (exp runs on s and those).
func (f *rowFn) geluTanhBody(g vgroup) {
	c := f.ctx
	if g == nil {
		f.hold(f.low, "geluMin", "expLo", "expHi", "tc2", "shift", "c5", "c3", "c1", "tc1", "one")
		return
	}
	// x = max(x, -20): below, the result is -0 anyway, and -Inf would give -Inf/Inf.
	g.each(func(r []VecPhysical) { c.VMAXPS(r[0], f.kr("geluMin", r[1]), r[0]) })
	// s = -2u = x·(tc1 + tc2·x²)
	g.each(func(r []VecPhysical) { c.VMULPS(r[0], r[0], r[2]) })
	g.each(func(r []VecPhysical) { f.movk("tc2", r[1]) })
	g.each(func(r []VecPhysical) { c.VFMADD213PS(f.k("tc1"), r[2], r[1]) })
	g.each(func(r []VecPhysical) { c.VMULPS(r[0], r[1], r[1]) })
	f.exp(g.sub(1, 6))
	// x/(1 + e^s)
	g.each(func(r []VecPhysical) { c.VADDPS(f.k("one"), r[1], r[1]) })
	g.each(func(r []VecPhysical) { c.VDIVPS(r[1], r[0], r[0]) })
}

func genSoftmax(f *rowFn) {
	c := f.ctx
	dst, src, mask, n := RDI, RSI, RDX, RCX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("mask").Base(), mask)
	c.Load(c.Param("src").Len(), n)
	// Pass 2 (exp) is bound by its dependency chains, passes 1 and 3 by loads and stores.
	// Registers: pass 2 uses five per vector and a partial sum per vector, passes 1 and 3
	// three (value, mask, partial max); then the row max (-Inf during pass 1) and the AVX2
	// tail mask.
	const unroll = 4
	unroll2 := f.unroll()
	if 6*unroll2 < 3*unroll {
		panic(f.name + ": pass 1 needs more registers than pass 2")
	}
	var maxes, sums []VecPhysical
	for u := 0; u < unroll; u++ {
		maxes = append(maxes, f.v(2*unroll+u))
	}
	for u := 0; u < unroll2; u++ {
		sums = append(sums, f.v(5*unroll2+u))
	}
	vm := f.v(6 * unroll2)
	tmask := f.tmask(6*unroll2 + 1)
	f.holdExp(f.lowRegs(6*unroll2 + 1))
	noMax, scale := f.newLabel("nomax"), f.newLabel("scale")

	// Element i of src + mask into v.
	value := func(withMask bool, u int, v, tmp VecPhysical, t *rowTail) {
		f.load(f.elem(src, u), v, t)
		if withMask {
			c.VADDPS(f.src(f.elem(mask, u), tmp, t), v, v)
		}
	}
	noMask := f.newLabel("nomask")
	c.TESTQ(mask, mask)
	c.JZ(LabelRef(noMask))
	for _, withMask := range []bool{true, false} {
		if !withMask {
			c.Label(noMask)
		}
		// Pass 1: the row maximum. A NaN may or may not survive VMAXPS; either way the sum
		// in pass 2 becomes NaN, or the maximum is -Inf and Softmax checks for NaN.
		negInf := vm
		c.VBROADCASTSS(f.constAddr("negInf"), negInf)
		for _, m := range maxes {
			c.VMOVAPS(negInf, m)
		}
		f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
			for _, u := range us {
				v := f.v(u)
				value(withMask, u, v, f.v(unroll+u), t)
				switch {
				case t == nil:
					c.VMAXPS(v, maxes[u], maxes[u])
				case f.isa.wide:
					c.VMAXPS(v, maxes[0], t.k, maxes[0])
				default:
					c.VBLENDVPS(t.y, v, negInf, v)
					c.VMAXPS(v, maxes[0], maxes[0])
				}
			}
		})
		f.combine(c.VMAXPS, maxes)
		f.reduce(c.VMAXPS, maxes[0], f.v(0))
		c.VMOVD(maxes[0].AsX(), R12L)
		c.CMPL(R12L, U32(0xff800000))
		c.JE(LabelRef(noMax))
		c.VBROADCASTSS(maxes[0].AsX(), vm)

		// Pass 2: dst = e^(v - max), summed.
		for _, a := range sums {
			c.VXORPS(a, a, a)
		}
		f.loop(n, unroll2, tmask, func(us []int, t *rowTail) {
			g := f.group(us, 5)
			for i, u := range us {
				value(withMask, u, g[i][0], g[i][1], t)
			}
			g.each(func(r []VecPhysical) { c.VSUBPS(vm, r[0], r[0]) })
			f.exp(g)
			for i, u := range us {
				f.store(g[i][0], f.elem(dst, u), t)
				if t == nil {
					c.VADDPS(g[i][0], sums[u], sums[u])
				} else {
					f.addTail(g[i][0], sums[0], t)
				}
			}
		})
		if withMask {
			c.JMP(LabelRef(scale))
		}
	}

	// Pass 3: dst *= 1/sum.
	c.Label(scale)
	f.combine(c.VADDPS, sums)
	f.reduce(c.VADDPS, sums[0], f.v(0))
	one := f.v(1).AsX()
	c.VMOVSS(f.constAddr("one"), one)
	c.VDIVSS(sums[0].AsX(), one, one)
	r := vm
	c.VBROADCASTSS(one, r)
	f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
		for _, u := range us {
			v := f.v(u)
			c.VMULPS(f.src(f.elem(dst, u), v, t), r, v)
			f.store(v, f.elem(dst, u), t)
		}
	})
	okAddr := retAddr(c, 0)
	c.VZEROUPPER()
	c.MOVB(U8(1), okAddr)
	c.RET()
	c.Label(noMax)
	c.VZEROUPPER()
	c.MOVB(U8(0), okAddr)
	c.RET()
}

// genMaxSumExp is passes 1 and 2 of genSoftmax without the mask and without storing: the
// maximum, then the sum of e^(v - max).
func genMaxSumExp(f *rowFn) {
	c := f.ctx
	src, n := RSI, RCX
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("src").Len(), n)
	const unroll = 4
	unroll2 := f.unroll()
	if 6*unroll2 < 3*unroll {
		panic(f.name + ": pass 1 needs more registers than pass 2")
	}
	var maxes, sums []VecPhysical
	for u := 0; u < unroll; u++ {
		maxes = append(maxes, f.v(2*unroll+u))
	}
	for u := 0; u < unroll2; u++ {
		sums = append(sums, f.v(5*unroll2+u))
	}
	vm := f.v(6 * unroll2)
	tmask := f.tmask(6*unroll2 + 1)
	f.holdExp(f.lowRegs(6*unroll2 + 1))
	noMax := f.newLabel("nomax")

	negInf := vm
	c.VBROADCASTSS(f.constAddr("negInf"), negInf)
	for _, m := range maxes {
		c.VMOVAPS(negInf, m)
	}
	f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
		for _, u := range us {
			v := f.v(u)
			f.load(f.elem(src, u), v, t)
			switch {
			case t == nil:
				c.VMAXPS(v, maxes[u], maxes[u])
			case f.isa.wide:
				c.VMAXPS(v, maxes[0], t.k, maxes[0])
			default:
				c.VBLENDVPS(t.y, v, negInf, v)
				c.VMAXPS(v, maxes[0], maxes[0])
			}
		}
	})
	f.combine(c.VMAXPS, maxes)
	f.reduce(c.VMAXPS, maxes[0], f.v(0))
	c.Store(maxes[0].AsX(), c.Return("max"))
	c.VMOVD(maxes[0].AsX(), R12L)
	c.CMPL(R12L, U32(0xff800000))
	c.JE(LabelRef(noMax))
	c.VBROADCASTSS(maxes[0].AsX(), vm)

	for _, a := range sums {
		c.VXORPS(a, a, a)
	}
	f.loop(n, unroll2, tmask, func(us []int, t *rowTail) {
		g := f.group(us, 5)
		for i, u := range us {
			f.load(f.elem(src, u), g[i][0], t)
		}
		g.each(func(r []VecPhysical) { c.VSUBPS(vm, r[0], r[0]) })
		f.exp(g)
		for i, u := range us {
			if t == nil {
				c.VADDPS(g[i][0], sums[u], sums[u])
			} else {
				f.addTail(g[i][0], sums[0], t)
			}
		}
	})
	f.combine(c.VADDPS, sums)
	f.reduce(c.VADDPS, sums[0], f.v(0))
	c.Store(sums[0].AsX(), c.Return("sum"))
	f.ret()
	c.Label(noMax)
	c.VXORPS(f.v(0).AsX(), f.v(0).AsX(), f.v(0).AsX())
	c.Store(f.v(0).AsX(), c.Return("sum"))
	f.ret()
}

// genIndexAbove compares four vectors a step (thr < x, ordered: false for NaN) and stops at
// the first step with a hit, which it then locates vector by vector.
func genIndexAbove(f *rowFn) {
	c := f.ctx
	src, n := RSI, RCX
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("src").Len(), n)
	thr := f.v(15)
	c.VBROADCASTSS(rowArg(c, "thr"), thr)
	out := retAddr(c, 0)
	const ltOQ = 0x11
	masks := []OpmaskPhysical{K2, K3, K4, K5}
	f.loop(n, 4, f.v(14), func(us []int, t *rowTail) {
		next := f.newLabel("next")
		if f.isa.wide {
			for _, u := range us {
				if t == nil {
					c.VCMPPS(U8(ltOQ), f.elem(src, u), thr, masks[u])
				} else {
					c.VCMPPS(U8(ltOQ), f.elem(src, u), thr, t.k, masks[u])
				}
			}
			any := masks[0]
			if len(us) == 4 {
				c.KORW(K2, K3, K6)
				c.KORW(K4, K5, K7)
				c.KORW(K6, K7, K6)
				any = K6
			}
			c.KORTESTW(any, any)
			c.JZ(LabelRef(next))
			for _, u := range us {
				c.KMOVW(masks[u], R12L)
				f.found(u, out)
			}
		} else {
			for _, u := range us {
				v := f.v(u)
				if t == nil {
					c.VCMPPS(U8(ltOQ), f.elem(src, u), thr, v)
				} else {
					f.load(f.elem(src, u), v, t)
					c.VCMPPS(U8(ltOQ), v, thr, v)
					c.VANDPS(t.y, v, v)
				}
			}
			any := f.v(0)
			if len(us) == 4 {
				any = f.v(4)
				c.VORPS(f.v(0), f.v(1), any)
				c.VORPS(f.v(2), any, any)
				c.VORPS(f.v(3), any, any)
			}
			c.VMOVMSKPS(any, R12L)
			c.TESTL(R12L, R12L)
			c.JZ(LabelRef(next))
			for _, u := range us {
				c.VMOVMSKPS(f.v(u), R12L)
				f.found(u, out)
			}
		}
		c.Label(next)
	})
	c.MOVQ(n, out)
	f.ret()
}

// genDotGather walks the keys; for each it sums q·key four vectors at a time into four
// accumulators (then one at a time), and reduces them to out[j].
func genDotGather(f *rowFn) {
	c := f.ctx
	q, base, offs, n, out, d := RSI, RDI, R8, R9, RDX, RCX
	j, i, off, key, lim := RBX, RAX, R13, R14, R10
	c.Load(c.Param("q").Base(), q)
	c.Load(c.Param("q").Len(), d)
	c.Load(c.Param("base").Base(), base)
	c.Load(c.Param("offs").Base(), offs)
	c.Load(c.Param("offs").Len(), n)
	c.Load(c.Param("out").Base(), out)
	L, B := f.isa.lanes, f.isa.bytes()
	acc := []VecPhysical{f.v(0), f.v(1), f.v(2), f.v(3)}
	tmp := []VecPhysical{f.v(4), f.v(5), f.v(6), f.v(7)}
	c.MOVQ(d, lim)
	c.ANDQ(I32(-4*L), lim)
	c.XORQ(j, j)
	keys, done := f.newLabel("keys"), f.newLabel("done")
	l4, l4end, l1, red := f.newLabel("l4"), f.newLabel("l4end"), f.newLabel("l1"), f.newLabel("reduce")
	c.Label(keys)
	c.CMPQ(j, n)
	c.JAE(LabelRef(done))
	c.MOVLQSX(Mem{Base: offs, Index: j, Scale: 4}, off)
	c.LEAQ(Mem{Base: base, Index: off, Scale: 4}, key)
	for _, a := range acc {
		c.VXORPS(a, a, a)
	}
	c.XORQ(i, i)
	c.CMPQ(i, lim)
	c.JAE(LabelRef(l4end))
	c.Label(l4)
	for u := range acc {
		c.VMOVUPS(Mem{Base: q, Index: i, Scale: 4, Disp: u * B}, tmp[u])
		c.VFMADD231PS(Mem{Base: key, Index: i, Scale: 4, Disp: u * B}, tmp[u], acc[u])
	}
	c.ADDQ(U32(4*L), i)
	c.CMPQ(i, lim)
	c.JB(LabelRef(l4))
	c.Label(l4end)
	c.CMPQ(i, d)
	c.JAE(LabelRef(red))
	c.Label(l1)
	c.VMOVUPS(Mem{Base: q, Index: i, Scale: 4}, tmp[0])
	c.VFMADD231PS(Mem{Base: key, Index: i, Scale: 4}, tmp[0], acc[0])
	c.ADDQ(U32(L), i)
	c.CMPQ(i, d)
	c.JB(LabelRef(l1))
	c.Label(red)
	c.VADDPS(acc[1], acc[0], acc[0])
	c.VADDPS(acc[3], acc[2], acc[2])
	c.VADDPS(acc[2], acc[0], acc[0])
	f.reduce(c.VADDPS, acc[0], tmp[0])
	c.VMOVSS(acc[0].AsX(), Mem{Base: out, Index: j, Scale: 4})
	c.INCQ(j)
	c.JMP(LabelRef(keys))
	c.Label(done)
	f.ret()
}

// genAxpyGather keeps four vectors of o in registers (then one) while it walks the values.
func genAxpyGather(f *rowFn) {
	c := f.ctx
	p, base, offs, n, o, d := RSI, RDI, R8, R9, RDX, RCX
	j, i, off, col, lim := RBX, RAX, R13, R14, R10
	c.Load(c.Param("p").Base(), p)
	c.Load(c.Param("base").Base(), base)
	c.Load(c.Param("offs").Base(), offs)
	c.Load(c.Param("offs").Len(), n)
	c.Load(c.Param("o").Base(), o)
	c.Load(c.Param("o").Len(), d)
	L, B := f.isa.lanes, f.isa.bytes()
	acc := []VecPhysical{f.v(0), f.v(1), f.v(2), f.v(3)}
	w := f.v(4)
	c.MOVQ(d, lim)
	c.ANDQ(I32(-4*L), lim)
	c.XORQ(i, i)
	done := f.newLabel("done")
	for _, width := range []int{4, 1} {
		grp, grpEnd, kl, kend := f.newLabel("grp"), f.newLabel("grpend"), f.newLabel("keys"), f.newLabel("keysend")
		end := lim
		if width == 1 {
			end = d
		}
		c.Label(grp)
		c.CMPQ(i, end)
		c.JAE(LabelRef(grpEnd))
		for u := 0; u < width; u++ {
			c.VMOVUPS(Mem{Base: o, Index: i, Scale: 4, Disp: u * B}, acc[u])
		}
		c.LEAQ(Mem{Base: base, Index: i, Scale: 4}, col)
		c.XORQ(j, j)
		c.Label(kl)
		c.CMPQ(j, n)
		c.JAE(LabelRef(kend))
		c.MOVLQSX(Mem{Base: offs, Index: j, Scale: 4}, off)
		c.VBROADCASTSS(Mem{Base: p, Index: j, Scale: 4}, w)
		for u := 0; u < width; u++ {
			c.VFMADD231PS(Mem{Base: col, Index: off, Scale: 4, Disp: u * B}, w, acc[u])
		}
		c.INCQ(j)
		c.JMP(LabelRef(kl))
		c.Label(kend)
		for u := 0; u < width; u++ {
			c.VMOVUPS(acc[u], Mem{Base: o, Index: i, Scale: 4, Disp: u * B})
		}
		c.ADDQ(U32(width*L), i)
		c.JMP(LabelRef(grp))
		c.Label(grpEnd)
	}
	c.Label(done)
	f.ret()
}

// found returns rowIdx + u·lanes + (lowest set bit of R12L) when R12L is not zero.
func (f *rowFn) found(u int, out Mem) {
	c := f.ctx
	miss := f.newLabel("miss")
	c.TESTL(R12L, R12L)
	c.JZ(LabelRef(miss))
	c.TZCNTL(R12L, R12L)
	c.ADDQ(rowIdx, R12)
	if u > 0 {
		c.ADDQ(U32(u*f.isa.lanes), R12)
	}
	c.MOVQ(R12, out)
	f.ret()
	c.Label(miss)
}

// genReLU clears the bits of elements whose sign bit is set (x & ^(x>>31)), then puts NaNs
// back.
func genReLU(f *rowFn) {
	c := f.ctx
	dst, src, n := RDI, RSI, RCX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("src").Len(), n)
	f.loop(n, 4, f.v(15), func(us []int, t *rowTail) {
		for _, u := range us {
			v, sgn := f.v(u), f.v(4+u)
			f.load(f.elem(src, u), v, t)
			if f.isa.wide {
				c.VPSRAD(U8(31), v, sgn)
				c.VPANDND(v, sgn, sgn)
				c.VCMPPS(U8(3), v, v, K2) // unordered: NaN
				c.VMOVAPS(v, K2, sgn)
			} else {
				c.VPSRAD(U8(31), v, sgn)
				c.VPANDN(v, sgn, sgn)
				c.VCMPPS(U8(3), v, v, f.v(8+u))
				c.VBLENDVPS(f.v(8+u), v, sgn, sgn)
			}
			f.store(sgn, f.elem(dst, u), t)
		}
	})
	f.ret()
}

// genReLUGrad compares x with 0 "not less or equal, unordered" (x > 0 or NaN, predicate
// 0x16) and keeps the gradient under that mask: reluBackward (the parameters dx, dy, x) adds
// it to dx, the reference's dx + (dy & mask); reluMask (g, x) writes it over g.
func genReLUGrad(f *rowFn) {
	c := f.ctx
	add := f.stem == "reluBackward"
	dst, x, n := RDI, RDX, RCX
	src := dst
	if add {
		src = RSI
		c.Load(c.Param("dx").Base(), dst)
		c.Load(c.Param("dy").Base(), src)
	} else {
		c.Load(c.Param("g").Base(), dst)
	}
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("x").Len(), n)
	zero := f.v(15)
	c.VXORPS(zero.AsX(), zero.AsX(), zero.AsX())
	f.loop(n, 4, f.v(14), func(us []int, t *rowTail) {
		for _, u := range us {
			v, m := f.v(u), f.v(4+u)
			f.load(f.elem(x, u), v, t) // zero outside a tail: the mask is off there
			if f.isa.wide {
				c.VCMPPS(U8(0x16), zero, v, K2)
				c.VMOVUPS_Z(f.elem(src, u), K2, m)
				if add {
					f.load(f.elem(dst, u), v, t)
					c.VADDPS(m, v, m)
				}
			} else {
				c.VCMPPS(U8(0x16), zero, v, m)
				c.VANDPS(f.src(f.elem(src, u), v, t), m, m)
				if add {
					c.VADDPS(f.src(f.elem(dst, u), v, t), m, m)
				}
			}
			f.store(m, f.elem(dst, u), t)
		}
	})
	f.ret()
}

func genAddConst(f *rowFn) {
	c := f.ctx
	dst, src, n := RDI, RSI, RCX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("src").Base(), src)
	c.Load(c.Param("src").Len(), n)
	k := f.v(15)
	c.VBROADCASTSS(rowArg(c, "c"), k)
	f.loop(n, 4, f.v(14), func(us []int, t *rowTail) {
		for _, u := range us {
			a := f.v(u)
			c.VADDPS(f.src(f.elem(src, u), a, t), k, a)
			f.store(a, f.elem(dst, u), t)
		}
	})
	f.ret()
}

func genLayerNorm(f *rowFn) {
	c := f.ctx
	dst, x, gamma, beta, n := RDI, RSI, RDX, RBX, RCX
	c.Load(c.Param("dst").Base(), dst)
	c.Load(c.Param("x").Base(), x)
	c.Load(c.Param("gamma").Base(), gamma)
	c.Load(c.Param("beta").Base(), beta)
	c.Load(c.Param("x").Len(), n)
	const unroll = 4
	// Registers: v 0-3, scratch 4-7, partial sums 8-11, mean 12, rstd 13, tail mask 14.
	acc := []VecPhysical{f.v(8), f.v(9), f.v(10), f.v(11)}
	vm, vr, tmask := f.v(12), f.v(13), f.v(14)
	nf := f.v(15).AsX()

	// Pass 1: mean.
	for _, a := range acc {
		c.VXORPS(a, a, a)
	}
	f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
		for _, u := range us {
			if t == nil {
				c.VADDPS(f.elem(x, u), acc[u], acc[u])
				continue
			}
			v := f.v(0)
			f.load(f.elem(x, 0), v, t)
			c.VADDPS(v, acc[0], acc[0])
		}
	})
	f.combine(c.VADDPS, acc)
	f.reduce(c.VADDPS, acc[0], f.v(0))
	c.VXORPS(nf, nf, nf)
	c.VCVTSI2SSQ(n, nf, nf)
	c.VDIVSS(nf, acc[0].AsX(), acc[0].AsX())
	c.VBROADCASTSS(acc[0].AsX(), vm)

	// Pass 2: variance, Σ(x - mean)²/n.
	for _, a := range acc {
		c.VXORPS(a, a, a)
	}
	f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
		for _, u := range us {
			v := f.v(u)
			f.load(f.elem(x, u), v, t)
			c.VSUBPS(vm, v, v)
			switch {
			case t == nil:
				c.VFMADD231PS(v, v, acc[u])
			case f.isa.wide:
				c.VFMADD231PS(v, v, t.k, acc[0])
			default:
				c.VANDPS(v, t.y, v)
				c.VFMADD231PS(v, v, acc[0])
			}
		}
	})
	f.combine(c.VADDPS, acc)
	f.reduce(c.VADDPS, acc[0], f.v(0))
	s := acc[0].AsX()
	c.VXORPS(nf, nf, nf)
	c.VCVTSI2SSQ(n, nf, nf)
	c.VDIVSS(nf, s, s)
	c.VADDSS(rowArg(c, "eps"), s, s)
	c.VSQRTSS(s, s, s)
	one := f.v(0).AsX()
	c.VMOVSS(f.constAddr("one"), one)
	c.VDIVSS(s, one, one)
	c.VBROADCASTSS(one, vr)

	// Pass 3: dst = (x - mean)·rstd·gamma + beta, one loop per combination of nil.
	end := f.newLabel("end")
	labels := map[[2]bool]string{}
	for _, g := range []bool{true, false} {
		for _, b := range []bool{true, false} {
			labels[[2]bool{g, b}] = f.newLabel("pass3")
		}
	}
	gNil := f.newLabel("gnil")
	c.TESTQ(gamma, gamma)
	c.JZ(LabelRef(gNil))
	c.TESTQ(beta, beta)
	c.JZ(LabelRef(labels[[2]bool{true, false}]))
	c.JMP(LabelRef(labels[[2]bool{true, true}]))
	c.Label(gNil)
	c.TESTQ(beta, beta)
	c.JZ(LabelRef(labels[[2]bool{false, false}]))
	c.JMP(LabelRef(labels[[2]bool{false, true}]))
	for _, g := range []bool{true, false} {
		for _, b := range []bool{true, false} {
			c.Label(labels[[2]bool{g, b}])
			f.loop(n, unroll, tmask, func(us []int, t *rowTail) {
				for _, u := range us {
					v, tmp := f.v(u), f.v(4+u)
					f.load(f.elem(x, u), v, t)
					c.VSUBPS(vm, v, v)
					c.VMULPS(vr, v, v)
					switch {
					case g && b:
						f.load(f.elem(gamma, u), tmp, t)
						c.VFMADD213PS(f.src(f.elem(beta, u), acc[u], t), tmp, v)
					case g:
						c.VMULPS(f.src(f.elem(gamma, u), tmp, t), v, v)
					case b:
						c.VADDPS(f.src(f.elem(beta, u), tmp, t), v, v)
					}
					f.store(v, f.elem(dst, u), t)
				}
			})
			c.JMP(LabelRef(end))
		}
	}
	c.Label(end)
	c.VZEROUPPER()
	c.Store(vm.AsX(), c.Return("mean"))
	c.Store(vr.AsX(), c.Return("rstd"))
	c.RET()
}

// rowArg is the frame address of a scalar argument of the active function.
func rowArg(ctx *build.Context, name string) Mem {
	b, err := ctx.Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// retAddr is the frame address of result i of the active function.
func retAddr(ctx *build.Context, i int) Mem {
	b, err := ctx.ReturnIndex(i).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}
