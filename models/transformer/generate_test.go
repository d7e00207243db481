package transformer_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/decode"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/tensor"
)

// Greedy and beam decoding through the KV-cached session give what full forward passes give.
func TestDecodeSessionMatchesFullForward(t *testing.T) {
	for _, arch := range []transformer.Architecture{transformer.EncoderDecoder, transformer.DecoderOnly} {
		cfg := tiny(arch)
		m, err := transformer.New(cfg, tensor.F64, rand.New(rand.NewPCG(9, 9)))
		if err != nil {
			t.Fatal(err)
		}
		src := [][]int{{5, 6, 7, 8}, {9, 10}, {11, 12, 13}}
		model := decode.Func{Vocab: cfg.VocabSize, BeginFunc: func(src [][]int) (decode.Session, error) { return m.BeginDecode(src) }}
		res, err := decode.Generate(model, src, decode.Options{BOS: cfg.BOSID, EOS: cfg.EOSID, MaxLen: 6})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range src {
			// Full forward over the prefix at each step: the argmax must be the token chosen.
			prefix := []int32{int32(cfg.BOSID)}
			toks := append(append([]int{}, res[i].Hyps[0].Tokens...), cfg.EOSID)
			var logp float64
			for _, tok := range toks {
				lp := fullLogProbs(t, m, s, prefix)
				best := 0
				for j := range lp {
					if lp[j] > lp[best] {
						best = j
					}
				}
				if len(prefix) <= 6 && best != tok {
					t.Fatalf("%s source %d: decoded %d where the full pass prefers %d", arch, i, tok, best)
				}
				logp += lp[tok]
				prefix = append(prefix, int32(tok))
			}
			if math.Abs(logp-res[i].Hyps[0].LogProb) > 1e-5 { // the session hands out float32
				t.Fatalf("%s source %d: log-probability %v, full passes %v", arch, i, res[i].Hyps[0].LogProb, logp)
			}
		}
		beam, err := decode.Generate(model, src, decode.Options{BOS: cfg.BOSID, EOS: cfg.EOSID, MaxLen: 6, Beam: 4, LengthPenalty: 1})
		if err != nil {
			t.Fatal(err)
		}
		for i := range src {
			if len(beam[i].Hyps) == 0 || beam[i].Hyps[0].Score < res[i].Hyps[0].LogProb/float64(len(res[i].Hyps[0].Tokens)+1)-1e-9 {
				t.Fatalf("%s source %d: beam best %v below greedy's normalised score", arch, i, beam[i].Hyps)
			}
		}
	}
}

// fullLogProbs runs the whole prefix through the model without cache and returns the
// log-probabilities after its last token.
func fullLogProbs(t *testing.T, m *transformer.Model, src []int, prefix []int32) []float64 {
	t.Helper()
	c := nn.Inference()
	tgt := tensor.FromI32(prefix, 1, len(prefix))
	var h interface{ At(...int) float64 }
	if m.Cfg.Arch == transformer.EncoderDecoder {
		ids := make([]int32, len(src))
		for i, x := range src {
			ids[i] = int32(x)
		}
		s := tensor.FromI32(ids, 1, len(ids))
		enc, err := m.Encode(c, s)
		if err != nil {
			t.Fatal(err)
		}
		d, err := m.Decode(c, tgt, enc, m.PadMask(s), nil)
		if err != nil {
			t.Fatal(err)
		}
		h = m.Logits(c, d).Value
	} else {
		d, err := m.Decode(c, tgt, nil, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		h = m.Logits(c, d).Value
	}
	v := m.Cfg.VocabSize
	out := make([]float64, v)
	mx := math.Inf(-1)
	for j := 0; j < v; j++ {
		out[j] = h.At(0, len(prefix)-1, j)
		mx = math.Max(mx, out[j])
	}
	var s float64
	for _, x := range out {
		s += math.Exp(x - mx)
	}
	for j := range out {
		out[j] -= mx + math.Log(s)
	}
	return out
}
