package safetensors

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// No reference writer can be installed here (Debian has no python3-safetensors and PyPI is
// unreachable), so the reference bytes come from two places:
//
//   - rustVectors: byte strings transcribed from the Rust library's own unit tests
//     (huggingface/safetensors, safetensors/src/tensor.rs: test_serialization, test_empty,
//     test_serialization_forced_alignement, test_deserialization, test_empty_shapes_allowed,
//     test_zero_sized_tensor, test_whitespace_padded_header), where the Rust serializer is
//     asserted to produce them or its reader to accept them;
//   - testdata/golden.safetensors: laid out by testdata/golden.py, an independent Python
//     implementation of the Rust serializer's layout written from the format spec, with every
//     dtype family, a scalar, an empty tensor, a sub-byte tensor, a name needing JSON escapes
//     and metadata.

// rustSerialized are the outputs the Rust tests assert serialize() produces.
var rustSerialized = []struct {
	name    string
	build   func(w *Writer) error
	want    []byte
	tensors map[string][]float32
}{
	{
		name: "test_serialization",
		build: func(w *Writer) error {
			return w.AddFloat32s("attn.0", F32, []int{1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})
		},
		want: []byte{
			64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
			116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
			58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
			101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
			0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
		},
		tensors: map[string][]float32{"attn.0": {0, 1, 2, 3, 4, 5}},
	},
	{
		name:  "test_empty",
		build: func(w *Writer) error { return nil },
		want:  []byte{8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32},
	},
	{
		name:  "test_empty with metadata",
		build: func(w *Writer) error { return w.SetMetadata("framework", "pt") },
		want: []byte{
			40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
			95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
			116, 34, 125, 125, 32, 32, 32, 32, 32,
		},
	},
	{
		name: "test_serialization_forced_alignement",
		build: func(w *Writer) error {
			return w.AddFloat32s("attn0", F32, []int{1, 1, 2, 3}, []float32{0, 1, 2, 3, 4, 5})
		},
		want: []byte{
			72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
			121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
			91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
			115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
			32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
			160, 64,
		},
		tensors: map[string][]float32{"attn0": {0, 1, 2, 3, 4, 5}},
	},
}

func TestRustSerializeVectors(t *testing.T) {
	for _, v := range rustSerialized {
		t.Run(v.name, func(t *testing.T) {
			w := NewWriter()
			if err := v.build(w); err != nil {
				t.Fatal(err)
			}
			got, err := w.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, v.want) {
				t.Fatalf("writer output differs from the Rust serializer's:\n got %q\nwant %q", got, v.want)
			}
			f := mustRead(t, v.want)
			if f.Len() != len(v.tensors) {
				t.Fatalf("%d tensors", f.Len())
			}
			for name, want := range v.tensors {
				got, err := f.Float32s(name)
				if err != nil {
					t.Fatal(err)
				}
				if !equalFloat32s(got, want) {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// TestRustDeserializeVectors reads the files the Rust tests deserialize successfully, among
// them headers that are not padded to 8 bytes (as older writers made them), padded with every
// kind of JSON whitespace, and with a space inside data_offsets.
func TestRustDeserializeVectors(t *testing.T) {
	zeros := func(n int) string { return string(make([]byte, n)) }
	for _, tc := range []struct {
		name, raw string
		tensor    string
		dtype     DType
		shape     []int
		n         int
	}{
		{"test_deserialization", "<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}` + zeros(16),
			"test", I32, []int{2, 2}, 16},
		{"test_empty_shapes_allowed", "8\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}` + zeros(4),
			"test", I32, []int{}, 4},
		{"test_zero_sized_tensor", "<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}`,
			"test", I32, []int{2, 0}, 0},
		{"test_whitespace_padded_header", "\x06\x00\x00\x00\x00\x00\x00\x00{}\x0D\x20\x09\x0A", "", 0, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustRead(t, []byte(tc.raw))
			if tc.tensor == "" {
				if f.Len() != 0 {
					t.Fatalf("%d tensors", f.Len())
				}
				return
			}
			info, ok := f.Info(tc.tensor)
			if !ok || f.Len() != 1 {
				t.Fatalf("names %q", f.Names())
			}
			if info.DType != tc.dtype || !equalInts(info.Shape, tc.shape) || info.End-info.Begin != int64(tc.n) {
				t.Fatalf("info %+v", info)
			}
			if v, err := f.Int32s(tc.tensor); err != nil || len(v) != tc.n/4 {
				t.Fatalf("Int32s = %v, %v", v, err)
			}
		})
	}
}

// goldenTensors is what testdata/golden.py writes, decoded independently of this package.
func goldenWriter(t *testing.T) *Writer {
	w := NewWriter()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.AddInt64s("ids", []int{2}, []int64{1, -1}))
	must(w.AddFloat64s("scale", []int{}, []float64{0.25}))
	must(w.AddFloat32s("embed.weight", F32, []int{2, 3}, []float32{0, 1, -2, 0.5, 3.25, 65504}))
	must(w.AddInt32s("empty", []int{0, 4}, nil))
	must(w.AddFloat32s("h.bf16", BF16, []int{2}, []float32{1, -3}))
	must(w.AddFloat32s("h.f16", F16, []int{3}, []float32{1, -2, 0x1p-24}))
	must(w.Add("esc\"\\/é\x1f\n", U16, []int{1}, []byte{1, 2}))
	must(w.AddInt8s("q", []int{4}, []int8{-128, -1, 0, 127}))
	must(w.Add("u", U8, []int{1}, []byte{255}))
	must(w.Add("f4", F4, []int{4}, []byte{0x21, 0x43}))
	must(w.AddBools("mask", []int{3}, []bool{true, false, true}))
	must(w.SetMetadata("format", "pt"))
	return w
}

func TestGoldenFile(t *testing.T) {
	path := filepath.Join("testdata", "golden.safetensors")
	golden, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The writer reproduces the independently laid-out file byte for byte.
	got, err := goldenWriter(t).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, golden) {
		t.Fatalf("writer output differs from %s:\n got %q\nwant %q", path, got, golden)
	}
	// And the reader decodes it, through the path-based API too.
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	wantNames := []string{"embed.weight", "empty", "esc\"\\/é\x1f\n", "f4", "h.bf16", "h.f16", "ids", "mask", "q", "scale", "u"}
	if names := f.Names(); len(names) != len(wantNames) {
		t.Fatalf("names %q", names)
	} else {
		for i := range names {
			if names[i] != wantNames[i] {
				t.Fatalf("names %q, want %q", names, wantNames)
			}
		}
	}
	if m := f.Metadata(); len(m) != 1 || m["format"] != "pt" {
		t.Errorf("metadata %q", m)
	}
	if f.DataOffset()%8 != 0 {
		t.Errorf("data offset %d not 8-aligned", f.DataOffset())
	}
	for _, name := range wantNames {
		info, _ := f.Info(name)
		if s := info.DType.Size(); s > 0 && info.Begin%int64(s) != 0 {
			t.Errorf("%s (%v) begins at %d, not aligned", name, info.DType, info.Begin)
		}
	}
	checkF32 := func(name string, want ...float32) {
		t.Helper()
		got, err := f.Float32s(name)
		if err != nil {
			t.Fatal(err)
		}
		if !equalFloat32s(got, want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	checkF32("embed.weight", 0, 1, -2, 0.5, 3.25, 65504)
	checkF32("h.bf16", 1, -3)
	checkF32("h.f16", 1, -2, 0x1p-24)
	checkF32("scale", 0.25)
	if v, err := f.Int64s("ids"); err != nil || len(v) != 2 || v[0] != 1 || v[1] != -1 {
		t.Errorf("ids = %v, %v", v, err)
	}
	if v, err := f.Int8s("q"); err != nil || len(v) != 4 || v[0] != -128 || v[3] != 127 {
		t.Errorf("q = %v, %v", v, err)
	}
	if v, err := f.Int32s("esc\"\\/é\x1f\n"); err != nil || len(v) != 1 || v[0] != 513 {
		t.Errorf("esc = %v, %v", v, err)
	}
	if v, err := f.Int32s("u"); err != nil || len(v) != 1 || v[0] != 255 {
		t.Errorf("u = %v, %v", v, err)
	}
	if v, err := f.Bools("mask"); err != nil || len(v) != 3 || !v[0] || v[1] || !v[2] {
		t.Errorf("mask = %v, %v", v, err)
	}
	if v, err := f.Int32s("empty"); err != nil || len(v) != 0 {
		t.Errorf("empty = %v, %v", v, err)
	}
	if b, err := f.Bytes("f4"); err != nil || !bytes.Equal(b, []byte{0x21, 0x43}) {
		t.Errorf("f4 = %v, %v", b, err)
	}
	info, _ := f.Info("scale")
	if len(info.Shape) != 0 || info.NumElements() != 1 {
		t.Errorf("scale info %+v", info)
	}
}

func equalFloat32s(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
