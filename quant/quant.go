// Package quant quantizes a model's weights for inference and saves and loads quantized
// model files.
//
// Schemes (Scheme):
//   - int8-dynamic: weights int8, symmetric per output channel; activations quantized per
//     token (row) at run time; the products run in int8 with int32 sums (kernels/q8.Gemm).
//   - int8-static: the same weights; activations quantized with one scale per layer input,
//     calibrated beforehand on sample data (Calibrate: min-max, percentile or entropy/KL).
//   - w8, w4: weight-only int8 / int4 in groups of 32, 64 or 128 values with a float16 scale
//     per group, in memory as ggml's Q8_0 / Q4_0 blocks of 32 (a larger group's blocks share
//     its scale); the products dequantize the blocks in registers and run in float32
//     (kernels/q8.MatMulQ8_0, MatMulQ4_0).
//   - f16, bf16: weights stored as float16 / bfloat16 and computed in float32.
//
// Quantizing replaces a weight's float value by its dequantized value (what the quantized
// form represents), so the float paths (training, the embedding lookup of a tied table) see
// the same weights the kernels use, and gives the weight an inference kernel
// (ag.WeightKernel) that the model's forward and decoding use. The float copy stays in memory:
// memory use does not shrink yet, the file does.
//
// A quantized model file is a safetensors file whose metadata key ckpt.QuantizationKey maps
// each quantized weight to its format; for a weight named W:
//   - "int8": W.qweight (I8, out×in) and W.qscale (F32, out): W ≈ qscale[j]·qweight[j][p];
//   - "int8-tensor": the same, the inputs quantized per tensor at run time;
//   - "int8-static": the same plus W.act_scale (F32, 1), the input's calibrated scale;
//   - "q8_0", "q4_0" (groups of 32): W.q8_0 / W.q4_0 (U8, out × in/32·34 or in/32·18): each
//     row's blocks in ggml's byte layout (float16 scale, then the quants);
//   - "q8_0g64", "q4_0g128", … (larger groups): W.qs (U8: the blocks' quant bytes, out ×
//     in or in/2) and W.qd (F16, out × in/group: one scale per group);
//   - "f16", "bf16": W itself in that dtype.
package quant

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/kernels/q8"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/safetensors"
	"github.com/optiformer/optiformer/tensor"
)

// Scheme names a quantization scheme.
type Scheme string

// The schemes.
const (
	Int8Dynamic Scheme = "int8-dynamic"
	Int8Static  Scheme = "int8-static"
	W8          Scheme = "w8"
	W4          Scheme = "w4"
	F16         Scheme = "f16"
	BF16        Scheme = "bf16"
)

// Schemes lists the schemes Quantize accepts.
var Schemes = []Scheme{Int8Dynamic, Int8Static, W8, W4, F16, BF16}

// ParseScheme checks a scheme name.
func ParseScheme(s string) (Scheme, error) {
	for _, k := range Schemes {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(Schemes))
	for i, k := range Schemes {
		names[i] = string(k)
	}
	return "", fmt.Errorf("quant: unknown scheme %q (want one of %s)", s, strings.Join(names, ", "))
}

// Layer classes, for Options.Layers.
const (
	Attention = "attention" // q, k, v and output projections of self- and cross-attention
	FFN       = "ffn"       // the feed-forward layers (fc1, fc2)
	Head      = "head"      // the output projection (lm_head, or the tied embedding table)
	All       = "all"       // all of the above
)

// Options control Quantize.
type Options struct {
	Scheme Scheme
	// Group is the group size of w8/w4: 32 (ggml's blocks; the default), 64 or 128.
	Group int
	// Layers are the classes quantized (nil: All).
	Layers []string
	// Skip lists weights (by name) left in float, e.g. the most sensitive ones.
	Skip []string
	// ActScales are the calibrated input scales of int8-static, by weight name (Calibrate).
	ActScales map[string]float32
	// PerTensor makes int8-dynamic quantize each product's whole input with one scale
	// instead of one per row (token).
	PerTensor bool
}

// Entry describes one quantized weight.
type Entry struct {
	Name     string
	Format   string // int8, q8_0, q4_0, f16, bf16
	Out, In  int
	Bytes    int     // stored size of the weight (scales included)
	MaxError float64 // largest |dequantized − original| over the weight
}

// Classify returns the layer class of a parameter by its name and role, "" for parameters
// no scheme quantizes (biases, norms, positions, untied input embeddings).
func Classify(name string, role ag.Role, tiedHead bool) string {
	switch {
	case role == ag.RoleWeight && (strings.Contains(name, "attn.") || strings.Contains(name, "attention.")):
		return Attention
	case role == ag.RoleWeight && (strings.Contains(name, ".fc1.") || strings.Contains(name, ".fc2.")):
		return FFN
	case role == ag.RoleWeight && strings.HasPrefix(name, "lm_head."):
		return Head
	case role == ag.RoleEmbedding && tiedHead && (name == "shared.weight" || strings.HasSuffix(name, "embed_tokens.weight")):
		return Head
	}
	return ""
}

// Quantize quantizes the selected weights of model (a pointer to a model struct whose
// parameters nn.Params lists) in place and returns what it did, sorted by name. tiedHead says
// that the token embedding table is also the output projection (it is quantized with the
// head then). Weights whose input size the group does not divide stay in float and are
// reported in skipped.
func Quantize(model any, tiedHead bool, o Options) (done []Entry, skipped []string, err error) {
	sel, skipped, err := selectWeights(model, tiedHead, &o)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range sel {
		v := p.Param.Value
		out, in := v.Dim(0), v.Dim(1)
		w := v.Contiguous().F32()
		var sx float32
		if o.Scheme == Int8Static {
			var ok bool
			if sx, ok = o.ActScales[p.Name]; !ok {
				return nil, nil, fmt.Errorf("quant: int8-static: no calibrated activation scale for %s (run Calibrate)", p.Name)
			}
		}
		k, deq, err := quantizeWeight(o.Scheme, w, out, in, sx, o.Group)
		if err != nil {
			return nil, nil, fmt.Errorf("quant: %s: %w", p.Name, err)
		}
		if ik, ok := k.(*int8Kernel); ok && o.Scheme == Int8Dynamic {
			ik.perTensor = o.PerTensor
		}
		e := Entry{Name: p.Name, Format: k.format(), Out: out, In: in, Bytes: k.bytes()}
		for i := range w {
			e.MaxError = max(e.MaxError, abs(float64(deq[i])-float64(w[i])))
		}
		p.Param.Value = tensor.FromF32(deq, out, in)
		p.Param.Changed()
		p.Param.SetKernel(k)
		done = append(done, e)
	}
	sort.Slice(done, func(i, j int) bool { return done[i].Name < done[j].Name })
	return done, skipped, nil
}

// selectWeights checks o (filling in defaults) and returns the float32 matrices it selects,
// and the selected ones the scheme cannot take.
func selectWeights(model any, tiedHead bool, o *Options) (sel []nn.NamedParam, skipped []string, err error) {
	if _, err := ParseScheme(string(o.Scheme)); err != nil {
		return nil, nil, err
	}
	if o.Group == 0 {
		o.Group = q8.BlockSize
	}
	if o.Group != 32 && o.Group != 64 && o.Group != 128 && (o.Scheme == W8 || o.Scheme == W4) {
		return nil, nil, fmt.Errorf("quant: group %d: want 32, 64 or 128", o.Group)
	}
	classes := map[string]bool{}
	if len(o.Layers) == 0 {
		o.Layers = []string{All}
	}
	for _, l := range o.Layers {
		switch l {
		case All:
			classes[Attention], classes[FFN], classes[Head] = true, true, true
		case Attention, FFN, Head:
			classes[l] = true
		default:
			return nil, nil, fmt.Errorf("quant: unknown layer class %q (want attention, ffn, head or all)", l)
		}
	}
	skip := map[string]bool{}
	for _, s := range o.Skip {
		skip[s] = true
	}
	for _, p := range nn.Params(model) {
		c := Classify(p.Name, p.Param.Role, tiedHead)
		if c == "" || !classes[c] || skip[p.Name] {
			continue
		}
		v := p.Param.Value
		if v.Rank() != 2 || v.DType() != tensor.F32 {
			skipped = append(skipped, p.Name)
			continue
		}
		if (o.Scheme == W8 || o.Scheme == W4) && v.Dim(1)%o.Group != 0 {
			skipped = append(skipped, p.Name)
			continue
		}
		sel = append(sel, p)
	}
	return sel, skipped, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// kernel is a quantized weight: its product, its stored form and its size.
type kernel interface {
	ag.WeightKernel
	format() string
	bytes() int
	Encode(name string, w *safetensors.Writer) (string, error)
}

// quantizeWeight quantizes w (out×in) with scheme s and returns the kernel and the
// dequantized weights; sx is int8-static's activation scale.
func quantizeWeight(s Scheme, w []float32, out, in int, sx float32, group int) (kernel, []float32, error) {
	deq := make([]float32, len(w))
	switch s {
	case Int8Dynamic, Int8Static:
		if s == Int8Static && !(sx > 0 && sx < 3.4e38) {
			return nil, nil, fmt.Errorf("activation scale %v: want a positive finite value", sx)
		}
		qw, err := q8.QuantizeWeights(w, out, in)
		if err != nil {
			return nil, nil, err
		}
		for j := 0; j < out; j++ {
			q8.DequantizeRowSym(deq[j*in:(j+1)*in], qw.Q[j*in:(j+1)*in], qw.Scale[j])
		}
		k := newInt8(qw, deq, out, in)
		k.sx = sx
		return k, deq, nil
	case W8, W4:
		for _, x := range w {
			if x != x || x > 3.4e38 || x < -3.4e38 {
				return nil, nil, fmt.Errorf("a weight is %v", x)
			}
		}
		k := &blockKernel{out: out, in: in, group: group}
		if s == W8 {
			k.q8 = make([]q8.BlockQ8_0, out*in/q8.BlockSize)
		} else {
			k.q4 = make([]q8.BlockQ4_0, out*in/q8.BlockSize)
		}
		k.quantize(w, deq)
		return k, deq, nil
	case F16, BF16:
		for i, x := range w {
			if s == F16 {
				deq[i] = safetensors.F16ToFloat32(safetensors.Float32ToF16(x))
			} else {
				deq[i] = safetensors.BF16ToFloat32(safetensors.Float32ToBF16(x))
			}
		}
		return newHalf(s, deq, out, in), deq, nil
	}
	return nil, nil, fmt.Errorf("scheme %q", s)
}

// scratch holds temporary float rows between calls.
var scratch = sync.Pool{New: func() any { return new([]float32) }}

func getScratch(n int) *[]float32 {
	p := scratch.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// store writes n rows of out values from t (contiguous) into y (rows ldy apart):
// y = t + beta·y.
func store(y []float32, ldy int, t []float32, n, out int, beta float32) {
	for r := 0; r < n; r++ {
		dst, src := y[r*ldy:r*ldy+out], t[r*out:(r+1)*out]
		if beta == 0 {
			copy(dst, src)
		} else {
			kernels.Axpy(1, src, dst)
		}
	}
}

// int8Kernel is an int8-dynamic weight (inputs quantized per row, or per tensor when
// perTensor), or int8-static when sx (the input's calibrated scale) is set.
type int8Kernel struct {
	w         *q8.Weights
	sx        float32
	perTensor bool
	deq       []float32 // the dequantized weights (the float value), for inputs int8 cannot hold
	out, in   int
}

func newInt8(w *q8.Weights, deq []float32, out, in int) *int8Kernel {
	return &int8Kernel{w: w, deq: deq, out: out, in: in}
}

func (k *int8Kernel) format() string {
	switch {
	case k.sx != 0:
		return "int8-static"
	case k.perTensor:
		return "int8-tensor"
	}
	return "int8"
}

func (k *int8Kernel) bytes() int {
	b := len(k.w.Q) + 4*len(k.w.Scale)
	if k.sx != 0 {
		b += 4
	}
	return b
}

// MulT quantizes x to int8 (per row, per tensor, or with the calibrated scale) and
// multiplies in int8. A row holding NaN
// or ±Inf has no int8 form: that call runs in float32 on the dequantized weights instead, so
// the non-finite values propagate as they would without quantization.
func (k *int8Kernel) MulT(y []float32, ldy int, x []float32, n int, beta float32) {
	if beta == 0 {
		k.MulTBias(y, ldy, x, n, nil)
		return
	}
	t := getScratch(n * k.out)
	defer scratch.Put(t)
	k.MulTBias(*t, k.out, x, n, nil)
	store(y, ldy, *t, n, k.out, beta)
}

// MulTBias sets y to x·Wᵀ + bias, the bias added as the integer products are scaled back.
func (k *int8Kernel) MulTBias(y []float32, ldy int, x []float32, n int, bias []float32) {
	if n == 0 {
		return
	}
	y, x = y[:(n-1)*ldy+k.out], x[:n*k.in]
	var err error
	switch {
	case k.sx != 0:
		err = q8.LinearStaticStrided(y, ldy, x, n, k.w, k.sx, bias)
	case k.perTensor:
		// One scale for the whole input, found now: the static kernel with it.
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		if amax == 0 || amax > math.MaxFloat32 || amax != amax {
			amax = 127 // zeros (any scale), or non-finite values (the static kernel reports them)
		}
		err = q8.LinearStaticStrided(y, ldy, x, n, k.w, amax/127, bias)
	default:
		err = q8.LinearDynamicStrided(y, ldy, x, n, k.w, bias)
	}
	if err != nil {
		// Inputs int8 cannot hold (NaN, ±Inf): the float product, which carries them on.
		for r := 0; r < n; r++ {
			row := y[r*ldy : r*ldy+k.out]
			if bias != nil {
				copy(row, bias)
			} else {
				clear(row)
			}
		}
		kernels.Gemm(false, true, n, k.out, k.in, 1, x, k.in, k.deq, k.in, 1, y, ldy)
	}
}

func (k *int8Kernel) Encode(name string, w *safetensors.Writer) (string, error) {
	if err := w.AddInt8s(name+".qweight", []int{k.out, k.in}, k.w.Q); err != nil {
		return "", err
	}
	if err := w.AddFloat32s(name+".qscale", safetensors.F32, []int{k.out}, k.w.Scale); err != nil {
		return "", err
	}
	if k.sx != 0 {
		return k.format(), w.AddFloat32s(name+".act_scale", safetensors.F32, []int{1}, []float32{k.sx})
	}
	return k.format(), nil
}

// blockKernel is a w8 (Q8_0) or w4 (Q4_0) weight with groups of group values.
type blockKernel struct {
	q8      []q8.BlockQ8_0
	q4      []q8.BlockQ4_0
	d       []float32      // Q8_0: the blocks' scales as float32, which the block products read
	m4      *q8.Q4_0Matrix // Q4_0: the blocks prepared for the products
	out, in int
	group   int
}

// prepare prepares the blocks for the products; every constructor calls it once the blocks
// are set.
func (k *blockKernel) prepare() {
	if k.q4 != nil {
		k.m4 = q8.NewQ4_0Matrix(k.q4, k.out, k.in)
	} else {
		k.d = q8.ScalesQ8_0(k.q8)
	}
}

// quantize fills the blocks from w (out×in) and writes their dequantized values into deq
// (which may be nil).
func (k *blockKernel) quantize(w, deq []float32) {
	nb, in := k.in/q8.BlockSize, k.in
	for j := 0; j < k.out; j++ {
		row := w[j*in : (j+1)*in]
		if k.q8 != nil {
			q8.QuantizeRowQ8_0Group(k.q8[j*nb:(j+1)*nb], row, k.group)
			if deq != nil {
				q8.DequantizeRowQ8_0(deq[j*in:(j+1)*in], k.q8[j*nb:(j+1)*nb])
			}
		} else {
			q8.QuantizeRowQ4_0Group(k.q4[j*nb:(j+1)*nb], row, k.group)
			if deq != nil {
				q8.DequantizeRowQ4_0(deq[j*in:(j+1)*in], k.q4[j*nb:(j+1)*nb])
			}
		}
	}
	k.prepare()
}

func (k *blockKernel) format() string {
	f := "q8_0"
	if k.q4 != nil {
		f = "q4_0"
	}
	if k.group != q8.BlockSize {
		f += fmt.Sprintf("g%d", k.group)
	}
	return f
}

// bytes is the stored size: ggml's blocks for groups of 32, the quants and one float16 scale
// per group for larger groups.
func (k *blockKernel) bytes() int {
	if k.group == q8.BlockSize {
		if k.q4 != nil {
			return len(k.q4) * q8.BlockQ4_0Bytes
		}
		return len(k.q8) * q8.BlockQ8_0Bytes
	}
	n := k.out * k.in
	if k.q4 != nil {
		return n/2 + 2*n/k.group
	}
	return n + 2*n/k.group
}

// blockRowsGemm is the number of input rows from which a block weight is dequantized for the
// float32 GEMM: the block kernels work a row of x at a time, which wins when the weights'
// bytes are the cost (decoding) and loses when rows can share them. (A variable so that the
// benchmark can compare the two ways.) BenchmarkBlockMulT, w4, one thread, with the lane
// kernels: at 6 and 7 rows the row kernels win at every shape; at 8, 256×256 goes 6% faster
// through the GEMM and 1024×256 4% slower (BERT's 768×3072: 30% slower), beyond that the
// 256-wide shapes gain from the GEMM.
var blockRowsGemm = 8

// blockPanelRows is the number of weight rows dequantized at a time on the GEMM path: a
// panel of 64 rows (192 KiB at 768 inputs) stays in L2 between being written and being
// multiplied, where the whole weight, dequantized, would go out to memory and back.
const blockPanelRows = 64

func (k *blockKernel) MulT(y []float32, ldy int, x []float32, n int, beta float32) {
	if n >= blockRowsGemm {
		nb, in := k.in/q8.BlockSize, k.in
		panels := (k.out + blockPanelRows - 1) / blockPanelRows
		kernels.ParallelFor(panels, 1, func(lo, hi int) {
			w := getScratch(blockPanelRows * in)
			defer scratch.Put(w)
			for p := lo; p < hi; p++ {
				j0, j1 := p*blockPanelRows, min(k.out, (p+1)*blockPanelRows)
				for j := j0; j < j1; j++ {
					row := (*w)[(j-j0)*in : (j-j0+1)*in]
					if k.q4 != nil {
						q8.DequantizeRowQ4_0(row, k.q4[j*nb:(j+1)*nb])
					} else {
						q8.DequantizeRowQ8_0(row, k.q8[j*nb:(j+1)*nb])
					}
				}
				kernels.GemmST(false, true, n, j1-j0, in, 1, x[:n*in], in, (*w)[:(j1-j0)*in], in, beta, y[j0:], ldy)
			}
		})
		return
	}
	t := getScratch(n * k.out)
	defer scratch.Put(t)
	if k.q4 != nil {
		k.m4.MatMul(*t, x[:n*k.in], n)
	} else {
		q8.MatMulQ8_0(*t, x[:n*k.in], n, k.q8, k.d, k.out, k.in)
	}
	store(y, ldy, *t, n, k.out, beta)
}

func (k *blockKernel) Encode(name string, w *safetensors.Writer) (string, error) {
	f := k.format()
	if k.group == q8.BlockSize {
		var b []byte
		if k.q4 != nil {
			b = q8.AppendQ4_0(make([]byte, 0, k.bytes()), k.q4)
		} else {
			b = q8.AppendQ8_0(make([]byte, 0, k.bytes()), k.q8)
		}
		return f, w.Add(name+"."+f, safetensors.U8, []int{k.out, k.bytes() / max(k.out, 1)}, b)
	}
	// Larger groups: the quant bytes of every block, then one scale per group.
	per := k.group / q8.BlockSize
	var qs []byte
	var d []float32
	if k.q4 != nil {
		qs = make([]byte, 0, len(k.q4)*q8.BlockSize/2)
		for i, b := range k.q4 {
			qs = append(qs, b.Qs[:]...)
			if i%per == 0 {
				d = append(d, q8.F16ToF32(b.D))
			}
		}
	} else {
		qs = make([]byte, 0, len(k.q8)*q8.BlockSize)
		for i, b := range k.q8 {
			for _, v := range b.Qs {
				qs = append(qs, byte(v))
			}
			if i%per == 0 {
				d = append(d, q8.F16ToF32(b.D))
			}
		}
	}
	if err := w.Add(name+".qs", safetensors.U8, []int{k.out, len(qs) / max(k.out, 1)}, qs); err != nil {
		return "", err
	}
	return f, w.AddFloat32s(name+".qd", safetensors.F16, []int{k.out, k.in / k.group}, d)
}

// halfKernel is an f16 or bf16 weight: stored in 16 bits, computed in float32.
type halfKernel struct {
	s       Scheme
	deq     []float32
	packed  *kernels.PackedB
	out, in int
}

func newHalf(s Scheme, deq []float32, out, in int) *halfKernel {
	return &halfKernel{s: s, deq: deq, packed: kernels.PackB(true, in, out, deq, in), out: out, in: in}
}

func (k *halfKernel) format() string { return string(k.s) }
func (k *halfKernel) bytes() int     { return 2 * len(k.deq) }

func (k *halfKernel) MulT(y []float32, ldy int, x []float32, n int, beta float32) {
	kernels.GemmPacked(false, n, 1, x[:n*k.in], k.in, k.packed, beta, y, ldy)
}

func (k *halfKernel) Encode(name string, w *safetensors.Writer) (string, error) {
	dt := safetensors.F16
	if k.s == BF16 {
		dt = safetensors.BF16
	}
	return k.format(), w.AddFloat32s(name, dt, []int{k.out, k.in}, k.deq)
}
