package transformer_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/optiformer/optiformer/decode"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/tensor"
)

// The fast session (float32, paged caches) gives the reference session's log-probabilities
// through steps and beam-style reorders: rows duplicated, permuted and dropped.
func TestFastSessionMatchesReference(t *testing.T) {
	type variant struct {
		name string
		edit func(c *transformer.Config)
	}
	for _, v := range []variant{
		{"enc-dec pre-LN relu sinusoidal tied", func(c *transformer.Config) {}},
		{"enc-dec post-LN gelu learned untied", func(c *transformer.Config) {
			c.NormFirst, c.Activation, c.Positions, c.TieEmbeddings, c.ScaleEmbedding = false, "gelu", "learned", false, false
		}},
		{"enc-dec pre-LN gelu_tanh", func(c *transformer.Config) { c.NormFirst, c.Activation = true, "gelu_tanh" }},
		{"decoder-only pre-LN", func(c *transformer.Config) { c.Arch, c.NormFirst = transformer.DecoderOnly, true }},
		{"decoder-only post-LN learned", func(c *transformer.Config) {
			c.Arch, c.NormFirst, c.Positions = transformer.DecoderOnly, false, "learned"
		}},
	} {
		cfg := tiny(transformer.EncoderDecoder)
		cfg.NormFirst = true
		v.edit(&cfg)
		cfg.EncoderLayers = 2
		if cfg.Arch == transformer.DecoderOnly {
			cfg.EncoderLayers = 0
		}
		m, err := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(3, 1)))
		if err != nil {
			t.Fatal(v.name, err)
		}
		// Two rounds: the second session takes the buffers the first released (sync.Pool
		// permitting), holding the first round's values, and must give the same answers.
		for round := range 2 {
			compareFast(t, fmt.Sprintf("%s round %d", v.name, round), m, cfg)
		}
	}
}

func compareFast(t *testing.T, name string, m *transformer.Model, cfg transformer.Config) {
	t.Helper()
	src := [][]int{{5, 6, 7, 8, 2}, {9, 10, 2}, {11, 12, 13, 2}}
	fast, err := m.BeginDecode(src)
	if err != nil {
		t.Fatal(name, err)
	}
	defer func() {
		r, ok := fast.(decode.Releaser)
		if !ok {
			t.Fatalf("%s: the fast session does not release its buffers", name)
		}
		r.Release()
		if _, err := fast.Step(make([]int, 1)); err == nil {
			t.Errorf("%s: Step after Release did not fail", name)
		}
	}()
	ref, err := m.BeginDecodeReference(src)
	if err != nil {
		t.Fatal(name, err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	rows := len(src)
	tokens := []int{cfg.BOSID, cfg.BOSID, cfg.BOSID}
	// reorders between steps: duplicate (beam), permute, drop
	keeps := [][]int{{0, 0, 1, 2, 2, 1}, {5, 4, 3, 2, 1, 0}, {0, 2, 4}, {2, 1}, {1, 1, 0, 0}, {3}}
	for step := 0; step <= len(keeps); step++ {
		a, err := fast.Step(tokens)
		if err != nil {
			t.Fatal(name, err)
		}
		b, err := ref.Step(tokens)
		if err != nil {
			t.Fatal(name, err)
		}
		if len(a) != len(b) || len(a) != rows*cfg.VocabSize {
			t.Fatalf("%s step %d: %d and %d log-probabilities for %d rows", name, step, len(a), len(b), rows)
		}
		for i := range a {
			if math.Abs(float64(a[i]-b[i])) > 2e-5*max(1, math.Abs(float64(b[i]))) {
				t.Fatalf("%s step %d: row %d token %d: fast %v, reference %v", name, step, i/cfg.VocabSize, i%cfg.VocabSize, a[i], b[i])
			}
		}
		if step == len(keeps) {
			break
		}
		idx := keeps[step]
		fast.Keep(idx)
		ref.Keep(idx)
		rows = len(idx)
		tokens = make([]int, rows)
		for i := range tokens {
			tokens[i] = 3 + rng.IntN(cfg.VocabSize-3)
		}
	}
}
