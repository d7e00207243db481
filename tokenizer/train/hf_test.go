package train

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

var writeTokenizers = flag.String("write-tokenizers", "",
	"write the tokenizer.json files of the Hugging Face fixtures into this directory (testdata/gen_hf_ids.sh)")

// hfConfigs are the tokenizers of testdata/hf_ids.json, trained on testdata/corpus.txt.gz.
var hfConfigs = []struct {
	name  string
	train func(corpus []string) ([]byte, error)
}{
	{"bytelevel-1k", func(c []string) ([]byte, error) {
		return ByteLevelBPE(slices.Values(c), ByteLevelOptions{VocabSize: 1000, MinFrequency: 2, SpecialTokens: specials4})
	}},
	{"bytelevel-prefix-2k", func(c []string) ([]byte, error) {
		return ByteLevelBPE(slices.Values(c), ByteLevelOptions{VocabSize: 2000, SpecialTokens: []string{"<s>", "</s>"}, AddPrefixSpace: true})
	}},
	{"charbpe-lower-1k", func(c []string) ([]byte, error) {
		return CharBPE(slices.Values(c), CharBPEOptions{VocabSize: 1000, MinFrequency: 2, SpecialTokens: []string{"<pad>", "<unk>"}, Lowercase: true})
	}},
	{"charbpe-limit-2k", func(c []string) ([]byte, error) {
		return CharBPE(slices.Values(c), CharBPEOptions{VocabSize: 2000, LimitAlphabet: 60})
	}},
	{"unigram-1k", func(c []string) ([]byte, error) {
		return Unigram(slices.Values(c), UnigramOptions{VocabSize: 1000, SpecialTokens: specials4})
	}},
	{"unigram-bytefallback-lower-2k", func(c []string) ([]byte, error) {
		return Unigram(slices.Values(c), UnigramOptions{VocabSize: 2000, SpecialTokens: specials4, ByteFallback: true, Lowercase: true})
	}},
}

// hfFixture is testdata/hf_ids.json, written by testdata/hf_ids.js with Hugging Face's
// tokenizers: for each tokenizer, the SHA-256 of the tokenizer.json it loaded, and the ids
// and decoded text of every held-out sentence.
type hfFixture struct {
	Tokenizers string
	Configs    []hfFixtureConfig
}

type hfFixtureConfig struct {
	Name      string
	SHA256    string
	VocabSize int `json:"vocab_size"`
	IDs       [][]int
	Decoded   []string
}

// TestHFCompat retrains the fixture tokenizers and checks that the hf package encodes the
// held-out sentences into the ids Hugging Face's library produced from the same files.
func TestHFCompat(t *testing.T) {
	c := sampleCorpus(t)
	sentences := heldout(t)
	if *writeTokenizers != "" {
		if err := os.MkdirAll(*writeTokenizers, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, cfg := range hfConfigs {
			js, err := cfg.train(c)
			if err != nil {
				t.Fatalf("%s: %v", cfg.name, err)
			}
			if err := os.WriteFile(filepath.Join(*writeTokenizers, cfg.name+".json"), js, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Skip("wrote the tokenizers; compare after regenerating hf_ids.json")
	}
	b, err := os.ReadFile(filepath.Join("testdata", "hf_ids.json"))
	if err != nil {
		t.Fatal(err)
	}
	var fx hfFixture
	if err := json.Unmarshal(b, &fx); err != nil {
		t.Fatal(err)
	}
	if len(fx.Configs) != len(hfConfigs) {
		t.Fatalf("hf_ids.json has %d tokenizers, want %d: rerun testdata/gen_hf_ids.sh", len(fx.Configs), len(hfConfigs))
	}
	for _, cfg := range hfConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			i := slices.IndexFunc(fx.Configs, func(x hfFixtureConfig) bool { return x.Name == cfg.name })
			if i < 0 {
				t.Fatalf("not in hf_ids.json: rerun testdata/gen_hf_ids.sh")
			}
			want := fx.Configs[i]
			js, err := cfg.train(c)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(js)
			if got := hex.EncodeToString(sum[:]); got != want.SHA256 {
				t.Fatalf("trained tokenizer.json has SHA-256 %s, hf_ids.json was made from %s: "+
					"if training changed on purpose, rerun testdata/gen_hf_ids.sh", got, want.SHA256)
			}
			tk := mustParse(t, js)
			if tk.VocabSize() != want.VocabSize {
				t.Errorf("vocabulary size %d, Hugging Face %d", tk.VocabSize(), want.VocabSize)
			}
			if len(want.IDs) != len(sentences) || len(want.Decoded) != len(sentences) {
				t.Fatalf("hf_ids.json has %d encodings for %d sentences", len(want.IDs), len(sentences))
			}
			bad := 0
			for k, s := range sentences {
				ids := encodeIDs(t, tk, s)
				if !slices.Equal(ids, want.IDs[k]) {
					bad++
					t.Errorf("%q: ids %v, Hugging Face %v", s, ids, want.IDs[k])
				}
				if got := decode(t, tk, want.IDs[k]); got != want.Decoded[k] {
					bad++
					t.Errorf("decoding %v: %q, Hugging Face %q", want.IDs[k], got, want.Decoded[k])
				}
				if bad > 10 {
					t.Fatal("too many differences")
				}
			}
		})
	}
}
