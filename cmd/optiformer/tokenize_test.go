package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// run executes the command line args with stdin in and returns stdout.
func run(t *testing.T, in string, args ...string) (string, error) {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(in))
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	return out.String(), err
}

// gunzipTo writes the uncompressed contents of a .gz file into dir and returns the path.
func gunzipTo(t *testing.T, src, dir, name string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func readVectors(t *testing.T, path string) []map[string]json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var vs []map[string]json.RawMessage
	sc := bufio.NewScanner(z)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var v map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

type cliEncoding struct {
	IDs     []int    `json:"ids"`
	Tokens  []string `json:"tokens"`
	Offsets [][2]int `json:"offsets"`
}

// checkCLI feeds every reference text through `tokenize --input-jsonl --json` (plus extra
// flags) and compares each output object with the reference's fields.
func checkCLI(t *testing.T, tok string, vs []map[string]json.RawMessage, idsKey, tokKey, offKey string, extra ...string) {
	t.Helper()
	var in strings.Builder
	for _, v := range vs {
		in.Write(v["text"])
		in.WriteByte('\n')
	}
	out, err := run(t, in.String(), append([]string{"tokenize", "--tokenizer", tok, "--input-jsonl", "--json"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(vs) {
		t.Fatalf("%s %v: %d outputs for %d inputs", tok, extra, len(lines), len(vs))
	}
	for i, v := range vs {
		var got cliEncoding
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatalf("output %d: %v: %s", i, err, lines[i])
		}
		var want cliEncoding
		json.Unmarshal(v[idsKey], &want.IDs)
		if tokKey != "" {
			json.Unmarshal(v[tokKey], &want.Tokens)
		} else {
			want.Tokens = got.Tokens
		}
		if offKey != "" {
			json.Unmarshal(v[offKey], &want.Offsets)
		} else {
			want.Offsets = got.Offsets
		}
		if want.IDs == nil {
			want.IDs = []int{}
		}
		if !reflect.DeepEqual(got.IDs, want.IDs) || !reflect.DeepEqual(got.Tokens, want.Tokens) ||
			(len(want.Offsets) > 0 || len(got.Offsets) > 0) && !reflect.DeepEqual(got.Offsets, want.Offsets) {
			t.Fatalf("%s %v, text %s:\n got %+v\nwant %+v", tok, extra, v["text"], got, want)
		}
	}
}

// TestTokenizeCLI runs the command over the Hugging Face tokenizers and SentencePiece
// reference vectors (334 texts each): ids, tokens, code point and byte offsets, and ids
// without special tokens must all be the reference's.
func TestTokenizeCLI(t *testing.T) {
	dir := t.TempDir()
	bert := gunzipTo(t, "../../internal/assets/bert-base-uncased.tokenizer.json.gz", dir, "bert.json")
	vs := readVectors(t, "../../tokenizer/hf/testdata/bert-base-uncased.vectors.jsonl.gz")
	checkCLI(t, bert, vs, "ids", "tokens", "offsets_char")
	checkCLI(t, bert, vs, "ids", "tokens", "offsets_utf8", "--offsets", "bytes")
	checkCLI(t, bert, vs, "ids_no_special", "", "", "--no-special")

	// --decode: the reference's ids back to the reference's text (special tokens skipped)
	var in strings.Builder
	for _, v := range vs {
		in.Write(v["ids"])
		in.WriteByte('\n')
	}
	out, err := run(t, in.String(), "tokenize", "--tokenizer", bert, "--decode", "--no-special", "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(vs) {
		t.Fatalf("--decode: %d outputs for %d inputs", len(lines), len(vs))
	}
	for i, v := range vs {
		var got, want string
		json.Unmarshal([]byte(lines[i]), &got)
		json.Unmarshal(v["decoded_skip_special"], &want)
		if got != want {
			t.Fatalf("--decode of %s: %q, want %q", v["ids"], got, want)
		}
	}

	spm := gunzipTo(t, "../../tokenizer/spm/testdata/models/test_sentencepiece.model.gz", dir, "test.model")
	svs := readVectors(t, "../../tokenizer/spm/testdata/refvectors/spm__sentencepiece-hf-test-models__test_sentencepiece.jsonl.gz")
	checkCLI(t, spm, svs, "ids", "pieces", "offsets_char", "--no-special")
	checkCLI(t, spm, svs, "ids", "pieces", "offsets_utf8", "--no-special", "--offsets", "bytes")
}

func TestTokenizePlainAndErrors(t *testing.T) {
	dir := t.TempDir()
	bert := gunzipTo(t, "../../internal/assets/bert-base-uncased.tokenizer.json.gz", dir, "bert.json")
	out, err := run(t, "Hello, wörld!\r\n\n", "tokenize", "--tokenizer", bert)
	if err != nil {
		t.Fatal(err)
	}
	want := "ids     101 7592 1010 2088 999 102\ntokens  [CLS] hello , world ! [SEP]\noffsets 0:0 0:5 5:6 7:12 12:13 0:0\n\n" +
		"ids     101 102\ntokens  [CLS] [SEP]\noffsets 0:0 0:0\n\n"
	if out != want {
		t.Errorf("plain output:\n%s\nwant\n%s", out, want)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"model": {"type": "WordPiece"`), 0o600)
	for _, c := range []struct {
		in   string
		args []string
		msg  string
	}{
		{"x\n", []string{"tokenize", "--tokenizer", bad}, "bad.json"},
		{"x\n", []string{"tokenize", "--tokenizer", filepath.Join(dir, "missing.json")}, "no such file"},
		{"x\n", []string{"tokenize", "--tokenizer", dir}, "holds no tokenizer.json"},
		{"not json\n", []string{"tokenize", "--tokenizer", bert, "--input-jsonl"}, "stdin:1: want a JSON string"},
		{"x\n", []string{"tokenize", "--tokenizer", bert, "--offsets", "runes"}, "want chars or bytes"},
		{"[1, 2, 99999]\n", []string{"tokenize", "--tokenizer", bert, "--decode"}, "stdin:1: an id outside the vocabulary"},
		{"{\"tokens\": []}\n", []string{"tokenize", "--tokenizer", bert, "--decode"}, "want a JSON array of ids"},
	} {
		_, err := run(t, c.in, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: error %v, want one mentioning %q", c.args, err, c.msg)
		}
	}
}

// TestTokenizerTrainCLI trains each kind on a small corpus and encodes with the result.
func TestTokenizerTrainCLI(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.txt")
	var sb strings.Builder
	for i := 0; i < 200; i++ {
		sb.WriteString("the quick brown fox jumps over the lazy dog; a lazy fox sleeps.\n")
		sb.WriteString("Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.\n")
	}
	os.WriteFile(corpus, []byte(sb.String()), 0o600)
	for _, model := range []string{"bpe", "char-bpe", "unigram"} {
		out := filepath.Join(dir, model+".json")
		if _, err := run(t, "", "tokenizer", "train", "--model", model, "--vocab-size", "300", "--output", out, corpus); err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		got, err := run(t, "\"the lazy fox\"\n", "tokenize", "--tokenizer", out, "--input-jsonl", "--json", "--no-special")
		if err != nil {
			t.Fatalf("%s: %v", model, err)
		}
		var e cliEncoding
		if err := json.Unmarshal([]byte(got), &e); err != nil || len(e.IDs) == 0 || len(e.IDs) > 6 {
			t.Errorf("%s: %q encodes as %s (%v): want a few learned tokens", model, "the lazy fox", got, err)
		}
	}
	if _, err := run(t, "", "tokenizer", "train", "--model", "wordpiece", corpus); err == nil {
		t.Error("an unknown model trained")
	}
}
