package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTranslationCLI runs train → translate → eval → score on a tiny TSV corpus, resumes the
// run, and checks the errors for bad inputs.
func TestTranslationCLI(t *testing.T) {
	dir := t.TempDir()
	var tsv, src, ref strings.Builder
	words := [][2]string{{"red", "rot"}, {"cat", "Katze"}, {"dog", "Hund"}, {"big", "groß"}, {"house", "Haus"}}
	for i := 0; i < 120; i++ {
		a, b := words[i%5], words[(i/5)%5]
		tsv.WriteString(a[0] + " " + b[0] + "\t" + a[1] + " " + b[1] + "\n")
		if i < 10 {
			src.WriteString(a[0] + " " + b[0] + "\n")
			ref.WriteString(a[1] + " " + b[1] + "\n")
		}
	}
	data := filepath.Join(dir, "toy.tsv")
	os.WriteFile(data, []byte(tsv.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "src.txt"), []byte(src.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "ref.txt"), []byte(ref.String()), 0o644)
	cfg := `{"model": {"d_model": 16, "n_heads": 2, "d_ff": 32, "encoder_layers": 1, "decoder_layers": 1, "dropout": 0, "max_positions": 32},
	 "training": {"max_steps": 6, "batch_tokens": 200, "lr": 0.003, "warmup": 2, "eval_every": 3, "eval_sentences": 5, "checkpoint_every": 3},
	 "tokenizer": {"kind": "unigram", "vocab_size": 40}}`
	cfgPath := filepath.Join(dir, "cfg.json")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	run1 := filepath.Join(dir, "run")
	out, err := run(t, "", "train", "--task", "translation", "--config", cfgPath, "--train", data, "--valid", data, "-o", run1, "--threads", "1")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, out)
	}
	if !strings.Contains(out, "validation BLEU") || !strings.Contains(out, "6 steps") {
		t.Errorf("train printed %q", out)
	}
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json"} {
		if _, err := os.Stat(filepath.Join(run1, f)); err != nil {
			t.Errorf("the run directory lacks %s", f)
		}
	}
	hyp, err := run(t, "red cat\n\ndog big\n", "translate", "--model", run1, "--beam", "2")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(hyp, "\n"); n != 3 {
		t.Errorf("3 input lines gave %d output lines: %q", n, hyp)
	}
	js, err := run(t, "", "eval", "--task", "translation", "--model", run1, "--src", filepath.Join(dir, "src.txt"), "--ref", filepath.Join(dir, "ref.txt"), "--json")
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal([]byte(js), &e); err != nil || e["bleu"] == nil || e["tokens_per_s"] == nil || e["latency_ms"] == nil {
		t.Errorf("eval --json printed %q (%v)", js, err)
	}
	// Resume to more steps.
	os.WriteFile(cfgPath, []byte(strings.Replace(cfg, `"max_steps": 6`, `"max_steps": 9`, 1)), 0o644)
	out, err = run(t, "", "train", "--task", "translation", "--config", cfgPath, "--train", data, "--valid", data, "-o", run1, "--threads", "1")
	if err != nil || !strings.Contains(out, "9 steps") {
		t.Errorf("resumed train: %v\n%s", err, out)
	}

	// Bad inputs give errors that say what is wrong.
	short := filepath.Join(dir, "short.txt")
	os.WriteFile(short, []byte("one line\n"), 0o644)
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train", "--train", filepath.Join(dir, "src.txt") + "," + short, "--valid", data, "-o", filepath.Join(dir, "x")}, "not aligned"},
		{[]string{"train", "--train", "only-one-file.txt", "--valid", data, "-o", filepath.Join(dir, "x")}, "SOURCE,TARGET"},
		{[]string{"train", "--config", filepath.Join(dir, "src.txt"), "--train", data, "--valid", data, "-o", filepath.Join(dir, "x")}, "src.txt"},
		{[]string{"translate", "--model", filepath.Join(dir, "missing")}, "missing"},
		{[]string{"eval", "--model", run1, "--src", filepath.Join(dir, "src.txt"), "--ref", short}, "references"},
	} {
		if _, err := run(t, "", c.args...); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.msg)
		}
	}
}
