package ops

import (
	"fmt"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// LinearCat applies several Linear layers to the same input and puts their outputs side by
// side: y = [x·W₀ᵀ + b₀, x·W₁ᵀ + b₁, …], x (…, In), each Wᵢ (Outᵢ, In), y (…, ΣOutᵢ) — the
// query, key and value projections of self-attention as one product. biases may be nil or
// hold nil entries. packed, when not nil (float32 only), is the stacked weights packed:
// kernels.PackB(true, In, ΣOutᵢ, [W₀; W₁; …], In); the product then reads x once.
func LinearCat(x *tensor.Tensor, ws, biases []*tensor.Tensor, packed *kernels.PackedB) *tensor.Tensor {
	in, outs, total := catDims("LinearCat", x, ws, biases)
	if packed != nil && (packed.K() != in || packed.N() != total || x.DType() != tensor.F32) {
		panic(fmt.Sprintf("ops: LinearCat: packed weight is %d×%d, want %d×%d float32", packed.K(), packed.N(), in, total))
	}
	n := x.Len() / max(1, in)
	shape := x.Shape()
	shape[len(shape)-1] = total
	y := tensor.Empty(x.DType(), shape...)
	x = contig(x)
	if x.DType() == tensor.F32 {
		linearCat[float32](x, ws, biases, packed, y, n, in, outs, total)
	} else {
		linearCat[float64](x, ws, biases, nil, y, n, in, outs, total)
	}
	return y
}

func catDims(op string, x *tensor.Tensor, ws, biases []*tensor.Tensor) (in int, outs []int, total int) {
	checkFloat(op, append(append([]*tensor.Tensor{x}, ws...), biases...)...)
	if len(ws) == 0 || (biases != nil && len(biases) != len(ws)) {
		panic(fmt.Sprintf("ops: %s: %d weights and %d biases", op, len(ws), len(biases)))
	}
	in = x.Dim(-1)
	for i, w := range ws {
		if w.Rank() != 2 || w.Dim(1) != in {
			panic(fmt.Sprintf("ops: %s: weight %d has shape %v for inputs of width %d", op, i, w.Shape(), in))
		}
		if biases != nil {
			checkShape(op, "bias", biases[i], w.Dim(0))
		}
		outs = append(outs, w.Dim(0))
		total += w.Dim(0)
	}
	return in, outs, total
}

func linearCat[T Float](xt *tensor.Tensor, ws, biases []*tensor.Tensor, packed *kernels.PackedB, yt *tensor.Tensor, n, in int, outs []int, total int) {
	x, y := vals[T](xt), vals[T](yt)
	var beta T
	if biases != nil {
		// Rows start as the stacked biases; the product adds onto them.
		row := make([]T, total)
		off := 0
		for i, b := range biases {
			if b != nil {
				copy(row[off:], vals[T](contig(b)))
				beta = 1
			}
			off += outs[i]
		}
		if beta == 1 {
			for r := 0; r < n; r++ {
				copy(y[r*total:(r+1)*total], row)
			}
		}
	}
	if packed != nil {
		kernels.GemmPacked(false, n, 1, any(x).([]float32), in, packed, float32(beta), any(y).([]float32), total)
		return
	}
	off := 0
	for i, w := range ws {
		gemm(false, true, n, outs[i], in, 1, x, in, vals[T](contig(w)), in, beta, y[off:], total)
		off += outs[i]
	}
}

// LinearCatBackward adds the gradients of y = LinearCat(x, ws, biases) into dx and the
// entries of dws and dbiases (any may be nil): each block of dy is a Linear's gradient.
func LinearCatBackward(x *tensor.Tensor, ws []*tensor.Tensor, dy, dx *tensor.Tensor, dws, dbiases []*tensor.Tensor) {
	in, outs, total := catDims("LinearCatBackward", x, ws, nil)
	checkShape("LinearCatBackward", "dx", dx, x.Shape()...)
	n := x.Len() / max(1, in)
	if dy.Len() != n*total || dy.Dim(-1) != total {
		panic(fmt.Sprintf("ops: LinearCatBackward: dy has shape %v, want (…, %d)", dy.Shape(), total))
	}
	if x.DType() == tensor.F32 {
		linearCatBackward[float32](contig(x), ws, contig(dy), dx, dws, dbiases, n, in, outs, total)
	} else {
		linearCatBackward[float64](contig(x), ws, contig(dy), dx, dws, dbiases, n, in, outs, total)
	}
}

func linearCatBackward[T Float](xt *tensor.Tensor, ws []*tensor.Tensor, dyt, dxt *tensor.Tensor, dws, dbs []*tensor.Tensor, n, in int, outs []int, total int) {
	x, dy := vals[T](xt), vals[T](dyt)
	off := 0
	for i, w := range ws {
		o := outs[i]
		if dxt != nil { // dx += dyᵢ·Wᵢ
			gemm(false, false, n, in, o, 1, dy[off:], total, vals[T](contig(w)), in, 1, vals[T](dxt), in)
		}
		if dws != nil && dws[i] != nil { // dWᵢ += dyᵢᵀ·x
			checkShape("LinearCatBackward", "dw", dws[i], o, in)
			gemm(true, false, o, in, n, 1, dy[off:], total, x, in, 1, vals[T](dws[i]), in)
		}
		if dbs != nil && dbs[i] != nil {
			checkShape("LinearCatBackward", "dbias", dbs[i], o)
			db := vals[T](dbs[i])
			for r := 0; r < n; r++ {
				axpy(1, dy[r*total+off:r*total+off+o], db)
			}
		}
		off += o
	}
}
