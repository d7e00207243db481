package ops

import (
	"fmt"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// gemm is kernels.Gemm for either element type (F64 through the reference triple loop).
func gemm[T Float](transA, transB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	switch a := any(a).(type) {
	case []float32:
		kernels.Gemm(transA, transB, m, n, k, float32(alpha), a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		kernels.GemmRef(transA, transB, m, n, k, float64(alpha), a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// matDims returns the rows and columns of op(x) for the last two dimensions of x.
func matDims(x *tensor.Tensor, trans bool) (r, c int) {
	r, c = x.Dim(-2), x.Dim(-1)
	if trans {
		r, c = c, r
	}
	return r, c
}

// MatMul returns op(a)·op(b), where op transposes the last two dimensions when asked:
// a is (…, M, K) (or (…, K, M) when transA), b is (K, N) (or (N, K)) shared by every matrix
// of a, or has the same leading dimensions as a. The result is (…, M, N). This is
// torch.matmul without broadcasting of b's leading dimensions.
func MatMul(a, b *tensor.Tensor, transA, transB bool) *tensor.Tensor {
	checkFloat("MatMul", a, b)
	if a.Rank() < 2 || b.Rank() < 2 {
		panic(fmt.Sprintf("ops: MatMul: operands of rank %d and %d, want at least 2", a.Rank(), b.Rank()))
	}
	m, k := matDims(a, transA)
	kb, n := matDims(b, transB)
	if k != kb {
		panic(fmt.Sprintf("ops: MatMul: op(a) is %d×%d, op(b) is %d×%d", m, k, kb, n))
	}
	batch := a.Len() / max(1, m*k)
	if b.Rank() > 2 && (b.Rank() != a.Rank() || b.Len()/max(1, k*n) != batch) {
		panic(fmt.Sprintf("ops: MatMul: batched b %v does not match a %v", b.Shape(), a.Shape()))
	}
	shape := a.Shape()
	shape[len(shape)-2], shape[len(shape)-1] = m, n
	y := tensor.Empty(a.DType(), shape...)
	if a.DType() == tensor.F32 {
		matmul[float32](contig(a), contig(b), y, transA, transB, m, n, k, batch)
	} else {
		matmul[float64](contig(a), contig(b), y, transA, transB, m, n, k, batch)
	}
	return y
}

func matmul[T Float](at, bt, yt *tensor.Tensor, transA, transB bool, m, n, k, batch int) {
	a, b, y := vals[T](at), vals[T](bt), vals[T](yt)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	shared := bt.Rank() == 2
	if shared && !transA {
		// One product: the batch of a is just more rows.
		gemm(false, transB, batch*m, n, k, 1, a, lda, b, ldb, 0, y, n)
		return
	}
	for i := 0; i < batch; i++ {
		bi := b
		if !shared {
			bi = b[i*k*n : (i+1)*k*n]
		}
		gemm(transA, transB, m, n, k, 1, a[i*m*k:(i+1)*m*k], lda, bi, ldb, 0, y[i*m*n:(i+1)*m*n], n)
	}
}

// MatMulBackward adds the gradients of y = MatMul(a, b, transA, transB) with respect to a and
// b into da and db (either may be nil).
func MatMulBackward(a, b, dy *tensor.Tensor, transA, transB bool, da, db *tensor.Tensor) {
	checkFloat("MatMulBackward", a, b, dy, da, db)
	m, k := matDims(a, transA)
	_, n := matDims(b, transB)
	batch := a.Len() / max(1, m*k)
	checkShape("MatMulBackward", "da", da, a.Shape()...)
	checkShape("MatMulBackward", "db", db, b.Shape()...)
	ys := a.Shape()
	ys[len(ys)-2], ys[len(ys)-1] = m, n
	checkShape("MatMulBackward", "dy", dy, ys...)
	if a.DType() == tensor.F32 {
		matmulBackward[float32](contig(a), contig(b), contig(dy), transA, transB, da, db, m, n, k, batch)
	} else {
		matmulBackward[float64](contig(a), contig(b), contig(dy), transA, transB, da, db, m, n, k, batch)
	}
}

func matmulBackward[T Float](at, bt, dyt *tensor.Tensor, transA, transB bool, dat, dbt *tensor.Tensor, m, n, k, batch int) {
	a, b, dy := vals[T](at), vals[T](bt), vals[T](dyt)
	shared := bt.Rank() == 2
	var da, db []T
	if dat != nil {
		da = vals[T](dat)
	}
	if dbt != nil {
		db = vals[T](dbt)
	}
	if shared && !transA {
		// a is (batch·m)×k as one matrix.
		matGrads(a, b, dy, da, db, transA, transB, batch*m, n, k)
		return
	}
	for i := 0; i < batch; i++ {
		ai, dyi := a[i*m*k:(i+1)*m*k], dy[i*m*n:(i+1)*m*n]
		bi := b
		var dai, dbi []T
		if da != nil {
			dai = da[i*m*k : (i+1)*m*k]
		}
		if !shared {
			bi = b[i*k*n : (i+1)*k*n]
			if db != nil {
				dbi = db[i*k*n : (i+1)*k*n]
			}
		} else {
			dbi = db // the shared b collects every matrix's gradient
		}
		matGrads(ai, bi, dyi, dai, dbi, transA, transB, m, n, k)
	}
}

// matGrads adds the gradients of C = op(A)·op(B) (A, B, C compact) into dA and dB.
//
//	d op(A) = dC·op(B)ᵀ and d op(B) = op(A)ᵀ·dC, transposed back when A or B is stored
//	transposed.
func matGrads[T Float](a, b, dc, da, db []T, transA, transB bool, m, n, k int) {
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	if da != nil {
		if !transA { // dA (m×k) = dC (m×n) · op(B)ᵀ
			gemm(false, !transB, m, k, n, 1, dc, n, b, ldb, 1, da, k)
		} else { // dA (k×m) = op(B) (k×n) · dCᵀ
			gemm(transB, true, k, m, n, 1, b, ldb, dc, n, 1, da, m)
		}
	}
	if db != nil {
		if !transB { // dB (k×n) = op(A)ᵀ (k×m) · dC
			gemm(!transA, false, k, n, m, 1, a, lda, dc, n, 1, db, n)
		} else { // dB (n×k) = dCᵀ (n×m) · op(A)
			gemm(true, transA, n, k, m, 1, dc, n, a, lda, 1, db, k)
		}
	}
}

// Linear returns y = x·wᵀ + bias (torch.nn.functional.linear): x is (…, In), w is (Out, In)
// in the PyTorch layout, bias is (Out) or nil, y is (…, Out). packed, when not nil, must be
// kernels.PackB(true, In, Out, w, In) of the same w (F32 only): the product then skips packing.
func Linear(x, w, bias *tensor.Tensor, packed *kernels.PackedB) *tensor.Tensor {
	checkFloat("Linear", x, w, bias)
	if w.Rank() != 2 {
		panic(fmt.Sprintf("ops: Linear: weight has shape %v, want (Out, In)", w.Shape()))
	}
	out, in := w.Dim(0), w.Dim(1)
	nx, _ := rows("Linear", x)
	if x.Dim(-1) != in {
		panic(fmt.Sprintf("ops: Linear: x has shape %v, weight %v", x.Shape(), w.Shape()))
	}
	checkShape("Linear", "bias", bias, out)
	if packed != nil && (packed.K() != in || packed.N() != out || x.DType() != tensor.F32) {
		panic(fmt.Sprintf("ops: Linear: packed weight is %d×%d (dtype %v), want %d×%d float32", packed.K(), packed.N(), x.DType(), in, out))
	}
	shape := x.Shape()
	shape[len(shape)-1] = out
	y := tensor.Empty(x.DType(), shape...)
	x = contig(x)
	if x.DType() == tensor.F32 {
		linear[float32](x, contig(w), contig(bias), packed, y, nx, in, out)
	} else {
		linear[float64](x, contig(w), contig(bias), nil, y, nx, in, out)
	}
	return y
}

func linear[T Float](xt, wt, bt *tensor.Tensor, packed *kernels.PackedB, yt *tensor.Tensor, n, in, out int) {
	x, y := vals[T](xt), vals[T](yt)
	var beta T
	if bt != nil {
		b := vals[T](bt)
		kernels.ParallelFor(n, max(1, elementwiseGrain/max(1, out)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				copy(y[i*out:(i+1)*out], b)
			}
		})
		beta = 1
	}
	if packed != nil {
		kernels.GemmPacked(false, n, 1, any(x).([]float32), in, packed, float32(beta), any(y).([]float32), out)
		return
	}
	gemm(false, true, n, out, in, 1, x, in, vals[T](wt), in, beta, y, out)
}

// LinearBackward adds the gradients of y = Linear(x, w, bias) into dx, dw and dbias (each
// may be nil): dx = dy·w, dw = dyᵀ·x, dbias = Σ over rows of dy.
func LinearBackward(x, w, dy, dx, dw, dbias *tensor.Tensor) {
	LinearBackwardSet(x, w, dy, dx, dw, dbias, false, false)
}

// LinearBackwardSet is LinearBackward with dx (when setX) and dw (when setW) overwritten
// instead of added to: they may hold anything (storage from tensor.Empty), which saves
// zeroing them first and reading them back in the products. dbias is added to.
func LinearBackwardSet(x, w, dy, dx, dw, dbias *tensor.Tensor, setX, setW bool) {
	betaX, betaW := 1.0, 1.0
	if setX {
		betaX = 0
	}
	if setW {
		betaW = 0
	}
	checkFloat("LinearBackward", x, w, dy, dx, dw, dbias)
	out, in := w.Dim(0), w.Dim(1)
	n := x.Len() / max(1, in)
	checkShape("LinearBackward", "dx", dx, x.Shape()...)
	checkShape("LinearBackward", "dw", dw, out, in)
	checkShape("LinearBackward", "dbias", dbias, out)
	if dy.Len() != n*out || dy.Dim(-1) != out {
		panic(fmt.Sprintf("ops: LinearBackward: dy has shape %v for x %v and weight %v", dy.Shape(), x.Shape(), w.Shape()))
	}
	if x.DType() == tensor.F32 {
		linearBackward[float32](contig(x), contig(w), contig(dy), dx, dw, dbias, n, in, out, float32(betaX), float32(betaW))
	} else {
		linearBackward[float64](contig(x), contig(w), contig(dy), dx, dw, dbias, n, in, out, betaX, betaW)
	}
}

func linearBackward[T Float](xt, wt, dyt, dxt, dwt, dbt *tensor.Tensor, n, in, out int, betaX, betaW T) {
	x, w, dy := vals[T](xt), vals[T](wt), vals[T](dyt)
	if dxt != nil {
		gemm(false, false, n, in, out, 1, dy, out, w, in, betaX, vals[T](dxt), in)
	}
	if dwt != nil {
		gemm(true, false, out, in, n, 1, dy, out, x, in, betaW, vals[T](dwt), in)
	}
	if dbt != nil {
		sumRows(dy, vals[T](dbt), n, out)
	}
}

// sumRows adds the column sums of the n×c matrix x into dst (c). Threads take column ranges,
// each summing its columns over every row in order, so the result does not depend on them.
func sumRows[T Float](x, dst []T, n, c int) {
	grain := max(16, elementwiseGrain/max(1, n))
	kernels.ParallelFor(c, grain, func(lo, hi int) {
		for i := 0; i < n; i++ {
			axpy(1, x[i*c+lo:i*c+hi], dst[lo:hi])
		}
	})
}

// axpy is y += alpha·x (kernels.Axpy for float32).
func axpy[T Float](alpha T, x, y []T) {
	if x32, ok := any(x).([]float32); ok {
		kernels.Axpy(float32(alpha), x32, any(y).([]float32))
		return
	}
	kernels.AxpyRef(alpha, x, y)
}
