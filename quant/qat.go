package quant

import (
	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels/q8"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/safetensors"
)

// SetQAT prepares quantization-aware training: every weight o selects gets the fake
// quantization of o.Scheme (ag.FakeQuant), so that training sees the rounding the quantized
// model will have and learns around it, gradients passing straight through:
//   - int8-dynamic, int8-static: weights rounded per output channel to int8, and each input
//     row (token) to int8 with its own scale (int8-static's fixed scales are calibrated
//     after training, so the per-token rounding stands in for them);
//   - w8, w4: weights rounded to their Q8_0 / Q4_0 blocks;
//   - f16, bf16: weights rounded to 16 bits.
//
// It returns the names of the weights; ClearQAT undoes it.
func SetQAT(model any, tiedHead bool, o Options) ([]string, error) {
	sel, _, err := selectWeights(model, tiedHead, &o)
	if err != nil {
		return nil, err
	}
	fq := fakeQuantOf(o.Scheme, o.Group)
	var names []string
	for _, p := range sel {
		p.Param.SetFakeQuant(fq)
		names = append(names, p.Name)
	}
	return names, nil
}

// ClearQAT removes every weight's fake quantization.
func ClearQAT(model any) {
	for _, p := range nn.Params(model) {
		p.Param.SetFakeQuant(nil)
	}
}

func fakeQuantOf(s Scheme, group int) *ag.FakeQuant {
	fq := &ag.FakeQuant{}
	switch s {
	case Int8Dynamic, Int8Static:
		fq.Weight = func(w []float32, out, in int) []float32 {
			d := make([]float32, len(w))
			q := make([]int8, in)
			for j := 0; j < out; j++ {
				row := w[j*in : (j+1)*in]
				sc, err := q8.QuantizeRowSym(q, row)
				if err != nil { // NaN or ±Inf: keep the row, the loss reports it
					copy(d[j*in:(j+1)*in], row)
					continue
				}
				q8.DequantizeRowSym(d[j*in:(j+1)*in], q, sc)
			}
			return d
		}
		fq.Rows = func(row []float32) {
			q := make([]int8, len(row))
			if sc, err := q8.QuantizeRowSym(q, row); err == nil {
				q8.DequantizeRowSym(row, q, sc)
			}
		}
	case W8, W4:
		fq.Weight = func(w []float32, out, in int) []float32 {
			d := make([]float32, len(w))
			nb := in / q8.BlockSize
			b8 := make([]q8.BlockQ8_0, nb)
			b4 := make([]q8.BlockQ4_0, nb)
			for j := 0; j < out; j++ {
				row, dst := w[j*in:(j+1)*in], d[j*in:(j+1)*in]
				if finite(row) != nil {
					copy(dst, row)
					continue
				}
				if s == W8 {
					q8.QuantizeRowQ8_0Group(b8, row, group)
					q8.DequantizeRowQ8_0(dst, b8)
				} else {
					q8.QuantizeRowQ4_0Group(b4, row, group)
					q8.DequantizeRowQ4_0(dst, b4)
				}
			}
			return d
		}
	case F16, BF16:
		fq.Weight = func(w []float32, out, in int) []float32 {
			d := make([]float32, len(w))
			for i, x := range w {
				if s == F16 {
					d[i] = safetensors.F16ToFloat32(safetensors.Float32ToF16(x))
				} else {
					d[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(x))
				}
			}
			return d
		}
	}
	return fq
}
