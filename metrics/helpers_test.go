package metrics

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// readGz returns the decompressed contents of testdata/name.
func readGz(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return b
}

func readJSONGz(t testing.TB, name string, v any) {
	t.Helper()
	if err := json.Unmarshal(readGz(t, name), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// readJSONLinesGz decodes every line of a gzip-compressed JSONL file with fn.
func readJSONLinesGz(t testing.TB, name string, fn func(line []byte) error) int {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(readGz(t, name)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		if err := fn(sc.Bytes()); err != nil {
			t.Fatalf("%s line %d: %v", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// parity counts compared values and remembers the first mismatch, so a parity test checks
// every reference value and reports the first one that differs.
type parity struct {
	t        testing.TB
	file     string
	checked  int
	mismatch int
	first    string
	exactBit int // float values that are bit-identical
}

const parityTol = 1e-9

func (p *parity) float(where string, got, want float64) {
	p.checked++
	if got == want {
		p.exactBit++
		return
	}

	if math.Abs(got-want) <= parityTol*math.Max(1, math.Abs(want)) {
		return
	}
	p.fail(fmt.Sprintf("%s: got %.17g, want %.17g", where, got, want))
}

func (p *parity) int(where string, got, want int) {
	p.checked++
	if got != want {
		p.fail(fmt.Sprintf("%s: got %d, want %d", where, got, want))
	}
}

func (p *parity) str(where, got, want string) {
	p.checked++
	if got != want {
		p.fail(fmt.Sprintf("%s: got %q, want %q", where, got, want))
	}
}

func (p *parity) fail(msg string) {
	if p.mismatch == 0 {
		p.first = msg
	}
	p.mismatch++
}

func (p *parity) done() {
	p.t.Helper()
	p.t.Logf("%s: %d values checked, %d matched (%d float values bit-identical)", p.file, p.checked, p.checked-p.mismatch, p.exactBit)
	if p.mismatch > 0 {
		p.t.Errorf("%s: %d of %d values differ; first: %s", p.file, p.mismatch, p.checked, p.first)
	}
}
