package spm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
)

// checkEncoding checks the invariants every encoding of text must keep.
func checkEncoding(t *testing.T, name, text string, e *tokenizer.Encoding) {
	t.Helper()
	n := len(e.IDs)
	if len(e.Tokens) != n || len(e.Offsets) != n || len(e.TypeIDs) != n || len(e.SpecialTokensMask) != n ||
		len(e.WordIDs) != n || len(e.AttentionMask) != n || len(e.SequenceIDs) != n {
		t.Fatalf("%s %q: field lengths differ", name, text)
	}
	prev := [2]int{}
	for i, o := range e.Offsets {
		if e.SpecialTokensMask[i] == 1 {
			if o != [2]int{} {
				t.Fatalf("%s %q: special token with offsets %v", name, text, o)
			}
			continue
		}
		if o[0] < 0 || o[0] > o[1] || o[1] > len(text) {
			t.Fatalf("%s %q: offset %v outside the text (%d bytes)", name, text, o, len(text))
		}
		if o[0] < prev[0] || o[1] < prev[1] {
			t.Fatalf("%s %q: offsets decrease at %d: %v", name, text, i, e.Offsets)
		}
		prev = o
	}
}

// FuzzParse parses arbitrary model bytes; a model that loads must encode and decode
// without panicking.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/tiny/*.model")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add(modelSpec{pieces: append(specials(), tp{"\u2581a", -1, Normal}, tp{"a", -1, UserDefined}, tp{"b", 1, Unused}), trainer: pw(nil).int(3, 2)}.bytes())
	texts := []string{"", "a", " a b ", "ab<sep>[x]\u2581", "日本語 é\xff", "AaBbCc \t\n", "<s></s><unk>"}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(data)
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "spm: ") {
				t.Fatalf("Parse = %v, %v", m, err)
			}
			return
		}
		all := append(texts, string(data[:min(len(data), 64)]))
		for _, s := range all {
			e, err := m.Encode(s, true)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "spm: ") {
					t.Fatalf("Encode(%q): %v", s, err)
				}
				continue
			}
			checkEncoding(t, "fuzzed model", s, e)
			if _, err := m.Decode(e.IDs, false); err != nil {
				t.Fatalf("Decode(%v): %v", e.IDs, err)
			}
		}
		ids := make([]int, 0, 64)
		for i := 0; i < m.VocabSize() && i < 64; i++ {
			ids = append(ids, i)
		}
		if _, err := m.Decode(ids, false); err != nil {
			t.Fatal(err)
		}
		m.Normalize(string(data))
	})
}

// fuzzModels are the models FuzzEncode runs text through.
var fuzzModels = []struct{ name, file string }{
	{"test_sentencepiece", "models/test_sentencepiece.model.gz"},
	{"test_sentencepiece_bpe", "models/test_sentencepiece_bpe.model.gz"},
	{"test_sentencepiece_no_bos", "models/test_sentencepiece_no_bos.model.gz"},
	{"opus-mt-en-mg.source", "models/opus-mt-en-mg.source.spm.gz"},
	{"opus-mt-en-mg.target", "models/opus-mt-en-mg.target.spm.gz"},
	{"ortx.vocab.joint", "models/ortx.vocab.joint.spm.gz"},
	{"uni_rules_bytes", "tiny/uni_rules_bytes.model"},
	{"bpe_rules_bytes", "tiny/bpe_rules_bytes.model"},
	{"uni_suffix", "tiny/uni_suffix.model"},
	{"char", "tiny/char.model"},
	{"word", "tiny/word.model"},
}

func loadFuzzModel(t testing.TB, file string) *Model {
	if strings.HasPrefix(file, "models/") {
		return loadTestModel(t, strings.TrimPrefix(file, "models/"))
	}
	return loadTinyModel(t, strings.TrimPrefix(file, "tiny/"))
}

// FuzzEncode runs arbitrary text through the test models: no error, no panic, offsets
// inside the text and non-decreasing, the pieces spell the normalized text, and decode
// gives back SentencePiece's normalization of the text (spaces unescaped, the dummy
// prefix removed) where that holds: no unknown piece, no denormalizer, whitespace as a
// prefix, and no U+2581 right after the dummy prefix (decode strips that one too).
func FuzzEncode(f *testing.F) {
	models := make([]*Model, len(fuzzModels))
	for i, fm := range fuzzModels {
		models[i] = loadFuzzModel(f, fm.file)
	}
	for _, s := range []string{"", " ", "Hello, world!", "  two  spaces  ", "Ａ ｶﾞ ① é\u0301", "日本語のテキスト",
		"\xff\xfe bad utf-8 \xe6\x97", "\u2581lead", "a\u2581\u2581b", "(phrasefix) <eos> __BT__", "\t\r\n\v\f", "😀👍🏽🇫🇷"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		for i, m := range models {
			name := fuzzModels[i].name
			e, err := m.Encode(text, false)
			if err != nil {
				t.Fatalf("%s: Encode(%q): %v", name, text, err)
			}
			checkEncoding(t, name, text, e)
			norm := m.Normalize(text)
			dec, err := m.Decode(e.IDs, false)
			if err != nil {
				t.Fatalf("%s: Decode: %v", name, err)
			}
			unk := false
			for _, id := range e.IDs {
				if m.pieces[id].Type == Unknown {
					unk = true
				}
			}
			if !m.trainer.ByteFallback && strings.Join(e.Tokens, "") != norm {
				t.Fatalf("%s %q: pieces %q do not spell %q", name, text, e.Tokens, norm)
			}
			if unk || m.denorm != nil || m.trainer.TreatWhitespaceAsSuffix || !m.normSpec.EscapeWhitespaces {
				continue
			}
			want := norm
			if m.normSpec.AddDummyPrefix || m.normSpec.RemoveExtraWhitespaces {
				want = strings.TrimPrefix(want, spaceSymbol)
				if strings.HasPrefix(want, spaceSymbol) {
					continue
				}
			}
			want = strings.ReplaceAll(want, spaceSymbol, " ")
			if dec != want {
				t.Fatalf("%s %q: decode(encode) = %q, want %q", name, text, dec, want)
			}
		}
	})
}
