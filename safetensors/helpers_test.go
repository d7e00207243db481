package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.safetensors and the FuzzRead seed corpus")

// build returns an 8-byte little-endian length n, then header, then data.
func build(n uint64, header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, n)
	b = append(b, header...)
	return append(b, data...)
}

// file returns a file with the given header (its true length) and data buffer.
func file(header string, data []byte) []byte { return build(uint64(len(header)), header, data) }

// read parses b through both ReadBytes and Read over an io.ReaderAt and checks that they
// agree, returning ReadBytes' result.
func read(t *testing.T, b []byte, opts ...Option) (*File, error) {
	t.Helper()
	f1, err1 := ReadBytes(b, opts...)
	f2, err2 := Read(bytes.NewReader(b), int64(len(b)), opts...)
	switch {
	case (err1 == nil) != (err2 == nil):
		t.Fatalf("ReadBytes: %v; Read: %v", err1, err2)
	case err1 != nil && err1.Error() != err2.Error():
		t.Fatalf("ReadBytes and Read disagree:\n%v\n%v", err1, err2)
	case err1 == nil:
		equalFiles(t, f1, f2)
	}
	if err1 != nil && !strings.HasPrefix(err1.Error(), "safetensors: ") {
		t.Errorf("error lacks the package prefix: %v", err1)
	}
	return f1, err1
}

// mustRead is read that fails the test on error.
func mustRead(t *testing.T, b []byte, opts ...Option) *File {
	t.Helper()
	f, err := read(t, b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// wantErr checks that err wraps class and mentions each of the strings.
func wantErr(t *testing.T, err error, class error, mentions ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", class)
	}
	t.Log(err)
	if !errors.Is(err, class) {
		t.Fatalf("error %q is not %q", err, class)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("error %q does not mention %q", err, m)
		}
	}
}

// equalFiles checks that two files hold the same tensors, bytes and metadata.
func equalFiles(t *testing.T, a, b *File) {
	t.Helper()
	if err := compareFiles(a, b); err != nil {
		t.Fatal(err)
	}
}

func compareFiles(a, b *File) error {
	an, bn := a.Names(), b.Names()
	if strings.Join(an, "\x00") != strings.Join(bn, "\x00") || len(an) != len(bn) {
		return errorf("names differ: %q vs %q", an, bn)
	}
	for _, name := range an {
		ai, _ := a.Info(name)
		bi, _ := b.Info(name)
		if ai.DType != bi.DType || !equalInts(ai.Shape, bi.Shape) || ai.End-ai.Begin != bi.End-bi.Begin {
			return errorf("tensor %q: %v %v %d bytes vs %v %v %d bytes", name,
				ai.DType, ai.Shape, ai.End-ai.Begin, bi.DType, bi.Shape, bi.End-bi.Begin)
		}
		ab, err := a.Bytes(name)
		if err != nil {
			return err
		}
		bb, err := b.Bytes(name)
		if err != nil {
			return err
		}
		if !bytes.Equal(ab, bb) {
			return errorf("tensor %q: bytes differ", name)
		}
	}
	am, bm := a.Metadata(), b.Metadata()
	if len(am) != len(bm) {
		return errorf("metadata differ: %q vs %q", am, bm)
	}
	for k, v := range am {
		if w, ok := bm[k]; !ok || w != v {
			return errorf("metadata %q differ: %q vs %q", k, v, w)
		}
	}
	return nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
