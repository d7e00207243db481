package train

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/hf"
)

var specials4 = []string{"<pad>", "<s>", "</s>", "<unk>"}

var (
	corpusOnce sync.Once
	corpus     []string
	corpusErr  error
)

// sampleCorpus is testdata/corpus.txt.gz: 1,000 English and 1,000 German lines of
// Multi30k train (see testdata/PROVENANCE.md).
func sampleCorpus(t testing.TB) []string {
	t.Helper()
	corpusOnce.Do(func() {
		f, err := os.Open(filepath.Join("testdata", "corpus.txt.gz"))
		if err != nil {
			corpusErr = err
			return
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			corpusErr = err
			return
		}
		sc := bufio.NewScanner(z)
		for sc.Scan() {
			corpus = append(corpus, sc.Text())
		}
		corpusErr = sc.Err()
	})
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpus
}

// heldout is testdata/heldout.json: 80 English and 80 German lines of Multi30k val, then
// edge cases.
func heldout(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "heldout.json"))
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Sentences []string }
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	return h.Sentences
}

const heldoutVal = 160 // the Multi30k lines of heldout.json

func mustParse(t testing.TB, js []byte) *hf.Tokenizer {
	t.Helper()
	tk, err := hf.Parse(js)
	if err != nil {
		t.Fatalf("hf.Parse: %v", err)
	}
	return tk
}

func encodeIDs(t testing.TB, tk tokenizer.Tokenizer, s string) []int {
	t.Helper()
	e, err := tk.Encode(s, false)
	if err != nil {
		t.Fatalf("Encode(%q): %v", s, err)
	}
	return e.IDs
}

func decode(t testing.TB, tk tokenizer.Tokenizer, ids []int) string {
	t.Helper()
	s, err := tk.Decode(ids, false)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return s
}

func TestByteLevelRoundTrip(t *testing.T) {
	for _, prefix := range []bool{false, true} {
		t.Run(fmt.Sprintf("prefix=%v", prefix), func(t *testing.T) {
			js, err := ByteLevelBPE(slices.Values(sampleCorpus(t)), ByteLevelOptions{
				VocabSize: 1000, MinFrequency: 2, SpecialTokens: specials4, AddPrefixSpace: prefix,
			})
			if err != nil {
				t.Fatal(err)
			}
			tk := mustParse(t, js)
			if tk.VocabSize() != 1000 {
				t.Errorf("vocabulary size %d, want 1000", tk.VocabSize())
			}
			for i, s := range specials4 {
				if id, ok := tk.TokenToID(s); !ok || id != i {
					t.Errorf("special token %q has id %d (%v), want %d", s, id, ok, i)
				}
			}
			for _, s := range heldout(t) {
				want := s
				if prefix {
					// The pre-tokenizer adds a space to every piece of text between special
					// tokens that does not start with one.
					want = ""
					for _, seg := range splitSpecials(s, specials4) {
						if !seg.special && seg.text[0] != ' ' {
							want += " "
						}
						want += seg.text
					}
				}
				if got := decode(t, tk, encodeIDs(t, tk, s)); got != want {
					t.Errorf("Decode(Encode(%q)) = %q", s, got)
				}
			}
		})
	}
}

type segment struct {
	text    string
	special bool
}

// splitSpecials cuts s into the special tokens it contains and the (non-empty) text
// between them.
func splitSpecials(s string, specials []string) []segment {
	var out []segment
	for s != "" {
		at, tok := len(s), ""
		for _, sp := range specials {
			if i := strings.Index(s, sp); i >= 0 && (i < at || (i == at && len(sp) > len(tok))) {
				at, tok = i, sp
			}
		}
		if at > 0 {
			out = append(out, segment{s[:at], false})
		}
		if tok == "" {
			break
		}
		out = append(out, segment{tok, true})
		s = s[at+len(tok):]
	}
	return out
}

// hasSpecial reports whether s contains one of the special tokens.
func hasSpecial(s string, specials []string) bool {
	return slices.ContainsFunc(specials, func(sp string) bool { return strings.Contains(s, sp) })
}

func TestCharBPERoundTrip(t *testing.T) {
	for _, lower := range []bool{false, true} {
		t.Run(fmt.Sprintf("lowercase=%v", lower), func(t *testing.T) {
			js, err := CharBPE(slices.Values(sampleCorpus(t)), CharBPEOptions{
				VocabSize: 1000, MinFrequency: 2, SpecialTokens: []string{"<pad>"}, Lowercase: lower,
			})
			if err != nil {
				t.Fatal(err)
			}
			tk := mustParse(t, js)
			if tk.VocabSize() != 1000 {
				t.Errorf("vocabulary size %d, want 1000", tk.VocabSize())
			}
			unk, ok := tk.TokenToID("<unk>")
			if !ok || unk != 1 {
				t.Fatalf("<unk> has id %d (%v), want 1 (after the caller's special tokens)", unk, ok)
			}
			withUnk := 0
			for i, s := range heldout(t) {
				if hasSpecial(s, []string{"<pad>", "<unk>"}) {
					continue
				}
				ids := encodeIDs(t, tk, s)
				if slices.Contains(ids, unk) {
					withUnk++
					if i < heldoutVal {
						t.Logf("unknown chars in %q", s)
					}
					continue
				}
				// The decoder joins the pre-tokenized words with spaces.
				var words []string
				charBPEWords(s, lower, func(w string) { words = append(words, w) })
				if got, want := decode(t, tk, ids), strings.Join(words, " "); got != want {
					t.Errorf("Decode(Encode(%q)) = %q, want %q", s, got, want)
				}
			}
			if withUnk > 20 {
				t.Errorf("%d held-out sentences have unknown chars", withUnk)
			}
		})
	}
}

func TestUnigramRoundTrip(t *testing.T) {
	for _, bf := range []bool{false, true} {
		t.Run(fmt.Sprintf("byte_fallback=%v", bf), func(t *testing.T) {
			js, err := Unigram(slices.Values(sampleCorpus(t)), UnigramOptions{
				VocabSize: 1500, SpecialTokens: specials4, ByteFallback: bf, Lowercase: bf,
			})
			if err != nil {
				t.Fatal(err)
			}
			tk := mustParse(t, js)
			if tk.VocabSize() != 1500 {
				t.Errorf("vocabulary size %d, want 1500", tk.VocabSize())
			}
			unk, _ := tk.TokenToID("<unk>")
			withUnk := 0
			for _, s := range heldout(t) {
				if hasSpecial(s, specials4) {
					continue // special tokens are split out before normalization
				}
				ids := encodeIDs(t, tk, s)
				if slices.Contains(ids, unk) {
					if bf {
						t.Errorf("unknown token with byte fallback in %q", s)
					}
					withUnk++
					continue
				}
				// Decoding gives the normalized text, without the space Metaspace prepends.
				want := strings.TrimPrefix(unigramNormalize(s, bf), " ")
				if got := decode(t, tk, ids); got != want {
					t.Errorf("Decode(Encode(%q)) = %q, want %q", s, got, want)
				}
			}
			if withUnk > 20 {
				t.Errorf("%d held-out sentences have unknown chars", withUnk)
			}
		})
	}
}

// TestPreTokenizersMatchHF checks that the trainers cut texts into the words the hf
// package's normalizers and pre-tokenizers (written into tokenizer.json) make of them.
func TestPreTokenizersMatchHF(t *testing.T) {
	texts := append(slices.Clone(sampleCorpus(t)), heldout(t)...)
	type kind struct {
		name  string
		train func() ([]byte, error)
		split func(string, func(string))
		// word rebuilds the pre-tokenized word from its tokens ("" to skip it).
		word func(toks []string) string
	}
	concat := func(suffix string) func([]string) string {
		return func(toks []string) string {
			var b strings.Builder
			for _, t := range toks {
				if t == "<unk>" || (len(t) == 6 && strings.HasPrefix(t, "<0x")) {
					return ""
				}
				b.WriteString(strings.TrimSuffix(t, suffix))
			}
			return b.String()
		}
	}
	kinds := []kind{
		{"bytelevel", func() ([]byte, error) {
			return ByteLevelBPE(slices.Values(sampleCorpus(t)), ByteLevelOptions{VocabSize: 600, AddPrefixSpace: true})
		}, func(s string, emit func(string)) {
			byteLevelWords(s, true, false, func(w string) { emit(byteLevelString(w)) })
		}, concat("")},
		{"charbpe", func() ([]byte, error) {
			return CharBPE(slices.Values(sampleCorpus(t)), CharBPEOptions{VocabSize: 600, Lowercase: true})
		}, func(s string, emit func(string)) { charBPEWords(s, true, emit) }, concat(charSuffix)},
		{"unigram", func() ([]byte, error) {
			return Unigram(slices.Values(sampleCorpus(t)), UnigramOptions{VocabSize: 600, Lowercase: true})
		}, func(s string, emit func(string)) { unigramWords(s, true, emit) }, concat("")},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			js, err := k.train()
			if err != nil {
				t.Fatal(err)
			}
			tk := mustParse(t, js)
			bad := 0
			for _, s := range texts {
				if strings.Contains(s, "<") { // added tokens are split out before pre-tokenization
					continue
				}
				e, err := tk.Encode(s, false)
				if err != nil {
					t.Fatal(err)
				}
				var got [][]string
				for i, w := range e.WordIDs {
					for w >= len(got) {
						got = append(got, nil)
					}
					got[w] = append(got[w], e.Tokens[i])
				}
				var want []string
				k.split(s, func(w string) { want = append(want, w) })
				ok := len(got) == len(want)
				for i := 0; ok && i < len(got); i++ {
					if w := k.word(got[i]); w != "" && w != want[i] {
						ok = false
					}
				}
				if !ok && bad < 5 {
					bad++
					t.Errorf("%q: hf words %q, trainer words %q", s, got, want)
				}
			}
		})
	}
}

func TestDeterminism(t *testing.T) {
	c := sampleCorpus(t)
	trainers := map[string]func(threads int) ([]byte, error){
		"bytelevel": func(th int) ([]byte, error) {
			return ByteLevelBPE(slices.Values(c), ByteLevelOptions{VocabSize: 2000, SpecialTokens: specials4, Threads: th})
		},
		"charbpe": func(th int) ([]byte, error) {
			return CharBPE(slices.Values(c), CharBPEOptions{VocabSize: 2000, SpecialTokens: specials4, Threads: th})
		},
		"unigram": func(th int) ([]byte, error) {
			return Unigram(slices.Values(c), UnigramOptions{VocabSize: 2000, SpecialTokens: specials4, Threads: th})
		},
	}
	for _, name := range []string{"bytelevel", "charbpe", "unigram"} {
		t.Run(name, func(t *testing.T) {
			var first []byte
			for i, th := range []int{1, 1, 4} {
				js, err := trainers[name](th)
				if err != nil {
					t.Fatal(err)
				}
				if i == 0 {
					first = js
				} else if !bytes.Equal(js, first) {
					t.Fatalf("training with %d threads gave different bytes than with 1", th)
				}
			}
		})
	}
}

// tokensPerWord is the mean number of tokens per whitespace-separated word.
func tokensPerWord(t testing.TB, tk tokenizer.Tokenizer, texts []string) float64 {
	toks, words := 0, 0
	for _, s := range texts {
		toks += len(encodeIDs(t, tk, s))
		words += len(strings.Fields(s))
	}
	return float64(toks) / float64(words)
}

// TestQuality is a sanity check of the trained vocabularies on held-out Multi30k lines.
func TestQuality(t *testing.T) {
	c := sampleCorpus(t)
	val := heldout(t)[:heldoutVal]
	for _, size := range []int{1000, 4000} {
		bl, err := ByteLevelBPE(slices.Values(c), ByteLevelOptions{VocabSize: size, SpecialTokens: specials4, AddPrefixSpace: true})
		if err != nil {
			t.Fatal(err)
		}
		cb, err := CharBPE(slices.Values(c), CharBPEOptions{VocabSize: size, SpecialTokens: specials4})
		if err != nil {
			t.Fatal(err)
		}
		ug, err := Unigram(slices.Values(c), UnigramOptions{VocabSize: size, SpecialTokens: specials4})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range []struct {
			name string
			js   []byte
		}{{"bytelevel", bl}, {"charbpe", cb}, {"unigram", ug}} {
			tpw := tokensPerWord(t, mustParse(t, x.js), val)
			t.Logf("%s %d: %.3f tokens per word", x.name, size, tpw)
			// Whitespace words include punctuation, which every scheme splits off.
			limit := 2.3
			if size == 4000 {
				limit = 1.6
			}
			if tpw < 1 || tpw > limit {
				t.Errorf("%s %d: %.3f tokens per word, want within [1, %v]", x.name, size, tpw, limit)
			}
		}
	}
}

func TestBPEToyCorpus(t *testing.T) {
	// Hugging Face's BpeTrainer test: with min_frequency 2 the merges are r+e, a+re, i+s.
	wc := map[string]int64{"roses": 1, "are": 2, "red": 1, "voilets": 1, "blue": 1, "BERT": 1, "is": 2,
		"big": 1, "and": 1, "so": 1, "GPT-2": 1}
	var words []string
	for w := range wc {
		words = append(words, w)
	}
	slices.Sort(words)
	b := newBPEBuilder(nil)
	var chars []string
	for _, w := range words {
		for _, r := range w {
			if !slices.Contains(chars, string(r)) {
				chars = append(chars, string(r))
			}
		}
	}
	slices.Sort(chars)
	for _, c := range chars {
		b.add(c)
	}
	var syms [][]int32
	var counts []int64
	for _, w := range words {
		var s []int32
		for _, r := range w {
			s = append(s, b.ids[string(r)])
		}
		syms = append(syms, s)
		counts = append(counts, wc[w])
	}
	merges := b.learn(syms, counts, 30000, 2, 0)
	want := []string{"-", "2", "B", "E", "G", "P", "R", "T", "a", "b", "d", "e", "g", "i", "l", "n", "o", "r", "s",
		"t", "u", "v", "re", "are", "is"}
	if !slices.Equal(b.vocab, want) {
		t.Errorf("vocabulary %q, want %q", b.vocab, want)
	}
	var got []string
	for _, m := range merges {
		got = append(got, b.vocab[m[0]]+" "+b.vocab[m[1]])
	}
	if want := []string{"r e", "a re", "i s"}; !slices.Equal(got, want) {
		t.Errorf("merges %q, want %q", got, want)
	}
}

func TestBPEMaxTokenLength(t *testing.T) {
	js, err := ByteLevelBPE(slices.Values(sampleCorpus(t)), ByteLevelOptions{VocabSize: 1500, MaxTokenLength: 3})
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct{ Vocab map[string]int }
	}
	if err := json.Unmarshal(js, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Model.Vocab) != 1500 {
		t.Errorf("vocabulary size %d, want 1500", len(f.Model.Vocab))
	}
	for tok := range f.Model.Vocab {
		if n := len([]rune(tok)); n > 3 {
			t.Errorf("token %q longer than 3 bytes", tok)
		}
	}
}

func TestUnigramVocabulary(t *testing.T) {
	var texts []string
	for range 50 {
		texts = append(texts, "hello world", "hello there", "the world is wide", "wider worlds")
	}
	js, err := Unigram(slices.Values(texts), UnigramOptions{VocabSize: 40, SpecialTokens: []string{"<unk>", "<pad>"}})
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Model struct {
			UnkID int `json:"unk_id"`
			Vocab [][2]any
		}
	}
	if err := json.Unmarshal(js, &f); err != nil {
		t.Fatal(err)
	}
	if f.Model.UnkID != 0 {
		t.Errorf("unk_id %d, want 0", f.Model.UnkID)
	}
	// The words themselves are pieces, and the EM drops what is left, so the vocabulary
	// stays below the requested size.
	if n := len(f.Model.Vocab); n > 40 || n < 15 {
		t.Errorf("%d pieces, want 15 to 40", n)
	}
	pieces := map[string]float64{}
	prev := math.Inf(1)
	for i, e := range f.Model.Vocab {
		p, s := e[0].(string), e[1].(float64)
		pieces[p] = s
		if i >= 2 {
			if s > prev {
				t.Errorf("piece %d %q: score %v above the previous %v", i, p, s, prev)
			}
			prev = s
		}
	}
	for _, r := range "▁helowrdtisw" {
		if _, ok := pieces[string(r)]; !ok {
			t.Errorf("char %q missing", r)
		}
	}
	for _, p := range []string{"▁hello", "▁world"} {
		if _, ok := pieces[p]; !ok {
			t.Errorf("piece %q missing", p)
		}
	}
	tk := mustParse(t, js)
	ids := encodeIDs(t, tk, "hello world")
	var toks []string
	for _, id := range ids {
		s, _ := tk.IDToToken(id)
		toks = append(toks, s)
	}
	if want := []string{"▁hello", "▁world"}; !slices.Equal(toks, want) {
		t.Errorf("tokens %q, want %q", toks, want)
	}
}

func TestBadInput(t *testing.T) {
	ok := []string{"a small corpus", "with a few words"}
	empty := []string{}
	blank := []string{"", "   ", "\t\n"}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"bytelevel empty", func() error {
			_, err := ByteLevelBPE(slices.Values(empty), ByteLevelOptions{VocabSize: 300})
			return err
		}, "empty corpus"},
		{"charbpe blank", func() error { _, err := CharBPE(slices.Values(blank), CharBPEOptions{VocabSize: 300}); return err }, "empty corpus"},
		{"unigram blank", func() error { _, err := Unigram(slices.Values(blank), UnigramOptions{VocabSize: 300}); return err }, "empty corpus"},
		{"nil corpus", func() error { _, err := Unigram(nil, UnigramOptions{VocabSize: 300}); return err }, "nil corpus"},
		{"zero vocab", func() error { _, err := ByteLevelBPE(slices.Values(ok), ByteLevelOptions{}); return err }, "must be positive"},
		{"huge vocab", func() error { _, err := CharBPE(slices.Values(ok), CharBPEOptions{VocabSize: 1 << 30}); return err }, "exceeds the limit"},
		{"bytelevel below alphabet", func() error {
			_, err := ByteLevelBPE(slices.Values(ok), ByteLevelOptions{VocabSize: 258, SpecialTokens: specials4})
			return err
		}, "smaller than the 4 special tokens and 256 byte-level chars"},
		{"charbpe below alphabet", func() error { _, err := CharBPE(slices.Values(ok), CharBPEOptions{VocabSize: 10}); return err }, "smaller than the"},
		{"unigram below alphabet", func() error { _, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 8}); return err }, "smaller than the"},
		{"unigram only specials", func() error {
			_, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 100, ByteFallback: true})
			return err
		}, "leaves no room"},
		{"negative min frequency", func() error {
			_, err := CharBPE(slices.Values(ok), CharBPEOptions{VocabSize: 100, MinFrequency: -1})
			return err
		}, "minimum frequency"},
		{"negative threads", func() error {
			_, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 100, Threads: -2})
			return err
		}, "thread count"},
		{"negative limit alphabet", func() error {
			_, err := CharBPE(slices.Values(ok), CharBPEOptions{VocabSize: 100, LimitAlphabet: -1})
			return err
		}, "alphabet limit"},
		{"negative max token length", func() error {
			_, err := ByteLevelBPE(slices.Values(ok), ByteLevelOptions{VocabSize: 300, MaxTokenLength: -1})
			return err
		}, "maximum token length"},
		{"shrinking factor", func() error {
			_, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 100, ShrinkingFactor: 1.5})
			return err
		}, "shrinking factor"},
		{"negative seed size", func() error {
			_, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 100, SeedSize: -1})
			return err
		}, "seed size"},
		{"duplicate special", func() error {
			_, err := ByteLevelBPE(slices.Values(ok), ByteLevelOptions{VocabSize: 300, SpecialTokens: []string{"<s>", "<s>"}})
			return err
		}, "given twice"},
		{"empty special", func() error {
			_, err := Unigram(slices.Values(ok), UnigramOptions{VocabSize: 100, SpecialTokens: []string{""}})
			return err
		}, "empty special token"},
		{"invalid special", func() error {
			_, err := CharBPE(slices.Values(ok), CharBPEOptions{VocabSize: 100, SpecialTokens: []string{"\xff"}})
			return err
		}, "not valid UTF-8"},
	}
	for _, tc := range tests {
		err := tc.run()
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "train: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want \"train: …%s…\"", tc.name, err, tc.want)
		}
	}
}

// TestSmallCorpus trains on a corpus too small to fill the vocabulary.
func TestSmallCorpus(t *testing.T) {
	texts := []string{"ab ab ab"}
	for name, train := range map[string]func() ([]byte, error){
		"bytelevel": func() ([]byte, error) { return ByteLevelBPE(slices.Values(texts), ByteLevelOptions{VocabSize: 1000}) },
		"charbpe":   func() ([]byte, error) { return CharBPE(slices.Values(texts), CharBPEOptions{VocabSize: 1000}) },
		"unigram":   func() ([]byte, error) { return Unigram(slices.Values(texts), UnigramOptions{VocabSize: 1000}) },
	} {
		js, err := train()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tk := mustParse(t, js)
		if tk.VocabSize() >= 1000 {
			t.Errorf("%s: vocabulary of %d from a 2-char corpus", name, tk.VocabSize())
		}
		if ids := encodeIDs(t, tk, "ab"); len(ids) == 0 {
			t.Errorf("%s: no tokens for \"ab\"", name)
		}
	}
}
