package quant_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/kernels/q8"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/safetensors"
	"github.com/optiformer/optiformer/tensor"
)

func tinyModel(t testing.TB, seed uint64, tied bool) (*transformer.Model, transformer.Config) {
	t.Helper()
	c := transformer.Defaults()
	c.VocabSize, c.DModel, c.Heads, c.FFN = 40, 64, 4, 96
	c.EncoderLayers, c.DecoderLayers = 2, 2
	c.Dropout = 0
	c.NormFirst = true
	c.TieEmbeddings = tied
	m, err := transformer.New(c, tensor.F32, rand.New(rand.NewPCG(seed, 3)))
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

var src = [][]int{{5, 6, 7, 8, 9, 10, 2}, {11, 12, 2}, {13, 14, 15, 16, 2}}

// decodeAll runs a few greedy-fed steps through the session and returns all log-probs.
func decodeAll(t testing.TB, m *transformer.Model, ref bool) []float32 {
	t.Helper()
	var s transformer.Session
	var err error
	if ref {
		s, err = m.BeginDecodeReference(src)
	} else {
		s, err = m.BeginDecode(src)
	}
	if err != nil {
		t.Fatal(err)
	}
	var all []float32
	tokens := []int{1, 1, 1}
	for step := 0; step < 4; step++ {
		lp, err := s.Step(tokens)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, lp...)
		for r := range tokens {
			tokens[r] = 3 + (step*7+r*5)%30
		}
	}
	return all
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// Every scheme: the fast session and the reference layers agree on the quantized model, the
// quantized model stays close to the float one, the weights hold their dequantized values,
// and a save/load round trip restores a model with bit-identical outputs.
func TestSchemesDecodeSaveLoad(t *testing.T) {
	for _, tied := range []bool{true, false} {
		for _, s := range quant.Schemes {
			name := string(s)
			if !tied {
				name += "/untied"
			}
			m, cfg := tinyModel(t, 1, tied)
			float := decodeAll(t, m, false)
			o := quant.Options{Scheme: s}
			if s == quant.Int8Static {
				var err error
				o.ActScales, err = quant.Calibrate(m, tied, o, quant.CalibOptions{Method: quant.MinMax}, func() error {
					decodeAll(t, m, false)
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if again := decodeAll(t, m, false); maxAbsDiff(again, float) != 0 {
					t.Fatal("calibration changed the model")
				}
			}
			entries, skipped, err := quant.Quantize(m, tied, o)
			if err != nil {
				t.Fatal(name, err)
			}
			// 2 encoder layers × 6 + 2 decoder layers × 10 weights + the head
			if len(entries) != 33 || len(skipped) != 0 {
				t.Fatalf("%s: %d quantized, skipped %v", name, len(entries), skipped)
			}
			for _, p := range m.Params() {
				if strings.HasSuffix(p.Name, "fc1.weight") && p.Param.Kernel() == nil {
					t.Fatalf("%s: %s has no kernel", name, p.Name)
				}
			}
			fast := decodeAll(t, m, false)
			ref := decodeAll(t, m, true)
			if d := maxAbsDiff(fast, ref); d > 1e-4 {
				t.Fatalf("%s: fast session and reference differ by %v", name, d)
			}
			// The kernels against float arithmetic on the dequantized weights (the values the
			// parameters now hold): rounding apart, only int8-dynamic's activation
			// quantization may differ.
			var ks []ag.WeightKernel
			for _, p := range m.Params() {
				ks = append(ks, p.Param.Kernel())
				p.Param.SetKernel(nil)
			}
			deq := decodeAll(t, m, false)
			for i, p := range m.Params() {
				p.Param.SetKernel(ks[i])
			}
			tol := 2e-4
			if s == quant.Int8Dynamic || s == quant.Int8Static {
				tol = 0.1
			}
			if d := maxAbsDiff(fast, deq); d > tol {
				t.Fatalf("%s: kernels differ from float arithmetic on the dequantized weights by %v (tolerance %v)", name, d, tol)
			}
			d := maxAbsDiff(fast, float)
			if d == 0 {
				t.Fatalf("%s: quantizing changed nothing", name)
			}
			t.Logf("%s: quantized log-probs differ from float by up to %.4g", name, d)

			dir := t.TempDir()
			if err := ckpt.SaveModel(dir, cfg, m.Params(), map[string]string{"k": "v"}); err != nil {
				t.Fatal(name, err)
			}
			m2, _ := tinyModel(t, 99, tied)
			got, err := quant.LoadWeights(dir, m2, nn.LoadOptions{})
			if err != nil {
				t.Fatal(name, err)
			}
			if len(got) != len(entries) {
				t.Fatalf("%s: loaded %d quantized weights, saved %d", name, len(got), len(entries))
			}
			for i := range got {
				if got[i].Name != entries[i].Name || got[i].Format != entries[i].Format || got[i].Bytes != entries[i].Bytes {
					t.Fatalf("%s: loaded %+v, saved %+v", name, got[i], entries[i])
				}
			}
			again := decodeAll(t, m2, false)
			for i := range again {
				if math.Float32bits(again[i]) != math.Float32bits(fast[i]) {
					t.Fatalf("%s: reloaded model differs at %d: %v vs %v", name, i, again[i], fast[i])
				}
			}
			// The float loader refuses a quantized file with a clear message.
			m3, _ := tinyModel(t, 5, tied)
			if err := ckpt.LoadWeights(dir, m3, nn.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "quantized") {
				t.Fatalf("%s: ckpt.LoadWeights on a quantized file: %v", name, err)
			}
		}
	}
}

// Quantized file sizes: int8 about a quarter of float32, Q4_0 about 14%.
func TestSizes(t *testing.T) {
	want := map[quant.Scheme]float64{quant.Int8Dynamic: 0.25 + 1.0/64, quant.W8: 34.0 / 128, quant.W4: 18.0 / 128, quant.F16: 0.5, quant.BF16: 0.5}
	for s, frac := range want {
		m, _ := tinyModel(t, 2, true)
		entries, _, err := quant.Quantize(m, true, quant.Options{Scheme: s})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			got := float64(e.Bytes) / float64(4*e.Out*e.In)
			if s == quant.Int8Dynamic {
				frac = 0.25 + 1/float64(e.In)
			}
			if math.Abs(got-frac) > 1e-9 {
				t.Fatalf("%s %s: %d bytes for %d×%d (%.4f of float32, want %.4f)", s, e.Name, e.Bytes, e.Out, e.In, got, frac)
			}
		}
	}
}

func TestOptionsAndSelection(t *testing.T) {
	m, _ := tinyModel(t, 3, true)
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: "int4"}); err == nil {
		t.Fatal("unknown scheme accepted")
	}
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.Int8Static}); err == nil || !strings.Contains(err.Error(), "Calibrate") {
		t.Fatalf("int8-static without scales: %v", err)
	}
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.W4, Group: 48}); err == nil {
		t.Fatal("group 48 accepted")
	}
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.W8, Layers: []string{"mlp"}}); err == nil {
		t.Fatal("unknown layer class accepted")
	}
	e, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.W8, Layers: []string{quant.FFN}, Skip: []string{"encoder.layers.0.fc1.weight"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != 7 {
		t.Fatalf("ffn minus one: %d weights", len(e))
	}
	for _, x := range e {
		if !strings.Contains(x.Name, ".fc") || x.Name == "encoder.layers.0.fc1.weight" {
			t.Fatalf("ffn selection took %s", x.Name)
		}
	}
	// In sizes the group does not divide stay float and are reported.
	c := transformer.Defaults()
	c.VocabSize, c.DModel, c.Heads, c.FFN, c.EncoderLayers, c.DecoderLayers = 20, 48, 4, 40, 1, 1
	m2, err := transformer.New(c, tensor.F32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	e, skipped, err := quant.Quantize(m2, true, quant.Options{Scheme: quant.W4})
	if err != nil {
		t.Fatal(err)
	}
	if len(e) != 0 || len(skipped) == 0 {
		t.Fatalf("in=48/40 with groups of 32: quantized %d, skipped %v", len(e), skipped)
	}
	// A NaN weight is an error, not a silent NaN model.
	m3, _ := tinyModel(t, 4, true)
	m3.Encoder.Layers[0].FFN.FC1.Weight.Value.F32()[3] = float32(math.NaN())
	for _, s := range []quant.Scheme{quant.Int8Dynamic, quant.W4} {
		if _, _, err := quant.Quantize(m3, true, quant.Options{Scheme: s}); err == nil {
			t.Fatalf("%s: NaN weight accepted", s)
		}
	}
}

// int8-dynamic: a row of activations holding NaN propagates NaN instead of failing.
func TestInt8NaNInput(t *testing.T) {
	m, _ := tinyModel(t, 6, true)
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.Int8Dynamic}); err != nil {
		t.Fatal(err)
	}
	k := m.Encoder.Layers[0].FFN.FC1.Weight.Kernel()
	x := make([]float32, 2*64)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	x[70] = float32(math.NaN())
	y := make([]float32, 2*96)
	k.MulT(y, 96, x, 2, 0)
	if math.IsNaN(float64(y[0])) || !math.IsNaN(float64(y[96])) {
		t.Fatalf("row 0 %v (finite wanted), row 1 %v (NaN wanted)", y[0], y[96])
	}
}

// writeQuantized saves a w4-quantized tiny model and returns its file's bytes.
func writeQuantized(t testing.TB, s quant.Scheme) (string, []byte) {
	m, cfg := tinyModel(t, 7, true)
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: s}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := ckpt.SaveModel(dir, cfg, m.Params(), nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ckpt.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	return dir, b
}

// rewrite copies a safetensors file through edit, which may drop, rename or replace tensors
// and metadata.
func rewrite(t testing.TB, b []byte, edit func(name string, info safetensors.TensorInfo, data []byte) (string, safetensors.DType, []int, []byte), meta func(map[string]string)) []byte {
	f, err := safetensors.ReadBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	w := safetensors.NewWriter()
	for _, info := range f.Tensors() {
		data, err := f.Bytes(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		n, dt, shape, d := edit(info.Name, info, data)
		if n == "" {
			continue
		}
		if err := w.Add(n, dt, shape, d); err != nil {
			t.Fatal(err)
		}
	}
	md := f.Metadata()
	if meta != nil {
		meta(md)
	}
	for k, v := range md {
		if err := w.SetMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Malformed quantized files give errors that say what is wrong.
func TestCorruptFiles(t *testing.T) {
	keep := func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
		return n, i.DType, i.Shape, d
	}
	dir8, b8 := writeQuantized(t, quant.Int8Dynamic)
	_, b4 := writeQuantized(t, quant.W4)
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"missing scale", rewrite(t, b8, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "encoder.layers.0.fc1.weight.qscale" {
				return "", 0, nil, nil
			}
			return keep(n, i, d)
		}, nil), "lacks its tensor"},
		{"scale count", rewrite(t, b8, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "encoder.layers.0.fc1.weight.qscale" {
				return n, i.DType, []int{i.Shape[0] - 1}, d[4:]
			}
			return keep(n, i, d)
		}, nil), "scales for"},
		{"NaN scale", rewrite(t, b8, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "encoder.layers.0.fc1.weight.qscale" {
				d = bytes.Clone(d)
				copy(d, []byte{0, 0, 0xc0, 0x7f})
			}
			return keep(n, i, d)
		}, nil), "scale of row 0"},
		{"qweight dtype", rewrite(t, b8, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "encoder.layers.0.fc1.weight.qweight" {
				return n, safetensors.U8, i.Shape, d
			}
			return keep(n, i, d)
		}, nil), "want a rank-2 I8"},
		{"unknown format", rewrite(t, b8, keep, func(m map[string]string) {
			m[ckpt.QuantizationKey] = strings.Replace(m[ckpt.QuantizationKey], `"int8"`, `"int3"`, 1)
		}), "does not know"},
		{"bad metadata", rewrite(t, b8, keep, func(m map[string]string) { m[ckpt.QuantizationKey] = "{" }), "metadata"},
		{"torn blocks", rewrite(t, b4, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "decoder.layers.1.fc2.weight.q4_0" {
				return n, i.DType, []int{i.Shape[0], i.Shape[1] - 1}, d[:i.Shape[0]*(i.Shape[1]-1)]
			}
			return keep(n, i, d)
		}, nil), "whole"},
		{"wrong shape for the model", rewrite(t, b4, func(n string, i safetensors.TensorInfo, d []byte) (string, safetensors.DType, []int, []byte) {
			if n == "decoder.layers.1.fc2.weight.q4_0" {
				return n, i.DType, []int{i.Shape[0] / 2, i.Shape[1] * 2}, d
			}
			return keep(n, i, d)
		}, nil), "decoder.layers.1.fc2.weight"},
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ckpt.WeightsFile), c.file, 0o644); err != nil {
			t.Fatal(err)
		}
		m, _ := tinyModel(t, 8, true)
		_, err := quant.LoadWeights(dir, m, nn.LoadOptions{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: error %v, want one mentioning %q", c.name, err, c.want)
		}
	}
	// The intact file loads.
	m, _ := tinyModel(t, 8, true)
	if _, err := quant.LoadWeights(dir8, m, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
}

// Whatever the bytes, loading a quantized file returns an error or a model, never panics.
func FuzzLoadWeights(f *testing.F) {
	for _, s := range []quant.Scheme{quant.Int8Dynamic, quant.W4, quant.W8, quant.F16} {
		_, b := writeQuantized(f, s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ckpt.WeightsFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, _ := tinyModel(t, 9, true)
		_, _ = quant.LoadWeights(dir, m, nn.LoadOptions{})
	})
}

var _ = q8.BlockSize

func TestCalibrateErrors(t *testing.T) {
	m, _ := tinyModel(t, 10, true)
	noop := func() error { return nil }
	run := func() error { decodeAll(t, m, false); return nil }
	for _, c := range []struct {
		o    quant.CalibOptions
		run  func() error
		want string
	}{
		{quant.CalibOptions{Method: "kl"}, run, "unknown calibration method"},
		{quant.CalibOptions{Method: quant.Percentile, Percentile: 101}, run, "percentile"},
		{quant.CalibOptions{}, noop, "never ran"},
		{quant.CalibOptions{}, func() error { return os.ErrClosed }, "closed"},
	} {
		if _, err := quant.Calibrate(m, true, quant.Options{}, c.o, c.run); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error mentioning %q", c.o, err, c.want)
		}
	}
	// Every method gives a positive scale for every selected weight, percentile ≤ min-max.
	byMethod := map[string]map[string]float32{}
	for _, method := range []string{quant.MinMax, quant.Percentile, quant.Entropy} {
		s, err := quant.Calibrate(m, true, quant.Options{}, quant.CalibOptions{Method: method}, run)
		if err != nil {
			t.Fatal(method, err)
		}
		if len(s) != 33 {
			t.Fatalf("%s: %d scales", method, len(s))
		}
		for n, v := range s {
			if !(v > 0) {
				t.Fatalf("%s: %s scale %v", method, n, v)
			}
		}
		byMethod[method] = s
	}
	for n, v := range byMethod[quant.Percentile] {
		if v > byMethod[quant.MinMax][n]*(1+1e-6) {
			t.Fatalf("%s: percentile scale %v above min-max %v", n, v, byMethod[quant.MinMax][n])
		}
	}
}

// QAT: the training loss with fake quantization is the loss of the model whose weights hold
// their quantized values; gradients reach the float weights; ClearQAT restores the float loss.
func TestQAT(t *testing.T) {
	src := tensor.FromI32([]int32{5, 6, 7, 8, 2, 9, 10, 11, 2, 0}, 2, 5)
	tin := tensor.FromI32([]int32{1, 12, 13, 14, 1, 15, 16, 0}, 2, 4)
	lab := tensor.FromI32([]int32{12, 13, 14, 2, 15, 16, 2, 0}, 2, 4)
	loss := func(m *transformer.Model, record bool) float64 {
		var tape ag.Tape
		c := nn.Inference()
		if record {
			c = &nn.Ctx{Tape: &tape}
		}
		l, _, err := m.Seq2SeqLoss(c, src, tin, lab, 0.1)
		if err != nil {
			t.Fatal(err)
		}
		if record {
			tape.Backward(l)
		}
		return l.Value.At()
	}
	for _, s := range []quant.Scheme{quant.W4, quant.W8, quant.F16} {
		m, _ := tinyModel(t, 12, true)
		float := loss(m, true)
		names, err := quant.SetQAT(m, true, quant.Options{Scheme: s})
		if err != nil || len(names) != 33 {
			t.Fatalf("%s: %d weights, %v", s, len(names), err)
		}
		for _, p := range m.Params() {
			p.Param.ZeroGrad()
		}
		qat := loss(m, true)
		fc1 := m.Encoder.Layers[0].FFN.FC1.Weight
		if fc1.Grad == nil || fc1.Grad.F32()[0] == 0 {
			t.Fatalf("%s: no gradient reached the float weight", s)
		}
		// The same weights quantized for real, without fake quantization.
		m2, _ := tinyModel(t, 12, true)
		if _, _, err := quant.Quantize(m2, true, quant.Options{Scheme: s}); err != nil {
			t.Fatal(err)
		}
		for _, p := range m2.Params() {
			p.Param.SetKernel(nil) // float arithmetic on the dequantized values
		}
		want := loss(m2, true)
		if math.Abs(qat-want) > 1e-4 || qat == float {
			t.Fatalf("%s: QAT loss %v, loss of the quantized weights %v, float %v", s, qat, want, float)
		}
		quant.ClearQAT(m)
		if got := loss(m, true); math.Abs(got-float) > 1e-6 {
			t.Fatalf("%s: after ClearQAT the loss is %v, float %v", s, got, float)
		}
	}
	// int8-dynamic also rounds the inputs: the loss moves, but stays close.
	m, _ := tinyModel(t, 13, true)
	float := loss(m, true)
	if _, err := quant.SetQAT(m, true, quant.Options{Scheme: quant.Int8Dynamic}); err != nil {
		t.Fatal(err)
	}
	if q := loss(m, true); q == float || math.Abs(q-float) > 0.05 {
		t.Fatalf("int8-dynamic QAT loss %v, float %v", q, float)
	}
	if q := loss(m, false); q != float {
		t.Fatalf("inference under QAT: %v, float %v (fake quantization is for training only)", q, float)
	}
}

// Larger groups: smaller files, the same kernels, and a round trip through the file.
func TestGroups(t *testing.T) {
	c := transformer.Defaults()
	c.VocabSize, c.DModel, c.Heads, c.FFN, c.EncoderLayers, c.DecoderLayers = 40, 128, 4, 256, 1, 1
	c.Dropout, c.NormFirst = 0, true
	for _, tc := range []struct {
		s     quant.Scheme
		group int
	}{{quant.W4, 64}, {quant.W4, 128}, {quant.W8, 64}, {quant.W8, 128}} {
		m, err := transformer.New(c, tensor.F32, rand.New(rand.NewPCG(4, 4)))
		if err != nil {
			t.Fatal(err)
		}
		e, skipped, err := quant.Quantize(m, true, quant.Options{Scheme: tc.s, Group: tc.group})
		if err != nil || len(skipped) > 0 || len(e) != 17 {
			t.Fatalf("%s g%d: %d weights, skipped %v, %v", tc.s, tc.group, len(e), skipped, err)
		}
		bits := map[quant.Scheme]float64{quant.W4: 4, quant.W8: 8}[tc.s] + 16/float64(tc.group)
		for _, x := range e {
			if x.Format != fmt.Sprintf("%s_0g%d", map[quant.Scheme]string{quant.W4: "q4", quant.W8: "q8"}[tc.s], tc.group) ||
				float64(x.Bytes)*8 != bits*float64(x.Out*x.In) {
				t.Fatalf("%s g%d: %+v (want %.3f bits a weight)", tc.s, tc.group, x, bits)
			}
		}
		out := decodeAll(t, m, false)
		dir := t.TempDir()
		if err := ckpt.SaveModel(dir, c, m.Params(), nil); err != nil {
			t.Fatal(err)
		}
		m2, err := transformer.New(c, tensor.F32, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := quant.LoadWeights(dir, m2, nn.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		again := decodeAll(t, m2, false)
		for i := range out {
			if math.Float32bits(out[i]) != math.Float32bits(again[i]) {
				t.Fatalf("%s g%d: reloaded model differs at %d", tc.s, tc.group, i)
			}
		}
	}
	m, _ := tinyModel(t, 1, true)
	if _, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.W4, Group: 96}); err == nil {
		t.Fatal("group 96 accepted")
	}
}

// int8-dynamic per tensor: one scale per product's input, found at run time.
func TestInt8PerTensor(t *testing.T) {
	m, cfg := tinyModel(t, 14, true)
	float := decodeAll(t, m, false)
	e, _, err := quant.Quantize(m, true, quant.Options{Scheme: quant.Int8Dynamic, PerTensor: true})
	if err != nil || e[0].Format != "int8-tensor" {
		t.Fatalf("%v %v", e[0], err)
	}
	fast, ref := decodeAll(t, m, false), decodeAll(t, m, true)
	if d := maxAbsDiff(fast, ref); d > 1e-4 {
		t.Fatalf("fast and reference differ by %v", d)
	}
	if d := maxAbsDiff(fast, float); d == 0 || d > 0.3 {
		t.Fatalf("per-tensor int8 differs from float by %v", d)
	}
	dir := t.TempDir()
	if err := ckpt.SaveModel(dir, cfg, m.Params(), nil); err != nil {
		t.Fatal(err)
	}
	m2, _ := tinyModel(t, 15, true)
	if _, err := quant.LoadWeights(dir, m2, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if d := maxAbsDiff(decodeAll(t, m2, false), fast); d != 0 {
		t.Fatalf("reloaded per-tensor model differs by %v", d)
	}
}
