package q8

import (
	"fmt"
	"unsafe"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/kernels"
)

// MatMulQ4_0 computes y = x·Wᵀ for m rows of x (m, in) and a weight W (out, in) held as Q4_0
// blocks, row after row (out·in/32 blocks): weight-only int4, dequantized in registers, for
// decoding where the weights' bytes are the cost. d holds the blocks' scales as float32
// (ScalesQ4_0), which the product reads in place of the blocks' float16 d: converted once,
// not at every block of every product. in must be a multiple of 32. The sums run in float32
// in a different order from the float path, so results agree with the dequantized float
// product to rounding, not bit for bit.
func MatMulQ4_0(y, x []float32, m int, w []BlockQ4_0, d []float32, out, in int) {
	checkMatMul("MatMulQ4_0", len(y), len(x), m, len(w), len(d), out, in)
	if m == 0 || out == 0 {
		return
	}
	if in == 0 {
		clear(y)
		return
	}
	q4Impl.Get()(y, x, m, w, d, out, in)
}

// MatMulQ8_0 is MatMulQ4_0 for Q8_0 weights (weight-only int8 in groups of 32), d their
// scales as float32 (ScalesQ8_0).
func MatMulQ8_0(y, x []float32, m int, w []BlockQ8_0, d []float32, out, in int) {
	checkMatMul("MatMulQ8_0", len(y), len(x), m, len(w), len(d), out, in)
	if m == 0 || out == 0 {
		return
	}
	if in == 0 {
		clear(y)
		return
	}
	q8Impl.Get()(y, x, m, w, d, out, in)
}

// ScalesQ4_0 returns the scales of the blocks as float32, in their order: the d that
// MatMulQ4_0 takes.
func ScalesQ4_0(w []BlockQ4_0) []float32 {
	d := make([]float32, len(w))
	for i := range w {
		d[i] = F16ToF32(w[i].D)
	}
	return d
}

// ScalesQ8_0 is ScalesQ4_0 for Q8_0 blocks.
func ScalesQ8_0(w []BlockQ8_0) []float32 {
	d := make([]float32, len(w))
	for i := range w {
		d[i] = F16ToF32(w[i].D)
	}
	return d
}

func checkMatMul(what string, ly, lx, m, lw, ld, out, in int) {
	if m < 0 || out < 0 || in < 0 || in%BlockSize != 0 || lx != m*in || ly != m*out || lw != out*in/BlockSize || ld != lw {
		panic(fmt.Sprintf("q8: %s: y %d, x %d, %d blocks and %d scales for %d rows of %d→%d (in a multiple of %d)", what, ly, lx, lw, ld, m, in, out, BlockSize))
	}
}

var (
	q4Impl = cpu.NewFamily("q4_0matmul", matMulQ4_0Ref)
	q8Impl = cpu.NewFamily("q8_0matmul", matMulQ8_0Ref)
)

// matMulQ4_0Ref is the reference: per block, Σ (q−8)·x in float32, scaled by d.
func matMulQ4_0Ref(y, x []float32, m int, w []BlockQ4_0, d []float32, out, in int) {
	nb := in / BlockSize
	for i := 0; i < m; i++ {
		xr := x[i*in : (i+1)*in]
		for j := 0; j < out; j++ {
			var s float32
			for b, blk := range w[j*nb : (j+1)*nb] {
				xb := xr[b*BlockSize:]
				var dot float32
				for t, q := range blk.Qs {
					dot += float32(int(q&15)-8)*xb[t] + float32(int(q>>4)-8)*xb[t+16]
				}
				s += d[j*nb+b] * dot
			}
			y[i*out+j] = s
		}
	}
}

// matMulQ8_0Ref is the reference: per block, Σ q·x in float32, scaled by d.
func matMulQ8_0Ref(y, x []float32, m int, w []BlockQ8_0, d []float32, out, in int) {
	nb := in / BlockSize
	for i := 0; i < m; i++ {
		xr := x[i*in : (i+1)*in]
		for j := 0; j < out; j++ {
			var s float32
			for b, blk := range w[j*nb : (j+1)*nb] {
				xb := xr[b*BlockSize:]
				var dot float32
				for t, q := range blk.Qs {
					dot += float32(q) * xb[t]
				}
				s += d[j*nb+b] * dot
			}
			y[i*out+j] = s
		}
	}
}

// dotFn is a block-dot kernel: see internal/asmgen/q8.go.
type dotFn func(x *float32, w *uint8, stride int, d *float32, nb int, out *float32)

// blockMatMul drives the block-dot kernels: output columns in groups of four (one for the
// rest), shared among the threads, each against every row of x. The kernels write their sums
// straight into y.
func blockMatMul(dot1, dot4 dotFn, y, x []float32, m int, w unsafe.Pointer, bsize int, d []float32, out, in int) {
	nb := in / BlockSize
	stride := nb * bsize
	groups := (out + 3) / 4
	kernels.ParallelFor(groups, max(1, 64/max(m, 1)), func(lo, hi int) {
		for g := lo; g < hi; g++ {
			j := 4 * g
			rows := min(4, out-j)
			wp := (*uint8)(unsafe.Add(w, j*stride))
			for i := 0; i < m; i++ {
				xp, yr := &x[i*in], y[i*out+j:i*out+j+rows]
				if rows == 4 {
					dot4(xp, wp, stride, &d[j*nb], nb, &yr[0])
					continue
				}
				for r := range yr {
					dot1(xp, (*uint8)(unsafe.Add(unsafe.Pointer(wp), r*stride)), stride, &d[(j+r)*nb], nb, &yr[r])
				}
			}
		}
	})
}
