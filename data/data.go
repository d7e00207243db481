// Package data reads training data — parallel text as two aligned files, TSV or JSONL, plain
// or gzip-compressed — filters it, and cuts it into batches of about the same number of
// tokens, sentences of similar length together, shuffled deterministically by seed.
package data

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"
)

// Pair is one sentence pair with the line it came from (1-based).
type Pair struct {
	Src, Tgt string
	Line     int
}

// MaxLineBytes bounds one line of input: longer lines are an error naming the line, not an
// allocation driven by the file.
const MaxLineBytes = 1 << 20

// open opens a plain or gzip-compressed file (by its magic bytes, not its name).
func open(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("data: %s: %w", path, err)
		}
		return struct {
			io.Reader
			io.Closer
		}{gz, f}, nil
	}
	return struct {
		io.Reader
		io.Closer
	}{br, f}, nil
}

// ReadLines returns the lines of a text file (plain or gzip), without line endings (\n or
// \r\n). Invalid UTF-8 is an error naming the line.
func ReadLines(path string) ([]string, error) {
	r, err := open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	var lines []string
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("data: %s:%d: not valid UTF-8", path, len(lines)+1)
		}
		lines = append(lines, line)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("data: %s:%d: line longer than %d bytes", path, len(lines)+1, MaxLineBytes)
		}
		return nil, fmt.Errorf("data: %s: %w", path, err)
	}
	return lines, nil
}

// ReadParallel reads two aligned files, one sentence per line. Files with different line
// counts are an error.
func ReadParallel(srcPath, tgtPath string) ([]Pair, error) {
	src, err := ReadLines(srcPath)
	if err != nil {
		return nil, err
	}
	tgt, err := ReadLines(tgtPath)
	if err != nil {
		return nil, err
	}
	if len(src) != len(tgt) {
		return nil, fmt.Errorf("data: %s has %d lines but %s has %d: the files are not aligned", srcPath, len(src), tgtPath, len(tgt))
	}
	pairs := make([]Pair, len(src))
	for i := range src {
		pairs[i] = Pair{Src: src[i], Tgt: tgt[i], Line: i + 1}
	}
	return pairs, nil
}

// ReadTSV reads "source<TAB>target" lines. A line without exactly one tab is an error.
func ReadTSV(path string) ([]Pair, error) {
	lines, err := ReadLines(path)
	if err != nil {
		return nil, err
	}
	pairs := make([]Pair, 0, len(lines))
	for i, l := range lines {
		s, t, ok := strings.Cut(l, "\t")
		if !ok || strings.Contains(t, "\t") {
			return nil, fmt.Errorf("data: %s:%d: want one tab between source and target", path, i+1)
		}
		pairs = append(pairs, Pair{Src: s, Tgt: t, Line: i + 1})
	}
	return pairs, nil
}

// ReadJSONL reads one JSON object per line and takes the strings under srcKey and tgtKey
// (e.g. "en" and "de", or "document" and "summary"). Blank lines are skipped.
func ReadJSONL(path, srcKey, tgtKey string) ([]Pair, error) {
	lines, err := ReadLines(path)
	if err != nil {
		return nil, err
	}
	var pairs []Pair
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &obj); err != nil {
			return nil, fmt.Errorf("data: %s:%d: %v", path, i+1, err)
		}
		var s, t string
		if err := field(obj, srcKey, &s); err != nil {
			return nil, fmt.Errorf("data: %s:%d: %v", path, i+1, err)
		}
		if err := field(obj, tgtKey, &t); err != nil {
			return nil, fmt.Errorf("data: %s:%d: %v", path, i+1, err)
		}
		pairs = append(pairs, Pair{Src: s, Tgt: t, Line: i + 1})
	}
	return pairs, nil
}

func field(obj map[string]json.RawMessage, key string, out *string) error {
	raw, ok := obj[key]
	if !ok {
		return fmt.Errorf("no field %q", key)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("field %q is not a string", key)
	}
	return nil
}
