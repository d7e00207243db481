package safetensors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ti formats one tensor entry.
func ti(name, dtype, shape, offsets string) string {
	return fmt.Sprintf(`%q:{"dtype":%q,"shape":%s,"data_offsets":%s}`, name, dtype, shape, offsets)
}

// TestMalicious feeds hand-crafted invalid files and checks each is rejected with the
// specific error class and the names it concerns. The comment on each group cites the rule.
func TestMalicious(t *testing.T) {
	z := func(n int) []byte { return make([]byte, n) }
	ok16 := ti("w", "F32", "[2,2]", "[0,16]")
	for _, tc := range []struct {
		name     string
		file     []byte
		class    error
		mentions []string
	}{
		// Header length: ≥ 8 bytes of file, N ≤ the limit, N ≤ size − 8 (Rust: HeaderTooSmall,
		// HeaderTooLarge, InvalidHeaderLength).
		{"empty file", nil, ErrTooSmall, []string{"0 bytes"}},
		{"7 bytes", z(7), ErrTooSmall, []string{"7 bytes"}},
		{"rust test_header_too_large", []byte("<\x00\x00\x00\x00\xff\xff\xff" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}` + string(z(16))),
			ErrHeaderTooLarge, []string{"18446742974197923900 > 100000000"}},
		{"N = 2^64-1", build(math.MaxUint64, "{}", nil), ErrHeaderTooLarge, []string{"18446744073709551615"}},
		{"N just over the limit", build(DefaultMaxHeaderSize+1, "{}", nil), ErrHeaderTooLarge, []string{"100000001"}},
		{"rust test_invalid_header_length", []byte("<\x00\x00\x00\x00\x00\x00\x00"), ErrHeaderLength, []string{"60", "only 0 bytes"}},
		{"N past the end", build(3, "{}", nil), ErrHeaderLength, []string{"3, but only 2 bytes"}},

		// The header is UTF-8 JSON and an object (Rust: InvalidHeader, InvalidHeaderDeserialization).
		{"rust test_invalid_header_non_utf8", []byte("\x01\x00\x00\x00\x00\x00\x00\x00\xff"), ErrHeaderUTF8, nil},
		{"overlong UTF-8 in a name", file("{\"\xc0\xaf\":1}", nil), ErrHeaderUTF8, nil},
		{"rust test_invalid_header_not_json", []byte("\x01\x00\x00\x00\x00\x00\x00\x00{"), ErrSyntax, []string{"byte 1"}},
		{"N = 0", build(0, "", nil), ErrSyntax, []string{"empty header"}},
		{"only spaces", file("        ", nil), ErrSyntax, []string{"empty header"}},
		{"array", file("[]", nil), ErrSchema, []string{"JSON object"}},
		{"string", file(`"x"`, nil), ErrSchema, []string{"JSON object"}},
		{"garbage", file("xyz", nil), ErrSyntax, nil},
		{"trailing garbage", file("{}  x", nil), ErrSyntax, []string{"after the header object"}},
		{"two objects", file("{}{}", nil), ErrSyntax, []string{"after the header object"}},
		{"trailing NUL padding", file("{}\x00\x00", nil), ErrSyntax, nil},
		{"trailing comma", file(`{"__metadata__":{},}`, nil), ErrSyntax, nil},
		{"missing colon", file(`{"w" {}}`, nil), ErrSyntax, []string{"':'"}},
		{"unquoted key", file(`{w:1}`, nil), ErrSyntax, []string{"expected a string"}},
		{"unterminated string", file(`{"w`, nil), ErrSyntax, []string{"unterminated"}},
		{"raw newline in name", file("{\"a\nb\":{}}", nil), ErrSyntax, []string{"control character"}},
		{"bad escape", file(`{"a\x":{}}`, nil), ErrSyntax, []string{"invalid escape"}},
		{"lone high surrogate", file(`{"\ud800":{}}`, nil), ErrSyntax, []string{"surrogate"}},
		{"lone low surrogate", file(`{"\udc00":{}}`, nil), ErrSyntax, []string{"surrogate"}},
		{"high surrogate then non-low", file(`{"\ud800\u0041":{}}`, nil), ErrSyntax, []string{"surrogate"}},
		{"short \\u", file(`{"\u12":{}}`, nil), ErrSyntax, nil},
		{"tensor entry not an object", file(`{"w":[1,2]}`, nil), ErrSchema, []string{`"w"`, "must be an object"}},
		{"tensor entry null", file(`{"w":null}`, nil), ErrSchema, []string{`"w"`}},

		// Duplicate keys are rejected (serde_json would keep the last one silently).
		{"duplicate tensor", file("{"+ok16+","+ok16+"}", z(16)), ErrDuplicate, []string{`"w"`, "twice"}},
		{"duplicate via escape", file("{"+ok16+`,"\u0077":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}`, z(16)),
			ErrDuplicate, []string{`"w"`}},
		{"duplicate __metadata__", file(`{"__metadata__":{},"__metadata__":{}}`, nil), ErrDuplicate, []string{"__metadata__"}},
		{"duplicate metadata key", file(`{"__metadata__":{"a":"1","a":"2"}}`, nil), ErrDuplicate, []string{`"a"`}},
		{"duplicate dtype field", file(`{"w":{"dtype":"F32","dtype":"F16","shape":[],"data_offsets":[0,4]}}`, z(4)), ErrDuplicate, []string{`"w"`, "dtype"}},
		{"duplicate shape field", file(`{"w":{"dtype":"F32","shape":[],"shape":[1],"data_offsets":[0,4]}}`, z(4)), ErrDuplicate, []string{"shape"}},
		{"duplicate offsets field", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4],"data_offsets":[0,4]}}`, z(4)), ErrDuplicate, []string{"data_offsets"}},

		// Tensor entries have exactly dtype, shape and data_offsets.
		{"missing dtype", file(`{"w":{"shape":[],"data_offsets":[0,4]}}`, z(4)), ErrSchema, []string{`"w"`, "missing dtype"}},
		{"missing shape", file(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, z(4)), ErrSchema, []string{"missing shape"}},
		{"missing offsets", file(`{"w":{"dtype":"F32","shape":[]}}`, z(4)), ErrSchema, []string{"missing data_offsets"}},
		{"empty entry", file(`{"w":{}}`, nil), ErrSchema, []string{"missing dtype"}},
		{"unknown field", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4],"offsets":[0,4]}}`, z(4)), ErrSchema, []string{`"w"`, `unknown field "offsets"`}},

		// dtype must be one the format defines (Rust: serde enum, case-sensitive).
		{"unknown dtype", file(`{"w":{"dtype":"F31","shape":[],"data_offsets":[0,4]}}`, z(4)), ErrDType, []string{`"w"`, `"F31"`}},
		{"lower-case dtype", file(`{"w":{"dtype":"f32","shape":[],"data_offsets":[0,4]}}`, z(4)), ErrDType, []string{`"f32"`}},
		{"numeric dtype", file(`{"w":{"dtype":4,"shape":[],"data_offsets":[0,4]}}`, z(4)), ErrDType, []string{"must be a string"}},
		{"huge dtype string", file(`{"w":{"dtype":"`+strings.Repeat("A", 1000)+`","shape":[],"data_offsets":[0,4]}}`, z(4)), ErrDType, []string{"…"}},

		// shape: an array of non-negative integers.
		{"negative dim", file(`{"w":{"dtype":"F32","shape":[2,-1],"data_offsets":[0,4]}}`, z(4)), ErrShape, []string{`"w"`, "element 1", "-1 is negative"}},
		{"fractional dim", file(`{"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, z(8)), ErrShape, []string{"2.0 is not an integer"}},
		{"exponent dim", file(`{"w":{"dtype":"F32","shape":[1e1],"data_offsets":[0,40]}}`, z(40)), ErrShape, []string{"1e1 is not an integer"}},
		{"dim beyond 64 bits", file(`{"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}}`, z(4)), ErrShape, []string{"does not fit in 64 bits"}},
		{"string dim", file(`{"w":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}`, z(8)), ErrShape, []string{"non-negative integers"}},
		{"shape not array", file(`{"w":{"dtype":"F32","shape":4,"data_offsets":[0,16]}}`, z(16)), ErrShape, []string{"non-negative integers"}},
		{"shape null", file(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, z(4)), ErrShape, nil},
		{"leading zero", file(`{"w":{"dtype":"F32","shape":[01],"data_offsets":[0,4]}}`, z(4)), ErrSyntax, nil},
		{"dim in huge zero-sized tensor", file(`{"w":{"dtype":"F32","shape":[0,9223372036854775808],"data_offsets":[0,0]}}`, nil), ErrShape, []string{"does not fit in int"}},

		// data_offsets: two non-negative integers, begin ≤ end (Rust: InvalidOffset).
		{"three offsets", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[0,4,8]}}`, z(8)), ErrOffsets, []string{`"w"`, "got 3 numbers"}},
		{"one offset", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[4]}}`, z(4)), ErrOffsets, []string{"got 1 numbers"}},
		{"negative offset", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[-4,0]}}`, z(4)), ErrOffsets, []string{"-4 is negative"}},
		{"begin > end", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":[4,0]}}`, z(4)), ErrOffsets, []string{`"w"`, "begin 4 > end 0"}},
		{"offsets not array", file(`{"w":{"dtype":"F32","shape":[],"data_offsets":"0,4"}}`, z(4)), ErrOffsets, nil},

		// Element count × size: overflow-checked (Rust: ValidationOverflow, test_validation_overflow)
		// and equal to end − begin (Rust: TensorInvalidInfo, test_invalid_info).
		{"rust overflow: shape", []byte("O\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,18446744073709551614],"data_offsets":[0,16]}}` + string(z(16))),
			ErrOverflow, []string{`"test"`}},
		{"rust overflow: bytes", []byte("N\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,9223372036854775807],"data_offsets":[0,16]}}` + string(z(16))),
			ErrOverflow, []string{`"test"`}},
		{"overflow left to right before a zero", file(`{"w":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}}`, nil), ErrOverflow, []string{`"w"`}},
		// Stricter than Rust, which multiplies in u64: an intermediate product past int64 is
		// refused even when a later zero dimension would bring it back to 0.
		{"int64 overflow before a zero", file(`{"w":{"dtype":"U8","shape":[4294967296,2147483648,0],"data_offsets":[0,0]}}`, nil), ErrOverflow, []string{`"w"`}},
		{"rust test_invalid_info", []byte("<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}`),
			ErrSizeMismatch, []string{`"test"`, "needs 16 bytes", "hold 4"}},
		{"size mismatch, bigger", file(`{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}}`, z(8)), ErrSizeMismatch, []string{"needs 6 bytes"}},
		{"sub-byte tensor not filling bytes", file(`{"w":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}`, z(2)), ErrMisaligned, []string{`"w"`, "3 elements"}},
		{"F6 tensor not filling bytes", file(`{"w":{"dtype":"F6_E2M3","shape":[2],"data_offsets":[0,2]}}`, z(2)), ErrMisaligned, nil},

		// Every range inside the data buffer (Rust: MetadataIncompleteBuffer).
		{"past the end", file("{"+ok16+"}", z(8)), ErrOutOfBounds, []string{`"w"`, "[0, 16]", "8 bytes"}},
		{"far past the end", file(`{"w":{"dtype":"U8","shape":[1099511627776],"data_offsets":[1,1099511627777]}}`, z(8)), ErrOutOfBounds, []string{`"w"`}},
		{"offsets beyond int64", file(`{"w":{"dtype":"U8","shape":[0],"data_offsets":[18446744073709551615,18446744073709551615]}}`, nil), ErrOutOfBounds, nil},

		// No overlap (Rust: InvalidOffset; test_json_attack).
		{"rust test_json_attack", file("{"+strings.Join(func() []string {
			var s []string
			for i := range 10 {
				s = append(s, ti(fmt.Sprintf("weight_%d", i), "F32", "[2,2]", "[0,16]"))
			}
			return s
		}(), ",")+"}", z(16)), ErrOverlap, []string{`"weight_1"`, `"weight_0"`}},
		{"partial overlap", file("{"+ti("a", "U8", "[8]", "[0,8]")+","+ti("b", "U8", "[8]", "[4,12]")+"}", z(12)), ErrOverlap, []string{`"b"`, `"a"`, "[4, 12]"}},
		{"one-byte overlap", file("{"+ti("a", "U8", "[4]", "[0,4]")+","+ti("b", "U8", "[4]", "[3,7]")+"}", z(7)), ErrOverlap, []string{`"b"`, `"a"`, "[3, 7]"}},
		{"empty tensor inside another", file("{"+ti("a", "U8", "[8]", "[0,8]")+","+ti("b", "U8", "[0]", "[4,4]")+"}", z(8)), ErrOverlap, []string{`"b"`, `"a"`}},

		// No holes: sorted by offset, each tensor starts where the previous ended (Rust: InvalidOffset).
		{"hole between tensors", file("{"+ti("a", "U8", "[4]", "[0,4]")+","+ti("b", "U8", "[4]", "[8,12]")+"}", z(12)), ErrGap, []string{`"b"`, "[4, 8)"}},
		{"hole at the start", file("{"+ti("a", "U8", "[4]", "[4,8]")+"}", z(8)), ErrGap, []string{`"a"`, "[0, 4)"}},

		// No trailing bytes (Rust: MetadataIncompleteBuffer; test_metadata_incomplete_buffer).
		{"rust polyglot file", []byte("<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}` + string(z(16)) + "extra_bogus_data_for_polyglot_file"),
			ErrTrailing, []string{"end at 16", "at 50"}},
		{"rust missing data", []byte("<\x00\x00\x00\x00\x00\x00\x00" + `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}` + string(z(14))),
			ErrOutOfBounds, []string{`"test"`}},
		{"data but no tensors", file("{}", z(1)), ErrTrailing, nil},

		// __metadata__ is an object of strings (or null).
		{"metadata number value", file(`{"__metadata__":{"epoch":3}}`, nil), ErrMetadata, []string{`"epoch"`, "not a string"}},
		{"metadata nested", file(`{"__metadata__":{"a":{"b":"c"}}}`, nil), ErrMetadata, []string{`"a"`}},
		{"metadata array", file(`{"__metadata__":["a"]}`, nil), ErrMetadata, []string{"object of strings"}},
		{"metadata string", file(`{"__metadata__":"pt"}`, nil), ErrMetadata, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t, tc.file)
			wantErr(t, err, tc.class, tc.mentions...)
		})
	}
}

// TestAccepted checks the lenient corners the format and the Rust reader allow.
func TestAccepted(t *testing.T) {
	z := func(n int) []byte { return make([]byte, n) }
	for _, tc := range []struct {
		name string
		file []byte
		n    int
	}{
		{"no tensors", file("{}", nil), 0},
		{"header padded with spaces", file("{}      ", nil), 0},
		{"whitespace everywhere", file(" \t\n{ \"w\" : { \"dtype\" : \"U8\" , \"shape\" : [ 2 ] , \"data_offsets\" : [ 0 , 2 ] } }\r\n ", z(2)), 1},
		{"fields in any order", file(`{"w":{"data_offsets":[0,2],"shape":[2],"dtype":"U8"}}`, z(2)), 1},
		{"metadata anywhere", file(`{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"__metadata__":{"a":"b"}}`, z(2)), 1},
		{"metadata null", file(`{"__metadata__":null}`, nil), 0},
		{"empty name", file(`{"":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, z(2)), 1},
		{"unaligned data start", file(`{"w":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}`, z(8)), 1},
		{"offsets in any order", file("{"+ti("b", "U8", "[2]", "[0,2]")+","+ti("a", "U8", "[2]", "[2,4]")+"}", z(4)), 2},
		{"several empty tensors at one offset", file("{"+ti("a", "U8", "[0]", "[0,0]")+","+ti("b", "F32", "[3,0]", "[0,0]")+","+ti("c", "U8", "[1]", "[0,1]")+","+ti("d", "U8", "[0]", "[1,1]")+"}", z(1)), 4},
		{"escaped names", file(`{"\u00e9\ud83d\ude00\n\"\\\/":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, z(1)), 1},
		{"sub-byte tensor", file(`{"w":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[0,3]}}`, z(3)), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if f := mustRead(t, tc.file); f.Len() != tc.n {
				t.Fatalf("%d tensors, want %d", f.Len(), tc.n)
			}
		})
	}
	f := mustRead(t, file(`{"\u00e9\ud83d\ude00\n\"\\\/":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}`, z(1)))
	if _, ok := f.Info("é😀\n\"\\/"); !ok {
		t.Errorf("escaped name decoded as %q", f.Names())
	}
}

// TestHeaderLimit checks WithMaxHeaderSize: a header at the limit is read, one byte more is not.
func TestHeaderLimit(t *testing.T) {
	b := file(`{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2})
	n := int64(len(b) - 10)
	mustRead(t, b, WithMaxHeaderSize(n))
	_, err := read(t, b, WithMaxHeaderSize(n-1))
	wantErr(t, err, ErrHeaderTooLarge, fmt.Sprintf("%d > %d", n, n-1))
	mustRead(t, b, WithMaxHeaderSize(0)) // back to the default
	big := file("{}"+strings.Repeat(" ", 200<<10), nil)
	_, err = read(t, big, WithMaxHeaderSize(100<<10))
	wantErr(t, err, ErrHeaderTooLarge)
	mustRead(t, big, WithMaxHeaderSize(1<<20))
}

// shortReader is an io.ReaderAt whose caller claims more bytes than it holds.
type shortReader struct{ b []byte }

func (r shortReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// allocated returns the bytes allocated while running fn.
func allocated(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestBoundedAllocation checks that files claiming huge headers or tensors fail before any
// allocation sized by the claim.
func TestBoundedAllocation(t *testing.T) {
	const limit = 64 << 10
	huge := []struct {
		name  string
		run   func() error
		class error
	}{
		{"header length 2^63", func() error {
			_, err := ReadBytes(build(1<<63, "{}", nil))
			return err
		}, ErrHeaderTooLarge},
		{"header length at the limit, file of 16 bytes", func() error {
			_, err := ReadBytes(build(DefaultMaxHeaderSize, "{}      ", nil))
			return err
		}, ErrHeaderLength},
		{"reader claims 1 TiB and a 99 MB header but holds 16 bytes", func() error {
			_, err := Read(shortReader{build(99_000_000, "{}      ", nil)}, 1<<40)
			return err
		}, ErrTruncated},
		{"tensor of 2^40 bytes in a small file", func() error {
			_, err := ReadBytes(file(`{"w":{"dtype":"F32","shape":[262144,1048576],"data_offsets":[0,1099511627776]}}`, nil))
			return err
		}, ErrOutOfBounds},
		{"tensor of 2^62 elements", func() error {
			_, err := ReadBytes(file(`{"w":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,8]}}`, make([]byte, 8)))
			return err
		}, ErrOverflow},
	}
	for _, tc := range huge {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if n := allocated(func() { err = tc.run() }); n > limit {
				t.Errorf("allocated %d bytes", n)
			}
			wantErr(t, err, tc.class)
		})
	}
	// Accessors on a reader that lies about its size after validation fail cleanly.
	good := file(`{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, make([]byte, 16))
	r := &flakyReader{b: good}
	f, err := Read(r, int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	r.b = good[:len(good)-8]
	_, err = f.Float32s("w")
	wantErr(t, err, ErrTruncated, `"w"`)
}

type flakyReader struct{ b []byte }

func (r *flakyReader) ReadAt(p []byte, off int64) (int, error) {
	return shortReader{r.b}.ReadAt(p, off)
}

// TestOpen covers the path-based reader.
func TestOpen(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.safetensors")); err == nil || !errors.Is(err, os.ErrNotExist) ||
		!strings.HasPrefix(err.Error(), "safetensors: ") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.safetensors")
	if err := os.WriteFile(bad, file(`{"w":{}}`, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(bad)
	wantErr(t, err, ErrSchema, `"w"`, bad)
	good := filepath.Join(dir, "good.safetensors")
	if err := os.WriteFile(good, file(`{"w":{"dtype":"I16","shape":[2],"data_offsets":[0,4]}}`, []byte{1, 0, 0xff, 0xff}), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	v, err := f.Int32s("w")
	if err != nil || len(v) != 2 || v[0] != 1 || v[1] != -1 {
		t.Errorf("Int32s = %v, %v", v, err)
	}
	s, err := f.Section("w")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(s)
	if !bytes.Equal(raw, []byte{1, 0, 0xff, 0xff}) {
		t.Errorf("Section read %v", raw)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := f.Bytes("w"); err == nil {
		t.Error("read after Close succeeded")
	}
}

// TestAccessors covers lookups and the typed decoders' conversions and refusals.
func TestAccessors(t *testing.T) {
	w := NewWriter()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(w.Add("u64big", U64, []int{1}, []byte{0, 0, 0, 0, 0, 0, 0, 0x80}))
	must(w.Add("u64", U64, []int{2}, []byte{7, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}))
	must(w.AddInt64s("i64", []int{3}, []int64{math.MinInt64, -1, 1 << 40}))
	must(w.Add("u32", U32, []int{1}, []byte{0xff, 0xff, 0xff, 0xff}))
	must(w.Add("i16", I16, []int{2}, []byte{0x00, 0x80, 0xff, 0x7f}))
	must(w.Add("u16", U16, []int{1}, []byte{0xff, 0xff}))
	must(w.AddInt8s("i8", []int{2}, []int8{-128, 127}))
	must(w.Add("u8", U8, []int{2}, []byte{0, 200}))
	must(w.Add("bool", BOOL, []int{3}, []byte{0, 1, 2}))
	must(w.AddFloat64s("f64", []int{3}, []float64{1e300, -0.1, math.Inf(-1)}))
	must(w.Add("c64", C64, []int{1}, make([]byte, 8)))
	must(w.Add("e4m3", F8E4M3, []int{2}, []byte{0x38, 0xb8}))
	b, err := w.Bytes()
	must(err)
	f := mustRead(t, b)

	if _, ok := f.Info("nope"); ok {
		t.Error("Info of a missing tensor")
	}
	for _, fn := range []func() error{
		func() error { _, err := f.Bytes("nope"); return err },
		func() error { _, err := f.Float32s("nope"); return err },
		func() error { _, err := f.Int64s("nope"); return err },
		func() error { _, err := f.Section("nope"); return err },
	} {
		wantErr(t, fn(), ErrNotFound, `"nope"`)
	}
	i64, err := f.Int64s("u64")
	if err != nil || i64[0] != 7 || i64[1] != math.MaxInt64 {
		t.Errorf("Int64s(u64) = %v, %v", i64, err)
	}
	_, err = f.Int64s("u64big")
	wantErr(t, err, ErrRange, `"u64big"`, "element 0", "9223372036854775808")
	if v, err := f.Int64s("i64"); err != nil || v[0] != math.MinInt64 || v[2] != 1<<40 {
		t.Errorf("Int64s(i64) = %v, %v", v, err)
	}
	_, err = f.Int32s("i64")
	wantErr(t, err, ErrRange, "element 0")
	_, err = f.Int32s("u32")
	wantErr(t, err, ErrRange, "4294967295")
	if v, err := f.Int32s("i16"); err != nil || v[0] != -32768 || v[1] != 32767 {
		t.Errorf("Int32s(i16) = %v, %v", v, err)
	}
	if v, err := f.Int32s("u16"); err != nil || v[0] != 65535 {
		t.Errorf("Int32s(u16) = %v, %v", v, err)
	}
	_, err = f.Int8s("u8")
	wantErr(t, err, ErrRange, "element 1 = 200")
	if v, err := f.Int8s("i8"); err != nil || v[0] != -128 || v[1] != 127 {
		t.Errorf("Int8s(i8) = %v, %v", v, err)
	}
	_, err = f.Bools("bool")
	wantErr(t, err, ErrRange, "element 2 = 2")
	for _, name := range []string{"bool", "f64", "c64"} {
		_, err = f.Int64s(name)
		wantErr(t, err, ErrConvert, fmt.Sprintf("%q", name))
	}
	for _, name := range []string{"i64", "c64", "e4m3", "bool"} {
		_, err = f.Float32s(name)
		wantErr(t, err, ErrConvert, fmt.Sprintf("%q", name), "to float32")
		_, err = f.Float64s(name)
		wantErr(t, err, ErrConvert, "to float64")
	}
	_, err = f.Bools("u8")
	wantErr(t, err, ErrConvert)
	v32, err := f.Float32s("f64")
	if err != nil || !math.IsInf(float64(v32[0]), 1) || v32[1] != float32(-0.1) || !math.IsInf(float64(v32[2]), -1) {
		t.Errorf("Float32s(f64) = %v, %v", v32, err)
	}
	v64, err := f.Float64s("f64")
	if err != nil || v64[0] != 1e300 || v64[1] != -0.1 {
		t.Errorf("Float64s(f64) = %v, %v", v64, err)
	}
	// Returned slices are the caller's: changing them changes nothing in the File or b.
	raw, _ := f.Bytes("u8")
	raw[1] = 9
	if again, _ := f.Bytes("u8"); again[1] != 200 {
		t.Error("Bytes aliases the file")
	}
	info, _ := f.Info("i64")
	info.Shape[0] = 99
	if again, _ := f.Info("i64"); again.Shape[0] != 3 {
		t.Error("Info aliases the file")
	}
	all := f.Tensors()
	if len(all) != f.Len() || all[0].Name != "bool" {
		t.Errorf("Tensors: %v", all)
	}
	mf := mustRead(t, file(`{"__metadata__":{"a":"b"}}`, nil))
	mf.Metadata()["a"] = "c"
	if mf.Metadata()["a"] != "b" {
		t.Error("Metadata aliases the file")
	}
	if mustRead(t, file(`{}`, nil)).Metadata() != nil {
		t.Error("Metadata of a file without it is not nil")
	}
}
