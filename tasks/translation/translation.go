// Package translation is machine translation end to end: a model directory (transformer,
// tokenizer), batched translation with greedy or beam search, evaluation with sacreBLEU-exact
// BLEU and chrF, and training from parallel text.
package translation

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/decode"
	"github.com/optiformer/optiformer/internal/fsutil"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/metrics"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tensor"
	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/hf"
	"github.com/optiformer/optiformer/tokenizer/spm"
)

// TokenizerFile is the tokenizer a model directory holds (Hugging Face format).
const TokenizerFile = "tokenizer.json"

// Model is a loaded translation model: the network and the tokenizer shared by source and
// target.
type Model struct {
	Net *transformer.Model
	Tok tokenizer.Tokenizer
	// Quant lists the quantized weights (none for a float model).
	Quant []quant.Entry
	// tokJSON is the tokenizer file's bytes, written back by Save.
	tokJSON []byte
}

// Load reads a model directory: config.json, model.safetensors (float or quantized) and
// tokenizer.json (or a SentencePiece tokenizer.model).
func Load(dir string) (*Model, error) {
	b, err := ckpt.ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	cfg, err := transformer.ParseConfig(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("translation: %s: %w", dir, err)
	}
	if cfg.Arch != transformer.EncoderDecoder {
		return nil, fmt.Errorf("translation: %s holds a %s model; translation needs an encoder-decoder", dir, cfg.Arch)
	}
	net, err := transformer.New(cfg, tensor.F32, nil)
	if err != nil {
		return nil, err
	}
	q, err := quant.LoadWeights(dir, net, nn.LoadOptions{})
	if err != nil {
		return nil, err
	}
	m := &Model{Net: net, Quant: q}
	tj := filepath.Join(dir, TokenizerFile)
	if raw, err := os.ReadFile(tj); err == nil {
		t, err := hf.Parse(raw)
		if err != nil {
			return nil, err
		}
		m.Tok, m.tokJSON = t, raw
	} else if t, err2 := spm.Load(filepath.Join(dir, "tokenizer.model")); err2 == nil {
		m.Tok = t
	} else {
		return nil, fmt.Errorf("translation: %s has no tokenizer (%s or tokenizer.model): %v", dir, TokenizerFile, err)
	}
	if v := m.Tok.VocabSize(); v > cfg.VocabSize {
		return nil, fmt.Errorf("translation: the tokenizer has %d tokens, the model only %d", v, cfg.VocabSize)
	}
	return m, nil
}

// TiedHead reports whether the token embedding table is also the output projection.
func (m *Model) TiedHead() bool { return m.Net.LMHead == nil }

// Save writes the model into dir: tokenizer.json, model.safetensors and config.json, each
// atomically; other files in dir (a run's checkpoints) stay.
func (m *Model) Save(dir string, meta map[string]string) error {
	if m.tokJSON == nil {
		return errors.New("translation: the tokenizer has no tokenizer.json to save")
	}
	if err := writeFileAtomic(filepath.Join(dir, TokenizerFile), m.tokJSON); err != nil {
		return err
	}
	return ckpt.SaveModelFiles(dir, m.Net.Cfg, m.Net.Params(), meta)
}

// Options control translation.
type Options struct {
	Beam          int     // 1: greedy
	LengthPenalty float64 // beam search normalisation α
	MaxLenA       float64 // output length limit a·len(src)+b (tokens)
	MaxLenB       int
	NoRepeatNgram int
	// BatchSize is the number of sentences decoded together (sorted by length).
	BatchSize int
}

// DefaultOptions are greedy decoding, batches of 32, outputs up to 1.5×source+10 tokens.
func DefaultOptions() Options {
	return Options{Beam: 1, LengthPenalty: 1, MaxLenA: 1.5, MaxLenB: 10, BatchSize: 32}
}

// Stats describes a translation run.
type Stats struct {
	Sentences, Tokens int             // output tokens, EOS included
	Elapsed           time.Duration   // wall time
	Latency           []time.Duration // per batch
}

// TokensPerSecond is the output rate.
func (s Stats) TokensPerSecond() float64 { return float64(s.Tokens) / s.Elapsed.Seconds() }

// Encode turns sentences into source ids (no special tokens; the model adds EOS).
func (m *Model) Encode(texts []string) ([][]int, error) {
	out := make([][]int, len(texts))
	eos := m.Net.Cfg.EOSID
	for i, s := range texts {
		e, err := m.Tok.Encode(s, false)
		if err != nil {
			return nil, fmt.Errorf("translation: sentence %d: %w", i+1, err)
		}
		ids := append(append([]int(nil), e.IDs...), eos)
		if max := m.Net.Cfg.MaxPositions; m.Net.Cfg.Positions == "learned" && len(ids) > max {
			ids = append(ids[:max-1], eos)
		}
		out[i] = ids
	}
	return out, nil
}

// Translate translates texts in batches of similar length and returns the translations in
// input order.
func (m *Model) Translate(texts []string, o Options) ([]string, Stats, error) {
	if o.BatchSize <= 0 {
		o.BatchSize = 32
	}
	src, err := m.Encode(texts)
	if err != nil {
		return nil, Stats{}, err
	}
	order := make([]int, len(src))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return len(src[order[a]]) < len(src[order[b]]) })
	out := make([]string, len(texts))
	st := Stats{Sentences: len(texts)}
	cfg := m.Net.Cfg
	model := decode.Func{Vocab: cfg.VocabSize, BeginFunc: func(s [][]int) (decode.Session, error) { return m.Net.BeginDecode(s) }}
	start := time.Now()
	for lo := 0; lo < len(order); lo += o.BatchSize {
		hi := min(len(order), lo+o.BatchSize)
		batch := make([][]int, 0, hi-lo)
		for _, i := range order[lo:hi] {
			batch = append(batch, src[i])
		}
		t0 := time.Now()
		res, err := decode.Generate(model, batch, decode.Options{BOS: cfg.BOSID, EOS: cfg.EOSID, Beam: o.Beam,
			LengthPenalty: o.LengthPenalty, MaxLenA: o.MaxLenA, MaxLenB: o.MaxLenB, NoRepeatNgram: o.NoRepeatNgram,
			MaxLen: cfg.MaxPositions - 1})
		if err != nil {
			return nil, st, err
		}
		st.Latency = append(st.Latency, time.Since(t0))
		for k, i := range order[lo:hi] {
			h := res[k].Hyps[0]
			st.Tokens += len(h.Tokens) + 1
			text, err := m.Tok.Decode(h.Tokens, true)
			if err != nil {
				return nil, st, err
			}
			out[i] = text
		}
	}
	st.Elapsed = time.Since(start)
	return out, st, nil
}

// Eval is the result of Evaluate.
type Eval struct {
	BLEU      metrics.BLEUScore
	CHRF      metrics.CHRFScore
	Stats     Stats
	Hyps      []string
	P50, P90  time.Duration // batch latency percentiles
	P99       time.Duration
	TokensSec float64
}

// Evaluate translates src and scores the output against ref with sacreBLEU's BLEU and chrF.
func (m *Model) Evaluate(src, ref []string, o Options) (Eval, error) {
	if len(src) != len(ref) {
		return Eval{}, fmt.Errorf("translation: %d sources and %d references", len(src), len(ref))
	}
	hyps, st, err := m.Translate(src, o)
	if err != nil {
		return Eval{}, err
	}
	bleu, err := metrics.CorpusBLEU(hyps, [][]string{ref}, metrics.BLEUOptions{})
	if err != nil {
		return Eval{}, err
	}
	chrf, err := metrics.CorpusCHRF(hyps, [][]string{ref}, metrics.CHRFOptions{})
	if err != nil {
		return Eval{}, err
	}
	e := Eval{BLEU: bleu, CHRF: chrf, Stats: st, Hyps: hyps, TokensSec: st.TokensPerSecond()}
	e.P50, e.P90, e.P99 = percentiles(st.Latency)
	return e, nil
}

// Latency times the model on each sentence alone (batch 1): the encoder forward (the
// encoder and the cross-attention keys and values, BeginDecode), and each greedy decoder
// step; it returns the medians.
func (m *Model) Latency(texts []string) (encoder, step time.Duration, err error) {
	src, err := m.Encode(texts)
	if err != nil {
		return 0, 0, err
	}
	cfg := m.Net.Cfg
	var enc, steps []time.Duration
	for _, s := range src {
		t0 := time.Now()
		sess, err := m.Net.BeginDecode([][]int{s})
		if err != nil {
			return 0, 0, err
		}
		enc = append(enc, time.Since(t0))
		tok := cfg.BOSID
		limit := min(cfg.MaxPositions-1, int(1.5*float64(len(s)))+10)
		for i := 0; i < limit; i++ {
			t0 := time.Now()
			lp, err := sess.Step([]int{tok})
			if err != nil {
				return 0, 0, err
			}
			tok = kernels.ArgMax(lp)
			steps = append(steps, time.Since(t0))
			if tok == cfg.EOSID {
				break
			}
		}
	}
	e, _, _ := percentiles(enc)
	st, _, _ := percentiles(steps)
	return e, st, nil
}

func percentiles(d []time.Duration) (p50, p90, p99 time.Duration) {
	if len(d) == 0 {
		return
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.5), at(0.9), at(0.99)
}

func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("translation: %w", err)
	}
	if err := fsutil.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("translation: %w", err)
	}
	return nil
}

// ReadSentences reads a text file (plain or gzip) of one sentence per line; "-" reads stdin.
func ReadSentences(path string, stdin io.Reader) ([]string, error) {
	return readLines(path, stdin)
}
