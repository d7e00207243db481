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
// one packed B panel. Column groups of 4 keep their accumulators in local variables, which
// the compiler holds in registers: 4×4 of them for a full tile.
func gemmGenericTile(m, kc int, ap, bp *float32, cp *float32, ldc int, alpha, beta float32, ncols int) {
	a := unsafe.Slice(ap, kc*m)
	b := unsafe.Slice(bp, kc*panelWidth)
	var acc [genericMR][panelWidth]float32
	for j := 0; j < ncols; j += 4 {
		if m == 4 {
			// Raw loads: the bounds checks of slice indexing would double the loop.
			pb := unsafe.Pointer(&b[j])
			pa := unsafe.Pointer(&a[0])
			var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
			for p := 0; p < kc; p++ {
				bv := (*[4]float32)(unsafe.Add(pb, p*panelWidth*4))
				av := (*[4]float32)(unsafe.Add(pa, p*16))
				b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
				a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
				c00 += a0 * b0
				c01 += a0 * b1
				c02 += a0 * b2
				c03 += a0 * b3
				c10 += a1 * b0
				c11 += a1 * b1
				c12 += a1 * b2
				c13 += a1 * b3
				c20 += a2 * b0
				c21 += a2 * b1
				c22 += a2 * b2
				c23 += a2 * b3
				c30 += a3 * b0
				c31 += a3 * b1
				c32 += a3 * b2
				c33 += a3 * b3
			}
			acc[0][j], acc[0][j+1], acc[0][j+2], acc[0][j+3] = c00, c01, c02, c03
			acc[1][j], acc[1][j+1], acc[1][j+2], acc[1][j+3] = c10, c11, c12, c13
			acc[2][j], acc[2][j+1], acc[2][j+2], acc[2][j+3] = c20, c21, c22, c23
			acc[3][j], acc[3][j+1], acc[3][j+2], acc[3][j+3] = c30, c31, c32, c33
			continue
		}
		for i := 0; i < m; i++ {
			var c0, c1, c2, c3 float32
			for p := 0; p < kc; p++ {
				bv := (*[4]float32)(b[p*panelWidth+j : p*panelWidth+j+4])
				av := a[p*m+i]
				c0 += av * bv[0]
				c1 += av * bv[1]
				c2 += av * bv[2]
				c3 += av * bv[3]
			}
			acc[i][j], acc[i][j+1], acc[i][j+2], acc[i][j+3] = c0, c1, c2, c3
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
