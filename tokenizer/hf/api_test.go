package hf

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
)

func TestVocabLookups(t *testing.T) {
	cases := []struct {
		name    string
		size    int
		tok     string
		id      int
		first   string
		maskID  int
		hasMask bool
	}{
		{"bert-base-uncased", 30522, "hello", 7592, "[PAD]", 0, false},
		{"roberta-base", 50265, "hello", 42891, "<s>", 50264, true},
		{"t5-small", 32100, "▁hello", 21820, "<pad>", 0, false},
		{"marian-nmt-ortx-test", 32000, "hello", 13919, "</s>", 0, false},
		{"gpt2-constructed", 50257, "hello", 31373, "!", 0, false},
	}
	for _, c := range cases {
		tk := loadTest(t, c.name)
		if tk.VocabSize() != c.size {
			t.Errorf("%s: VocabSize %d, want %d", c.name, tk.VocabSize(), c.size)
		}
		if id, ok := tk.TokenToID(c.tok); !ok || id != c.id {
			t.Errorf("%s: TokenToID(%q) = %d, %v; want %d", c.name, c.tok, id, ok, c.id)
		}
		if s, ok := tk.IDToToken(0); !ok || s != c.first {
			t.Errorf("%s: IDToToken(0) = %q, %v; want %q", c.name, s, ok, c.first)
		}
		if _, ok := tk.IDToToken(99999); ok {
			t.Errorf("%s: IDToToken(99999) found", c.name)
		}
		if id, ok := tk.TokenToID("<mask>"); ok != c.hasMask || (ok && id != c.maskID) {
			t.Errorf("%s: TokenToID(<mask>) = %d, %v", c.name, id, ok)
		}
	}
	tk := loadTest(t, "bert-base-uncased")
	if !tk.IsSpecial("[CLS]") || tk.IsSpecial("hello") {
		t.Error("IsSpecial")
	}
	// Unknown ids are skipped by Decode, as in Rust.
	if d, err := tk.Decode([]int{7592, 99999, -1, 2088}, false); err != nil || d != "hello world" {
		t.Errorf("Decode with unknown ids: %q, %v", d, err)
	}
}

func TestInvalidUTF8(t *testing.T) {
	tk := loadTest(t, "gpt2-constructed")
	if _, err := tk.Encode("a\xffb", false); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if _, err := tk.EncodePair("ok", "\xc3", true); err == nil {
		t.Error("invalid UTF-8 pair accepted")
	}
}

func TestEncodeBatch(t *testing.T) {
	tk := loadTest(t, "bert-base-uncased")
	texts := []string{"hello world", "the quick brown fox jumps over the lazy dog", ""}
	encs, err := tokenizer.EncodeBatch(tk, texts, nil, tokenizer.BatchOptions{AddSpecial: true, Pad: true, PadID: 0, PadToken: "[PAD]", Threads: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range encs {
		single, _ := tk.Encode(texts[i], true)
		if e.Len() != 11 {
			t.Errorf("text %d: %d tokens after padding, want 11", i, e.Len())
		}
		if !reflect.DeepEqual(e.IDs[:single.Len()], single.IDs) {
			t.Errorf("text %d: ids %v, want %v + padding", i, e.IDs, single.IDs)
		}
	}
	// Truncation keeps the special tokens (Truncator).
	encs, err = tokenizer.EncodeBatch(tk, texts[1:2], []string{"a b c d"}, tokenizer.BatchOptions{AddSpecial: true, MaxLength: 8, Truncation: tokenizer.LongestFirst})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"[CLS]", "the", "quick", "brown", "[SEP]", "a", "b", "[SEP]"}
	if !reflect.DeepEqual(encs[0].Tokens, want) {
		t.Errorf("truncated pair %q, want %q", encs[0].Tokens, want)
	}
	if !reflect.DeepEqual(encs[0].TypeIDs, []int{0, 0, 0, 0, 0, 1, 1, 1}) || !reflect.DeepEqual(encs[0].SequenceIDs, []int{-1, 0, 0, 0, -1, 1, 1, -1}) {
		t.Errorf("type ids %v, sequence ids %v", encs[0].TypeIDs, encs[0].SequenceIDs)
	}
	// A limit below the number of special tokens is an error.
	if _, err := tk.EncodeTruncated("a", nil, true, 1, tokenizer.LongestFirst); !errors.Is(err, tokenizer.ErrTooLong) {
		t.Errorf("limit below the special tokens: %v", err)
	}
	if _, err := tk.EncodeTruncated("a b c", nil, true, 4, tokenizer.OnlySecond); err == nil {
		t.Error("OnlySecond without a pair accepted")
	}
	if _, err := tk.EncodeTruncated("a b c", nil, true, 4, tokenizer.NoTruncation); !errors.Is(err, tokenizer.ErrTooLong) {
		t.Errorf("NoTruncation over the limit: %v", err)
	}
}

func TestFileSettings(t *testing.T) {
	tk, err := Parse([]byte(doc(wl, `"truncation":{"max_length":7,"strategy":"OnlyFirst","stride":2,"direction":"Left"}`,
		`"padding":{"strategy":{"Fixed":16},"direction":"Left","pad_to_multiple_of":8,"pad_id":3,"pad_type_id":1,"pad_token":"<unk>"}`)))
	if err != nil {
		t.Fatal(err)
	}
	if *tk.Truncation != (TruncationParams{MaxLength: 7, Strategy: tokenizer.OnlyFirst, Stride: 2, Direction: "Left"}) {
		t.Errorf("truncation %+v", *tk.Truncation)
	}
	if *tk.Padding != (PaddingParams{Strategy: "Fixed", Length: 16, Direction: "Left", PadToMultipleOf: 8, PadID: 3, PadTypeID: 1, PadToken: "<unk>"}) {
		t.Errorf("padding %+v", *tk.Padding)
	}
	// Encode ignores them.
	if e, err := tk.Encode("ab", true); err != nil || e.Len() != 1 {
		t.Errorf("Encode: %v, %v", e, err)
	}
}

func TestGrapheme(t *testing.T) {
	cases := []struct {
		s    string
		want []string
	}{
		{"abc", []string{"a", "b", "c"}},
		{"\r\n\n", []string{"\r\n", "\n"}},
		{"e\u0301x", []string{"e\u0301", "x"}},
		{"👨\u200d👩\u200d👧x", []string{"👨\u200d👩\u200d👧", "x"}},
		{"🇩🇪🇫", []string{"🇩🇪", "🇫"}},
		{"각\u11a8", []string{"각\u11a8"}},
		{"क्षि", []string{"क्षि"}},
		{"\u0600a", []string{"\u0600a"}},
		{"a\u0903", []string{"a\u0903"}},
	}
	for _, c := range cases {
		var got []string
		for s := c.s; s != ""; {
			n := graphemeLen(s)
			got = append(got, s[:n])
			s = s[n:]
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %q, want %q", c.s, got, c.want)
		}
	}
}

func TestLossyUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"abc":          "abc",
		"a\xffb":       "a\uFFFDb",
		"\xe2\x82x":    "\uFFFDx",
		"\xff\xfe":     "\uFFFD\uFFFD",
		"\xf0\x9f\x98": "\uFFFD",
		"\xed\xa0\x80": "\uFFFD\uFFFD\uFFFD",
		"\xc3\xa9\xc3": "é\uFFFD",
	} {
		if got := lossyUTF8([]byte(in)); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
