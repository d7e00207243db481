package hf

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/optiformer/optiformer/tokenizer"
)

// vector is one record of the reference vectors (testdata/*.vectors.jsonl.gz), made with
// Hugging Face tokenizers 0.23.2 (see testdata/PROVENANCE.md).
type vector struct {
	I             int      `json:"i"`
	Text          string   `json:"text"`
	IDs           []int    `json:"ids"`
	Tokens        []string `json:"tokens"`
	OffsetsChar   [][2]int `json:"offsets_char"`
	OffsetsUTF8   [][2]int `json:"offsets_utf8"`
	TypeIDs       []int    `json:"type_ids"`
	SpecialMask   []int    `json:"special_tokens_mask"`
	WordIDs       []*int   `json:"word_ids"`
	IDsNoSpecial  []int    `json:"ids_no_special"`
	DecodedSkipSp string   `json:"decoded_skip_special"`
}

var testTokenizers = []string{"bert-base-uncased", "roberta-base", "t5-small", "marian-nmt-ortx-test", "gpt2-constructed"}

func readGz(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if os.IsNotExist(err) { // the files the binary embeds too (benchmarks)
		f, err = os.Open(filepath.Join("..", "..", "internal", "assets", name))
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	buf := make([]byte, 1<<16)
	for {
		n, err := z.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			break
		}
	}
	return b
}

var (
	tokCache   = map[string]*Tokenizer{}
	tokCacheMu sync.Mutex
)

// loadTest parses testdata/<name>.tokenizer.json.gz (once per test binary).
func loadTest(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tokCacheMu.Lock()
	defer tokCacheMu.Unlock()
	if tk, ok := tokCache[name]; ok {
		return tk
	}
	tk, err := Parse(readGz(t, name+".tokenizer.json.gz"))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	tokCache[name] = tk
	return tk
}

func loadVectors(t testing.TB, name string) []vector {
	t.Helper()
	data := readGz(t, name+".vectors.jsonl.gz")
	var out []vector
	sc := bufio.NewScanner(bytesReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func wordIDs(w []*int) []int {
	out := make([]int, len(w))
	for i, x := range w {
		out[i] = -1
		if x != nil {
			out[i] = *x
		}
	}
	return out
}

// checkVector compares our output with one record; it returns "" when they agree.
func checkVector(tk *Tokenizer, v vector) string {
	e, err := tk.Encode(v.Text, true)
	if err != nil {
		return fmt.Sprintf("Encode: %v", err)
	}
	diff := func(field string, got, want any) string {
		return fmt.Sprintf("%s:\n  got  %v\n  want %v", field, got, want)
	}
	if !reflect.DeepEqual(e.IDs, v.IDs) {
		return diff("ids", e.IDs, v.IDs) + "\n" + diff("tokens", e.Tokens, v.Tokens)
	}
	if !reflect.DeepEqual(e.Tokens, v.Tokens) {
		return diff("tokens", e.Tokens, v.Tokens)
	}
	if !reflect.DeepEqual(e.Offsets, v.OffsetsUTF8) {
		return diff("offsets_utf8", e.Offsets, v.OffsetsUTF8) + "\n" + diff("tokens", e.Tokens, v.Tokens)
	}
	if co := tokenizer.CharOffsets(v.Text, e.Offsets); !reflect.DeepEqual(co, v.OffsetsChar) {
		return diff("offsets_char", co, v.OffsetsChar)
	}
	if !reflect.DeepEqual(e.TypeIDs, v.TypeIDs) {
		return diff("type_ids", e.TypeIDs, v.TypeIDs)
	}
	if !reflect.DeepEqual(e.SpecialTokensMask, v.SpecialMask) {
		return diff("special_tokens_mask", e.SpecialTokensMask, v.SpecialMask)
	}
	if w := wordIDs(v.WordIDs); !reflect.DeepEqual(e.WordIDs, w) {
		return diff("word_ids", e.WordIDs, w)
	}
	ns, err := tk.Encode(v.Text, false)
	if err != nil {
		return fmt.Sprintf("Encode(addSpecial=false): %v", err)
	}
	if !reflect.DeepEqual(ns.IDs, v.IDsNoSpecial) && !(len(ns.IDs) == 0 && len(v.IDsNoSpecial) == 0) {
		return diff("ids_no_special", ns.IDs, v.IDsNoSpecial)
	}
	d, err := tk.Decode(v.IDs, true)
	if err != nil {
		return fmt.Sprintf("Decode: %v", err)
	}
	if d != v.DecodedSkipSp {
		return diff("decoded_skip_special", fmt.Sprintf("%q", d), fmt.Sprintf("%q", v.DecodedSkipSp))
	}
	return ""
}

// TestParity checks every field of every reference record of the five tokenizers.
func TestParity(t *testing.T) {
	for _, name := range testTokenizers {
		t.Run(name, func(t *testing.T) {
			tk := loadTest(t, name)
			vs := loadVectors(t, name)
			if len(vs) != 334 {
				t.Fatalf("%d records, want 334", len(vs))
			}
			ok := 0
			var first string
			for _, v := range vs {
				if msg := checkVector(tk, v); msg != "" {
					if first == "" {
						first = fmt.Sprintf("record %d, text %q:\n%s", v.I, v.Text, msg)
					}
					continue
				}
				ok++
			}
			t.Logf("%s: %d/%d records match", name, ok, len(vs))
			if first != "" {
				t.Errorf("%d/%d records match; first mismatch: %s", ok, len(vs), first)
			}
		})
	}
}

// TestGPT2Tiktoken checks the constructed GPT-2 tokenizer against ids recorded with tiktoken
// 0.7.0 and transformers 4.44.0, and that decoding gives the text back.
func TestGPT2Tiktoken(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gpt2.expected_ids_tiktoken_hf.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Samples []struct {
			Name string `json:"name"`
			Text string `json:"text"`
			IDs  []int  `json:"ids"`
		} `json:"samples"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Samples) != 13 {
		t.Fatalf("%d samples, want 13", len(f.Samples))
	}
	tk := loadTest(t, "gpt2-constructed")
	for _, s := range f.Samples {
		e, err := tk.Encode(s.Text, false)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(e.IDs, s.IDs) {
			t.Errorf("%s: ids\n got  %v\n want %v", s.Name, e.IDs, s.IDs)
		}
		d, err := tk.Decode(e.IDs, false)
		if err != nil || d != s.Text {
			t.Errorf("%s: decoded %q, %v; want %q", s.Name, d, err, s.Text)
		}
	}
}
