package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shapesFor returns shapes covering a scalar, an empty tensor and a matrix, each filling whole
// bytes for d.
func shapesFor(d DType) map[string][]int {
	switch d.Bits() {
	case 4:
		return map[string][]int{"empty": {3, 0}, "vector": {2}, "matrix": {2, 3}}
	case 6:
		return map[string][]int{"empty": {0}, "vector": {4}, "matrix": {4, 2}}
	}
	return map[string][]int{"scalar": {}, "empty": {3, 0}, "vector": {5}, "matrix": {2, 3}, "rank4": {1, 2, 1, 3}}
}

func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// TestRoundTripAllDTypes writes tensors of every dtype and shape kind, with metadata, and
// reads them back through memory and through a saved file.
func TestRoundTripAllDTypes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	w := NewWriter()
	type want struct {
		dtype DType
		shape []int
		data  []byte
	}
	wants := map[string]want{}
	for d := DType(1); d < maxDType; d++ {
		for kind, shape := range shapesFor(d) {
			n := 1
			for _, s := range shape {
				n *= s
			}
			data := randomBytes(rng, n*d.Bits()/8)
			name := d.String() + "/" + kind
			if err := w.Add(name, d, shape, data); err != nil {
				t.Fatal(err)
			}
			wants[name] = want{d, shape, data}
		}
	}
	meta := map[string]string{"format": "pt", "empty": "", "": "empty key", "json": `{"a": [1, 2]}`}
	for k, v := range meta {
		if err := w.SetMetadata(k, v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "all.safetensors")
	if err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	saved, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(saved, b) {
		t.Fatalf("Save wrote different bytes than Bytes (%v)", err)
	}
	opened, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	for _, f := range []*File{mustRead(t, b), opened} {
		if f.Len() != len(wants) {
			t.Fatalf("%d tensors, want %d", f.Len(), len(wants))
		}
		for name, w := range wants {
			info, ok := f.Info(name)
			if !ok || info.DType != w.dtype || !equalInts(info.Shape, w.shape) {
				t.Fatalf("%s: info %+v, want %v %v", name, info, w.dtype, w.shape)
			}
			got, err := f.Bytes(name)
			if err != nil || !bytes.Equal(got, w.data) {
				t.Fatalf("%s: bytes %v (%v), want %v", name, got, err, w.data)
			}
			if s := w.dtype.Size(); s > 0 && (f.DataOffset()+info.Begin)%int64(s) != 0 {
				t.Errorf("%s: %v data at file offset %d is not aligned", name, w.dtype, f.DataOffset()+info.Begin)
			}
		}
		got := f.Metadata()
		if len(got) != len(meta) {
			t.Fatalf("metadata %q, want %q", got, meta)
		}
		for k, v := range meta {
			if got[k] != v {
				t.Errorf("metadata %q = %q, want %q", k, got[k], v)
			}
		}
	}
}

// TestRoundTripMany writes thousands of random tensors, in random insertion order, and
// checks the layout: sorted by descending dtype rank then name, contiguous, aligned.
func TestRoundTripMany(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	byteTypes := []DType{BOOL, U8, I8, F8E4M3, I16, U16, F16, BF16, I32, U32, F32, C64, F64, I64, U64}
	type spec struct {
		name  string
		dtype DType
		shape []int
		data  []byte
	}
	var specs []spec
	for i := range 3000 {
		d := byteTypes[rng.IntN(len(byteTypes))]
		shape := make([]int, rng.IntN(4))
		n := 1
		for j := range shape {
			shape[j] = rng.IntN(4)
			n *= shape[j]
		}
		specs = append(specs, spec{fmt.Sprintf("layer.%d.w%d", rng.IntN(100), i), d, shape, randomBytes(rng, n*d.Size())})
	}
	build := func(order []int) []byte {
		w := NewWriter()
		for _, i := range order {
			s := specs[i]
			if err := w.Add(s.name, s.dtype, s.shape, s.data); err != nil {
				t.Fatal(err)
			}
		}
		b, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := build(rng.Perm(len(specs)))
	if again := build(rng.Perm(len(specs))); !bytes.Equal(b, again) {
		t.Fatal("insertion order changed the output")
	}
	f := mustRead(t, b)
	if f.Len() != len(specs) {
		t.Fatalf("%d tensors", f.Len())
	}
	for _, s := range specs {
		info, _ := f.Info(s.name)
		got, err := f.Bytes(s.name)
		if err != nil || !bytes.Equal(got, s.data) || info.DType != s.dtype || !equalInts(info.Shape, s.shape) {
			t.Fatalf("%s: %+v %v %v", s.name, info, got, err)
		}
		if (f.DataOffset()+info.Begin)%int64(s.dtype.Size()) != 0 {
			t.Fatalf("%s misaligned", s.name)
		}
	}
	// Layout order: descending rank, then name.
	infos := f.Tensors()
	for i := range infos {
		for j := range infos {
			a, b := infos[i], infos[j]
			if a.Begin < b.Begin && a.End-a.Begin > 0 && b.End-b.Begin > 0 &&
				(a.DType < b.DType || a.DType == b.DType && a.Name > b.Name) {
				t.Fatalf("%s (%v) laid out before %s (%v)", a.Name, a.DType, b.Name, b.DType)
			}
		}
		if i > 200 {
			break // quadratic: a prefix is enough
		}
	}
}

// TestHeaderJSON checks the header against encoding/json, an independent parser, and the
// escapes against serde_json's rules, for names and metadata full of special characters.
func TestHeaderJSON(t *testing.T) {
	var special strings.Builder
	for c := range 0x20 {
		special.WriteByte(byte(c))
	}
	special.WriteString("\"\\ /\x7f é 😀 <>&\u2028")
	name := special.String()
	w := NewWriter()
	if err := w.Add(name, U8, []int{1}, []byte{42}); err != nil {
		t.Fatal(err)
	}
	if err := w.SetMetadata(name, name); err != nil {
		t.Fatal(err)
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
	header := b[8 : 8+n]
	for _, want := range []string{`\u0000`, `\u001f`, `\u000b`, `\b`, `\t`, `\n`, `\f`, `\r`, `\"`, `\\`, "/", "\x7f", "é", "😀", "<>&", "\u2028"} {
		if !bytes.Contains(header, []byte(want)) {
			t.Errorf("header lacks %q: %s", want, header)
		}
	}
	for _, bad := range []string{`\u001F`, `\/`, `\u00e9`, `\u003c`, `\u2028`} {
		if bytes.Contains(header, []byte(bad)) {
			t.Errorf("header has %q, which serde_json does not write", bad)
		}
	}
	var decoded map[string]json.RawMessage
	if err := json.Unmarshal(header, &decoded); err != nil {
		t.Fatalf("encoding/json rejects the header: %v\n%s", err, header)
	}
	var meta map[string]string
	if err := json.Unmarshal(decoded[metadataKey], &meta); err != nil || meta[name] != name {
		t.Errorf("metadata decoded by encoding/json: %q, %v", meta, err)
	}
	var info struct {
		DType       string `json:"dtype"`
		Shape       []int  `json:"shape"`
		DataOffsets []int  `json:"data_offsets"`
	}
	if err := json.Unmarshal(decoded[name], &info); err != nil || info.DType != "U8" || len(info.Shape) != 1 || info.DataOffsets[1] != 1 {
		t.Errorf("tensor decoded by encoding/json: %+v, %v", info, err)
	}
	f := mustRead(t, b)
	if v, err := f.Bytes(name); err != nil || v[0] != 42 {
		t.Errorf("Bytes(%q) = %v, %v", name, v, err)
	}
	if f.Metadata()[name] != name {
		t.Errorf("metadata %q", f.Metadata())
	}
}

// TestDeterministic checks that equal inputs give equal bytes, however they were added.
func TestDeterministic(t *testing.T) {
	make1 := func(reverse bool) []byte {
		w := NewWriter()
		steps := []func() error{
			func() error { return w.AddFloat32s("b", F32, []int{2}, []float32{1, 2}) },
			func() error { return w.AddFloat32s("a", F32, []int{2}, []float32{3, 4}) },
			func() error { return w.AddInt64s("c", []int{1}, []int64{5}) },
			func() error { return w.SetMetadata("z", "1") },
			func() error { return w.SetMetadata("y", "2") },
		}
		if reverse {
			for i, j := 0, len(steps)-1; i < j; i, j = i+1, j-1 {
				steps[i], steps[j] = steps[j], steps[i]
			}
		}
		for _, s := range steps {
			if err := s(); err != nil {
				t.Fatal(err)
			}
		}
		b1, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := w.Bytes()
		if !bytes.Equal(b1, b2) {
			t.Fatal("two writes differ")
		}
		return b1
	}
	a, b := make1(false), make1(true)
	if !bytes.Equal(a, b) {
		t.Fatalf("insertion order changed the bytes:\n%q\n%q", a, b)
	}
	want := `{"__metadata__":{"y":"2","z":"1"},"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}`
	if h := strings.TrimRight(string(a[8:8+binary.LittleEndian.Uint64(a)]), " "); h != want {
		t.Errorf("header\n%s\nwant\n%s", h, want)
	}
	dir := t.TempDir()
	w := NewWriter()
	w.AddInt8s("x", []int{2}, []int8{1, 2})
	for _, p := range []string{"1.safetensors", "2.safetensors"} {
		if err := w.Save(filepath.Join(dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	x, _ := os.ReadFile(filepath.Join(dir, "1.safetensors"))
	y, _ := os.ReadFile(filepath.Join(dir, "2.safetensors"))
	if len(x) == 0 || !bytes.Equal(x, y) {
		t.Error("two saves differ")
	}
}

// TestTypedRoundTrip writes with the typed helpers and reads back with the typed decoders.
func TestTypedRoundTrip(t *testing.T) {
	vals := []float32{0, 1, -2, 0.5, 65504, float32(math.Inf(-1)), 0x1p-24, -0x1p-14}
	w := NewWriter()
	for _, d := range []DType{F32, F16, BF16, F64} {
		if err := w.AddFloat32s("f/"+d.String(), d, []int{2, 4}, vals); err != nil {
			t.Fatal(err)
		}
	}
	i64 := []int64{math.MinInt64, -1, 0, math.MaxInt64}
	i32 := []int32{math.MinInt32, -1, 0, math.MaxInt32}
	i8 := []int8{math.MinInt8, -1, 0, math.MaxInt8}
	f64 := []float64{math.Pi, -math.MaxFloat64, math.SmallestNonzeroFloat64, math.Copysign(0, -1)}
	bools := []bool{true, false, false, true}
	for _, err := range []error{
		w.AddInt64s("i64", []int{4}, i64), w.AddInt32s("i32", []int{2, 2}, i32), w.AddInt8s("i8", []int{4, 1}, i8),
		w.AddFloat64s("f64", []int{4}, f64), w.AddBools("bool", []int{4}, bools),
		w.AddFloat32s("nan16", F16, []int{1}, []float32{float32(math.NaN())}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	b, err := w.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	f := mustRead(t, b)
	for _, d := range []DType{F32, F16, BF16, F64} {
		got, err := f.Float32s("f/" + d.String())
		if err != nil {
			t.Fatal(err)
		}
		want := vals
		if d == BF16 { // 65504 needs 11 significant bits; BF16 keeps 8
			want = append([]float32(nil), vals...)
			want[4] = BF16ToFloat32(Float32ToBF16(65504))
		}
		if !equalFloat32s(got, want) {
			t.Errorf("%v: %v, want %v", d, got, want)
		}
		g64, err := f.Float64s("f/" + d.String())
		if err != nil || len(g64) != len(want) || g64[4] != float64(want[4]) {
			t.Errorf("Float64s %v: %v, %v", d, g64, err)
		}
	}
	if got, err := f.Float32s("nan16"); err != nil || !math.IsNaN(float64(got[0])) {
		t.Errorf("NaN through F16: %v, %v", got, err)
	}
	if got, err := f.Int64s("i64"); err != nil || fmt.Sprint(got) != fmt.Sprint(i64) {
		t.Errorf("Int64s: %v, %v", got, err)
	}
	if got, err := f.Int32s("i32"); err != nil || fmt.Sprint(got) != fmt.Sprint(i32) {
		t.Errorf("Int32s: %v, %v", got, err)
	}
	if got, err := f.Int8s("i8"); err != nil || fmt.Sprint(got) != fmt.Sprint(i8) {
		t.Errorf("Int8s: %v, %v", got, err)
	}
	if got, err := f.Int64s("i32"); err != nil || got[0] != math.MinInt32 {
		t.Errorf("Int64s(i32): %v, %v", got, err)
	}
	if got, err := f.Float64s("f64"); err != nil || len(got) != 4 || got[0] != math.Pi || got[1] != -math.MaxFloat64 ||
		got[2] != math.SmallestNonzeroFloat64 || !math.Signbit(got[3]) {
		t.Errorf("Float64s: %v, %v", got, err)
	}
	if got, err := f.Bools("bool"); err != nil || fmt.Sprint(got) != fmt.Sprint(bools) {
		t.Errorf("Bools: %v, %v", got, err)
	}
}

// TestWriterRejects checks the writer's validation.
func TestWriterRejects(t *testing.T) {
	w := NewWriter()
	if err := w.Add("x", U8, []int{1}, []byte{1}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		err      error
		class    error
		mentions []string
	}{
		{"duplicate", w.Add("x", U8, []int{1}, []byte{1}), ErrDuplicate, []string{`"x"`}},
		{"reserved name", w.Add("__metadata__", U8, []int{1}, []byte{1}), ErrInvalid, []string{"reserved"}},
		{"invalid UTF-8 name", w.Add("\xff", U8, []int{1}, []byte{1}), ErrInvalid, []string{"UTF-8"}},
		{"invalid dtype", w.Add("y", 0, []int{1}, []byte{1}), ErrInvalid, []string{"DType(0)"}},
		{"negative dim", w.Add("y", U8, []int{2, -1}, nil), ErrShape, []string{`"y"`, "negative"}},
		{"short data", w.Add("y", F32, []int{2}, make([]byte, 7)), ErrInvalid, []string{"needs 8 bytes, got 7"}},
		{"long data", w.Add("y", F32, []int{}, make([]byte, 5)), ErrInvalid, []string{"needs 4 bytes, got 5"}},
		{"overflow", w.Add("y", F64, []int{math.MaxInt64 / 4, 4}, nil), ErrOverflow, []string{`"y"`}},
		{"sub-byte misaligned", w.Add("y", F4, []int{3}, make([]byte, 2)), ErrMisaligned, nil},
		{"float32 to int", w.AddFloat32s("y", I32, []int{1}, []float32{1}), ErrConvert, []string{"I32"}},
		{"too few values", w.AddFloat32s("y", F16, []int{2, 2}, []float32{1}), ErrInvalid, []string{"4 elements, got 1 values"}},
		{"too many values", w.AddInt64s("y", []int{1}, []int64{1, 2}), ErrInvalid, nil},
		{"scalar needs one value", w.AddBools("y", []int{}, nil), ErrInvalid, nil},
		{"metadata UTF-8", w.SetMetadata("k", "\xc3"), ErrInvalid, []string{`"k"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, tc.err, tc.class, tc.mentions...)
			if !strings.HasPrefix(tc.err.Error(), "safetensors: ") {
				t.Errorf("no prefix: %v", tc.err)
			}
		})
	}
	if b, err := w.Bytes(); err != nil || mustRead(t, b).Len() != 1 {
		t.Errorf("rejected tensors were kept: %v", err)
	}
	// A header the readers would refuse is refused when writing.
	big := NewWriter()
	big.SetMetadata("k", strings.Repeat("a", DefaultMaxHeaderSize))
	_, err := big.Bytes()
	wantErr(t, err, ErrHeaderTooLarge)
	dir := t.TempDir()
	wantErr(t, big.Save(filepath.Join(dir, "big.safetensors")), ErrHeaderTooLarge)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed Save left %v", entries)
	}
}

// listDir returns the names in dir.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestSaveAtomic checks that a failed Save leaves the old file (or none) and no temporary
// file, and that a successful one replaces the file whole.
func TestSaveAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	w := NewWriter()
	w.AddFloat32s("w", F32, []int{2}, []float32{1, 2})
	if err := w.Save(path); err != nil {
		t.Fatal(err)
	}
	old, _ := os.ReadFile(path)
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, %v", st.Mode(), err)
	}
	if names := listDir(t, dir); len(names) != 1 {
		t.Fatalf("directory holds %q", names)
	}

	t.Run("write fails midway", func(t *testing.T) {
		boom := errors.New("disk on fire")
		err := saveAtomic(path, func(out io.Writer) error {
			out.Write(bytes.Repeat([]byte{7}, 3<<20)) // past the buffer: reaches the temp file
			return boom
		})
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "safetensors: save ") {
			t.Fatalf("err = %v", err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, old) {
			t.Error("the old file changed")
		}
		if names := listDir(t, dir); len(names) != 1 {
			t.Errorf("temporary file left: %q", names)
		}
	})

	t.Run("directory missing", func(t *testing.T) {
		missing := filepath.Join(dir, "no", "such", "dir", "m.safetensors")
		err := w.Save(missing)
		if !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("err = %v", err)
		}
		if names := listDir(t, dir); len(names) != 1 {
			t.Errorf("directory holds %q", names)
		}
	})

	t.Run("target is a directory", func(t *testing.T) {
		target := filepath.Join(dir, "occupied")
		if err := os.MkdirAll(filepath.Join(target, "child"), 0o755); err != nil {
			t.Fatal(err)
		}
		err := w.Save(target) // rename over a non-empty directory fails after the data is written
		if err == nil || !strings.HasPrefix(err.Error(), "safetensors: save ") {
			t.Fatalf("err = %v", err)
		}
		if names := listDir(t, dir); len(names) != 2 {
			t.Errorf("temporary file left: %q", names)
		}
		if names := listDir(t, target); len(names) != 1 || names[0] != "child" {
			t.Errorf("target directory changed: %q", names)
		}
	})

	t.Run("unwritable directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root ignores directory permissions")
		}
		ro := filepath.Join(dir, "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(ro, 0o755)
		if err := w.Save(filepath.Join(ro, "m.safetensors")); !errors.Is(err, os.ErrPermission) {
			t.Fatalf("err = %v", err)
		}
		if names := listDir(t, ro); len(names) != 0 {
			t.Errorf("left %q", names)
		}
	})

	t.Run("replace", func(t *testing.T) {
		w2 := NewWriter()
		w2.AddInt64s("other", []int{3}, []int64{1, 2, 3})
		if err := w2.Save(path); err != nil {
			t.Fatal(err)
		}
		f, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if names := f.Names(); len(names) != 1 || names[0] != "other" {
			t.Errorf("names %q", names)
		}
	})

	t.Run("relative path", func(t *testing.T) {
		t.Chdir(dir)
		if err := w.Save("rel.safetensors"); err != nil {
			t.Fatal(err)
		}
		if _, err := Open("rel.safetensors"); err != nil {
			t.Fatal(err)
		}
	})
}
