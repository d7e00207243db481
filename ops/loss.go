package ops

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tensor"
)

// CESaved is what CrossEntropyBackward needs: the log-sum-exp of each row and the number of
// targets that counted.
type CESaved struct {
	LSE   []float64
	Count int
}

// CrossEntropy returns the mean cross-entropy of logits (N, V) against targets (N, I32), with
// label smoothing eps and targets equal to ignoreIndex left out of the mean
// (torch.nn.functional.cross_entropy(logits, targets, ignore_index=…, label_smoothing=eps)):
//
//	loss_i = (1−eps)·(lse_i − logits[i, t_i]) + eps·(lse_i − mean_j logits[i, j])
//
// where lse_i = log Σ_j exp(logits[i, j]). With no target counted the loss is NaN, as in
// PyTorch. The sums are in float64.
func CrossEntropy(logits, targets *tensor.Tensor, eps float64, ignoreIndex int) (loss float64, saved *CESaved) {
	checkFloat("CrossEntropy", logits)
	n, v := ceDims("CrossEntropy", logits, targets)
	if eps < 0 || eps > 1 || math.IsNaN(eps) {
		panic(fmt.Sprintf("ops: CrossEntropy: label smoothing %v, want 0 ≤ eps ≤ 1", eps))
	}
	tg := contig(targets).I32()
	for _, t := range tg {
		if int(t) != ignoreIndex && (t < 0 || int(t) >= v) {
			panic(fmt.Sprintf("ops: CrossEntropy: target %d outside [0, %d)", t, v))
		}
	}
	saved = &CESaved{LSE: make([]float64, n)}
	logits = contig(logits)
	var sum float64
	if logits.DType() == tensor.F32 {
		sum = crossEntropy(vals[float32](logits), tg, saved, n, v, eps, ignoreIndex)
	} else {
		sum = crossEntropy(vals[float64](logits), tg, saved, n, v, eps, ignoreIndex)
	}
	return sum / float64(saved.Count), saved
}

func ceDims(op string, logits, targets *tensor.Tensor) (n, v int) {
	if logits.Rank() != 2 {
		panic(fmt.Sprintf("ops: %s: logits have shape %v, want (N, V)", op, logits.Shape()))
	}
	n, v = logits.Dim(0), logits.Dim(1)
	if targets.DType() != tensor.I32 || targets.Len() != n {
		panic(fmt.Sprintf("ops: %s: targets are %v %v, want %d int32", op, targets.DType(), targets.Shape(), n))
	}
	return n, v
}

func crossEntropy[T Float](x []T, tg []int32, saved *CESaved, n, v int, eps float64, ignore int) float64 {
	// Rows in parallel; each writes its own loss term and the terms are summed in order.
	terms := make([]float64, n)
	kernels.ParallelFor(n, max(1, rowGrain/max(v, 1)), func(lo, hi int) {
		var tmp []float32
		for i := lo; i < hi; i++ {
			row := x[i*v : (i+1)*v]
			lse, mean := lseMean(row, &tmp)
			saved.LSE[i] = lse
			if int(tg[i]) == ignore {
				continue
			}
			terms[i] = (1-eps)*(lse-float64(row[tg[i]])) + eps*(lse-mean)
		}
	})
	var sum float64
	for i, t := range terms {
		if int(tg[i]) != ignore {
			sum += t
			saved.Count++
		}
	}
	return sum
}

// lseMean returns log Σ exp(row) and the mean of row. The float32 path runs on the vector
// kernels (the rows are as wide as the vocabulary, and there is one per target token).
func lseMean[T Float](row []T, tmp *[]float32) (lse, mean float64) {
	if r32, ok := any(row).([]float32); ok {
		return lseMean32(r32, tmp)
	}
	m := math.Inf(-1)
	var s float64
	for _, x := range row {
		m = math.Max(m, float64(x))
		s += float64(x)
	}
	mean = s / float64(len(row))
	if math.IsInf(m, 0) || math.IsNaN(m) {
		return m, mean
	}
	var e float64
	for _, x := range row {
		e += math.Exp(float64(x) - m)
	}
	return m + math.Log(e), mean
}

// lseMean32 is lseMean for float32 rows through the vector kernels; tmp holds ones (for the
// sum by Dot).
func lseMean32(row []float32, tmp *[]float32) (lse, mean float64) {
	n := len(row)
	if cap(*tmp) < n {
		*tmp = make([]float32, n)
		for i := range *tmp {
			(*tmp)[i] = 1
		}
	}
	sum := kernels.Dot(row, (*tmp)[:n])
	mean = float64(sum) / float64(n)
	if sum != sum { // a NaN somewhere
		return math.NaN(), mean
	}
	return float64(kernels.LogSumExp(row)), mean
}

// CrossEntropyBackward adds dloss times the gradient of CrossEntropy into dlogits:
//
//	dlogits[i, j] = dloss·(softmax_ij − (1−eps)·[j = t_i] − eps/V) / count
//
// for counted rows; ignored rows get nothing.
func CrossEntropyBackward(logits, targets *tensor.Tensor, eps float64, ignoreIndex int, saved *CESaved, dloss float64, dlogits *tensor.Tensor) {
	checkFloat("CrossEntropyBackward", logits, dlogits)
	n, v := ceDims("CrossEntropyBackward", logits, targets)
	checkShape("CrossEntropyBackward", "dlogits", dlogits, n, v)
	if saved.Count == 0 {
		return
	}
	tg := contig(targets).I32()
	g := dloss / float64(saved.Count)
	if logits.DType() == tensor.F32 {
		ceBackward(vals[float32](contig(logits)), vals[float32](dlogits), tg, saved.LSE, n, v, eps, ignoreIndex, g)
	} else {
		ceBackward(vals[float64](contig(logits)), vals[float64](dlogits), tg, saved.LSE, n, v, eps, ignoreIndex, g)
	}
}

func ceBackward[T Float](x, dx []T, tg []int32, lse []float64, n, v int, eps float64, ignore int, g float64) {
	kernels.ParallelFor(n, max(1, rowGrain/max(v, 1)), func(lo, hi int) {
		var p []float32 // scratch row for float32
		for i := lo; i < hi; i++ {
			if int(tg[i]) == ignore {
				continue
			}
			row, drow := x[i*v:(i+1)*v], dx[i*v:(i+1)*v]
			off := T(g * eps / float64(v))
			if d32, ok := any(drow).([]float32); ok {
				// softmax = exp(x − lse) through the vector kernel, into a scratch row.
				r32 := any(row).([]float32)
				if p == nil {
					p = make([]float32, v)
				}
				kernels.AddConst(p, r32, -float32(lse[i]))
				kernels.Exp(p, p)
				kernels.Axpy(float32(g), p, d32)
				kernels.AddConst(d32, d32, -float32(off))
			} else {
				for j, xv := range row {
					drow[j] += T(g*math.Exp(float64(xv)-lse[i])) - off
				}
			}
			drow[tg[i]] -= T(g * (1 - eps))
		}
	})
}

// KLDiv returns the distillation loss of Hinton et al. between student and teacher logits
// (N, V) at temperature temp:
//
//	T²·(1/N)·Σ_i Σ_j q_ij·(log q_ij − log p_ij),  q = softmax(teacher/T), p = softmax(student/T)
//
// (torch: F.kl_div(F.log_softmax(s/T, -1), F.softmax(t/T, -1), reduction="batchmean")·T²).
// It returns the loss and the student probabilities p for KLDivBackward.
func KLDiv(student, teacher *tensor.Tensor, temp float64) (loss float64, p *tensor.Tensor) {
	checkFloat("KLDiv", student, teacher)
	if student.Rank() != 2 {
		panic(fmt.Sprintf("ops: KLDiv: logits have shape %v, want (N, V)", student.Shape()))
	}
	checkShape("KLDiv", "teacher", teacher, student.Shape()...)
	if !(temp > 0) {
		panic(fmt.Sprintf("ops: KLDiv: temperature %v, want > 0", temp))
	}
	ls := LogSoftmax(Scale(student, 1/temp))
	lt := LogSoftmax(Scale(teacher, 1/temp))
	n := student.Dim(0)
	var sum float64
	if student.DType() == tensor.F32 {
		sum = klSum(vals[float32](ls), vals[float32](lt))
	} else {
		sum = klSum(vals[float64](ls), vals[float64](lt))
	}
	p = ls // becomes exp(log p) in place
	if p.DType() == tensor.F32 {
		kernels.Exp(vals[float32](p), vals[float32](p))
	} else {
		kernels.ExpRef(vals[float64](p), vals[float64](p))
	}
	return temp * temp * sum / float64(n), p
}

func klSum[T Float](ls, lt []T) float64 {
	var s float64
	for i, t := range lt {
		if math.IsInf(float64(t), -1) {
			continue // q = 0 contributes 0
		}
		s += math.Exp(float64(t)) * (float64(t) - float64(ls[i]))
	}
	return s
}

// KLDivBackward adds dloss times the gradient of KLDiv with respect to the student logits into
// dstudent: T·(p − q)/N. The teacher gets no gradient.
func KLDivBackward(p, teacher *tensor.Tensor, temp, dloss float64, dstudent *tensor.Tensor) {
	checkFloat("KLDivBackward", p, teacher, dstudent)
	checkShape("KLDivBackward", "dstudent", dstudent, p.Shape()...)
	q := Softmax(Scale(teacher, 1/temp), nil)
	n := p.Dim(0)
	g := dloss * temp / float64(n)
	if p.DType() == tensor.F32 {
		klBackward(vals[float32](p), vals[float32](q), vals[float32](dstudent), g)
	} else {
		klBackward(vals[float64](p), vals[float64](q), vals[float64](dstudent), g)
	}
}

func klBackward[T Float](p, q, d []T, g float64) {
	for i := range p {
		d[i] += T(g * (float64(p[i]) - float64(q[i])))
	}
}

// MSE returns mean((a − b)²) over all elements (torch.nn.functional.mse_loss).
func MSE(a, b *tensor.Tensor) float64 {
	checkFloat("MSE", a, b)
	checkShape("MSE", "b", b, a.Shape()...)
	if a.DType() == tensor.F32 {
		return mse(vals[float32](contig(a)), vals[float32](contig(b)))
	}
	return mse(vals[float64](contig(a)), vals[float64](contig(b)))
}

func mse[T Float](a, b []T) float64 {
	var s float64
	for i := range a {
		d := float64(a[i]) - float64(b[i])
		s += d * d
	}
	return s / float64(len(a))
}

// MSEBackward adds dloss times the gradients of MSE into da and db (either may be nil):
// ±2(a − b)/n.
func MSEBackward(a, b *tensor.Tensor, dloss float64, da, db *tensor.Tensor) {
	checkFloat("MSEBackward", a, b, da, db)
	checkShape("MSEBackward", "da", da, a.Shape()...)
	checkShape("MSEBackward", "db", db, a.Shape()...)
	if a.DType() == tensor.F32 {
		mseBackward(vals[float32](contig(a)), vals[float32](contig(b)), opt[float32](da), opt[float32](db), dloss)
	} else {
		mseBackward(vals[float64](contig(a)), vals[float64](contig(b)), opt[float64](da), opt[float64](db), dloss)
	}
}

func mseBackward[T Float](a, b, da, db []T, dloss float64) {
	g := 2 * dloss / float64(len(a))
	for i := range a {
		d := T(g * (float64(a[i]) - float64(b[i])))
		if da != nil {
			da[i] += d
		}
		if db != nil {
			db[i] -= d
		}
	}
}
