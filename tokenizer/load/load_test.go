package load

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func gunzip(t *testing.T, src, dst string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	z, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := b.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestOpenKinds(t *testing.T) {
	spmData := "../spm/testdata"
	dir := t.TempDir()
	// a Marian directory: vocab.json with source.spm and target.spm
	marian := filepath.Join(dir, "marian")
	os.Mkdir(marian, 0o700)
	gunzip(t, spmData+"/marian-opus-mt-en-mg/vocab.json.gz", filepath.Join(marian, "vocab.json"))
	gunzip(t, spmData+"/models/opus-mt-en-mg.source.spm.gz", filepath.Join(marian, "source.spm"))
	gunzip(t, spmData+"/models/opus-mt-en-mg.target.spm.gz", filepath.Join(marian, "target.spm"))
	// a directory holding a SentencePiece model under a usual name
	sp := filepath.Join(dir, "t5")
	os.Mkdir(sp, 0o700)
	gunzip(t, spmData+"/models/test_sentencepiece.model.gz", filepath.Join(sp, "spiece.model"))
	// a directory holding tokenizer.json
	hfDir := filepath.Join(dir, "bert")
	os.Mkdir(hfDir, 0o700)
	gunzip(t, "../../internal/assets/bert-base-uncased.tokenizer.json.gz", filepath.Join(hfDir, "tokenizer.json"))

	for _, c := range []struct {
		path, side string
		wantType   string
	}{
		{marian, "", "*spm.Marian"},
		{marian, "target", "*spm.Marian"},
		{sp, "", "*spm.Model"},
		{filepath.Join(sp, "spiece.model"), "", "*spm.Model"},
		{hfDir, "", "*hf.Tokenizer"},
		{filepath.Join(hfDir, "tokenizer.json"), "", "*hf.Tokenizer"},
	} {
		tk, err := Open(c.path, c.side)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if got := typeName(tk); got != c.wantType {
			t.Errorf("%s: opened a %s, want %s", c.path, got, c.wantType)
		}
		e, err := tk.Encode("Hello world", true)
		if err != nil || e.Len() == 0 {
			t.Errorf("%s: Encode: %v, %d tokens", c.path, err, e.Len())
		}
	}
	for _, c := range []struct{ path, side, msg string }{
		{filepath.Join(dir, "none"), "", "no such file"},
		{dir, "", "holds no tokenizer.json"},
		{marian, "left", "want source or target"},
	} {
		if _, err := Open(c.path, c.side); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("Open(%s, %q): %v, want an error mentioning %q", c.path, c.side, err, c.msg)
		}
	}
	// a corrupt SentencePiece file is an error, not a panic
	bad := filepath.Join(dir, "bad.model")
	os.WriteFile(bad, []byte("\x0a\xff\xff\xff\xff\x0f"), 0o600)
	if _, err := Open(bad, ""); err == nil {
		t.Error("a corrupt .model loaded")
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
