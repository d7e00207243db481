package spm

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
)

// testModels are the SentencePiece models under testdata/models with their reference
// vectors (testdata/refvectors, SentencePiece 0.1.97) and expected encodings
// (testdata/expected).
var testModels = []struct {
	name, file, refvec, expected string
}{
	{"test_sentencepiece", "test_sentencepiece.model.gz", "spm__sentencepiece-hf-test-models__test_sentencepiece.jsonl.gz", "test_sentencepiece.json.gz"},
	{"test_sentencepiece_bpe", "test_sentencepiece_bpe.model.gz", "spm__sentencepiece-hf-test-models__test_sentencepiece_bpe.jsonl.gz", "test_sentencepiece_bpe.json.gz"},
	{"test_sentencepiece_no_bos", "test_sentencepiece_no_bos.model.gz", "spm__sentencepiece-hf-test-models__test_sentencepiece_no_bos.jsonl.gz", "test_sentencepiece_no_bos.json.gz"},
	{"opus-mt-en-mg.source", "opus-mt-en-mg.source.spm.gz", "spm__marian-opus-mt-en-mg__source.jsonl.gz", "opus-mt-en-mg.source.json.gz"},
	{"opus-mt-en-mg.target", "opus-mt-en-mg.target.spm.gz", "spm__marian-opus-mt-en-mg__target.jsonl.gz", ""},
	{"ortx.vocab.joint", "ortx.vocab.joint.spm.gz", "spm__marian-nmt-ortx-test__vocab.joint.jsonl.gz", "ortx.vocab.joint.json.gz"},
}

func readGz(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	modelCache   = map[string]*Model{}
	modelCacheMu sync.Mutex
)

// loadTestModel parses a model of testdata/models once per test binary.
func loadTestModel(t testing.TB, file string) *Model {
	t.Helper()
	modelCacheMu.Lock()
	defer modelCacheMu.Unlock()
	if m, ok := modelCache[file]; ok {
		return m
	}
	m, err := Parse(readGz(t, filepath.Join("testdata/models", file)))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	modelCache[file] = m
	return m
}

type refRecord struct {
	I           int      `json:"i"`
	Text        string   `json:"text"`
	IDs         []int    `json:"ids"`
	Pieces      []string `json:"pieces"`
	Surfaces    []string `json:"surfaces"`
	OffsetsChar [][2]int `json:"offsets_char"`
	OffsetsUTF8 [][2]int `json:"offsets_utf8"`
	Decoded     string   `json:"decoded"`
}

func readRefvec(t testing.TB, file string) []refRecord {
	t.Helper()
	var out []refRecord
	sc := bufio.NewScanner(bytes.NewReader(readGz(t, filepath.Join("testdata/refvectors", file))))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var r refRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// compareRecord returns a description of the first difference, or "".
func compareRecord(m *Model, r refRecord) string {
	e, err := m.Encode(r.Text, false)
	if err != nil {
		return fmt.Sprintf("Encode error %v", err)
	}
	surfaces, err := m.Surfaces(r.Text)
	if err != nil {
		return fmt.Sprintf("Surfaces error %v", err)
	}
	decoded, err := m.Decode(r.IDs, false)
	if err != nil {
		return fmt.Sprintf("Decode error %v", err)
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"ids", nonNil(e.IDs), nonNil(r.IDs)},
		{"pieces", nonNil(e.Tokens), nonNil(r.Pieces)},
		{"surfaces", nonNil(surfaces), nonNil(r.Surfaces)},
		{"offsets_utf8", nonNil(e.Offsets), nonNil(r.OffsetsUTF8)},
		{"offsets_char", nonNil(CharOffsets(r.Text, e.Offsets)), nonNil(r.OffsetsChar)},
		{"decoded", decoded, r.Decoded},
	} {
		g, _ := json.Marshal(c.got)
		w, _ := json.Marshal(c.want)
		if !bytes.Equal(g, w) {
			return fmt.Sprintf("%s differ\n  got  %s\n  want %s", c.what, g, w)
		}
	}
	return ""
}

// TestParity compares every reference vector (334 inputs per model, SentencePiece 0.1.97).
func TestParity(t *testing.T) {
	for _, tm := range testModels {
		t.Run(tm.name, func(t *testing.T) {
			t.Parallel()
			m := loadTestModel(t, tm.file)
			recs := readRefvec(t, tm.refvec)
			ok := 0
			var first string
			for _, r := range recs {
				if d := compareRecord(m, r); d != "" {
					if first == "" {
						first = fmt.Sprintf("record %d, text %q: %s", r.I, r.Text, d)
					}
					continue
				}
				ok++
			}
			t.Logf("%s: %d/%d identical", tm.name, ok, len(recs))
			if ok != len(recs) || len(recs) != 334 {
				t.Errorf("%s: %d/%d identical; first mismatch: %s", tm.name, ok, len(recs), first)
			}
		})
	}
}

// TestExpectedEncodings checks the expected_*encodings*.json files of the shared data.
func TestExpectedEncodings(t *testing.T) {
	for _, tm := range testModels {
		if tm.expected == "" {
			continue
		}
		t.Run(tm.name, func(t *testing.T) {
			m := loadTestModel(t, tm.file)
			var doc struct {
				Meta struct {
					VocabSize  int            `json:"vocab_size"`
					SpecialIDs map[string]int `json:"special_ids"`
				} `json:"meta"`
				Samples []struct {
					Text    string   `json:"text"`
					Pieces  []string `json:"pieces"`
					IDs     []int    `json:"ids"`
					Decoded string   `json:"decoded"`
				} `json:"samples"`
			}
			if err := json.Unmarshal(readGz(t, filepath.Join("testdata/expected", tm.expected)), &doc); err != nil {
				t.Fatal(err)
			}
			if m.VocabSize() != doc.Meta.VocabSize {
				t.Errorf("vocab size %d, want %d", m.VocabSize(), doc.Meta.VocabSize)
			}
			for k, want := range map[string]int{"unk": m.UnkID(), "bos": m.BosID(), "eos": m.EosID(), "pad": m.PadID()} {
				if doc.Meta.SpecialIDs[k] != want {
					t.Errorf("%s id %d, want %d", k, want, doc.Meta.SpecialIDs[k])
				}
			}
			if len(doc.Samples) == 0 {
				t.Fatal("no samples")
			}
			for _, s := range doc.Samples {
				e, err := m.Encode(s.Text, false)
				if err != nil {
					t.Fatal(err)
				}
				dec, err := m.Decode(s.IDs, false)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(nonNil(e.IDs), nonNil(s.IDs)) || !slices.Equal(nonNil(e.Tokens), nonNil(s.Pieces)) || dec != s.Decoded {
					t.Fatalf("text %q:\n got  %v %q decoded %q\n want %v %q decoded %q", s.Text, e.IDs, e.Tokens, dec, s.IDs, s.Pieces, s.Decoded)
				}
			}
		})
	}
}
