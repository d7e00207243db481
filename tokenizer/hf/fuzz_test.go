package hf

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse feeds arbitrary bytes to Parse: it must not panic, and what it accepts must
// encode and decode without panicking.
func FuzzParse(f *testing.F) {
	f.Add([]byte(doc(wl)))
	f.Add([]byte(doc(`{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"],"unk_token":"a","byte_fallback":true,"fuse_unk":true}`,
		`"pre_tokenizer":{"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true}`,
		`"post_processor":{"type":"RobertaProcessing","sep":["b",1],"cls":["a",0]}`,
		`"decoder":{"type":"ByteLevel"}`)))
	f.Add([]byte(doc(`{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["▁a",-1],["b",-2]],"byte_fallback":true}`,
		`"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Replace","pattern":{"Regex":" {2,}"},"content":" "}]}`,
		`"pre_tokenizer":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first","split":true}`,
		`"decoder":{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"}`)))
	f.Add([]byte(doc(`{"type":"WordPiece","vocab":{"[UNK]":0,"a":1,"##b":2},"unk_token":"[UNK]"}`,
		`"normalizer":{"type":"BertNormalizer"}`, `"pre_tokenizer":{"type":"BertPreTokenizer"}`,
		`"post_processor":{"type":"TemplateProcessing","single":"[CLS] $A [SEP]","pair":"[CLS] $A [SEP] $B:1 [SEP]:1","special_tokens":{"[CLS]":{"id":"[CLS]","ids":[1],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[2],"tokens":["[SEP]"]}}}`,
		`"decoder":{"type":"WordPiece"}`,
		`"added_tokens":[{"id":3,"content":"[MASK]","special":true,"lstrip":true,"rstrip":true,"single_word":true}]`)))
	f.Add([]byte(doc(wl, `"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(?i:'s)|\\p{L}+(?=\\s)|\\s+(?!\\S)|(?<=a)b|(?>x+)y|z*+"},"behavior":"MergedWithNext","invert":true}`)))
	f.Fuzz(func(t *testing.T, data []byte) {
		tk, err := Parse(data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "hf: ") {
				t.Fatalf("error without the package prefix: %v", err)
			}
			return
		}
		for _, s := range []string{"", "a ab b", "Hello, World! 123 <mask> [MASK] é\u0301 中 😀"} {
			e, err := tk.Encode(s, true)
			if err != nil {
				continue
			}
			if _, err := tk.Decode(e.IDs, true); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			_, _ = tk.EncodePair(s, s, true)
		}
	})
}

// FuzzEncode runs arbitrary text through the test tokenizers: no panic, offsets inside the
// text and in order, and for the byte-level BPE tokenizers (no normalizer) decoding gives the
// text back.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", " ", "Hello world!", "  leading and trailing  ", "tab\there\r\nline", "Café naïve",
		"中文字 한국어 日本語", "emoji 😀👍🏻🇩🇪", "<mask> <s></s> [CLS] <|endoftext|> <extra_id_0>", "\u0000\u007f\ufffd",
		"e\u0301\u0323 İ ß ΣΑΣ", "x²³ ① ﬁ", "don't I'll we've", strings.Repeat("a", 150)} {
		f.Add(s)
	}
	toks := make([]*Tokenizer, len(testTokenizers))
	for i, name := range testTokenizers {
		toks[i] = loadTest(f, name)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			if _, err := toks[0].Encode(s, true); err == nil {
				t.Fatal("invalid UTF-8 accepted")
			}
			return
		}
		for i, tk := range toks {
			name := testTokenizers[i]
			for _, add := range []bool{false, true} {
				e, err := tk.Encode(s, add)
				if err != nil {
					t.Fatalf("%s: Encode(%q): %v", name, s, err)
				}
				n := e.Len()
				if len(e.Tokens) != n || len(e.Offsets) != n || len(e.TypeIDs) != n || len(e.WordIDs) != n ||
					len(e.SpecialTokensMask) != n || len(e.AttentionMask) != n || len(e.SequenceIDs) != n {
					t.Fatalf("%s: fields of different lengths", name)
				}
				ps, pe := 0, 0
				for k, o := range e.Offsets {
					if e.SpecialTokensMask[k] == 1 && e.WordIDs[k] < 0 {
						continue
					}
					if o[0] < 0 || o[0] > o[1] || o[1] > len(s) {
						t.Fatalf("%s: Encode(%q): offsets %v of token %d outside the text", name, s, o, k)
					}
					if o[0] < ps || o[1] < pe {
						t.Fatalf("%s: Encode(%q): offsets %v of token %d before %v", name, s, o, k, [2]int{ps, pe})
					}
					ps, pe = o[0], o[1]
				}
				if _, err := tk.Decode(e.IDs, true); err != nil {
					t.Fatalf("%s: Decode: %v", name, err)
				}
				d, err := tk.Decode(e.IDs, false)
				if err != nil {
					t.Fatalf("%s: Decode: %v", name, err)
				}
				byteLevel := name == "gpt2-constructed" || (name == "roberta-base" && !strings.Contains(s, "<mask>"))
				if byteLevel && !add && d != s {
					t.Fatalf("%s: Decode(Encode(%q)) = %q", name, s, d)
				}
			}
		}
	})
}
