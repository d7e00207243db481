package hf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const wl = `{"type":"WordLevel","vocab":{"a":0,"b":1,"ab":2,"<unk>":3},"unk_token":"<unk>"}`

// doc builds a tokenizer.json with the given model and extra top-level fields.
func doc(model string, fields ...string) string {
	s := `{"version":"1.0","model":` + model
	for _, f := range fields {
		s += "," + f
	}
	return s + "}"
}

// TestLoadErrors checks that every kind of malformed input gives an error naming the field.
func TestLoadErrors(t *testing.T) {
	bpe := func(merges string, extra string) string {
		return `{"type":"BPE","vocab":{"a":0,"b":1,"ab":2,"##b":3}` + extra + `,"merges":` + merges + `}`
	}
	cases := []struct{ name, json, want string }{
		{"not json", `{`, "hf: tokenizer.json: unexpected end of JSON input"},
		{"not an object", `[1]`, "hf: tokenizer.json: json: cannot unmarshal array into Go value of type hf.jobj"},
		{"null", `null`, "hf: tokenizer.json: expected a JSON object"},
		{"version", `{"version":"2.0","model":` + wl + `}`, `hf: version: unknown tokenizer version "2.0"`},
		{"version type", `{"version":1,"model":` + wl + `}`, `hf: tokenizer.version: expected a string or null`},
		{"no model", `{"version":"1.0"}`, "hf: model: missing"},
		{"model not object", doc(`[1]`), "hf: model: expected a JSON object"},
		{"model no vocab", doc(`{"type":"WordLevel","unk_token":"x"}`), "hf: model.vocab: missing"},
		{"model unknown type", doc(`{"type":"Foo","vocab":{}}`), `hf: model.type: unknown model type "Foo"`},
		{"model untyped", doc(`{"vocab":{"a":0}}`), `hf: model: cannot tell the model type (no "type")`},
		{"vocab not object", doc(`{"type":"WordLevel","vocab":[1],"unk_token":"x"}`), "hf: model.vocab: expected an object of token ids"},
		{"vocab id float", doc(`{"type":"WordLevel","vocab":{"a":1.5},"unk_token":"x"}`), `hf: model.vocab: id 1.5 of token "a" is not an integer`},
		{"vocab id negative", doc(`{"type":"WordLevel","vocab":{"a":-1},"unk_token":"x"}`), `hf: model.vocab: id -1 of token "a" is out of range [0, 16777216)`},
		{"vocab id huge", doc(`{"type":"WordLevel","vocab":{"a":1000000000},"unk_token":"x"}`), `hf: model.vocab: id 1000000000 of token "a" is out of range [0, 16777216)`},
		{"unk_token type", doc(`{"type":"WordLevel","vocab":{"a":0},"unk_token":5}`), "hf: model.unk_token: expected a string"},
		{"wordpiece max chars", doc(`{"type":"WordPiece","vocab":{"a":0},"max_input_chars_per_word":-3}`), "hf: model.max_input_chars_per_word: -3 is out of range [0, 9223372036854775807]"},
		{"wordpiece max chars float", doc(`{"type":"WordPiece","vocab":{"a":0},"max_input_chars_per_word":"x"}`), "hf: model.max_input_chars_per_word: expected an integer, got \"x\""},
		{"bpe no merges", doc(`{"type":"BPE","vocab":{"a":0}}`), "hf: model.merges: missing"},
		{"bpe merges not array", doc(bpe(`{}`, ``)), "hf: model.merges: expected an array"},
		{"bpe merge three parts", doc(bpe(`["a b c"]`, ``)), `hf: model.merges[0]: expected "a b", got "a b c"`},
		{"bpe merge bad pair", doc(bpe(`[["a"]]`, ``)), `hf: model.merges[0]: expected a string "a b" or a pair [a, b]`},
		{"bpe merge oov left", doc(bpe(`["x b"]`, ``)), `hf: model.merges[0]: token "x" is not in the vocabulary`},
		{"bpe merge oov right", doc(bpe(`["a x"]`, ``)), `hf: model.merges[0]: token "x" is not in the vocabulary`},
		{"bpe merge oov result", doc(bpe(`["b a"]`, ``)), `hf: model.merges[0]: merged token "ba" is not in the vocabulary`},
		{"bpe merge short prefix", doc(bpe(`["a b"]`, `,"continuing_subword_prefix":"###"`)), `hf: model.merges[0]: token "b" is shorter than the continuing_subword_prefix`},
		{"bpe dropout range", doc(bpe(`[]`, `,"dropout":2`)), "hf: model.dropout: 2 is not in [0, 1]"},
		{"bpe dropout type", doc(bpe(`[]`, `,"dropout":"x"`)), "hf: model.dropout: expected a number or null"},
		{"bpe dropout unsupported", doc(bpe(`[]`, `,"dropout":0.1`)), "hf: model.dropout: BPE dropout 0.1 (random merges) is not supported"},
		{"bpe fuse_unk type", doc(bpe(`[]`, `,"fuse_unk":1`)), "hf: model.fuse_unk: expected true or false"},
		{"bpe prefix type", doc(bpe(`[]`, `,"continuing_subword_prefix":1`)), "hf: model.continuing_subword_prefix: expected a string or null"},
		{"unigram entry", doc(`{"type":"Unigram","vocab":[["a"]]}`), "hf: model.vocab[0]: expected [piece, score]"},
		{"unigram piece", doc(`{"type":"Unigram","vocab":[[1,2]]}`), "hf: model.vocab[0][0]: expected a string"},
		{"unigram score", doc(`{"type":"Unigram","vocab":[["a","x"]]}`), "hf: model.vocab[0][1]: expected a number"},
		{"unigram unk_id range", doc(`{"type":"Unigram","vocab":[["a",0]],"unk_id":1}`), "hf: model.unk_id: 1 is not in the vocabulary of 1 pieces"},
		{"unigram unk_id empty", doc(`{"type":"Unigram","vocab":[],"unk_id":0}`), "hf: model.vocab: empty, but unk_id needs at least <unk>"},
		{"unigram unk_id negative", doc(`{"type":"Unigram","vocab":[["a",0]],"unk_id":-1}`), "hf: model.unk_id: -1 is out of range [0, 16777216]"},
		{"normalizer type missing", doc(wl, `"normalizer":{}`), `hf: normalizer: missing "type"`},
		{"normalizer unknown", doc(wl, `"normalizer":{"type":"Foo"}`), `hf: normalizer.type: unknown normalizer type "Foo"`},
		{"normalizer not object", doc(wl, `"normalizer":3`), "hf: normalizer: expected a JSON object"},
		{"normalizer seq", doc(wl, `"normalizer":{"type":"Sequence","normalizers":{}}`), "hf: normalizer.normalizers: expected an array"},
		{"normalizer seq item", doc(wl, `"normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"X"}]}`), `hf: normalizer.normalizers[1].type: unknown normalizer type "X"`},
		{"bert bool", doc(wl, `"normalizer":{"type":"BertNormalizer","lowercase":"yes"}`), "hf: normalizer.lowercase: expected true or false"},
		{"replace no pattern", doc(wl, `"normalizer":{"type":"Replace","content":""}`), "hf: normalizer.pattern: missing"},
		{"replace bad pattern", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Foo":1},"content":""}`), `hf: normalizer.pattern: expected {"String": ...} or {"Regex": ...}`},
		{"replace bad regex", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"(a"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "(a": end pattern with unmatched parenthesis`},
		{"replace backref", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"(a)\\1"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "(a)\\1": back references are not supported`},
		{"replace bad property", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"\\p{Foo}"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "\\p{Foo}": invalid character property name {Foo}`},
		{"replace bad lookbehind", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"(?<=a+)b"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "(?<=a+)b": invalid pattern in look-behind`},
		{"replace bad repeat", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"*a"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "*a": target of repeat operator is not specified`},
		{"replace bad class", doc(wl, `"normalizer":{"type":"Replace","pattern":{"Regex":"[z-a]"},"content":""}`), `hf: normalizer.pattern.Regex: invalid regex "[z-a]": empty range in char class`},
		{"replace content", doc(wl, `"normalizer":{"type":"Replace","pattern":{"String":"a"},"content":1}`), "hf: normalizer.content: expected a string"},
		{"prepend missing", doc(wl, `"normalizer":{"type":"Prepend"}`), "hf: normalizer.prepend: missing"},
		{"precompiled base64", doc(wl, `"normalizer":{"type":"Precompiled","precompiled_charsmap":"@@@"}`), "hf: normalizer.precompiled_charsmap: invalid base64: illegal base64 data at input byte 0"},
		{"precompiled blob", doc(wl, `"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAA"}`), "hf: normalizer.precompiled_charsmap: charsmap: blob of 3 bytes is too short"},
		{"pretok unknown", doc(wl, `"pre_tokenizer":{"type":"Foo"}`), `hf: pre_tokenizer.type: unknown pre-tokenizer type "Foo"`},
		{"pretok seq", doc(wl, `"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"String":"a"}}]}`), "hf: pre_tokenizer.pretokenizers[0].behavior: missing"},
		{"split behavior", doc(wl, `"pre_tokenizer":{"type":"Split","pattern":{"String":"a"},"behavior":"Foo"}`), `hf: pre_tokenizer.behavior: unknown behavior "Foo"`},
		{"split regex", doc(wl, `"pre_tokenizer":{"type":"Split","pattern":{"Regex":"a{"},"behavior":"Isolated"}`), ``},
		{"split regex bad escape", doc(wl, `"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\q"},"behavior":"Isolated"}`), `hf: pre_tokenizer.pattern.Regex: invalid regex "\\q": unsupported escape \q`},
		{"punctuation behavior", doc(wl, `"pre_tokenizer":{"type":"Punctuation","behavior":"X"}`), `hf: pre_tokenizer.behavior: unknown behavior "X"`},
		{"metaspace replacement", doc(wl, `"pre_tokenizer":{"type":"Metaspace","replacement":"ab"}`), `hf: pre_tokenizer.replacement: expected one char, got "ab"`},
		{"metaspace replacement type", doc(wl, `"pre_tokenizer":{"type":"Metaspace","replacement":1}`), "hf: pre_tokenizer.replacement: expected a string of one char"},
		{"metaspace scheme", doc(wl, `"pre_tokenizer":{"type":"Metaspace","replacement":"_","prepend_scheme":"sometimes"}`), `hf: pre_tokenizer.prepend_scheme: unknown scheme "sometimes"`},
		{"metaspace conflict", doc(wl, `"pre_tokenizer":{"type":"Metaspace","replacement":"_","prepend_scheme":"always","add_prefix_space":false}`), `hf: pre_tokenizer.add_prefix_space: false does not match prepend_scheme "always"`},
		{"chardelim missing", doc(wl, `"pre_tokenizer":{"type":"CharDelimiterSplit"}`), "hf: pre_tokenizer.delimiter: missing"},
		{"digits type", doc(wl, `"pre_tokenizer":{"type":"Digits","individual_digits":0}`), "hf: pre_tokenizer.individual_digits: expected true or false"},
		{"post unknown", doc(wl, `"post_processor":{"type":"Foo"}`), `hf: post_processor.type: unknown post-processor type "Foo"`},
		{"bert sep", doc(wl, `"post_processor":{"type":"BertProcessing","sep":["a"]}`), "hf: post_processor.sep: expected [token, id]"},
		{"bert sep token", doc(wl, `"post_processor":{"type":"BertProcessing","sep":[1,2]}`), "hf: post_processor.sep[0]: expected a string"},
		{"roberta cls id", doc(wl, `"post_processor":{"type":"RobertaProcessing","cls":["<s>",-1]}`), "hf: post_processor.cls[1]: -1 is out of range [0, 16777215]"},
		{"template missing single", doc(wl, `"post_processor":{"type":"TemplateProcessing","pair":[]}`), "hf: post_processor.single: missing"},
		{"template piece", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":[{"Foo":{}}],"pair":[]}`), `hf: post_processor.single[0]: expected {"Sequence": ...} or {"SpecialToken": ...}`},
		{"template seq id", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":[{"Sequence":{"id":"C","type_id":0}}],"pair":[]}`), `hf: post_processor.single[0].Sequence.id: expected "A" or "B", got "C"`},
		{"template string piece", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":"$C","pair":"$A $B"}`), `hf: post_processor.single: cannot build a piece from "$C"`},
		{"template pair", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":"$A","pair":"$A"}`), "hf: post_processor.pair: the template for a pair must use both sequences"},
		{"template special missing", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":"[CLS] $A","pair":"$A $B"}`), `hf: post_processor.special_tokens: missing special token "[CLS]" used by the template`},
		{"template special lengths", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":"$A","pair":"$A $B","special_tokens":{"x":{"id":"x","ids":[1,2],"tokens":["x"]}}}`), "hf: post_processor.special_tokens.x: ids and tokens must be of the same length"},
		{"template special tokens", doc(wl, `"post_processor":{"type":"TemplateProcessing","single":"$A","pair":"$A $B","special_tokens":{"x":{"id":"x","ids":[1],"tokens":3}}}`), "hf: post_processor.special_tokens.x.tokens: expected an array of strings"},
		{"decoder unknown", doc(wl, `"decoder":{"type":"Foo"}`), `hf: decoder.type: unknown decoder type "Foo"`},
		{"decoder strip", doc(wl, `"decoder":{"type":"Strip","content":"ab"}`), `hf: decoder.content: expected one char, got "ab"`},
		{"decoder seq", doc(wl, `"decoder":{"type":"Sequence","decoders":[{"type":"Replace"}]}`), "hf: decoder.decoders[0].pattern: missing"},
		{"added not array", doc(wl, `"added_tokens":{}`), "hf: added_tokens: expected an array"},
		{"added no content", doc(wl, `"added_tokens":[{"id":5}]`), `hf: added_tokens[0]: missing "content"`},
		{"added id", doc(wl, `"added_tokens":[{"id":"x","content":"c"}]`), `hf: added_tokens[0].id: expected an integer, got "x"`},
		{"added flag", doc(wl, `"added_tokens":[{"id":5,"content":"c","special":"no"}]`), "hf: added_tokens[0].special: expected true or false"},
		{"truncation strategy", doc(wl, `"truncation":{"max_length":5,"strategy":"Foo"}`), `hf: truncation.strategy: unknown strategy "Foo"`},
		{"truncation direction", doc(wl, `"truncation":{"direction":"Up"}`), `hf: truncation.direction: unknown direction "Up"`},
		{"padding strategy", doc(wl, `"padding":{"strategy":"Foo"}`), `hf: padding.strategy: unknown strategy "Foo"`},
		{"padding fixed", doc(wl, `"padding":{"strategy":{"Other":3}}`), `hf: padding.strategy: expected "BatchLongest" or {"Fixed": n}`},
		{"padding fixed value", doc(wl, `"padding":{"strategy":{"Fixed":-3}}`), `hf: padding.strategy.Fixed: -3 is out of range [0, 2147483647]`},
		{"padding direction", doc(wl, `"padding":{"direction":"Up"}`), `hf: padding.direction: unknown direction "Up"`},
		{"deep nesting", doc(wl, `"normalizer":`+strings.Repeat(`{"type":"Sequence","normalizers":[`, 70)+strings.Repeat(`]}`, 70)), "hf: normalizer" + strings.Repeat(".normalizers[0]", 65) + ": nesting deeper than 64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.json))
			if c.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			if err.Error() != c.want {
				t.Errorf("error\n got  %q\n want %q", err.Error(), c.want)
			}
		})
	}
}

// TestLoadFile checks Load on a file and on a missing file.
func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(p, []byte(doc(wl)), 0o644); err != nil {
		t.Fatal(err)
	}
	tk, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	e, err := tk.Encode("ab b c", false)
	if err != nil || len(e.IDs) != 1 || e.IDs[0] != 3 {
		t.Errorf("Encode without pre-tokenizer: %v %v (the whole text is one word, unknown)", e, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.HasPrefix(err.Error(), "hf: open ") {
		t.Errorf("missing file: %v", err)
	}
}
