package kernels

import (
	"fmt"
	"math"
	"sync"
	"unsafe"

	"github.com/optiformer/optiformer/internal/cpu"
)

// Gemm computes C = alpha·op(A)·op(B) + beta·C, where op(X) is X or Xᵀ, op(A) is m×k, op(B) is
// k×n and C is m×n, all row-major with leading dimensions lda, ldb, ldc (BLAS sgemm semantics:
// when beta is 0, C is not read, so it may hold NaN; when alpha is 0 or k is 0, A and B are not
// read). It replaces the loop
//
//	for i := 0; i < m; i++ {
//		for j := 0; j < n; j++ {
//			var s float32
//			for p := 0; p < k; p++ {
//				s += opA(i, p) * opB(p, j)
//			}
//			c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
//		}
//	}
//
// The transformer needs A·B (activations × weights stored In×Out), A·Bᵀ (x·Wᵀ for weights
// stored Out×In, and Q·Kᵀ) and Aᵀ·B (weight gradients); Aᵀ·Bᵀ works too.
//
// Work is split over the output on the worker pool; the result is bit-identical for any
// number of threads. Shapes that do not fit the slices panic.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMat("A", transA, m, k, a, lda)
	checkMat("B", transB, k, n, b, ldb)
	checkMat("C", false, m, n, c, ldc)
	gemm(gemmArgs{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
		b: b, ldb: ldb, beta: beta, c: c, ldc: ldc})
}

// GemmST is Gemm on the calling goroutine only, for callers that already spread their work
// over the threads (one product per attention head, say): nesting a parallel product inside
// would only add hand-offs. The result is the same as Gemm's.
func GemmST(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkMat("A", transA, m, k, a, lda)
	checkMat("B", transB, k, n, b, ldb)
	checkMat("C", false, m, n, c, ldc)
	gemm(gemmArgs{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
		b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, serial: true})
}

// PackedB is a k×n right-hand operand packed once into the layout the micro-kernels read:
// for each k block (see kBlocking), column panels 32 wide (the last zero-padded), each panel
// kb rows of 32 contiguous floats. Keeping a block's panels contiguous matters: panels a
// power-of-two stride apart would all map to the same cache sets.
// Pack weights at load time and Repack them after each optimizer step; GemmPacked then skips
// the per-call packing, which matters most for the small-M products of decoding.
type PackedB struct {
	k, n int
	data []float32 // k × panels(n) × panelWidth, 64-byte aligned
}

// PackB packs op(B) (k×n; B is stored n×k when transB) for GemmPacked. For a weight W stored
// Out×In as in PyTorch, PackB(true, In, Out, W, In) packs Wᵀ so that x·Wᵀ = GemmPacked(x, P).
func PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	p := &PackedB{k: k, n: n, data: alignedFloats(panels(n) * k * panelWidth)}
	p.Repack(transB, b, ldb)
	return p
}

// Repack packs new values of the same shape into p's storage (after an optimizer step).
func (p *PackedB) Repack(transB bool, b []float32, ldb int) {
	checkMat("B", transB, p.k, p.n, b, ldb)
	np := panels(p.n)
	kc := kBlocking(p.k)
	for k0 := 0; k0 < p.k; k0 += kc {
		packB(gemmKernels.Get(), p.data[k0*np*panelWidth:], transB, b, ldb, k0, min(kc, p.k-k0), 0, np, p.n)
	}
}

// K and N are the dimensions of the packed op(B).
func (p *PackedB) K() int { return p.k }

// N is the number of columns of the packed op(B).
func (p *PackedB) N() int { return p.n }

// GemmPacked computes C = alpha·op(A)·B + beta·C for a packed B (k×n); op(A) is m×k.
func GemmPacked(transA bool, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	checkMat("A", transA, m, p.k, a, lda)
	checkMat("C", false, m, p.n, c, ldc)
	gemm(gemmArgs{transA: transA, m: m, n: p.n, k: p.k, alpha: alpha, a: a, lda: lda,
		packed: p, beta: beta, c: c, ldc: ldc})
}

// checkMat panics unless x holds a rows×cols matrix (cols×rows when trans) with leading
// dimension ld.
func checkMat(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if rows < 0 || cols < 0 {
		panic(fmt.Sprintf("kernels: gemm: %s has negative shape %d×%d", name, rows, cols))
	}
	if ld < max(1, cols) {
		panic(fmt.Sprintf("kernels: gemm: %s is stored %d×%d but its leading dimension is %d", name, rows, cols, ld))
	}
	// len(x) >= (rows-1)·ld + cols, written so that no product can overflow.
	if rows > 0 && cols > 0 && (cols > len(x) || rows-1 > (len(x)-cols)/ld) {
		panic(fmt.Sprintf("kernels: gemm: %s is %d×%d with leading dimension %d and needs %d elements; it has %d",
			name, rows, cols, ld, satMulAdd(rows-1, ld, cols), len(x)))
	}
}

// satMulAdd is a·b + c, saturated at MaxInt (for error messages).
func satMulAdd(a, b, c int) int {
	if a != 0 && b > (math.MaxInt-c)/a {
		return math.MaxInt
	}
	return a*b + c
}

const (
	panelWidth = 32 // columns of a packed B panel
	// kcMax is the longest k block: a 14×256 A micro-panel (14 KiB) stays in L1 while B
	// streams past it. 128…512 measured within noise of each other on Cascade Lake.
	kcMax = 256
	// ncPanels is the number of panels in a B block: 256×512 floats (512 KiB) stay in L2.
	ncPanels = 16

	maxMR = 16 // no kernel set has taller tiles
	// parallelFlops is the work below which a product runs on one thread: the hand-off costs
	// a few microseconds.
	parallelFlops = 1 << 18
)

// kernFn is a micro-kernel; see internal/asmgen/gemm.go for the contract.
type kernFn = func(kc int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, ncols int)

// tileKernels are the micro-kernels for one layout of B.
type tileKernels struct {
	width  int               // columns an edge kernel covers (divides panelWidth)
	edge   [maxMR + 1]kernFn // edge[m]: m rows × width columns, masked to ncols
	multi  [maxMR + 1]kernFn // multi[m]: m rows × multiN[m] whole panels (nil: none)
	multiN [maxMR + 1]int
}

// kernelSet is one variant's micro-kernels.
type kernelSet struct {
	mr int // tallest tile
	tileKernels
	// direct kernels read a row-major B in place (bstride = its row stride) for products
	// of at most directMR rows, where packing B would cost as much as the product itself.
	direct   tileKernels
	directMR int

	// Optional packing routines (nil: the Go loops). See internal/asmgen/pack.go.
	packBCopy   func(dst, src *float32, kb, ldb, np, psz int)
	packAGather func(dst, src *float32, k int, idx *int32, mt int)
	gatherMax   int // tallest tile packAGather handles
	// transpose: dst[p*ldd+i] = src[i*lds+p] for i < rows ≤ 16, p < k.
	transpose func(dst *float32, ldd int, src *float32, lds int, rows, k int)
	// packACopy: dst[j*tstride + p*mt : +mt] = src[p*lda + j*mt : +mt] for p < k, j < tiles,
	// mt ≤ 16 (tiles of a transposed A, several per pass).
	packACopy func(dst, src *float32, k, lda, mt, tiles, tstride int)
}

var gemmKernels = cpu.NewFamily("gemm", genericKernels())

type gemmArgs struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	packed         *PackedB
	serial         bool // one thread
}

func panels(n int) int { return (n + panelWidth - 1) / panelWidth }

// kBlocking cuts k into blocks of at most kcMax. The cut depends on k alone, so every element
// of C sees the same sequence of blocks whatever the tiling and thread count.
func kBlocking(k int) (kc int) {
	if k <= 0 {
		return 1
	}
	nb := (k + kcMax - 1) / kcMax
	return (k + nb - 1) / nb
}

func gemm(g gemmArgs) {
	m, n, k := g.m, g.n, g.k
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || g.alpha == 0 {
		scaleC(g.c, m, n, g.ldc, g.beta)
		return
	}
	ks := gemmKernels.Get()
	tiles := (m + ks.mr - 1) / ks.mr
	np := panels(n)
	t := Threads()
	if flops := 2 * float64(m) * float64(n) * float64(k); flops < parallelFlops || g.serial {
		t = 1
	}
	t = min(t, max(np, tiles))
	if t <= 1 {
		gemmPart(ks, &g, 0, m, 0, np, nil)
		return
	}
	// Cut the dimension that balances best; on a tie cut columns, so that no two workers
	// pack the same part of B.
	if balance(np, t) >= balance(tiles, t) {
		// Every worker needs all of A: pack it once, each worker a share of the tiles, then
		// compute. Packing is a copy, so who packs which tile does not change the result.
		s := scratchPool.Get().(*scratch)
		defer scratchPool.Put(s)
		s.a = grow(s.a, m*k)
		ap := s.a
		pt := min(t, tiles)
		parallel(pt, func(w int) {
			r0, r1 := min(m, split(tiles, pt, w)*ks.mr), min(m, split(tiles, pt, w+1)*ks.mr)
			packA(ks, ap[r0*k:r1*k], g.transA, g.a, g.lda, r0, r1, k)
		})
		parallel(t, func(w int) {
			gemmPart(ks, &g, 0, m, split(np, t, w), split(np, t, w+1), ap)
		})
	} else {
		parallel(t, func(w int) {
			gemmPart(ks, &g, min(m, split(tiles, t, w)*ks.mr), min(m, split(tiles, t, w+1)*ks.mr), 0, np, nil)
		})
	}
}

// balance is the fraction of t workers kept busy when n equal items are shared among them.
func balance(n, t int) float64 {
	if n < t {
		return float64(n) / float64(t)
	}
	per := (n + t - 1) / t
	return float64(n) / float64(per*t)
}

// scaleC sets C = beta·C (C = 0 when beta is 0, whatever C held).
func scaleC(c []float32, m, n, ldc int, beta float32) {
	for i := 0; i < m; i++ {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
		} else if beta != 1 {
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// scratch is a worker's packing buffers, reused across calls.
type scratch struct{ a, b []float32 }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// gemmPart computes rows [r0, r1) and panels [p0, p1) of C. apacked, when not nil, is those
// rows of A already packed (by packA); otherwise gemmPart packs them itself.
func gemmPart(ks *kernelSet, g *gemmArgs, r0, r1, p0, p1 int, apacked []float32) {
	if r0 >= r1 || p0 >= p1 {
		return
	}
	s := scratchPool.Get().(*scratch)
	defer scratchPool.Put(s)
	k := g.k
	rows := r1 - r0
	if apacked == nil {
		s.a = grow(s.a, rows*k)
		packA(ks, s.a, g.transA, g.a, g.lda, r0, r1, k)
		apacked = s.a
	}
	kc := kBlocking(k)
	direct := g.packed == nil && !g.transB && g.m <= ks.directMR
	var bbuf []float32
	if g.packed == nil && !direct {
		s.b = grow(s.b, kc*ncPanels*panelWidth)
		bbuf = s.b
	}
	for jc := p0; jc < p1; jc += ncPanels {
		jcEnd := min(jc+ncPanels, p1)
		for k0 := 0; k0 < k; k0 += kc {
			kb := min(kc, k-k0)
			var bp *float32
			bstride := kb * panelWidth // floats between panels and the kernels' bstride
			tk, step := &ks.tileKernels, bstride
			switch {
			case g.packed != nil:
				bp = &g.packed.data[k0*panels(g.n)*panelWidth+jc*bstride]
			case direct:
				bp = &g.b[k0*g.ldb+jc*panelWidth]
				tk, step, bstride = &ks.direct, panelWidth, g.ldb
			default:
				packB(ks, bbuf, g.transB, g.b, g.ldb, k0, kb, jc, jcEnd, g.n)
				bp = &bbuf[0]
			}
			beta := g.beta
			if k0 > 0 {
				beta = 1
			}
			for r := r0; r < r1; r += ks.mr {
				mt := min(ks.mr, r1-r)
				ap := &apacked[(r-r0)*k+k0*mt]
				gemmRow(tk, g, mt, kb, ap, bp, step, bstride, r, jc, jcEnd, beta)
			}
		}
	}
}

// gemmRow runs the micro-kernels over one tile row (mt rows from row r) for panels
// [jc, jcEnd) of one k block; panel jc is at bp and the next ones `step` floats apart.
func gemmRow(tk *tileKernels, g *gemmArgs, mt, kb int, ap, bp *float32, step, bstride, r, jc, jcEnd int, beta float32) {
	full := g.n / panelWidth // panels with no padding
	p := jc
	if f := tk.multi[mt]; f != nil {
		np := tk.multiN[mt]
		for ; p+np <= min(jcEnd, full); p += np {
			f(kb, ap, ptrAdd(bp, (p-jc)*step), bstride, &g.c[r*g.ldc+p*panelWidth], g.ldc, g.alpha, beta, panelWidth)
		}
	}
	edge := tk.edge[mt]
	for ; p < jcEnd; p++ {
		for off := 0; off < panelWidth; off += tk.width {
			col := p*panelWidth + off
			if col >= g.n {
				break
			}
			edge(kb, ap, ptrAdd(bp, (p-jc)*step+off), bstride, &g.c[r*g.ldc+col], g.ldc, g.alpha, beta, min(tk.width, g.n-col))
		}
	}
}

func ptrAdd(p *float32, n int) *float32 {
	return (*float32)(unsafe.Add(unsafe.Pointer(p), n*4))
}

// grow returns a 64-byte aligned buffer of at least n floats, reusing buf when it is enough.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return alignedFloats(n + n/4)[:n]
}

// alignedFloats allocates n floats starting on a 64-byte boundary (a cache line: AVX-512
// loads that straddle two lines cost double).
func alignedFloats(n int) []float32 {
	buf := make([]float32, n+16)
	off := int(uintptr(unsafe.Pointer(&buf[0]))&63) / 4
	if off != 0 {
		off = 16 - off
	}
	return buf[off : off+n : off+n]
}

// packA copies rows [r0, r1) of op(A) (all k columns) into dst as tiles of ks.mr rows; a tile
// of mt rows is k steps of mt floats (dst[t + p*mt + i] = op(A)[r+i][p]), so a k block
// starting at k0 begins k0·mt floats into its tile.
func packA(ks *kernelSet, dst []float32, transA bool, a []float32, lda, r0, r1, k int) {
	if transA && ks.packACopy != nil && ks.mr <= 16 && k > 0 {
		// op(A)[r+i][p] = a[p*lda + r+i]: each tile row is a run of mt floats of a row of A.
		// Full tiles go packACopyGroup at a time, so that a pass reads a stretch of each row.
		const packACopyGroup = 8
		r := r0
		for r+ks.mr <= r1 {
			tiles := min(packACopyGroup, (r1-r)/ks.mr)
			ks.packACopy(&dst[(r-r0)*k], &a[r], k, lda, ks.mr, tiles, ks.mr*k)
			r += tiles * ks.mr
		}
		if r < r1 {
			mt := r1 - r
			ks.packACopy(&dst[(r-r0)*k], &a[r], k, lda, mt, 1, mt*k)
		}
		return
	}
	for r := r0; r < r1; r += ks.mr {
		mt := min(ks.mr, r1-r)
		t := dst[(r-r0)*k : (r-r0)*k+mt*k]
		if transA {
			// op(A)[r+i][p] = a[p*lda + r+i]: rows of A are contiguous runs of mt floats.
			for p := 0; p < k; p++ {
				copy(t[p*mt:p*mt+mt], a[p*lda+r:p*lda+r+mt])
			}
			continue
		}
		if ks.transpose != nil && mt <= 16 && k > 0 {
			ks.transpose(&t[0], mt, &a[r*lda], lda, mt, k)
			continue
		}
		if ks.packAGather != nil && mt <= ks.gatherMax && (mt-1)*lda <= math.MaxInt32 {
			var idx [16]int32
			for i := 0; i < mt; i++ {
				idx[i] = int32(i * lda)
			}
			ks.packAGather(&t[0], &a[r*lda], k, &idx[0], mt)
			continue
		}
		// Write dst front to back; reading mt rows at once keeps the tile out of L1 misses.
		for p := 0; p < k; p++ {
			col := t[p*mt : p*mt+mt]
			for i := range col {
				col[i] = a[(r+i)*lda+p]
			}
		}
	}
}

// packB copies rows [k0, k0+kb) of op(B) for panels [q0, q1) into dst: panel q at
// (q-q0)·kb·32, row p of it at p·32; columns at or past n are zero.
func packB(ks *kernelSet, dst []float32, transB bool, b []float32, ldb, k0, kb, q0, q1, n int) {
	if transB {
		packBT(ks, dst, b, ldb, k0, kb, q0, q1, n)
		return
	}
	psz := kb * panelWidth
	full := max(q0, min(q1, n/panelWidth)) // panels without padding
	if ks.packBCopy != nil && full > q0 && kb > 0 {
		ks.packBCopy(&dst[0], &b[k0*ldb+q0*panelWidth], kb, ldb, full-q0, psz)
	} else {
		for p := 0; p < kb; p++ {
			// Read each row of B once, front to back, and deal it out to the panels.
			src := b[(k0+p)*ldb:]
			for q := q0; q < full; q++ {
				o := (q-q0)*psz + p*panelWidth
				*(*[panelWidth]float32)(dst[o : o+panelWidth]) = *(*[panelWidth]float32)(src[q*panelWidth : q*panelWidth+panelWidth])
			}
		}
	}
	for q := full; q < q1; q++ {
		for p := 0; p < kb; p++ {
			o := (q-q0)*psz + p*panelWidth
			row := dst[o : o+panelWidth]
			src := b[(k0+p)*ldb:]
			w := copy(row, src[q*panelWidth:min(n, q*panelWidth+panelWidth)])
			clear(row[w:])
		}
	}
}

// packBT is packB for a transposed B (stored n×k): op(B)[p][c] = b[c*ldb + p].
func packBT(ks *kernelSet, dst []float32, b []float32, ldb, k0, kb, q0, q1, n int) {
	psz := kb * panelWidth
	for q := q0; q < q1; q++ {
		panel := dst[(q-q0)*psz : (q-q0+1)*psz]
		c0 := q * panelWidth
		w := min(panelWidth, n-c0)
		if w < panelWidth {
			clear(panel)
		}
		if ks.transpose != nil && kb > 0 {
			for j0 := 0; j0 < w; j0 += 16 {
				ks.transpose(&panel[j0], panelWidth, &b[(c0+j0)*ldb+k0], ldb, min(16, w-j0), kb)
			}
			continue
		}
		// Column c of the panel is the contiguous run b[c*ldb+k0 : c*ldb+k0+kb].
		for j := 0; j < w; j++ {
			src := b[(c0+j)*ldb+k0 : (c0+j)*ldb+k0+kb]
			for p, v := range src {
				panel[p*panelWidth+j] = v
			}
		}
	}
}
