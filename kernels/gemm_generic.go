package kernels

import "unsafe"

// Float is the element type of the reference kernels: float32, or float64 for test oracles.
type Float interface{ ~float32 | ~float64 }

// GemmRef is the plain reference for Gemm: the triple loop in the precision of T, always
// compiled. Tests compare every variant with it (in float64); it is not fast.
func GemmRef[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s T
			if alpha != 0 {
				for p := 0; p < k; p++ {
					var av, bv T
					if transA {
						av = a[p*lda+i]
					} else {
						av = a[i*lda+p]
					}
					if transB {
						bv = b[j*ldb+p]
					} else {
						bv = b[p*ldb+j]
					}
					s += av * bv
				}
			}
			v := alpha * s
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}

// genericMR is the tile height of the portable micro-kernel.
const genericMR = 4

// genericKernels is the portable kernel set: the same packed layout and macro-kernel as the
// assembly, with the micro-kernel in plain Go.
func genericKernels() *kernelSet {
	ks := &kernelSet{mr: genericMR}
	ks.width = panelWidth
	for m := 1; m <= genericMR; m++ {
		ks.edge[m] = func(kc int, a, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, ncols int) {
			gemmGenericTile(m, kc, a, b, c, ldc, alpha, beta, ncols)
		}
	}
	return ks
}

// gemmGenericTile computes an m×ncols tile (m ≤ genericMR) from a packed A micro-panel and
// one packed B panel.
func gemmGenericTile(m, kc int, ap, bp *float32, cp *float32, ldc int, alpha, beta float32, ncols int) {
	a := unsafe.Slice(ap, kc*m)
	b := unsafe.Slice(bp, kc*panelWidth)
	var acc [genericMR][panelWidth]float32
	for p := 0; p < kc; p++ {
		brow := (*[panelWidth]float32)(b[p*panelWidth : p*panelWidth+panelWidth])
		for i := 0; i < m; i++ {
			av := a[p*m+i]
			row := &acc[i]
			for j := range row {
				row[j] += av * brow[j]
			}
		}
	}
	c := unsafe.Slice(cp, (m-1)*ldc+ncols)
	for i := 0; i < m; i++ {
		crow := c[i*ldc : i*ldc+ncols]
		for j := range crow {
			v := alpha * acc[i][j]
			if beta != 0 {
				v += beta * crow[j]
			}
			crow[j] = v
		}
	}
}
