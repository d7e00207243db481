package spm

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
)

func bytePieces() []tp {
	var out []tp
	for b := 0; b < 256; b++ {
		out = append(out, tp{fmt.Sprintf("<0x%02X>", b), 0, Byte})
	}
	return out
}

// validCharsmap is a one-rule precompiled charsmap "A" → "a" (built by hand: root with
// offset 1, unit 1^'A' labelled 'A' with a leaf, value unit 1^'A'^1... see below).
func validCharsmap() []byte {
	// units: 0 root (offset 1 → children at 1^c); 'A' = 0x41 → unit 0x40; its offset 0x40^0x80
	// puts its leaf at 0x80, holding value 0 (the replacement at offset 0).
	units := make([]uint32, 0x81)
	units[0] = 1 << 10
	units[0x40] = 0x41 | 1<<8 | (0x40^0x80)<<10
	units[0x80] = 1<<31 | 0
	var b []byte
	b = append(b, byte(4*len(units)), byte(4*len(units)>>8), 0, 0)
	for _, u := range units {
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return append(b, 'a', 0)
}

func TestLoadErrors(t *testing.T) {
	uni := func(p ...tp) []tp { return append(specials(), p...) }
	normal := tp{"a", -1, Normal}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "no pieces"},
		{"empty piece", modelSpec{pieces: uni(tp{"", -1, Normal})}.bytes(), "piece 3 is empty"},
		{"duplicate piece", modelSpec{pieces: uni(normal, normal)}.bytes(), "already defined"},
		{"duplicate control", modelSpec{pieces: uni(tp{"<s>", 0, Control}, normal)}.bytes(), "already defined"},
		{"two unk", modelSpec{pieces: uni(tp{"<unk2>", 0, Unknown}, normal)}.bytes(), "unk is already defined"},
		{"no unk", modelSpec{pieces: []tp{normal}}.bytes(), "unk is not defined"},
		{"byte without fallback", modelSpec{pieces: uni(tp{"<0x41>", 0, Byte})}.bytes(), "byte_fallback is false"},
		{"bad byte piece", modelSpec{pieces: uni(tp{"<0x4g>", 0, Byte}), trainer: pw(nil).boolean(35, true)}.bytes(), "is invalid"},
		{"lower-case byte piece", modelSpec{pieces: uni(tp{"<0x4a>", 0, Byte}), trainer: pw(nil).boolean(35, true)}.bytes(), "is invalid"},
		{"missing byte pieces", modelSpec{pieces: append(uni(normal), bytePieces()[:255]...), trainer: pw(nil).boolean(35, true)}.bytes(), "not 256 byte pieces"},
		{"NUL in piece", modelSpec{pieces: uni(tp{"a\x00b", -1, Normal})}.bytes(), "NUL"},
		{"piece too long", modelSpec{pieces: uni(tp{strings.Repeat("a", MaxPieceLen+1), -1, Normal})}.bytes(), "limit"},
		{"unigram without pieces", modelSpec{pieces: specials()}.bytes(), "no pieces are loaded"},
		{"bad charsmap", modelSpec{pieces: uni(normal), norm: pw(nil).bytes(2, []byte{1, 2})}.bytes(), "normalizer_spec: charsmap: "},
		{"bad denormalizer", modelSpec{pieces: uni(normal), denorm: pw(nil).bytes(2, []byte{9, 9, 9, 9, 9})}.bytes(), "denormalizer_spec: charsmap: "},
		{"self-test fails", modelSpec{pieces: uni(normal), extra: pw(nil).bytes(4, pw(nil).bytes(1, pw(nil).str(1, "a").str(2, "b")))}.bytes(), "self-test sample 0 fails"},
		{"bad piece message", pw(nil).bytes(1, []byte{0x0a, 0x05}), "pieces[0]"},
		{"bad trainer message", pw(nil).bytes(2, []byte{0x08}), "trainer_spec"},
		{"bad normalizer message", pw(nil).bytes(3, []byte{0x08}), "normalizer_spec"},
		{"bad self-test message", pw(nil).bytes(4, []byte{0x0a, 0x01}), "self_test_data"},
		{"bad self-test sample", pw(nil).bytes(4, pw(nil).bytes(1, []byte{0x0a, 0x03})), "samples[0]"},
		{"bad denormalizer message", pw(nil).bytes(5, []byte{0x08}), "denormalizer_spec"},
	} {
		m, err := Parse(tc.data)
		if err == nil || m != nil {
			t.Errorf("%s: Parse = %v, %v; want an error", tc.name, m, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "spm: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want spm: …%s…", tc.name, err, tc.want)
		}
	}
	// Parse accepts what the failing cases lacked.
	mustParse(t, modelSpec{pieces: append(uni(normal), bytePieces()...), trainer: pw(nil).boolean(35, true)}.bytes())
	mustParse(t, modelSpec{pieces: specials(), trainer: pw(nil).int(3, int(BPE))}.bytes())
	mustParse(t, modelSpec{pieces: uni(tp{"\u2581a", -1, Normal}, normal), norm: pw(nil).bytes(2, validCharsmap()),
		extra: pw(nil).bytes(4, pw(nil).bytes(1, pw(nil).str(1, "A a").str(2, "\u2581a \u2581a")))}.bytes())

	if _, err := Parse(make([]byte, MaxModelSize+1)); err == nil || !strings.Contains(err.Error(), "exceeds the limit") {
		t.Errorf("oversized model: %v", err)
	}
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing.model")); err == nil || !strings.HasPrefix(err.Error(), "spm: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.model")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(MaxModelSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "limit") {
		t.Errorf("big file: %v", err)
	}
	bad := filepath.Join(dir, "bad.model")
	os.WriteFile(bad, []byte{0x80}, 0o644)
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), "bad.model") {
		t.Errorf("bad file: %v", err)
	}
	good := filepath.Join(dir, "good.model")
	os.WriteFile(good, modelSpec{pieces: uni(normal)}.bytes(), 0o644)
	if _, err := Load(good); err != nil {
		t.Error(err)
	}
}

func encodeTokens(t *testing.T, m *Model, text string) []string {
	t.Helper()
	e, err := m.Encode(text, false)
	if err != nil {
		t.Fatal(err)
	}
	return e.Tokens
}

// TestUnigramSmall shows the unigram rules on a tiny model: the best total score, unknown
// characters merged into one token, user-defined symbols preferred.
func TestUnigramSmall(t *testing.T) {
	m := mustParse(t, modelSpec{pieces: append(specials(),
		tp{"\u2581", -1, Normal}, tp{"a", -2, Normal}, tp{"b", -2, Normal}, tp{"ab", -3, Normal},
		tp{"\u2581ab", -10, Normal}, tp{"<x>", 0, UserDefined}, tp{"bb", -0.5, Unused})}.bytes())
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"ab", []string{"\u2581", "ab"}},                     // -4 beats ▁ab's -10
		{"abb", []string{"\u2581", "ab", "b"}},               // the UNUSED "bb" is never used
		{"a日本b", []string{"\u2581", "a", "日本", "b"}},         // two unknown characters, one token
		{"a<x>b", []string{"\u2581", "a", "<x>", "b"}},       // a user-defined symbol stays whole
		{"  a   b ", []string{"\u2581", "a", "\u2581", "b"}}, // extra whitespace removed
		{"", nil},
	} {
		if got := encodeTokens(t, m, tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
	}
	e, _ := m.Encode("a日本b", false)
	if e.IDs[2] != 0 || e.Offsets[2] != [2]int{1, 7} {
		t.Errorf("unknown token %v %v", e.IDs, e.Offsets)
	}
	if s, _ := m.Decode(e.IDs, false); s != "a \u2047 b" {
		t.Errorf("decode %q", s)
	}
	if s, _ := m.Decode(e.IDs, true); s != "ab" {
		t.Errorf("decode skipping special %q", s)
	}
}

// TestBPESmall shows BPE merges (best score first, leftmost on ties), frozen user-defined
// symbols, UNUSED pieces re-split, and byte fallback.
func TestBPESmall(t *testing.T) {
	pieces := append(specials(),
		tp{"\u2581", -1, Normal}, tp{"a", -1, Normal}, tp{"b", -1, Normal}, tp{"c", -1, Normal},
		tp{"ab", -2, Normal}, tp{"bc", -2, Normal}, tp{"abc", -5, Unused}, tp{"\u2581ab", -3, Normal},
		tp{"<x>", 0, UserDefined}, tp{"x>", 0, Normal})
	pieces = append(pieces, bytePieces()...)
	m := mustParse(t, modelSpec{pieces: pieces, trainer: pw(nil).int(3, int(BPE)).boolean(35, true)}.bytes())
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"abc", []string{"\u2581ab", "c"}}, // ab and bc tie: the left pair merges first
		{"bcab", []string{"\u2581", "bc", "ab"}},
		{"<x>ab", []string{"\u2581", "<x>", "ab"}},
		{"é", []string{"\u2581", "<0xC3>", "<0xA9>"}},
	} {
		if got := encodeTokens(t, m, tc.text); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
	}
	e, _ := m.Encode("é", false)
	if !slices.Equal(e.Offsets, [][2]int{{0, 0}, {0, 0}, {0, 2}}) {
		t.Errorf("byte offsets %v", e.Offsets)
	}
	if s, _ := m.Decode(e.IDs, false); s != "é" {
		t.Errorf("decode %q", s)
	}
	// A lone continuation byte decodes to U+FFFD.
	id0xA9, _ := m.TokenToID("<0xA9>")
	idA, _ := m.TokenToID("a")
	if s, _ := m.Decode([]int{id0xA9, idA, id0xA9}, false); s != "\uFFFDa\uFFFD" {
		t.Errorf("decode bytes %q", s)
	}
	if _, err := m.Decode([]int{-1}, false); err == nil {
		t.Error("negative id decoded")
	}
	if _, err := m.Decode([]int{m.VocabSize()}, false); err == nil {
		t.Error("id past the vocabulary decoded")
	}
	// The UNUSED "abc" is re-split where merges produce it.
	m2 := mustParse(t, modelSpec{pieces: append(specials(),
		tp{"\u2581", -1, Normal}, tp{"a", -1, Normal}, tp{"b", -1, Normal}, tp{"c", -1, Normal},
		tp{"ab", -2, Normal}, tp{"abc", -1, Unused}), trainer: pw(nil).int(3, int(BPE))}.bytes())
	if got := encodeTokens(t, m2, "abc"); !slices.Equal(got, []string{"\u2581", "ab", "c"}) {
		t.Errorf("unused: %q", got)
	}
}

func TestWordAndCharModels(t *testing.T) {
	w := mustParse(t, modelSpec{pieces: append(specials(), tp{"\u2581ab", -1, Normal}, tp{"\u2581c", -1, Normal}), trainer: pw(nil).int(3, int(Word))}.bytes())
	e, _ := w.Encode("ab cd ab", false)
	if !slices.Equal(e.IDs, []int{3, 0, 3}) || !slices.Equal(e.Tokens, []string{"\u2581ab", "\u2581cd", "\u2581ab"}) {
		t.Errorf("word: %v %q", e.IDs, e.Tokens)
	}
	c := mustParse(t, modelSpec{pieces: append(specials(), tp{"\u2581", -1, Normal}, tp{"a", -1, Normal}, tp{"<x>", 0, UserDefined}), trainer: pw(nil).int(3, int(Char))}.bytes())
	if got := encodeTokens(t, c, "a<x>b"); !slices.Equal(got, []string{"\u2581", "a", "<x>", "b"}) {
		t.Errorf("char: %q", got)
	}
}

// TestNormalizerOptions covers the NormalizerSpec switches and the denormalizer.
func TestNormalizerOptions(t *testing.T) {
	pieces := append(specials(), tp{"\u2581", -1, Normal}, tp{"a", -1, Normal}, tp{" ", -1, Normal}, tp{"a\u2581", -1, Normal})
	build := func(norm pw, trainer pw, denorm pw) *Model {
		return mustParse(t, modelSpec{pieces: pieces, norm: norm, trainer: trainer, denorm: denorm}.bytes())
	}
	for _, tc := range []struct {
		name          string
		m             *Model
		text, want    string
		decoded       string
		decodedTokens []string
	}{
		{"defaults", build(nil, nil, nil), " a  a ", "\u2581a\u2581a", "a a", nil},
		{"keep spaces", build(pw(nil).boolean(4, false), nil, nil), " a  a ", "\u2581\u2581a\u2581\u2581a\u2581", " a  a ", nil},
		{"no dummy prefix", build(pw(nil).boolean(3, false), nil, nil), " a  a ", "a\u2581a", "a a", nil},
		{"no escaping", build(pw(nil).boolean(5, false), nil, nil), " a  a ", " a a", " a a", nil}, // only U+2581 is stripped
		{"suffix", build(nil, pw(nil).boolean(24, true), nil), " a  a ", "a\u2581a\u2581", "a a ", nil},
		{"charsmap", build(pw(nil).bytes(2, validCharsmap()), nil, nil), "AaA", "\u2581aaa", "aaa", nil},
		{"denormalizer", build(nil, nil, pw(nil).bytes(2, validCharsmap()).boolean(3, false)), "a", "\u2581a", "a", nil},
	} {
		if got := tc.m.Normalize(tc.text); got != tc.want {
			t.Errorf("%s: Normalize(%q) = %q, want %q", tc.name, tc.text, got, tc.want)
		}
		e, err := tc.m.Encode(tc.text, false)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := tc.m.Decode(e.IDs, false); got != tc.decoded {
			t.Errorf("%s: decode %q, want %q", tc.name, got, tc.decoded)
		}
	}
	// The denormalizer maps the decoded "A"s (from strings that are not pieces, decoded
	// as themselves, U+2581 included) to "a".
	dm := build(nil, nil, pw(nil).bytes(2, validCharsmap()).boolean(3, false).boolean(4, false).boolean(5, false))
	if s, _ := dm.DecodePieces([]string{"\u2581A", "A"}); s != "\u2581aa" {
		t.Errorf("denormalized %q", s)
	}
}

// TestEncodeSpecial covers addSpecial, pairs, truncation and EncodeBatch.
func TestEncodeSpecial(t *testing.T) {
	m := loadTestModel(t, "test_sentencepiece.model.gz")
	noBos := loadTestModel(t, "test_sentencepiece_no_bos.model.gz")
	e, err := m.Encode("Hello world", true)
	if err != nil {
		t.Fatal(err)
	}
	n := e.Len()
	if e.IDs[0] != 1 || e.IDs[n-1] != 2 || e.Tokens[0] != "<s>" || e.Tokens[n-1] != "</s>" {
		t.Errorf("BOS/EOS: %v %q", e.IDs, e.Tokens)
	}
	if e.SpecialTokensMask[0] != 1 || e.SpecialTokensMask[1] != 0 || e.Offsets[0] != [2]int{} || e.WordIDs[0] != -1 || e.SequenceIDs[n-1] != -1 {
		t.Errorf("special fields %+v", e)
	}
	plain, _ := m.Encode("Hello world", false)
	if !slices.Equal(plain.IDs, e.IDs[1:n-1]) || !slices.Equal(plain.WordIDs, e.WordIDs[1:n-1]) {
		t.Errorf("plain %v vs %v", plain.IDs, e.IDs)
	}
	if plain.WordIDs[0] != 0 || plain.WordIDs[len(plain.WordIDs)-1] != 1 {
		t.Errorf("word ids %v (%q)", plain.WordIDs, plain.Tokens)
	}
	e2, _ := noBos.Encode("Hello", true)
	if e2.IDs[0] == 1 || e2.IDs[e2.Len()-1] != 1 {
		t.Errorf("no-BOS model: %v", e2.IDs)
	}
	for _, f := range [][]int{e.TypeIDs, e.SpecialTokensMask, e.WordIDs, e.AttentionMask, e.SequenceIDs} {
		if len(f) != n || len(e.Offsets) != n || len(e.Tokens) != n {
			t.Fatalf("field lengths differ: %+v", e)
		}
	}

	p, err := m.EncodePair("Hello world", "good bye", true)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Encode("good bye", true)
	if !slices.Equal(p.IDs, append(slices.Clone(e.IDs), b.IDs...)) || p.TypeIDs[0] != 0 || p.TypeIDs[p.Len()-1] != 1 {
		t.Errorf("pair %v %v", p.IDs, p.TypeIDs)
	}

	a, bb := "one two three four five six", "seven"
	la, _ := m.Encode(a, false)
	lb, _ := m.Encode(bb, false)
	for _, tc := range []struct {
		strategy tokenizer.Truncation
		b        *string
		max      int
		wantA    int
		wantB    int
		err      bool
	}{
		{tokenizer.LongestFirst, &bb, la.Len() + lb.Len() + 4, la.Len(), lb.Len(), false},
		{tokenizer.LongestFirst, &bb, 4 + 2*lb.Len(), lb.Len(), lb.Len(), false},
		{tokenizer.LongestFirst, &bb, 4 + 3, 2, 1, false}, // ties take from b
		{tokenizer.LongestFirst, nil, 2 + 3, 3, 0, false},
		{tokenizer.OnlyFirst, &bb, 4 + lb.Len() + 1, 1, lb.Len(), false},
		{tokenizer.OnlyFirst, &bb, 4 + lb.Len(), 0, 0, true},
		{tokenizer.OnlySecond, &bb, 4 + la.Len() + lb.Len() - 1, la.Len(), lb.Len() - 1, false},
		{tokenizer.OnlySecond, nil, 3, 0, 0, true},
		{tokenizer.NoTruncation, &bb, 3, 0, 0, true},
		{tokenizer.LongestFirst, &bb, 3, 0, 0, true},
	} {
		got, err := m.EncodeTruncated(a, tc.b, true, tc.max, tc.strategy)
		if tc.err {
			if !errors.Is(err, tokenizer.ErrTooLong) {
				t.Errorf("%v max %d: error %v, want ErrTooLong", tc.strategy, tc.max, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]int{1}, la.IDs[:tc.wantA]...), 2)
		if tc.b != nil {
			want = append(append(append(want, 1), lb.IDs[:tc.wantB]...), 2)
		}
		if !slices.Equal(got.IDs, want) || got.Len() > tc.max {
			t.Errorf("%v max %d: %v, want %v", tc.strategy, tc.max, got.IDs, want)
		}
	}

	batch, err := tokenizer.EncodeBatch(m, []string{"Hello world", "a"}, nil, tokenizer.BatchOptions{AddSpecial: true, Pad: true, PadID: 0, PadToken: "<unk>"})
	if err != nil {
		t.Fatal(err)
	}
	if batch[0].Len() != batch[1].Len() || batch[1].AttentionMask[batch[1].Len()-1] != 0 || batch[1].IDs[batch[1].Len()-1] != 0 {
		t.Errorf("batch %+v", batch[1])
	}
	if !slices.Equal(batch[0].IDs, e.IDs) {
		t.Errorf("batch changed the first encoding: %v", batch[0].IDs)
	}
}

func TestVocabLookups(t *testing.T) {
	m := loadTestModel(t, "test_sentencepiece.model.gz")
	if m.VocabSize() != 1000 {
		t.Errorf("vocab %d", m.VocabSize())
	}
	for id := 0; id < m.VocabSize(); id++ {
		tok, ok := m.IDToToken(id)
		if !ok {
			t.Fatalf("id %d", id)
		}
		if back, ok := m.TokenToID(tok); !ok || back != id {
			t.Fatalf("%q: %d %v, want %d", tok, back, ok, id)
		}
	}
	if _, ok := m.TokenToID("not a piece"); ok {
		t.Error("unknown token found")
	}
	if _, ok := m.IDToToken(-1); ok {
		t.Error("id -1")
	}
	if _, ok := m.IDToToken(1000); ok {
		t.Error("id 1000")
	}
	if _, ok := m.Piece(1000); ok {
		t.Error("piece 1000")
	}
	if p, ok := m.Piece(0); !ok || p.Text != "<unk>" || p.Type != Unknown {
		t.Errorf("piece 0 %+v", p)
	}
}

func TestCharOffsets(t *testing.T) {
	// 0xFF counts as the first byte of a 4-byte sequence (OneCharLen), so it swallows
	// three bytes of the emoji, whose last byte is a character of its own.
	text := "aé日\xff😀"
	got := CharOffsets(text, [][2]int{{0, 1}, {1, 3}, {2, 3}, {3, 6}, {6, 7}, {7, 11}, {-5, 99}})
	want := [][2]int{{0, 1}, {1, 2}, {1, 2}, {2, 3}, {3, 3}, {3, 5}, {0, 5}}
	if !slices.Equal(got, want) {
		t.Errorf("%v, want %v", got, want)
	}
	// A truncated sequence at the end is one character.
	if got := CharOffsets("a\xe6\x97", [][2]int{{0, 3}, {1, 3}}); !slices.Equal(got, [][2]int{{0, 2}, {1, 2}}) {
		t.Errorf("truncated: %v", got)
	}
	if got := CharOffsets("", [][2]int{{0, 0}}); !slices.Equal(got, [][2]int{{0, 0}}) {
		t.Errorf("empty: %v", got)
	}
}

// TestInvalidUTF8 runs malformed text through a real model: each bad byte is one U+FFFD.
func TestInvalidUTF8(t *testing.T) {
	m := loadTestModel(t, "test_sentencepiece.model.gz")
	if got := m.Normalize("a\xffb\xe6\x97"); got != "\u2581a\uFFFDb\uFFFD\uFFFD" {
		t.Errorf("normalized %q", got)
	}
	e, err := m.Encode("a\xffb", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range e.Offsets {
		if o[0] < 0 || o[1] > 3 || o[0] > o[1] {
			t.Errorf("offsets %v", e.Offsets)
		}
	}
}
