package translation_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/data"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tasks/translation"
	"github.com/optiformer/optiformer/train"
)

// A toy language pair: each English word has one German word, and German keeps the order. Learnable in a few hundred steps by a tiny model.
var dict = map[string]string{"the": "der", "red": "rot", "cat": "Katze", "dog": "Hund", "sees": "sieht", "a": "ein",
	"big": "groß", "small": "klein", "house": "Haus", "runs": "läuft", "blue": "blau", "bird": "Vogel", "eats": "isst",
	"fish": "Fisch", "green": "grün", "tree": "Baum"}

func toyPairs(n int, seed uint64) []data.Pair {
	var words []string
	for w := range dict {
		words = append(words, w)
	}
	// map order is random: sort for determinism
	for i := range words {
		for j := i + 1; j < len(words); j++ {
			if words[j] < words[i] {
				words[i], words[j] = words[j], words[i]
			}
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	pairs := make([]data.Pair, n)
	for i := range pairs {
		k := 3 + rng.IntN(4)
		var en, de []string
		for j := 0; j < k; j++ {
			w := words[rng.IntN(len(words))]
			en = append(en, w)
			de = append(de, dict[w])
		}
		pairs[i] = data.Pair{Src: strings.Join(en, " "), Tgt: strings.Join(de, " ") + ".", Line: i + 1}
	}
	return pairs
}

func toyOptions(steps int) translation.TrainOptions {
	cfg := transformer.Defaults()
	cfg.DModel, cfg.Heads, cfg.FFN, cfg.EncoderLayers, cfg.DecoderLayers = 32, 4, 64, 2, 2
	cfg.NormFirst, cfg.Dropout, cfg.MaxPositions = true, 0, 64
	return translation.TrainOptions{
		Model: cfg, TokenizerKind: "unigram", VocabSize: 60, MaxLen: 40, MaxRatio: 3, BatchTokens: 400,
		LabelSmoothing: 0.1, EvalSentences: 50,
		Train: train.Config{MaxSteps: steps, LR: 3e-3, Schedule: "inverse_sqrt", Warmup: 30, Beta2: 0.98, ClipNorm: 1,
			EvalEvery: 100, CheckpointEvery: 50, Seed: 1},
	}
}

// TestTrainTranslateResume trains the toy pair end to end (tokenizer, model, evaluation,
// model directory), reloads the model, resumes the run and checks bad inputs.
func TestTrainTranslateResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	dir := t.TempDir()
	trainSet, valid := toyPairs(1500, 1), toyPairs(60, 2)
	o := toyOptions(400)
	m, res, err := translation.Train(context.Background(), trainSet, valid, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	// An untrained model scores about 0; 400 steps give about 56 (the word order is
	// learnt first, a few rare words are still dropped).
	if res.Train.Steps != 400 || res.Final.BLEU.Score < 40 {
		t.Fatalf("after %d steps validation BLEU is %.2f: the toy pair should be learnt (want ≥ 40)", res.Train.Steps, res.Final.BLEU.Score)
	}
	// The saved directory translates exactly as the trained model did.
	loaded, err := translation.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var src []string
	for _, p := range valid {
		src = append(src, p.Src)
	}
	hyps, st, err := loaded.Translate(src, translation.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	for i := range hyps {
		if hyps[i] != res.Final.Hyps[i] {
			t.Fatalf("sentence %d: reloaded model says %q, trained model said %q", i, hyps[i], res.Final.Hyps[i])
		}
	}
	if st.Tokens == 0 || st.Sentences != len(src) {
		t.Errorf("stats %+v", st)
	}
	// Beam search finds a translation at least as likely, and batching does not change it.
	bo := translation.DefaultOptions()
	bo.Beam, bo.BatchSize = 4, 7
	if _, _, err := m.Translate(src, bo); err != nil {
		t.Fatal(err)
	}

	// Resume: the run continues from its last checkpoint to the new step limit.
	o.Train.MaxSteps = 450
	_, res2, err := translation.Train(context.Background(), trainSet, valid, dir, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Train.Resumed || res2.Train.Steps != 450 {
		t.Errorf("second run: resumed %v, %d steps; want a resume to 450", res2.Train.Resumed, res2.Train.Steps)
	}

	// Documented behaviour on awkward input: an empty line translates to an empty (or
	// short) line, characters the tokenizer never saw do not fail, and a very long line is
	// cut at the model's maximum length instead of failing.
	long := strings.Repeat("the red cat ", 400)
	out, _, err := loaded.Translate([]string{"", "the 猫 sees a 🐟", long}, translation.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || len(strings.Fields(out[2])) > 64 {
		t.Errorf("awkward inputs gave %q", out)
	}
	if _, err := loaded.Evaluate([]string{"a"}, []string{"b", "c"}, translation.DefaultOptions()); err == nil {
		t.Error("Evaluate with 1 source and 2 references did not fail")
	}

	// Quantize the trained model: smaller files that every loader takes, quality kept
	// within --max-drop, a second quantization refused.
	var ref []string
	for _, p := range valid {
		ref = append(ref, p.Tgt)
	}
	for _, c := range []struct {
		scheme  quant.Scheme
		maxDrop float64
		size    float64
	}{{quant.Int8Dynamic, -1, 0.4}, {quant.W4, 0, 0.3}, {quant.Int8Static, -1, 0.4}} {
		qdir := filepath.Join(t.TempDir(), string(c.scheme))
		var calib []string
		for _, p := range trainSet[:100] {
			calib = append(calib, p.Src)
		}
		r, err := translation.Quantize(dir, qdir, translation.QuantizeOptions{Quant: quant.Options{Scheme: c.scheme},
			Src: src, Ref: ref, SpeedSentences: 5, MaxDrop: c.maxDrop, Calib: calib,
			CalibMethod: quant.CalibOptions{Method: quant.Entropy}})
		if err != nil {
			t.Fatal(c.scheme, err)
		}
		if r.Float.Bytes == 0 || r.Float.TokensPerS <= 0 || r.Quantized.StepMs <= 0 || r.Quantized.EncoderMs <= 0 {
			t.Fatalf("%s: report %+v", c.scheme, r)
		}
		// (a toy model: biases, norms and the file header weigh more than in a real one)
		if len(r.KeptFloat) == 0 && float64(r.Quantized.Bytes) > c.size*float64(r.Float.Bytes) {
			t.Errorf("%s: %d bytes, float32 %d", c.scheme, r.Quantized.Bytes, r.Float.Bytes)
		}
		if c.maxDrop >= 0 && r.Float.BLEU-r.Quantized.BLEU > c.maxDrop && len(r.Weights) > 0 {
			t.Errorf("%s: BLEU %.2f → %.2f with --max-drop %v", c.scheme, r.Float.BLEU, r.Quantized.BLEU, c.maxDrop)
		}
		if r.Float.BLEU-r.Quantized.BLEU > 10 {
			t.Errorf("%s: BLEU %.2f → %.2f", c.scheme, r.Float.BLEU, r.Quantized.BLEU)
		}
		t.Logf("%s:\n%s", c.scheme, r)
		if !strings.Contains(r.String(), "greedy tokens/s") {
			t.Errorf("report:\n%s", r)
		}
		q, err := translation.Load(qdir)
		if err != nil {
			t.Fatal(c.scheme, err)
		}
		if len(q.Quant) != len(r.Weights) {
			t.Fatalf("%s: reloaded %d quantized weights, report %d", c.scheme, len(q.Quant), len(r.Weights))
		}
		e, err := q.Evaluate(src, ref, translation.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if e.BLEU.Score != r.Quantized.BLEU {
			t.Errorf("%s: reloaded model scores %.2f, the report %.2f", c.scheme, e.BLEU.Score, r.Quantized.BLEU)
		}
		if _, err := translation.Quantize(qdir, qdir+"-again", translation.QuantizeOptions{Quant: quant.Options{Scheme: c.scheme},
			Src: src, Ref: ref, MaxDrop: -1}); err == nil || !strings.Contains(err.Error(), "already quantized") {
			t.Errorf("quantizing a quantized model: %v", err)
		}
		if c.scheme == quant.W4 {
			o := toyOptions(40)
			o.Init = qdir
			if _, _, err := translation.Train(context.Background(), trainSet, valid, t.TempDir(), o); err == nil || !strings.Contains(err.Error(), "quantized") {
				t.Errorf("fine-tuning from a quantized model: %v", err)
			}
		}
	}

	// Quantization-aware fine-tuning from the float model: it writes the float weights and
	// the quantized model, and scores the quantized one.
	qo := toyOptions(40)
	qo.Init, qo.QAT = dir, &quant.Options{Scheme: quant.W4}
	qatDir := t.TempDir()
	_, qres, err := translation.Train(context.Background(), trainSet, valid, qatDir, qo)
	if err != nil {
		t.Fatal(err)
	}
	if qres.Quantized == nil || qres.Train.Steps != 40 {
		t.Fatalf("QAT run: %+v", qres.Train)
	}
	t.Logf("QAT w4: float %.2f, quantized %.2f", qres.Final.BLEU.Score, qres.Quantized.BLEU.Score)
	if qres.Quantized.BLEU.Score < 40 {
		t.Errorf("after QAT the w4 model scores %.2f", qres.Quantized.BLEU.Score)
	}
	qm, err := translation.Load(filepath.Join(qatDir, "quantized"))
	if err != nil {
		t.Fatal(err)
	}
	if len(qm.Quant) == 0 {
		t.Fatal("the QAT run's quantized model has no quantized weights")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := translation.Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory loaded")
	}
	// A model directory whose weights are cut short.
	_, _, err := translation.Train(context.Background(), toyPairs(200, 1), toyPairs(10, 2), dir, toyOptions(2))
	if err != nil {
		t.Fatal(err)
	}
	w := filepath.Join(dir, "model.safetensors")
	b, err := os.ReadFile(w)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(b) / 2, 10, 0} {
		os.WriteFile(w, b[:cut], 0o644)
		if _, err := translation.Load(dir); err == nil || !strings.Contains(err.Error(), "safetensors") {
			t.Errorf("weights cut to %d bytes: error %v, want one naming the file", cut, err)
		}
	}
	os.WriteFile(w, b, 0o644)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), []byte(`{"model": {"type": "Unigram"`), 0o644)
	if _, err := translation.Load(dir); err == nil {
		t.Error("a corrupt tokenizer.json loaded")
	}
	os.Remove(filepath.Join(dir, "tokenizer.json"))
	if _, err := translation.Load(dir); err == nil || !strings.Contains(err.Error(), "tokenizer") {
		t.Errorf("no tokenizer: error %v", err)
	}
}
