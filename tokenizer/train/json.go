package train

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
)

// The tokenizer.json writer. Components are small structs marshaled by encoding/json; the
// vocabulary and merges are written by hand so that they keep id order (as the Rust
// library writes them) with one entry per line.

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type typed struct {
	Type string `json:"type"`
}

type sequenceNormalizer struct {
	Type        string `json:"type"`
	Normalizers []any  `json:"normalizers"`
}

type bertNormalizerJSON struct {
	Type               string `json:"type"`
	CleanText          bool   `json:"clean_text"`
	HandleChineseChars bool   `json:"handle_chinese_chars"`
	StripAccents       bool   `json:"strip_accents"`
	Lowercase          bool   `json:"lowercase"`
}

type replaceJSON struct {
	Type    string            `json:"type"`
	Pattern map[string]string `json:"pattern"`
	Content string            `json:"content"`
}

// byteLevelJSON is the ByteLevel pre-tokenizer, post-processor and decoder.
type byteLevelJSON struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       bool   `json:"use_regex"`
}

type metaspaceJSON struct {
	Type          string `json:"type"`
	Replacement   string `json:"replacement"`
	PrependScheme string `json:"prepend_scheme"`
	Split         bool   `json:"split"`
}

type bpeDecoderJSON struct {
	Type   string `json:"type"`
	Suffix string `json:"suffix"`
}

type sequenceDecoder struct {
	Type     string `json:"type"`
	Decoders []any  `json:"decoders"`
}

// jsonString writes v as JSON without HTML escaping (so "<s>" stays readable).
func jsonValue(buf *bytes.Buffer, v any) {
	e := json.NewEncoder(buf)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		panic("train: " + err.Error()) // only our own plain structs are encoded
	}
	buf.Truncate(buf.Len() - 1) // Encode's newline
}

// jsonFloat writes f so that it reads back exactly (shortest representation, with a
// decimal point so that it is a float to every reader).
func jsonFloat(buf *bytes.Buffer, f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		panic("train: non-finite score")
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	buf.WriteString(s)
	if !bytes.ContainsAny([]byte(s), ".e") {
		buf.WriteString(".0")
	}
}

// file is what a trainer writes into tokenizer.json.
type file struct {
	specials     []string // ids 0..len-1
	normalizer   any      // nil: null
	preTokenizer any
	post         any
	decoder      any
	model        func(buf *bytes.Buffer)
}

func (f *file) marshal() []byte {
	var buf bytes.Buffer
	buf.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range f.specials {
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.WriteString("\n    ")
		jsonValue(&buf, addedToken{ID: i, Content: s, Special: true})
	}
	if len(f.specials) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("],\n")
	for _, c := range []struct {
		key string
		v   any
	}{{"normalizer", f.normalizer}, {"pre_tokenizer", f.preTokenizer}, {"post_processor", f.post}, {"decoder", f.decoder}} {
		buf.WriteString("  \"" + c.key + "\": ")
		jsonValue(&buf, c.v)
		buf.WriteString(",\n")
	}
	buf.WriteString("  \"model\": {")
	f.model(&buf)
	buf.WriteString("\n  }\n}\n")
	return buf.Bytes()
}

// bpeModel writes the fields of a BPE model.
func bpeModel(vocab []string, merges [][2]int32, unk, suffix string) func(*bytes.Buffer) {
	return func(buf *bytes.Buffer) {
		str := func(s string) {
			if s == "" {
				buf.WriteString("null")
				return
			}
			jsonValue(buf, s)
		}
		buf.WriteString("\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": ")
		str(unk)
		buf.WriteString(",\n    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": ")
		str(suffix)
		buf.WriteString(",\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n    \"vocab\": {")
		for i, t := range vocab {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n      ")
			jsonValue(buf, t)
			buf.WriteString(": ")
			buf.WriteString(strconv.Itoa(i))
		}
		buf.WriteString("\n    },\n    \"merges\": [")
		for i, m := range merges {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n      ")
			jsonValue(buf, [2]string{vocab[m[0]], vocab[m[1]]})
		}
		if len(merges) > 0 {
			buf.WriteString("\n    ")
		}
		buf.WriteString("]")
	}
}

// unigramModel writes the fields of a Unigram model.
func unigramModel(pieces []string, scores []float64, unkID int, byteFallback bool) func(*bytes.Buffer) {
	return func(buf *bytes.Buffer) {
		buf.WriteString("\n    \"type\": \"Unigram\",\n    \"unk_id\": ")
		buf.WriteString(strconv.Itoa(unkID))
		buf.WriteString(",\n    \"vocab\": [")
		for i, p := range pieces {
			if i > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString("\n      [")
			jsonValue(buf, p)
			buf.WriteString(", ")
			jsonFloat(buf, scores[i])
			buf.WriteString("]")
		}
		buf.WriteString("\n    ],\n    \"byte_fallback\": ")
		buf.WriteString(strconv.FormatBool(byteFallback))
	}
}
