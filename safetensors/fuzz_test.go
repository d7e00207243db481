package safetensors

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRead feeds arbitrary bytes to the reader. It must never panic; ReadBytes and Read over
// an io.ReaderAt must agree; what a file claims must be backed by its bytes (which bounds
// every allocation the accessors make); every accessor must work on a valid file; and a
// valid file must round-trip through the Writer to a file that reads back equal and that
// the Writer reproduces byte for byte. The seed corpus is testdata/fuzz/FuzzRead (run
// `go test -run TestFuzzCorpus -update` to rewrite it from seedCorpus).
func FuzzRead(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		f1, err := ReadBytes(data)
		f2, err2 := Read(bytes.NewReader(data), int64(len(data)))
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("ReadBytes: %v; Read: %v", err, err2)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		if err := compareFiles(f1, f2); err != nil {
			t.Fatal(err)
		}
		// Claims are backed by bytes: all tensors' data fit in the file, and so does the
		// element count (at least 4 bits per element) unless a tensor is empty.
		var total int64
		for _, info := range f1.Tensors() {
			total += info.End - info.Begin
			if n := info.NumElements(); n > 2*int64(len(data)) {
				t.Fatalf("tensor %q claims %d elements in a %d-byte file", info.Name, n, len(data))
			}
		}
		if f1.DataOffset()+total != int64(len(data)) {
			t.Fatalf("tensors cover %d bytes after offset %d of %d", total, f1.DataOffset(), len(data))
		}
		w := NewWriter()
		for _, name := range f1.Names() {
			info, ok := f1.Info(name)
			if !ok {
				t.Fatalf("Info(%q) missing", name)
			}
			raw, err := f1.Bytes(name)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(raw)) != info.End-info.Begin {
				t.Fatalf("%q: %d bytes, info says %d", name, len(raw), info.End-info.Begin)
			}
			// The decoders either decode every element or refuse; they never panic.
			if v, err := f1.Float32s(name); err == nil && int64(len(v)) != info.NumElements() {
				t.Fatalf("%q: Float32s gave %d values", name, len(v))
			}
			if v, err := f1.Int64s(name); err == nil && int64(len(v)) != info.NumElements() {
				t.Fatalf("%q: Int64s gave %d values", name, len(v))
			}
			f1.Float64s(name)
			f1.Int32s(name)
			f1.Int8s(name)
			f1.Bools(name)
			if err := w.Add(name, info.DType, info.Shape, raw); err != nil {
				t.Fatalf("writer refuses a tensor the reader accepted: %v", err)
			}
		}
		for k, v := range f1.Metadata() {
			if err := w.SetMetadata(k, v); err != nil {
				t.Fatal(err)
			}
		}
		out, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		g, err := ReadBytes(out)
		if err != nil {
			t.Fatalf("reader refuses the writer's output: %v\n%q", err, out)
		}
		if err := compareFiles(f1, g); err != nil {
			t.Fatal(err)
		}
		// The writer's output is canonical: writing what it wrote gives the same bytes.
		w2 := NewWriter()
		for _, info := range g.Tensors() {
			raw, _ := g.Bytes(info.Name)
			w2.Add(info.Name, info.DType, info.Shape, raw)
		}
		for k, v := range g.Metadata() {
			w2.SetMetadata(k, v)
		}
		if out2, err := w2.Bytes(); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("rewrite differs (%v)", err)
		}
	})
}

// seedCorpus returns the committed seeds: valid files of every shape the format allows and
// one invalid file per validation rule.
func seedCorpus(t *testing.T) map[string][]byte {
	golden, err := os.ReadFile(filepath.Join("testdata", "golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{"valid-golden": golden}
	for _, v := range rustSerialized {
		seeds["valid-rust-"+strings.ReplaceAll(v.name, " ", "-")] = v.want
	}
	z := make([]byte, 16)
	entry := func(name, dtype, shape, off string) string { return ti(name, dtype, shape, off) }
	for name, b := range map[string][]byte{
		"valid-unpadded":       file("{"+entry("test", "I32", "[2,2]", "[0,16]")+"}", z),
		"valid-whitespace":     file(" {\t\"a\" : {\"data_offsets\":[0,0],\"shape\":[0],\"dtype\":\"U8\"} , \"__metadata__\":null}\r\n ", nil),
		"valid-escapes":        file(`{"\u00e9\ud83d\ude00\n\"":{"dtype":"F4","shape":[2,2],"data_offsets":[0,2]},"__metadata__":{"k\t":"v\u0001"}}`, z[:2]),
		"valid-offset-order":   file("{"+entry("b", "U8", "[2]", "[0,2]")+","+entry("a", "F16", "[1]", "[2,4]")+"}", z[:4]),
		"bad-header-too-large": build(1<<40, "{}", nil),
		"bad-header-length":    build(100, "{}", nil),
		"bad-utf8":             file("{\"\xff\":{}}", nil),
		"bad-json":             file(`{"a":{"dtype":"U8",`, nil),
		"bad-duplicate":        file("{"+entry("a", "U8", "[1]", "[0,1]")+","+entry("a", "U8", "[1]", "[0,1]")+"}", z[:1]),
		"bad-dtype":            file("{"+entry("a", "U9", "[1]", "[0,1]")+"}", z[:1]),
		"bad-negative-dim":     file("{"+entry("a", "U8", "[-1]", "[0,1]")+"}", z[:1]),
		"bad-offsets":          file("{"+entry("a", "U8", "[1]", "[1,0]")+"}", z[:1]),
		"bad-overflow":         file("{"+entry("a", "I32", "[2,9223372036854775807]", "[0,16]")+"}", z),
		"bad-size":             file("{"+entry("a", "I32", "[2,2]", "[0,4]")+"}", z[:4]),
		"bad-bounds":           file("{"+entry("a", "I32", "[4,4]", "[0,64]")+"}", z),
		"bad-overlap":          file("{"+entry("a", "U8", "[8]", "[0,8]")+","+entry("b", "U8", "[8]", "[4,12]")+"}", z[:12]),
		"bad-gap":              file("{"+entry("a", "U8", "[4]", "[0,4]")+","+entry("b", "U8", "[4]", "[8,12]")+"}", z[:12]),
		"bad-trailing":         file("{"+entry("a", "U8", "[4]", "[0,4]")+"}", z[:8]),
		"bad-metadata":         file(`{"__metadata__":{"a":1}}`, nil),
		"bad-surrogate":        file(`{"\ud800":{}}`, nil),
	} {
		seeds[name] = b
	}
	return seeds
}

// TestFuzzCorpus checks that the committed seed corpus is the one seedCorpus describes, and
// rewrites it with -update.
func TestFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRead")
	seeds := seedCorpus(t)
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test -run TestFuzzCorpus -update)", err)
		}
		if want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b); string(got) != want {
			t.Errorf("%s is stale (run go test -run TestFuzzCorpus -update)", name)
		}
		_, err = ReadBytes(b)
		if valid := strings.HasPrefix(name, "valid-"); valid != (err == nil) {
			t.Errorf("seed %s: err = %v", name, err)
		}
	}
}
