package spm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

type tinyCase struct {
	Text     string   `json:"text"`
	IDs      []int    `json:"ids"`
	Pieces   []string `json:"pieces"`
	Surfaces []string `json:"surfaces"`
	Offsets  [][2]int `json:"offsets"`
	Decoded  string   `json:"decoded"`
	Error    string   `json:"error"`
}

type tinyModel struct {
	Name      string     `json:"name"`
	File      string     `json:"file"`
	VocabSize int        `json:"vocab_size"`
	Unk       int        `json:"unk"`
	Bos       int        `json:"bos"`
	Eos       int        `json:"eos"`
	Pad       int        `json:"pad"`
	Cases     []tinyCase `json:"cases"`
	Decodes   []struct {
		IDs     []int  `json:"ids"`
		Decoded string `json:"decoded"`
	} `json:"decodes"`
}

func loadTiny(t testing.TB) []tinyModel {
	t.Helper()
	var doc struct {
		Models []tinyModel `json:"models"`
	}
	if err := json.Unmarshal(readGz(t, "testdata/tiny/tiny_cases.json.gz"), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Models
}

func loadTinyModel(t testing.TB, file string) *Model {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata/tiny", file))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return m
}

// TestTinyModels checks hand-built models (testdata/tiny/gen_tiny.py) that exercise
// ties, user-defined symbols, UNUSED pieces, byte fallback, charsmap rules with
// multi-character keys, deletions and spaces, the denormalizer, suffix whitespace,
// unescaped spaces, WORD and CHAR models, against SentencePiece 0.1.97.
func TestTinyModels(t *testing.T) {
	for _, tm := range loadTiny(t) {
		t.Run(tm.Name, func(t *testing.T) {
			m := loadTinyModel(t, tm.File)
			if m.VocabSize() != tm.VocabSize || m.UnkID() != tm.Unk || m.BosID() != tm.Bos || m.EosID() != tm.Eos || m.PadID() != tm.Pad {
				t.Errorf("vocab %d unk %d bos %d eos %d pad %d, want %d %d %d %d %d", m.VocabSize(), m.UnkID(), m.BosID(), m.EosID(), m.PadID(), tm.VocabSize, tm.Unk, tm.Bos, tm.Eos, tm.Pad)
			}
			for _, c := range tm.Cases {
				e, err := m.Encode(c.Text, false)
				if c.Error != "" {
					if err == nil {
						t.Errorf("text %q: no error, SentencePiece fails (%s); got %v", c.Text, c.Error, e.Tokens)
					}
					continue
				}
				if err != nil {
					t.Errorf("text %q: %v", c.Text, err)
					continue
				}
				surfaces, _ := m.Surfaces(c.Text)
				dec, err := m.Decode(c.IDs, false)
				if err != nil {
					t.Errorf("text %q: decode: %v", c.Text, err)
					continue
				}
				got := fmt.Sprintf("%v %q %q %v %q", nonNil(e.IDs), nonNil(e.Tokens), nonNil(surfaces), nonNil(e.Offsets), dec)
				want := fmt.Sprintf("%v %q %q %v %q", nonNil(c.IDs), nonNil(c.Pieces), nonNil(c.Surfaces), nonNil(c.Offsets), c.Decoded)
				if got != want {
					t.Errorf("text %q:\n got  %s\n want %s", c.Text, got, want)
				}
			}
			for _, d := range tm.Decodes {
				got, err := m.Decode(d.IDs, false)
				if err != nil || got != d.Decoded {
					t.Errorf("Decode(%v) = %q, %v; want %q", d.IDs, got, err, d.Decoded)
				}
			}
		})
	}
}
