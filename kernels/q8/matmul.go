package q8

import (
	"fmt"
	"unsafe"

	"github.com/optiformer/optiformer/internal/cpu"
	"github.com/optiformer/optiformer/kernels"
)

// MatMulQ4_0 computes y = x·Wᵀ for m rows of x (m, in) and a weight W (out, in) held as Q4_0
// blocks, row after row (out·in/32 blocks): weight-only int4, dequantized in registers, for
// decoding where the weights' bytes are the cost. in must be a multiple of 32. The sums run
// in float32 in a different order from the float path, so results agree with the
// dequantized float product to rounding, not bit for bit.
func MatMulQ4_0(y, x []float32, m int, w []BlockQ4_0, out, in int) {
	checkMatMul("MatMulQ4_0", len(y), len(x), m, len(w), out, in)
	if m == 0 || out == 0 {
		return
	}
	if in == 0 {
		clear(y)
		return
	}
	q4Impl.Get()(y, x, m, w, out, in)
}

// MatMulQ8_0 is MatMulQ4_0 for Q8_0 weights (weight-only int8 in groups of 32).
func MatMulQ8_0(y, x []float32, m int, w []BlockQ8_0, out, in int) {
	checkMatMul("MatMulQ8_0", len(y), len(x), m, len(w), out, in)
	if m == 0 || out == 0 {
		return
	}
	if in == 0 {
		clear(y)
		return
	}
	q8Impl.Get()(y, x, m, w, out, in)
}

func checkMatMul(what string, ly, lx, m, lw, out, in int) {
	if m < 0 || out < 0 || in < 0 || in%BlockSize != 0 || lx != m*in || ly != m*out || lw != out*in/BlockSize {
		panic(fmt.Sprintf("q8: %s: y %d, x %d, %d blocks for %d rows of %d→%d (in a multiple of %d)", what, ly, lx, lw, m, in, out, BlockSize))
	}
}

var (
	q4Impl = cpu.NewFamily("q4_0matmul", matMulQ4_0Ref)
	q8Impl = cpu.NewFamily("q8_0matmul", matMulQ8_0Ref)
)

// matMulQ4_0Ref is the reference: per block, Σ (q−8)·x in float32, scaled by d.
func matMulQ4_0Ref(y, x []float32, m int, w []BlockQ4_0, out, in int) {
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
				s += F16ToF32(blk.D) * dot
			}
			y[i*out+j] = s
		}
	}
}

// matMulQ8_0Ref is the reference: per block, Σ q·x in float32, scaled by d.
func matMulQ8_0Ref(y, x []float32, m int, w []BlockQ8_0, out, in int) {
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
				s += F16ToF32(blk.D) * dot
			}
			y[i*out+j] = s
		}
	}
}

// dotFn is a block-dot kernel: see internal/asmgen/q8.go.
type dotFn func(x *float32, w *uint8, stride int, nb int, out *float32)

// blockMatMul drives the block-dot kernels: output columns in groups of four (one for the
// rest), shared among the threads, each against every row of x.
func blockMatMul(dot1, dot4 dotFn, y, x []float32, m int, w unsafe.Pointer, bsize, out, in int) {
	nb := in / BlockSize
	stride := nb * bsize
	groups := (out + 3) / 4
	kernels.ParallelFor(groups, max(1, 64/max(m, 1)), func(lo, hi int) {
		var res [4]float32
		for g := lo; g < hi; g++ {
			j := 4 * g
			rows := min(4, out-j)
			wp := (*uint8)(unsafe.Add(w, j*stride))
			for i := 0; i < m; i++ {
				xp := &x[i*in]
				if nb == 0 {
					xp = nil
				}
				if rows == 4 {
					dot4(xp, wp, stride, nb, &res[0])
				} else {
					for r := 0; r < rows; r++ {
						dot1(xp, (*uint8)(unsafe.Add(unsafe.Pointer(wp), r*stride)), stride, nb, &res[r])
					}
				}
				copy(y[i*out+j:i*out+j+rows], res[:rows])
			}
		}
	})
}
