package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

type pyrefString struct {
	Input     string   `json:"input"`
	Lower     string   `json:"lower"`
	Split     []string `json:"split"`
	RStrip    string   `json:"rstrip"`
	Tok13a    string   `json:"tok13a"`
	Tok13aLc  string   `json:"tok13a_lc"`
	Intl      string   `json:"intl"`
	Rouge     []string `json:"rouge"`
	RougeStem []string `json:"rouge_stem"`
	SQuAD     string   `json:"squad"`
}

// TestPythonStringSemantics compares the Python string operations the reference
// implementations rely on, and the tokenizers built on them, with Python's output on the
// project's tricky input lines (testdata/pyref/gen_pyref.py).
func TestPythonStringSemantics(t *testing.T) {
	p := &parity{t: t, file: "pyref/strings.jsonl"}
	first := true
	n := readJSONLinesGz(t, "pyref/strings.jsonl.gz", func(line []byte) error {
		if first {
			first = false
			return nil // meta record
		}
		var r pyrefString
		if err := json.Unmarshal(line, &r); err != nil {
			return err
		}
		where := fmt.Sprintf("%q", r.Input)
		p.str(where+" lower", pyLower(r.Input), r.Lower)
		p.str(where+" split", strings.Join(pyFields(r.Input), "\x00"), strings.Join(r.Split, "\x00"))
		p.str(where+" rstrip", pyRStrip(r.Input), r.RStrip)
		p.str(where+" 13a", Tokenize13a(pyRStrip(r.Input)), r.Tok13a)
		p.str(where+" 13a lowercase", Tokenize13a(pyRStrip(pyLower(r.Input))), r.Tok13aLc)
		p.str(where+" intl", TokenizeIntl(pyRStrip(r.Input)), r.Intl)
		p.str(where+" rouge", strings.Join(ROUGETokenize(r.Input, false), " "), strings.Join(r.Rouge, " "))
		p.str(where+" rouge stem", strings.Join(ROUGETokenize(r.Input, true), " "), strings.Join(r.RougeStem, " "))
		p.str(where+" squad", SQuADNormalize(r.Input), r.SQuAD)
		return nil
	})
	if n < 500 {
		t.Fatalf("only %d records", n)
	}
	p.done()
}

// TestPorterVocabulary stems every word of the project's English evaluation texts in the three
// modes and compares with NLTK's PorterStemmer.
func TestPorterVocabulary(t *testing.T) {
	p := &parity{t: t, file: "pyref/porter.tsv"}
	sc := bufio.NewScanner(bytes.NewReader(readGz(t, "pyref/porter.tsv.gz")))
	words := 0
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			t.Fatalf("bad line %q", line)
		}
		words++
		p.str(f[0]+" NLTK_EXTENSIONS", PorterStem(f[0]), f[1])
		p.str(f[0]+" MARTIN_EXTENSIONS", PorterStemMode(f[0], PorterMartin), f[2])
		p.str(f[0]+" ORIGINAL_ALGORITHM", PorterStemMode(f[0], PorterOriginal), f[3])
	}
	if words < 10000 {
		t.Fatalf("only %d words", words)
	}
	p.done()
}
