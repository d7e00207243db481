package quant

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/kernels/q8"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/safetensors"
	"github.com/optiformer/optiformer/tensor"
)

// formats maps a stored format to the names of its tensors (suffixes of the weight's name;
// "" is the weight's own name).
var formats = map[string][]string{
	"int8":        {".qweight", ".qscale"},
	"int8-tensor": {".qweight", ".qscale"},
	"int8-static": {".qweight", ".qscale", ".act_scale"},
	"q8_0":        {".q8_0"},
	"q4_0":        {".q4_0"},
	"f16":         {""},
	"bf16":        {""},
}

func init() {
	for _, g := range []int{64, 128} {
		formats[fmt.Sprintf("q8_0g%d", g)] = []string{".qs", ".qd"}
		formats[fmt.Sprintf("q4_0g%d", g)] = []string{".qs", ".qd"}
	}
}

// LoadWeights loads dir/model.safetensors into model (see nn.Load). A float file loads as
// with ckpt.LoadWeights; a quantized one (saved from a quantized model by ckpt.SaveModel or
// SaveModelFiles) gets its quantized weights dequantized into the parameters and their
// kernels restored from the stored form, exactly as Quantize left them. It returns the
// quantized weights (none for a float file). Malformed quantized tensors are errors.
func LoadWeights(dir string, model any, o nn.LoadOptions) ([]Entry, error) {
	path := filepath.Join(dir, ckpt.WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, ok := f.Metadata()[ckpt.QuantizationKey]
	if !ok {
		return nil, ckpt.LoadWeights(dir, model, o)
	}
	var fm map[string]string
	if err := json.Unmarshal([]byte(raw), &fm); err != nil {
		return nil, fmt.Errorf("quant: %s: metadata %s: %v", path, ckpt.QuantizationKey, err)
	}
	w, err := ckpt.OpenWeights(path)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	src := &source{f: f, w: w, formats: fm, kernels: map[string]kernel{}, entries: map[string]Entry{}}
	hidden := map[string]bool{}
	for name, format := range fm {
		parts, ok := formats[format]
		if !ok {
			return nil, fmt.Errorf("quant: %s: %s has format %q, which this version does not know", path, name, format)
		}
		for _, p := range parts {
			if _, ok := f.Info(name + p); !ok {
				return nil, fmt.Errorf("quant: %s: %s (%s) lacks its tensor %s", path, name, format, name+p)
			}
			if p != "" {
				hidden[name+p] = true
			}
		}
	}
	for _, n := range f.Names() {
		if !hidden[n] {
			src.names = append(src.names, n)
		}
	}
	for n := range fm {
		if _, ok := f.Info(n); !ok {
			src.names = append(src.names, n)
		}
	}
	if err := nn.Load(model, src, o); err != nil {
		return nil, fmt.Errorf("quant: %s: %w", path, err)
	}
	var out []Entry
	for _, p := range nn.Params(model) {
		k, ok := src.kernels[p.Name]
		if !ok {
			continue
		}
		if ik, ok := k.(*int8Kernel); ok {
			ik.deq = p.Param.Value.F32() // share the float value instead of a second copy
		}
		p.Param.SetKernel(k)
		out = append(out, src.entries[p.Name])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// source presents a quantized file to nn.Load: quantized weights under their own names,
// dequantized; everything else as stored.
type source struct {
	f       *safetensors.File
	w       *ckpt.Weights
	formats map[string]string
	names   []string
	kernels map[string]kernel
	entries map[string]Entry
}

func (s *source) Names() []string { return s.names }

func (s *source) Tensor(name string) (*tensor.Tensor, error) {
	format, ok := s.formats[name]
	if !ok {
		return s.w.Tensor(name)
	}
	k, deq, out, in, err := s.decode(name, format)
	if err != nil {
		return nil, fmt.Errorf("%s (%s): %w", name, format, err)
	}
	s.kernels[name] = k
	s.entries[name] = Entry{Name: name, Format: format, Out: out, In: in, Bytes: k.bytes()}
	return tensor.FromF32(deq, out, in), nil
}

func (s *source) info(name string, dt safetensors.DType, rank int) (safetensors.TensorInfo, error) {
	i, _ := s.f.Info(name)
	if i.DType != dt || len(i.Shape) != rank {
		return i, fmt.Errorf("%s is %v %v, want a rank-%d %v tensor", name, i.DType, i.Shape, rank, dt)
	}
	return i, nil
}

func (s *source) decode(name, format string) (k kernel, deq []float32, out, in int, err error) {
	switch format {
	case "int8", "int8-tensor", "int8-static":
		var sx float32
		if format == "int8-static" {
			if _, err := s.info(name+".act_scale", safetensors.F32, 1); err != nil {
				return nil, nil, 0, 0, err
			}
			v, err := s.f.Float32s(name + ".act_scale")
			if err != nil {
				return nil, nil, 0, 0, err
			}
			if len(v) != 1 || !(v[0] > 0 && v[0] < 3.4e38) {
				return nil, nil, 0, 0, fmt.Errorf("activation scale %v: want one positive finite value", v)
			}
			sx = v[0]
		}
		qi, err := s.info(name+".qweight", safetensors.I8, 2)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		si, err := s.info(name+".qscale", safetensors.F32, 1)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		out, in = qi.Shape[0], qi.Shape[1]
		if si.Shape[0] != out {
			return nil, nil, 0, 0, fmt.Errorf("%d scales for %d rows", si.Shape[0], out)
		}
		q, err := s.f.Int8s(name + ".qweight")
		if err != nil {
			return nil, nil, 0, 0, err
		}
		sc, err := s.f.Float32s(name + ".qscale")
		if err != nil {
			return nil, nil, 0, 0, err
		}
		for j, v := range sc {
			if !(v >= 0 && v < 3.4e38) {
				return nil, nil, 0, 0, fmt.Errorf("scale of row %d is %v", j, v)
			}
		}
		deq = make([]float32, out*in)
		for j := 0; j < out; j++ {
			q8.DequantizeRowSym(deq[j*in:(j+1)*in], q[j*in:(j+1)*in], sc[j])
		}
		qw := &q8.Weights{Scale: sc, Q: q, Packed: q8.Pack(q, out, in, in)}
		k := newInt8(qw, deq, out, in)
		k.sx, k.perTensor = sx, format == "int8-tensor"
		return k, deq, out, in, nil
	case "q8_0", "q4_0":
		bi, err := s.info(name+"."+format, safetensors.U8, 2)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		size := q8.BlockQ8_0Bytes
		if format == "q4_0" {
			size = q8.BlockQ4_0Bytes
		}
		out, per := bi.Shape[0], bi.Shape[1]
		if per%size != 0 {
			return nil, nil, 0, 0, fmt.Errorf("rows of %d bytes are not whole %d-byte blocks", per, size)
		}
		nb := per / size
		in = nb * q8.BlockSize
		b, err := s.f.Bytes(name + "." + format)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		deq = make([]float32, out*in)
		bk := &blockKernel{out: out, in: in, group: q8.BlockSize}
		if format == "q4_0" {
			if bk.q4, err = q8.ParseQ4_0(b); err != nil {
				return nil, nil, 0, 0, err
			}
			for j := 0; j < out; j++ {
				q8.DequantizeRowQ4_0(deq[j*in:(j+1)*in], bk.q4[j*nb:(j+1)*nb])
			}
		} else {
			if bk.q8, err = q8.ParseQ8_0(b); err != nil {
				return nil, nil, 0, 0, err
			}
			for j := 0; j < out; j++ {
				q8.DequantizeRowQ8_0(deq[j*in:(j+1)*in], bk.q8[j*nb:(j+1)*nb])
			}
		}
		if err := finite(deq); err != nil {
			return nil, nil, 0, 0, err
		}
		bk.prepare()
		return bk, deq, out, in, nil
	case "q8_0g64", "q8_0g128", "q4_0g64", "q4_0g128":
		return s.decodeGroups(name, format)
	case "f16", "bf16":
		dt := safetensors.F16
		if format == "bf16" {
			dt = safetensors.BF16
		}
		hi, err := s.info(name, dt, 2)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		out, in = hi.Shape[0], hi.Shape[1]
		if deq, err = s.f.Float32s(name); err != nil {
			return nil, nil, 0, 0, err
		}
		return newHalf(Scheme(format), deq, out, in), deq, out, in, nil
	}
	return nil, nil, 0, 0, fmt.Errorf("unknown format")
}

// decodeGroups rebuilds the blocks of a weight stored with larger groups: W.qs holds the
// quant bytes of every block, W.qd one float16 scale per group.
func (s *source) decodeGroups(name, format string) (k kernel, deq []float32, out, in int, err error) {
	q4 := strings.HasPrefix(format, "q4_0")
	var group int
	fmt.Sscanf(format[len("q4_0g"):], "%d", &group)
	qi, err := s.info(name+".qs", safetensors.U8, 2)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	di, err := s.info(name+".qd", safetensors.F16, 2)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	out, in = qi.Shape[0], qi.Shape[1]
	if q4 {
		in *= 2
	}
	if in%group != 0 || di.Shape[0] != out || di.Shape[1]*group != in {
		return nil, nil, 0, 0, fmt.Errorf("%v quants and %v scales do not make rows of groups of %d", qi.Shape, di.Shape, group)
	}
	qs, err := s.f.Bytes(name + ".qs")
	if err != nil {
		return nil, nil, 0, 0, err
	}
	d, err := s.f.Float32s(name + ".qd")
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if err := finite(d); err != nil {
		return nil, nil, 0, 0, fmt.Errorf("scales: %w", err)
	}
	nb, per := in/q8.BlockSize, group/q8.BlockSize
	bk := &blockKernel{out: out, in: in, group: group}
	deq = make([]float32, out*in)
	if q4 {
		bk.q4 = make([]q8.BlockQ4_0, out*nb)
		for i := range bk.q4 {
			bk.q4[i].D = safetensors.Float32ToF16(d[i/per])
			copy(bk.q4[i].Qs[:], qs[i*q8.BlockSize/2:])
		}
		for j := 0; j < out; j++ {
			q8.DequantizeRowQ4_0(deq[j*in:(j+1)*in], bk.q4[j*nb:(j+1)*nb])
		}
	} else {
		bk.q8 = make([]q8.BlockQ8_0, out*nb)
		for i := range bk.q8 {
			bk.q8[i].D = safetensors.Float32ToF16(d[i/per])
			for t := range bk.q8[i].Qs {
				bk.q8[i].Qs[t] = int8(qs[i*q8.BlockSize+t])
			}
		}
		for j := 0; j < out; j++ {
			q8.DequantizeRowQ8_0(deq[j*in:(j+1)*in], bk.q8[j*nb:(j+1)*nb])
		}
	}
	bk.prepare()
	return bk, deq, out, in, nil
}

// finite rejects NaN and ±Inf (a corrupt float16 scale, say).
func finite(v []float32) error {
	for i, x := range v {
		if x != x || x > 3.4e38 || x < -3.4e38 {
			return fmt.Errorf("value %d dequantizes to %v", i, x)
		}
	}
	return nil
}

// Describe summarises entries for people: how many weights per format and their size.
func Describe(entries []Entry) string {
	type agg struct{ n, bytes, floatBytes int }
	by := map[string]*agg{}
	for _, e := range entries {
		a := by[e.Format]
		if a == nil {
			a = &agg{}
			by[e.Format] = a
		}
		a.n++
		a.bytes += e.Bytes
		a.floatBytes += 4 * e.Out * e.In
	}
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		a := by[k]
		fmt.Fprintf(&b, "%d weights as %s: %d bytes (float32 %d, %.1f%%)", a.n, k, a.bytes, a.floatBytes, 100*float64(a.bytes)/float64(max(a.floatBytes, 1)))
	}
	return b.String()
}
