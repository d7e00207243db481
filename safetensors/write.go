package safetensors

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Writer collects named tensors and metadata and writes them as one safetensors file.
//
// The output is the Rust library's (safetensors::serialize) byte for byte: tensors are laid
// out by descending DType rank, then by name, which puts every 8-byte type before every
// 4-byte one and so on, so each tensor starts at a multiple of its element size; the header
// is compact JSON listing "__metadata__" first (keys sorted here, where Rust's HashMap order
// is arbitrary) and then the tensors in layout order, with strings escaped as serde_json
// escapes them; spaces pad it to a multiple of 8 bytes so the data buffer is 8-aligned.
// The same tensors and metadata therefore always give the same bytes.
//
// A Writer is not safe for concurrent use. Add keeps a reference to data: it must not change
// until the file is written.
type Writer struct {
	tensors map[string]wtensor
	meta    map[string]string
}

type wtensor struct {
	dtype DType
	shape []int
	data  []byte
}

// NewWriter returns an empty Writer.
func NewWriter() *Writer {
	return &Writer{tensors: map[string]wtensor{}, meta: map[string]string{}}
}

// Add adds a tensor of raw little-endian, row-major bytes. The name must be valid UTF-8, not
// "__metadata__", and not added before; len(data) must be what dtype and shape need. An
// empty shape is a scalar; a zero dimension makes an empty tensor.
func (w *Writer) Add(name string, dtype DType, shape []int, data []byte) error {
	n, err := w.check(name, dtype, shape)
	if err != nil {
		return err
	}
	if int64(len(data)) != n {
		return tensorErrorf(name, "%w: shape %v of %v needs %d bytes, got %d", ErrInvalid, shape, dtype, n, len(data))
	}
	w.tensors[name] = wtensor{dtype: dtype, shape: slices.Clone(shape), data: data}
	return nil
}

// check validates a new tensor's name, dtype and shape and returns its byte length.
func (w *Writer) check(name string, dtype DType, shape []int) (int64, error) {
	switch {
	case !utf8.ValidString(name):
		return 0, tensorErrorf(name, "%w: name is not valid UTF-8", ErrInvalid)
	case name == metadataKey:
		return 0, tensorErrorf(name, "%w: the name is reserved for metadata", ErrInvalid)
	case !dtype.Valid():
		return 0, tensorErrorf(name, "%w: %v", ErrInvalid, dtype)
	}
	if _, dup := w.tensors[name]; dup {
		return 0, tensorErrorf(name, "%w: added twice", ErrDuplicate)
	}
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		if d < 0 {
			return 0, tensorErrorf(name, "%w: %w: negative dimension in %v", ErrInvalid, ErrShape, shape)
		}
		dims[i] = uint64(d)
	}
	n, err := byteLen(dtype, dims)
	if err != nil {
		return 0, tensorErrorf(name, "%w: %w", ErrInvalid, err)
	}
	return n, nil
}

// elements checks that a typed slice of length have fills shape and dtype.
func (w *Writer) elements(name string, dtype DType, shape []int, have int) error {
	n, err := w.check(name, dtype, shape)
	if err != nil {
		return err
	}
	if want := n * 8 / int64(dtype.Bits()); want != int64(have) {
		return tensorErrorf(name, "%w: shape %v has %d elements, got %d values", ErrInvalid, shape, want, have)
	}
	return nil
}

// AddFloat32s adds a float tensor of dtype F32, F16, BF16 or F64 from float32 values,
// rounding to nearest even for F16 and BF16 (Float32ToF16, Float32ToBF16).
func (w *Writer) AddFloat32s(name string, dtype DType, shape []int, v []float32) error {
	switch dtype {
	case F32, F16, BF16, F64:
	default:
		return tensorErrorf(name, "%w: %w: float32 to %v", ErrInvalid, ErrConvert, dtype)
	}
	if err := w.elements(name, dtype, shape, len(v)); err != nil {
		return err
	}
	le := binary.LittleEndian
	b := make([]byte, len(v)*dtype.Size())
	for i, x := range v {
		switch dtype {
		case F32:
			le.PutUint32(b[4*i:], math.Float32bits(x))
		case F16:
			le.PutUint16(b[2*i:], Float32ToF16(x))
		case BF16:
			le.PutUint16(b[2*i:], Float32ToBF16(x))
		case F64:
			le.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
	}
	return w.Add(name, dtype, shape, b)
}

// AddFloat64s adds an F64 tensor.
func (w *Writer) AddFloat64s(name string, shape []int, v []float64) error {
	if err := w.elements(name, F64, shape, len(v)); err != nil {
		return err
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(x))
	}
	return w.Add(name, F64, shape, b)
}

// AddInt64s adds an I64 tensor.
func (w *Writer) AddInt64s(name string, shape []int, v []int64) error {
	if err := w.elements(name, I64, shape, len(v)); err != nil {
		return err
	}
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return w.Add(name, I64, shape, b)
}

// AddInt32s adds an I32 tensor.
func (w *Writer) AddInt32s(name string, shape []int, v []int32) error {
	if err := w.elements(name, I32, shape, len(v)); err != nil {
		return err
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return w.Add(name, I32, shape, b)
}

// AddInt8s adds an I8 tensor.
func (w *Writer) AddInt8s(name string, shape []int, v []int8) error {
	if err := w.elements(name, I8, shape, len(v)); err != nil {
		return err
	}
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return w.Add(name, I8, shape, b)
}

// AddBools adds a BOOL tensor (one byte per element, 0 or 1).
func (w *Writer) AddBools(name string, shape []int, v []bool) error {
	if err := w.elements(name, BOOL, shape, len(v)); err != nil {
		return err
	}
	b := make([]byte, len(v))
	for i, x := range v {
		if x {
			b[i] = 1
		}
	}
	return w.Add(name, BOOL, shape, b)
}

// SetMetadata sets a "__metadata__" entry; key and value must be valid UTF-8. A file is
// written without "__metadata__" when no entry is set.
func (w *Writer) SetMetadata(key, value string) error {
	if !utf8.ValidString(key) || !utf8.ValidString(value) {
		return errorf("%w: metadata entry %q is not valid UTF-8", ErrInvalid, clip(key))
	}
	w.meta[key] = value
	return nil
}

// layout returns the tensor names in file order and the header bytes, padded.
func (w *Writer) layout() ([]string, []byte, error) {
	names := make([]string, 0, len(w.tensors))
	for name := range w.tensors {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(w.tensors[b].dtype, w.tensors[a].dtype), cmp.Compare(a, b))
	})
	h := []byte{'{'}
	if len(w.meta) > 0 {
		keys := make([]string, 0, len(w.meta))
		for k := range w.meta {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		h = appendJSONString(h, metadataKey)
		h = append(h, ':', '{')
		for i, k := range keys {
			if i > 0 {
				h = append(h, ',')
			}
			h = appendJSONString(h, k)
			h = append(h, ':')
			h = appendJSONString(h, w.meta[k])
		}
		h = append(h, '}')
		if len(names) > 0 {
			h = append(h, ',')
		}
	}
	var off int64
	for i, name := range names {
		t := w.tensors[name]
		if i > 0 {
			h = append(h, ',')
		}
		h = appendJSONString(h, name)
		h = append(h, `:{"dtype":"`...)
		h = append(h, t.dtype.String()...)
		h = append(h, `","shape":[`...)
		for j, d := range t.shape {
			if j > 0 {
				h = append(h, ',')
			}
			h = strconv.AppendInt(h, int64(d), 10)
		}
		n := int64(len(t.data))
		if off > math.MaxInt64-n {
			return nil, nil, errorf("%w: data buffer larger than %d bytes", ErrOverflow, int64(math.MaxInt64))
		}
		h = append(h, `],"data_offsets":[`...)
		h = strconv.AppendInt(h, off, 10)
		h = append(h, ',')
		h = strconv.AppendInt(h, off+n, 10)
		h = append(h, ']', '}')
		off += n
	}
	h = append(h, '}')
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	if len(h) > DefaultMaxHeaderSize {
		return nil, nil, errorf("%w: header of %d bytes would exceed readers' limit %d", ErrHeaderTooLarge, len(h), DefaultMaxHeaderSize)
	}
	return names, h, nil
}

// appendJSONString appends s as a JSON string escaped as serde_json does: '"' and '\\'
// backslashed, \b \t \n \f \r by name, other bytes below 0x20 as \u00xx (lower-case hex),
// everything else (including '/', DEL and non-ASCII) verbatim.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		b = append(b, s[start:i]...)
		start = i + 1
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// WriteTo writes the file to out and returns the number of bytes written.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	names, h, err := w.layout()
	if err != nil {
		return 0, err
	}
	n, err := w.write(out, names, h)
	if err != nil {
		return n, errorf("%w", err)
	}
	return n, nil
}

// write writes the prefix, the header h and the tensors' data in the order of names.
func (w *Writer) write(out io.Writer, names []string, h []byte) (int64, error) {
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(h)))
	total, err := out.Write(prefix[:])
	if err != nil {
		return int64(total), err
	}
	n, err := out.Write(h)
	total += n
	if err != nil {
		return int64(total), err
	}
	for _, name := range names {
		n, err := out.Write(w.tensors[name].data)
		total += n
		if err != nil {
			return int64(total), err
		}
	}
	return int64(total), nil
}

// Bytes returns the file as a byte slice.
func (w *Writer) Bytes() ([]byte, error) {
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes the file to path atomically: it writes a temporary file in the same directory,
// syncs it, renames it over path and syncs the directory, so path holds either its old
// contents or the complete new file, never a partial one. On failure the temporary file is
// removed. The file gets mode 0644.
func (w *Writer) Save(path string) error {
	names, h, err := w.layout() // fail before touching the file system
	if err != nil {
		return err
	}
	return saveAtomic(path, func(out io.Writer) error {
		_, err := w.write(out, names, h)
		return err
	})
}

// saveAtomic runs write into a temporary file beside path and moves it into place.
func saveAtomic(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return errorf("save %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a second Close after a failed rename reports ErrClosed; ignored
			os.Remove(tmp)
			err = errorf("save %s: %w", path, err)
		}
	}()
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable. Windows cannot open a directory for syncing and
// needs nothing more.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
