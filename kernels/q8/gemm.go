package q8

import (
	"fmt"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/kernels"
)

// Packed is an int8 weight matrix B (n, k), the (out, in) layout of a Linear layer, packed once
// for Gemm: panels of 64 output columns, k in groups of four, each byte stored as b+128 (see
// the package comment of the assembly generator, internal/asmgen/q8.go). Columns past n and k
// past its last group of four hold the packed zero, 128.
type Packed struct {
	n, k, kg int
	data     []uint8
}

// panelCols is the width of a packed panel and of the micro-kernel's tile.
const panelCols = 64

// N is the number of output columns, K the inner dimension.
func (p *Packed) N() int { return p.n }

// K is the inner dimension.
func (p *Packed) K() int { return p.k }

// Bytes is the size of the packed data.
func (p *Packed) Bytes() int { return len(p.data) }

// Pack packs b (n rows of k int8 values, row stride ldb).
func Pack(b []int8, n, k, ldb int) *Packed {
	if n < 0 || k < 0 || k > MaxKPacked || (n > 0 && (ldb < k || len(b) < (n-1)*ldb+k)) {
		panic(fmt.Sprintf("q8: Pack: %d values, stride %d, for %d×%d (k at most %d)", len(b), ldb, n, k, MaxKPacked))
	}
	kg := (k + 3) / 4
	panels := (n + panelCols - 1) / panelCols
	p := &Packed{n: n, k: k, kg: kg, data: make([]uint8, panels*kg*4*panelCols)}
	for i := range p.data {
		p.data[i] = 128
	}
	for j := 0; j < n; j++ {
		panel, col := j/panelCols, j%panelCols
		base := panel * kg * 4 * panelCols
		row := b[j*ldb : j*ldb+k]
		for q, v := range row {
			g, t := q/4, q%4
			// group g: four vectors of 16 columns × 4 bytes
			p.data[base+g*4*panelCols+(col/16)*64+(col%16)*4+t] = uint8(v) ^ 0x80
		}
	}
	return p
}

// MaxKPacked is the longest inner dimension of a packed product: Σ a·(b+128) must fit int32
// (|a| ≤ 128, b+128 ≤ 255).
const MaxKPacked = (1<<31 - 1) / (128 * 255)

// Gemm computes C = A·Bᵀ exactly (C[i][j] = Σ_p A[i][p]·B[j][p], int32) for m rows of A (int8,
// row stride lda) and the packed B; the result is bit-identical to GemmRef on every CPU and
// for any thread count (kernels.SetThreads), which share the panels of B.
func Gemm(m int, a []int8, lda int, b *Packed, c []int32, ldc int) {
	n, k := b.n, b.k
	checkGemm("Gemm", m, n, k, len(a), lda, n*k, k, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	gemmImpl.Get()(m, a, lda, b, c, ldc, nil)
}

// gemmSums is Gemm for a caller that already has the row sums Σ_p A[i][p] (a row quantizer
// computes them on the way): the kernels need them, and need not compute them again.
func gemmSums(m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32) {
	if m == 0 || b.n == 0 {
		return
	}
	gemmImpl.Get()(m, a, lda, b, c, ldc, sums)
}

// gemmFn is one variant of Gemm; sums, when not nil, are the rows' sums.
type gemmFn func(m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32)

var gemmImpl = cpu.NewFamily[gemmFn]("q8gemm", gemmGeneric)

// gemmGeneric is Gemm by the reference, reading the packed B back.
func gemmGeneric(m int, a []int8, lda int, b *Packed, c []int32, ldc int, _ []int32) {
	n, k := b.n, b.k
	kernels.ParallelFor(n, panelCols, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			base := (j/panelCols)*b.kg*4*panelCols + ((j%panelCols)/16)*64 + (j%16)*4
			for i := 0; i < m; i++ {
				ar := a[i*lda : i*lda+k]
				var s int32
				for q, v := range ar {
					s += int32(v) * int32(int8(b.data[base+(q/4)*4*panelCols+q%4]^0x80))
				}
				c[i*ldc+j] = s
			}
		}
	})
}

// tileFn is a micro-kernel: see internal/asmgen/q8.go.
type tileFn func(kg int, a *int8, lda int, b *uint8, cp *int32, ldc int, ncols int, corr *int32, accumulate bool)

// prepareA pads A's rows to whole groups of four k (the kernels read 4·kg bytes a row) and
// computes the corrections 128·Σ_p A[i][p] that remove the +128 of the packing (from sums
// when given).
func prepareA(m int, a []int8, lda, k, kg int, sums []int32) ([]int8, int, []int32) {
	if k%4 != 0 {
		pa := make([]int8, m*4*kg)
		for i := 0; i < m; i++ {
			copy(pa[i*4*kg:], a[i*lda:i*lda+k])
		}
		a, lda = pa, 4*kg
	}
	corr := make([]int32, m)
	for i := range corr {
		var s int32
		if sums != nil {
			s = sums[i]
		} else {
			for _, v := range a[i*lda : i*lda+k] {
				s += int32(v)
			}
		}
		corr[i] = 128 * s
	}
	return a, lda, corr
}

// avx2TileFn is an AVX2 micro-kernel: see internal/asmgen/q8.go.
type avx2TileFn func(kg int, a *int8, lda int, b *uint8, cp *int32, ldc int, ncols int, corr *int32)

// gemmTilesAVX2 drives the AVX2 tiles: 2 rows × 16 columns (one 64-byte chunk of a panel's
// groups).
func gemmTilesAVX2(tiles [3]avx2TileFn, m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32) {
	kg := b.kg
	a, lda, corr := prepareA(m, a, lda, b.k, kg, sums)
	chunks := (b.n + 15) / 16
	kernels.ParallelFor(chunks, 4, func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			col := ch * 16
			ncols := min(16, b.n-col)
			var bp *uint8
			if kg > 0 {
				bp = &b.data[(ch/4)*kg*4*panelCols+(ch%4)*64]
			}
			for r := 0; r < m; r += 2 {
				mr := min(2, m-r)
				var ap *int8
				if kg > 0 {
					ap = &a[r*lda]
				}
				tiles[mr](kg, ap, lda, bp, &c[r*ldc+col], ldc, ncols, &corr[r])
			}
		}
	})
}

// gemmTiles drives the micro-kernels: panels of B are shared among the threads; each walks
// its panels and, within a panel, the rows in tiles of up to six; the tiles remove the +128
// of the packing (C[i][j] −= 128·Σ_p A[i][p]).
func gemmTiles(tiles [7]tileFn, m int, a []int8, lda int, b *Packed, c []int32, ldc int, sums []int32) {
	kg := b.kg
	a, lda, corr := prepareA(m, a, lda, b.k, kg, sums)
	panels := (b.n + panelCols - 1) / panelCols
	kernels.ParallelFor(panels, 1, func(lo, hi int) {
		for pn := lo; pn < hi; pn++ {
			col := pn * panelCols
			ncols := min(panelCols, b.n-col)
			var bp *uint8
			if kg > 0 {
				bp = &b.data[pn*kg*4*panelCols]
			}
			for r := 0; r < m; r += 6 {
				mr := min(6, m-r)
				var ap *int8
				if kg > 0 {
					ap = &a[r*lda]
				}
				tiles[mr](kg, ap, lda, bp, &c[r*ldc+col], ldc, ncols, &corr[r], false)
			}
		}
	})
}
