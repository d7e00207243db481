// Package load opens a tokenizer from a path, whatever its kind: a Hugging Face
// tokenizer.json, a SentencePiece .model/.spm file, or a directory holding one of them or a
// Marian pair (vocab.json with source.spm and target.spm).
package load

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/hf"
	"github.com/optiformer/optiformer/tokenizer/spm"
)

// spmNames are the SentencePiece file names looked for in a directory, in order.
var spmNames = []string{"tokenizer.model", "spiece.model", "sentencepiece.bpe.model", "spm.model"}

// Open loads the tokenizer at path:
//
//   - a file ending in .model or .spm is a SentencePiece model;
//   - any other file is a Hugging Face tokenizer.json;
//   - a directory is searched for tokenizer.json, then for a Marian pair (vocab.json and
//     source.spm; side "source" or "target" picks the half, "" means source), then for a
//     SentencePiece model named tokenizer.model, spiece.model, sentencepiece.bpe.model or
//     spm.model.
func Open(path, side string) (tokenizer.Tokenizer, error) {
	switch side {
	case "", "source", "target":
	default:
		return nil, fmt.Errorf("tokenizer: side %q: want source or target", side)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !st.IsDir() {
		return openFile(path)
	}
	if exists(filepath.Join(path, "tokenizer.json")) {
		return hfLoad(filepath.Join(path, "tokenizer.json"))
	}
	if exists(filepath.Join(path, "vocab.json")) && exists(filepath.Join(path, "source.spm")) {
		if side == "" {
			side = "source"
		}
		m, err := spm.LoadMarian(path, side)
		if err != nil {
			return nil, err
		}
		return m, nil
	}
	for _, name := range spmNames {
		if p := filepath.Join(path, name); exists(p) {
			return spmLoad(p)
		}
	}
	return nil, fmt.Errorf("tokenizer: %s holds no tokenizer.json, Marian vocab.json + source.spm, or SentencePiece model (%s)", path, strings.Join(spmNames, ", "))
}

func openFile(path string) (tokenizer.Tokenizer, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".model", ".spm":
		return spmLoad(path)
	}
	return hfLoad(path)
}

// The loaders return concrete pointers; a nil one must not become a non-nil interface.
func hfLoad(path string) (tokenizer.Tokenizer, error) {
	t, err := hf.Load(path)
	if err != nil {
		return nil, err
	}
	return t, nil
}

func spmLoad(path string) (tokenizer.Tokenizer, error) {
	m, err := spm.Load(path)
	if err != nil {
		return nil, err
	}
	return m, nil
}

func exists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() || err != nil && !errors.Is(err, fs.ErrNotExist)
}
