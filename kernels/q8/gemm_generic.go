package q8

import "fmt"

// GemmRef computes the int32 products C[i][j] = Σ_p A[i][p]·B[j][p] for i < m, j < n, p < k:
// C = A·Bᵀ with A (m, k) the quantized activations and B (n, k) the quantized weights in the
// (out, in) layout of a Linear layer; lda, ldb and ldc are row strides. It is the bit-exact
// reference of every int8 GEMM variant. Each product is at most 127·128 in magnitude, so the
// sum cannot overflow int32 for k < 131,000; GemmRef panics for larger k.
func GemmRef(m, n, k int, a []int8, lda int, b []int8, ldb int, c []int32, ldc int) {
	checkGemm("GemmRef", m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	for i := 0; i < m; i++ {
		ar := a[i*lda : i*lda+k]
		cr := c[i*ldc : i*ldc+n]
		for j := range cr {
			br := b[j*ldb : j*ldb+k]
			var s int32
			for p, x := range ar {
				s += int32(x) * int32(br[p])
			}
			cr[j] = s
		}
	}
}

// MaxK is the longest inner dimension whose int8 dot products cannot overflow int32.
const MaxK = (1<<31 - 1) / (128 * 128)

func checkGemm(what string, m, n, k, la, lda, lb, ldb, lc, ldc int) {
	switch {
	case m < 0 || n < 0 || k < 0:
		panic(fmt.Sprintf("q8: %s: negative size %d×%d×%d", what, m, n, k))
	case k > MaxK:
		panic(fmt.Sprintf("q8: %s: k = %d could overflow int32 (at most %d)", what, k, MaxK))
	case m > 0 && (lda < k || la < (m-1)*lda+k):
		panic(fmt.Sprintf("q8: %s: A of %d values, stride %d, for %d×%d", what, la, lda, m, k))
	case n > 0 && (ldb < k || lb < (n-1)*ldb+k):
		panic(fmt.Sprintf("q8: %s: B of %d values, stride %d, for %d×%d", what, lb, ldb, n, k))
	case m > 0 && (ldc < n || lc < (m-1)*ldc+n):
		panic(fmt.Sprintf("q8: %s: C of %d values, stride %d, for %d×%d", what, lc, ldc, m, n))
	}
}
