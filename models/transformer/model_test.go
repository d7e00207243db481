package transformer_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/tensor"
)

func tiny(arch transformer.Architecture) transformer.Config {
	c := transformer.Defaults()
	c.Arch = arch
	c.VocabSize, c.DModel, c.Heads, c.FFN = 30, 16, 4, 24
	c.EncoderLayers, c.DecoderLayers = 2, 2
	c.Dropout = 0
	if arch == transformer.EncoderOnly {
		c.SpanHead = true
	}
	return c
}

func ids(rows ...[]int32) *tensor.Tensor {
	var flat []int32
	for _, r := range rows {
		flat = append(flat, r...)
	}
	return tensor.FromI32(flat, len(rows), len(rows[0]))
}

// Incremental decoding with KV caches must give the logits of a full forward pass, position by
// position, for both post-LN and pre-LN models, and after reordering the batch.
func TestIncrementalDecodingMatchesFull(t *testing.T) {
	for _, normFirst := range []bool{false, true} {
		for _, arch := range []transformer.Architecture{transformer.EncoderDecoder, transformer.DecoderOnly} {
			cfg := tiny(arch)
			cfg.NormFirst = normFirst
			cfg.Positions = "learned"
			m, err := transformer.New(cfg, tensor.F64, rand.New(rand.NewPCG(4, 4)))
			if err != nil {
				t.Fatal(err)
			}
			c := nn.Inference()
			src := ids([]int32{5, 6, 7, 8, 9}, []int32{10, 11, 12, 0, 0})
			var enc *ag.Var
			var srcPad []bool
			if arch == transformer.EncoderDecoder {
				enc, err = m.Encode(c, src)
				if err != nil {
					t.Fatal(err)
				}
				srcPad = m.PadMask(src)
			}
			tgt := ids([]int32{1, 13, 14, 15}, []int32{1, 16, 17, 18})
			full, err := m.Decode(c, tgt, enc, srcPad, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := m.Logits(c, full).Value // (B, T, V)
			st := m.NewDecodeState()
			for pos := 0; pos < 4; pos++ {
				step := tgt.Slice(1, pos, pos+1).Contiguous()
				h, err := m.Decode(c, step, enc, srcPad, st)
				if err != nil {
					t.Fatal(err)
				}
				got := m.Logits(c, h).Value // (B, 1, V)
				for b := 0; b < 2; b++ {
					for v := 0; v < cfg.VocabSize; v++ {
						if d := math.Abs(got.At(b, 0, v) - want.At(b, pos, v)); d > 1e-10 {
							t.Fatalf("%s normFirst=%v pos %d: cached logit %v, full %v", arch, normFirst, pos, got.At(b, 0, v), want.At(b, pos, v))
						}
					}
				}
			}
			// Swap the batch rows: the next step must follow the swapped sequences.
			st.Reorder([]int{1, 0})
			next := ids([]int32{19}, []int32{20})
			h, err := m.Decode(c, next, swapEnc(enc), swapPad(srcPad), st)
			if err != nil {
				t.Fatal(err)
			}
			got := m.Logits(c, h).Value
			tgt2 := ids([]int32{1, 16, 17, 18, 19}, []int32{1, 13, 14, 15, 20})
			full2, _ := m.Decode(c, tgt2, swapEnc(enc), swapPad(srcPad), nil)
			want2 := m.Logits(c, full2).Value
			for b := 0; b < 2; b++ {
				for v := 0; v < cfg.VocabSize; v++ {
					if d := math.Abs(got.At(b, 0, v) - want2.At(b, 4, v)); d > 1e-10 {
						t.Fatalf("%s after Reorder: logit %v, full %v", arch, got.At(b, 0, v), want2.At(b, 4, v))
					}
				}
			}
		}
	}
}

func swapEnc(enc *ag.Var) *ag.Var {
	if enc == nil {
		return nil
	}
	x := enc.Value
	return ag.NewVar(tensor.FromF64(append(append([]float64{}, x.Slice(0, 1, 2).Contiguous().F64()...), x.Slice(0, 0, 1).Contiguous().F64()...), x.Shape()...))
}

func swapPad(p []bool) []bool {
	if p == nil {
		return nil
	}
	n := len(p) / 2
	return append(append([]bool{}, p[n:]...), p[:n]...)
}

func TestBadInputIsAnError(t *testing.T) {
	m, err := transformer.New(tiny(transformer.EncoderDecoder), tensor.F32, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	c := nn.Inference()
	if _, err := m.Encode(c, ids([]int32{1, 99})); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
		t.Errorf("id 99 of 30: %v", err)
	}
	if _, err := m.Encode(c, ids([]int32{1, -1})); err == nil {
		t.Error("negative id accepted")
	}
	cfg := tiny(transformer.EncoderDecoder)
	cfg.Positions, cfg.MaxPositions = "learned", 4
	m2, _ := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(1, 1)))
	if _, err := m2.Encode(c, ids([]int32{1, 2, 3, 4, 5})); err == nil || !strings.Contains(err.Error(), "positions") {
		t.Errorf("5 positions in a 4-position model: %v", err)
	}
	if _, _, err := m.SpanLogits(c, ids([]int32{1})); err == nil {
		t.Error("SpanLogits on a seq2seq model")
	}
}

func TestConfig(t *testing.T) {
	c, err := transformer.ParseConfig(strings.NewReader(`{"arch": "encoder", "d_model": 64, "n_heads": 8, "span_head": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.DModel != 64 || c.FFN != transformer.Defaults().FFN {
		t.Fatalf("defaults not applied: %+v", c)
	}
	for _, bad := range []string{
		`{"d_model": 10, "n_heads": 4}`,
		`{"arch": "rnn"}`,
		`{"dropout": 1}`,
		`{"activation": "swish"}`,
		`{"pad_id": 9000}`,
		`{"vocab_sise": 10}`,
		`{"span_head": true}`,
		`not json`,
	} {
		if _, err := transformer.ParseConfig(strings.NewReader(bad)); err == nil || !strings.HasPrefix(err.Error(), "transformer: config") {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

func TestParamNamesAndLoad(t *testing.T) {
	m, _ := transformer.New(tiny(transformer.EncoderDecoder), tensor.F32, rand.New(rand.NewPCG(1, 1)))
	names := map[string]bool{}
	for _, p := range m.Params() {
		if names[p.Name] {
			t.Fatalf("%s listed twice", p.Name)
		}
		names[p.Name] = true
	}
	for _, n := range []string{"shared.weight", "encoder.layers.1.fc2.bias", "decoder.layers.0.encoder_attn.q_proj.weight", "decoder.layers.1.final_layer_norm.weight"} {
		if !names[n] {
			t.Errorf("no parameter %s", n)
		}
	}
	if names["encoder.embed_tokens.weight"] || names["lm_head.weight"] {
		t.Error("tied tables listed under more than one name")
	}
	// A checkpoint with one tensor missing, one extra and one of the wrong shape: all three
	// are reported together and the model is left unchanged.
	sd := nn.MapSource{}
	for name, v := range nn.StateDict(m) {
		sd[name] = v.Clone()
	}
	delete(sd, "encoder.layers.0.fc1.weight")
	sd["encoder.layers.9.fc1.weight"] = tensor.New(tensor.F32, 2, 2)
	sd["shared.weight"] = tensor.New(tensor.F32, 3, 16)
	before := m.Params()[0].Param.Value
	err := nn.Load(m, sd, nn.LoadOptions{})
	var le *nn.LoadError
	if !errors.As(err, &le) || len(le.Missing) != 1 || len(le.Unused) != 1 || len(le.Mismatch) != 1 {
		t.Fatalf("Load: %v", err)
	}
	if m.Params()[0].Param.Value != before {
		t.Fatal("a failed Load changed the model")
	}
}

// A model built without a random source (to be loaded) draws nothing: its weights are zero
// (LayerNorm γ one), and loading a trained model's state into it gives that model's values.
func TestNewWithoutRNGThenLoad(t *testing.T) {
	for _, arch := range []transformer.Architecture{transformer.EncoderDecoder, transformer.EncoderOnly, transformer.DecoderOnly} {
		cfg := tiny(arch)
		cfg.Positions = "learned"
		z, err := transformer.New(cfg, tensor.F32, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range z.Params() {
			want := 0.0
			if p.Param.Role == ag.RoleNorm && strings.HasSuffix(p.Name, ".weight") {
				want = 1
			}
			for _, v := range p.Param.Value.F32() {
				if float64(v) != want {
					t.Fatalf("%v: %s holds %v, want %v", arch, p.Name, v, want)
				}
			}
		}
		m, _ := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(2, 2)))
		if err := nn.Load(z, nn.MapSource(nn.StateDict(m)), nn.LoadOptions{}); err != nil {
			t.Fatal(err)
		}
		zp, mp := z.Params(), m.Params()
		for i := range mp {
			a, b := zp[i].Param.Value.F32(), mp[i].Param.Value.F32()
			for j := range b {
				if a[j] != b[j] {
					t.Fatalf("%v: %s[%d] = %v after Load, want %v", arch, mp[i].Name, j, a[j], b[j])
				}
			}
		}
	}
}
