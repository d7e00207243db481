package data_test

import (
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/data"
)

func write(t *testing.T, name, content string, gz bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if gz {
		w := gzip.NewWriter(f)
		w.Write([]byte(content))
		w.Close()
		return p
	}
	f.WriteString(content)
	return p
}

func TestReaders(t *testing.T) {
	src := write(t, "a.en", "Hello world\r\n\nLast line", false)
	tgt := write(t, "a.de.gz", "Hallo Welt\nleer\nLetzte Zeile\n", true)
	pairs, err := data.ReadParallel(src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	want := []data.Pair{{"Hello world", "Hallo Welt", 1}, {"", "leer", 2}, {"Last line", "Letzte Zeile", 3}}
	if !reflect.DeepEqual(pairs, want) {
		t.Fatalf("%+v", pairs)
	}
	short := write(t, "b.de", "eins\n", false)
	if _, err := data.ReadParallel(src, short); err == nil || !strings.Contains(err.Error(), "not aligned") {
		t.Fatalf("misaligned files: %v", err)
	}
	tsv := write(t, "c.tsv", "a\tb\nno tab\n", false)
	if _, err := data.ReadTSV(tsv); err == nil || !strings.Contains(err.Error(), ":2:") {
		t.Fatalf("TSV: %v", err)
	}
	js := write(t, "d.jsonl", `{"en": "x", "de": "y"}`+"\n\n"+`{"en": "z", "de": 3}`+"\n", false)
	if _, err := data.ReadJSONL(js, "en", "de"); err == nil || !strings.Contains(err.Error(), ":3:") {
		t.Fatalf("JSONL: %v", err)
	}
	bad := write(t, "e.txt", "ok\n\xff\xfe\n", false)
	if _, err := data.ReadLines(bad); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	long := write(t, "f.txt", strings.Repeat("x", data.MaxLineBytes+10), false)
	if _, err := data.ReadLines(long); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("long line: %v", err)
	}
	if _, err := data.ReadLines(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("missing file read")
	}
}

func TestFilterAndBatches(t *testing.T) {
	var ex []data.Example
	for i := 0; i < 100; i++ {
		n := 1 + i%17
		ex = append(ex, data.Example{Src: make([]int, n), Tgt: make([]int, n+i%3), Line: i + 1})
	}
	ex = append(ex, data.Example{Src: nil, Tgt: []int{1}, Line: 200}, data.Example{Src: make([]int, 90), Tgt: []int{1}, Line: 201},
		data.Example{Src: make([]int, 30), Tgt: make([]int, 2), Line: 202})
	kept, rep := data.Filter(ex, data.FilterOptions{MaxLen: 50, MaxRatio: 4})
	if rep.Empty != 1 || rep.TooLong != 1 || rep.BadRatio != 1 || rep.Kept != 100 || len(kept) != 100 {
		t.Fatalf("%v", rep)
	}
	b, err := data.NewBatcher(kept, 64, data.Special{Pad: 0, BOS: 1, EOS: 2})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	total := 0
	for _, i := range b.Order(7, 0) {
		bt := b.Batch(i)
		rows, ws, wt := bt.Src.Dim(0), bt.Src.Dim(1), bt.TgtIn.Dim(1)
		if rows*max(ws, wt) > 64 {
			t.Fatalf("batch %d holds %d×%d tokens", i, rows, max(ws, wt))
		}
		for r, line := range bt.Lines {
			if seen[line] {
				t.Fatalf("line %d in two batches", line)
			}
			seen[line] = true
			// target input starts with BOS; labels end with EOS before padding
			if bt.TgtIn.At(r, 0) != 1 {
				t.Fatal("no BOS")
			}
		}
		total += bt.Tokens
	}
	if len(seen) != 100 {
		t.Fatalf("%d examples batched, want 100", len(seen))
	}
	if !reflect.DeepEqual(b.Order(7, 0), b.Order(7, 0)) || reflect.DeepEqual(b.Order(7, 0), b.Order(7, 1)) {
		t.Fatal("order is not a deterministic function of seed and epoch")
	}
	if _, err := data.NewBatcher(kept, 5, data.Special{}); err == nil {
		t.Fatal("a batch size below the longest example was accepted")
	}
}
