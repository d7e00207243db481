package spm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
)

// marianDir writes a MarianTokenizer directory for opus-mt-en-mg from testdata.
func marianDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range map[string]string{
		"source.spm": "testdata/models/opus-mt-en-mg.source.spm.gz",
		"target.spm": "testdata/models/opus-mt-en-mg.target.spm.gz",
		"vocab.json": "testdata/marian-opus-mt-en-mg/vocab.json.gz",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), readGz(t, src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := os.ReadFile("testdata/marian-opus-mt-en-mg/tokenizer_config.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestMarianOpusMT checks the MarianTokenizer pipeline on opus-mt-en-mg against the
// SentencePiece reference pieces: ids are vocab.json[piece] (else <unk>) plus </s>.
func TestMarianOpusMT(t *testing.T) {
	dir := marianDir(t)
	var vocab map[string]int
	if err := json.Unmarshal(readGz(t, "testdata/marian-opus-mt-en-mg/vocab.json.gz"), &vocab); err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct{ name, refvec string }{
		{"source", "spm__marian-opus-mt-en-mg__source.jsonl.gz"},
		{"target", "spm__marian-opus-mt-en-mg__target.jsonl.gz"},
	} {
		tok, err := LoadMarian(dir, side.name)
		if err != nil {
			t.Fatal(err)
		}
		if tok.VocabSize() != 54688 || tok.EosID() != 0 || tok.UnkID() != 1 || tok.PadID() != 54687 {
			t.Errorf("%s: vocab %d eos %d unk %d pad %d", side.name, tok.VocabSize(), tok.EosID(), tok.UnkID(), tok.PadID())
		}
		checked, unknown := 0, 0
		for _, r := range readRefvec(t, side.refvec) {
			if strings.Contains(r.Text, ">>") || strings.Contains(r.Text, "</s>") || strings.Contains(r.Text, "<unk>") || strings.Contains(r.Text, "<pad>") {
				continue
			}
			e, err := tok.Encode(r.Text, true)
			if err != nil {
				t.Fatal(err)
			}
			var want []int
			for _, p := range r.Pieces {
				id, ok := vocab[p]
				if !ok {
					id = 1
					unknown++
				}
				want = append(want, id)
			}
			want = append(want, 0)
			if !slices.Equal(e.IDs, want) || !slices.Equal(e.Tokens, append(slices.Clone(r.Pieces), "</s>")) {
				t.Fatalf("%s %q:\n got  %v\n want %v", side.name, r.Text, e.IDs, want)
			}
			if !slices.Equal(e.Offsets[:len(r.Pieces)], r.OffsetsUTF8) {
				t.Fatalf("%s %q: offsets %v, want %v", side.name, r.Text, e.Offsets, r.OffsetsUTF8)
			}
			if e.SpecialTokensMask[e.Len()-1] != 1 {
				t.Fatalf("special mask %v", e.SpecialTokensMask)
			}
			// decode: SentencePiece's text (unknown pieces become the special <unk>),
			// stripped and cleaned up.
			got, err := tok.Decode(e.IDs, true)
			if err != nil {
				t.Fatal(err)
			}
			if unknownIn(r.Pieces, vocab) == 0 && !slices.Contains(r.IDs, 0) {
				want := cleanUpTokenization(strings.TrimFunc(r.Decoded, pyIsSpace))
				if got != want {
					t.Fatalf("%s %q: decoded %q, want %q", side.name, r.Text, got, want)
				}
			}
			checked++
		}
		t.Logf("%s: %d texts checked, %d pieces missing from vocab.json", side.name, checked, unknown)
		if checked < 300 {
			t.Errorf("only %d texts checked", checked)
		}
	}
}

func unknownIn(pieces []string, vocab map[string]int) int {
	n := 0
	for _, p := range pieces {
		if _, ok := vocab[p]; !ok {
			n++
		}
	}
	return n
}

// tinyMarianDir builds a Marian directory from the tiny uni_basic model.
func tinyMarianDir(t *testing.T, config string, vocab string, targetVocab string) string {
	t.Helper()
	dir := t.TempDir()
	model, err := os.ReadFile("testdata/tiny/uni_basic.model")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"source.spm": string(model), "target.spm": string(model), "vocab.json": vocab}
	if config != "" {
		files["tokenizer_config.json"] = config
	}
	if targetVocab != "" {
		files["target_vocab.json"] = targetVocab
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const tinyVocab = `{"</s>": 0, "<unk>": 1, "\u2581ab": 2, "\u2581": 3, "ab": 4, ">>fr<<": 5, "c": 6, ".": 7, "\u2581a": 8, "b": 9, "<pad>": 10, "<sep>": 11, "\u2581.": 12}`

func TestMarianTiny(t *testing.T) {
	dir := tinyMarianDir(t, "", tinyVocab, "")
	tok, err := LoadMarian(dir, "source")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text    string
		tokens  []string
		ids     []int
		offsets [][2]int
		mask    []int
	}{
		{"ab", []string{"\u2581ab", "</s>"}, []int{2, 0}, [][2]int{{0, 2}, {0, 0}}, []int{0, 1}},
		// A language code at the start is a token; the special token splits the text.
		{">>fr<< ab</s>ab", []string{">>fr<<", "\u2581ab", "</s>", "\u2581ab", "</s>"}, []int{5, 2, 0, 2, 0},
			[][2]int{{0, 6}, {7, 9}, {9, 13}, {13, 15}, {0, 0}}, []int{0, 0, 1, 0, 1}},
		// Codes elsewhere are removed from the text; pieces missing from vocab.json are <unk>.
		{"ab >>x<<ab", []string{"\u2581ab", "\u2581ab", "</s>"}, []int{2, 2, 0}, [][2]int{{0, 2}, {2, 10}, {0, 0}}, []int{0, 0, 1}},
		{">>x<<\n>>y<<", []string{">>x<<", "\u2581", "\n", "</s>"}, []int{1, 3, 1, 0}, [][2]int{{0, 5}, {5, 5}, {5, 6}, {0, 0}}, []int{0, 0, 0, 1}},
		{"d<unk>", []string{"\u2581d", "<unk>", "</s>"}, []int{1, 1, 0}, [][2]int{{0, 1}, {1, 6}, {0, 0}}, []int{0, 0, 1}},
		{"", []string{"</s>"}, []int{0}, [][2]int{{0, 0}}, []int{1}},
	} {
		e, err := tok.Encode(tc.text, true)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.Tokens, tc.tokens) || !slices.Equal(e.IDs, tc.ids) || !slices.Equal(e.Offsets, tc.offsets) || !slices.Equal(e.SpecialTokensMask, tc.mask) {
			t.Errorf("%q:\n got  %q %v %v %v\n want %q %v %v %v", tc.text, e.Tokens, e.IDs, e.Offsets, e.SpecialTokensMask, tc.tokens, tc.ids, tc.offsets, tc.mask)
		}
	}
	for _, tc := range []struct {
		ids  []int
		skip bool
		want string
	}{
		{[]int{2, 2, 0}, false, "ab ab</s>"},
		{[]int{2, 2, 0}, true, "ab ab"},
		{[]int{5, 2, 1, 8, 10}, false, ">>fr<< ab<unk> a<pad>"}, // ">>fr<<" is not a piece: decoded as itself
		{[]int{5, 2, 1, 8, 10}, true, ">>fr<< ab a"},
		{[]int{2, 12, 99}, false, "ab\u2581.<unk>"}, // "▁." is not a piece of the model: verbatim
		{[]int{2, 3, 7}, false, "ab."},              // clean_up_tokenization: "ab ." → "ab."
		{[]int{4, 6, 7}, false, "abc."},
	} {
		got, err := tok.Decode(tc.ids, tc.skip)
		if err != nil || got != tc.want {
			t.Errorf("Decode(%v, %v) = %q, %v; want %q", tc.ids, tc.skip, got, err, tc.want)
		}
	}
	if id, ok := tok.TokenToID(">>fr<<"); !ok || id != 5 {
		t.Errorf("TokenToID %d %v", id, ok)
	}
	if s, ok := tok.IDToToken(2); !ok || s != "\u2581ab" {
		t.Errorf("IDToToken %q %v", s, ok)
	}
	if _, ok := tok.IDToToken(99); ok {
		t.Error("IDToToken(99)")
	}
	if tok.VocabSize() != 13 || tok.SPM() == nil {
		t.Error("VocabSize / SPM")
	}
	p, err := tok.EncodePair("ab", "c", true)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.IDs, []int{2, 3, 6, 0}) || !slices.Equal(p.TypeIDs, []int{0, 1, 1, 1}) {
		t.Errorf("pair %v %v %q", p.IDs, p.TypeIDs, p.Tokens)
	}
	tr, err := tok.EncodeTruncated("ab ab ab", nil, true, 3, tokenizer.LongestFirst)
	if err != nil || !slices.Equal(tr.IDs, []int{2, 2, 0}) {
		t.Errorf("truncated %v %v", tr, err)
	}
}

func TestMarianConfig(t *testing.T) {
	target := `{"</s>": 0, "<unk>": 1, "\u2581ab": 7, "<pad>": 2, "<eop>": 3, "X": 9, "Y": 9}`
	cfg := `{"unk_token": {"content": "<unk>", "lstrip": false}, "eos_token": "</s>", "pad_token": null,
		"additional_special_tokens": ["<eop>"], "separate_vocabs": true, "clean_up_tokenization_spaces": false,
		"target_vocab_file": "../target_vocab.json"}`
	dir := tinyMarianDir(t, cfg, tinyVocab, target)
	src, err := LoadMarian(dir, "source")
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := LoadMarian(dir, "target")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := src.Encode("ab", false); !slices.Equal(e.IDs, []int{2}) {
		t.Errorf("source ids %v", e.IDs)
	}
	e, _ := tgt.Encode("ab<eop>", true)
	if !slices.Equal(e.IDs, []int{7, 3, 0}) || !slices.Equal(e.SpecialTokensMask, []int{0, 1, 1}) {
		t.Errorf("target ids %v mask %v", e.IDs, e.SpecialTokensMask)
	}
	// No clean-up; a repeated id decodes as the later token.
	if s, _ := tgt.Decode([]int{7, 9, 3}, false); s != "abY<eop>" {
		t.Errorf("target decode %q", s)
	}
	if s, _ := tgt.Decode([]int{7, 9, 3}, true); s != "abY" {
		t.Errorf("target decode skipping %q", s)
	}
}

func TestMarianErrors(t *testing.T) {
	good := tinyMarianDir(t, "", tinyVocab, "")
	for _, tc := range []struct {
		name   string
		dir    string
		side   string
		want   string
		config string
		vocab  string
	}{
		{name: "bad side", dir: good, side: "middle", want: "neither"},
		{name: "missing dir", dir: filepath.Join(good, "nope"), side: "source", want: "no such file"},
		{name: "vocab without unk", side: "source", want: "unknown token", vocab: `{"a": 1}`},
		{name: "vocab not an object", side: "source", want: "not a JSON object", vocab: `[1, 2]`},
		{name: "vocab bad id", side: "source", want: "id of", vocab: `{"<unk>": "x"}`},
		{name: "vocab bad key", side: "source", want: "vocab.json", vocab: `{"<unk>": 1, 5: 3}`},
		{name: "vocab trailing data", side: "source", want: "after the object", vocab: `{"<unk>": 1} {}`},
		{name: "vocab truncated", side: "source", want: "vocab.json", vocab: `{"<unk>": 1`},
		{name: "config not JSON", side: "source", want: "tokenizer_config.json", config: `{`},
		{name: "config bad token", side: "source", want: "unk_token", config: `{"unk_token": 5}`},
		{name: "config bad list", side: "source", want: "additional_special_tokens", config: `{"additional_special_tokens": "x"}`},
		{name: "config bad list item", side: "source", want: "additional_special_tokens", config: `{"additional_special_tokens": [5]}`},
		{name: "config bad bool", side: "source", want: "separate_vocabs", config: `{"separate_vocabs": "yes"}`},
		{name: "config bad file", side: "source", want: "target_vocab_file", config: `{"target_vocab_file": 5}`},
		{name: "missing target vocab", side: "target", want: "target_vocab.json", config: `{"separate_vocabs": true}`},
	} {
		dir := tc.dir
		if dir == "" {
			vocab := tc.vocab
			if vocab == "" {
				vocab = tinyVocab
			}
			dir = tinyMarianDir(t, tc.config, vocab, "")
		}
		tok, err := LoadMarian(dir, tc.side)
		if err == nil || tok != nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "spm: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want spm: …%s…", tc.name, err, tc.want)
		}
	}
}

func TestLanguageCodes(t *testing.T) {
	for _, tc := range []struct {
		in, stripped string
		code         string
	}{
		{">>fr<< hello", " hello", ">>fr<<"},
		{">><<", ">><<", ""},               // ".+" needs a character
		{">>>x<<<<y", "y", ">>>x<<<<"},     // greedy: the last "<<" on the line
		{"a >>x<< b >>y<<", "a ", ""},      // greedy up to the last "<<"
		{"a >>x<<\nb >>y<<", "a \nb ", ""}, // every match is removed
		{">>a\n<< >>b<<", ">>a\n<< ", ""},  // "." does not match a newline
		{">>é<<日", "日", ">>é<<"},           // characters, not bytes
		{"no code", "no code", ""},
	} {
		code, end, stripped, origOf := removeLanguageCodes(tc.in)
		gotCode := ""
		if code {
			gotCode = tc.in[:end]
		}
		if gotCode != tc.code || stripped != tc.stripped || len(origOf) != len(stripped)+1 {
			t.Errorf("%q: code %q stripped %q (%d offsets), want %q %q", tc.in, gotCode, stripped, len(origOf), tc.code, tc.stripped)
		}
		for i := 0; i < len(stripped); i++ {
			if tc.in[origOf[i]] != stripped[i] {
				t.Errorf("%q: byte %d maps to %d", tc.in, i, origOf[i])
			}
		}
	}
}
