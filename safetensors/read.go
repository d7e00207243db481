package safetensors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"unicode/utf8"
)

// DefaultMaxHeaderSize is the largest header accepted unless WithMaxHeaderSize says
// otherwise: the Rust library's MAX_HEADER_SIZE, 100,000,000 bytes (not 100 MiB).
const DefaultMaxHeaderSize = 100_000_000

// TensorInfo describes one tensor of a file. Begin and End are byte offsets into the data
// buffer, which starts at File.DataOffset in the file; the tensor's bytes are [Begin, End),
// row-major (C order), little-endian.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int // empty for a scalar
	Begin int64
	End   int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d) // validated: cannot overflow
	}
	return n
}

// Option configures Read, ReadBytes and Open.
type Option func(*options)

type options struct {
	maxHeader int64
}

// WithMaxHeaderSize sets the largest header length accepted, in bytes (n ≤ 0 restores
// DefaultMaxHeaderSize). The header is read into memory whole, so this bounds what a file can
// make the reader allocate before anything is validated.
func WithMaxHeaderSize(n int64) Option {
	return func(o *options) {
		if n <= 0 {
			n = DefaultMaxHeaderSize
		}
		o.maxHeader = n
	}
}

// File is a validated safetensors file: its header is parsed and checked, and tensor data
// is read on demand. A File is safe for concurrent use by several goroutines (as long as
// its io.ReaderAt is, which os.File and bytes.Reader are).
type File struct {
	r       io.ReaderAt
	buf     []byte // the whole file, when read from memory
	closer  io.Closer
	dataOff int64
	dataLen int64
	tensors []TensorInfo // sorted by name
	index   map[string]int
	meta    map[string]string
}

// Open opens and validates the safetensors file at path. The file stays open for reading
// tensors until Close.
func Open(path string, opts ...Option) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errorf("%w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, errorf("%w", err)
	}
	sf, err := Read(f, st.Size(), opts...)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	sf.closer = f
	return sf, nil
}

// Read validates the safetensors file of size bytes that r holds and returns it; tensors
// are read from r on demand, so r must stay usable while the File is. size is trusted only
// as far as r confirms it: Read checks that r can deliver the last byte before it allocates
// anything sized from the file.
func Read(r io.ReaderAt, size int64, opts ...Option) (*File, error) {
	o := config(opts)
	if size < 8 {
		return nil, errorf("%w: %d bytes", ErrTooSmall, size)
	}
	var prefix [8]byte
	if err := readFull(r, prefix[:], 0); err != nil {
		return nil, errorf("%w: reading header length: %v", ErrTruncated, err)
	}
	n, err := headerLen(prefix[:], size, o)
	if err != nil {
		return nil, err
	}
	var last [1]byte
	if err := readFull(r, last[:], size-1); err != nil {
		return nil, errorf("%w: cannot read byte %d of %d: %v", ErrTruncated, size-1, size, err)
	}
	hdr := make([]byte, n)
	if err := readFull(r, hdr, 8); err != nil {
		return nil, errorf("%w: reading header: %v", ErrTruncated, err)
	}
	return newFile(r, nil, hdr, size)
}

// ReadBytes validates the safetensors file held in b (read or memory-mapped by the caller)
// and returns it. The File refers to b without copying it, so b must not change while the
// File is in use; tensor accessors still return fresh slices.
func ReadBytes(b []byte, opts ...Option) (*File, error) {
	o := config(opts)
	size := int64(len(b))
	if size < 8 {
		return nil, errorf("%w: %d bytes", ErrTooSmall, size)
	}
	n, err := headerLen(b[:8], size, o)
	if err != nil {
		return nil, err
	}
	return newFile(bytes.NewReader(b), b, b[8:8+n], size)
}

func config(opts []Option) options {
	o := options{maxHeader: DefaultMaxHeaderSize}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// headerLen decodes and bounds the header length N: N ≤ the limit and N ≤ size − 8.
func headerLen(prefix []byte, size int64, o options) (int64, error) {
	n := binary.LittleEndian.Uint64(prefix)
	if n > uint64(o.maxHeader) {
		return 0, errorf("%w: %d > %d", ErrHeaderTooLarge, n, o.maxHeader)
	}
	if n > uint64(size-8) {
		return 0, errorf("%w: %d, but only %d bytes follow the length prefix", ErrHeaderLength, n, size-8)
	}
	return int64(n), nil
}

func newFile(r io.ReaderAt, buf, hdr []byte, size int64) (*File, error) {
	if !utf8.Valid(hdr) {
		return nil, errorf("%w", ErrHeaderUTF8)
	}
	raw, meta, err := parseHeader(hdr)
	if err != nil {
		return nil, err
	}
	dataOff := 8 + int64(len(hdr))
	infos, err := validate(raw, size-dataOff)
	if err != nil {
		return nil, err
	}
	f := &File{r: r, buf: buf, dataOff: dataOff, dataLen: size - dataOff, tensors: infos,
		index: make(map[string]int, len(infos)), meta: meta}
	for i, t := range infos {
		f.index[t.Name] = i
	}
	return f, nil
}

// readFull reads len(p) bytes at off, accepting io.EOF together with a full read (which
// io.ReaderAt permits at the end of the input).
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Close closes the file Open opened; it does nothing for Read and ReadBytes.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	if err != nil {
		return errorf("%w", err)
	}
	return nil
}

// Len returns the number of tensors.
func (f *File) Len() int { return len(f.tensors) }

// Names returns the tensor names, sorted.
func (f *File) Names() []string {
	names := make([]string, len(f.tensors))
	for i, t := range f.tensors {
		names[i] = t.Name
	}
	return names
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.tensors[i]
	t.Shape = slices.Clone(t.Shape)
	return t, true
}

// Tensors returns the descriptions of all tensors, sorted by name.
func (f *File) Tensors() []TensorInfo {
	out := slices.Clone(f.tensors)
	for i := range out {
		out[i].Shape = slices.Clone(out[i].Shape)
	}
	return out
}

// Metadata returns a copy of the "__metadata__" map, or nil when the file has none.
func (f *File) Metadata() map[string]string {
	if f.meta == nil {
		return nil
	}
	m := make(map[string]string, len(f.meta))
	for k, v := range f.meta {
		m[k] = v
	}
	return m
}

// DataOffset returns where the data buffer starts in the file: 8 + the header length. A
// caller holding the file in memory finds a tensor's bytes at
// [DataOffset()+Begin, DataOffset()+End) without a copy.
func (f *File) DataOffset() int64 { return f.dataOff }

// Section returns a reader of the named tensor's raw bytes.
func (f *File) Section(name string) (*io.SectionReader, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	return io.NewSectionReader(f.r, f.dataOff+t.Begin, t.End-t.Begin), nil
}

// Bytes returns a copy of the named tensor's raw little-endian bytes.
func (f *File) Bytes(name string) ([]byte, error) {
	_, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	if f.buf != nil {
		return append([]byte{}, b...), nil
	}
	return b, nil
}

func (f *File) lookup(name string) (*TensorInfo, error) {
	i, ok := f.index[name]
	if !ok {
		return nil, errorf("%w: %q", ErrNotFound, clip(name))
	}
	return &f.tensors[i], nil
}

// raw returns the tensor and its bytes: a sub-slice of the caller's buffer for ReadBytes (not
// to be modified or returned), a fresh slice otherwise.
func (f *File) raw(name string) (*TensorInfo, []byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, nil, err
	}
	lo, hi := f.dataOff+t.Begin, f.dataOff+t.End
	if f.buf != nil {
		return t, f.buf[lo:hi:hi], nil
	}
	b := make([]byte, hi-lo)
	if err := readFull(f.r, b, lo); err != nil {
		return nil, nil, tensorErrorf(name, "%w: reading %d bytes at %d: %v", ErrTruncated, hi-lo, lo, err)
	}
	return t, b, nil
}

// Float32s decodes the named tensor to float32. F32 is copied; F16 and BF16 are widened
// exactly (F16ToFloat32, BF16ToFloat32); F64 is rounded to nearest (overflowing to ±Inf).
// Other dtypes return ErrConvert.
func (f *File) Float32s(name string) ([]float32, error) {
	t, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	out := make([]float32, t.NumElements())
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F16:
		for i := range out {
			out[i] = F16ToFloat32(le.Uint16(b[2*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = BF16ToFloat32(le.Uint16(b[2*i:]))
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	default:
		return nil, tensorErrorf(name, "%w: %v to float32", ErrConvert, t.DType)
	}
	return out, nil
}

// Float64s decodes the named tensor to float64: F64 is copied, F32, F16 and BF16 are widened
// exactly. Other dtypes return ErrConvert.
func (f *File) Float64s(name string) ([]float64, error) {
	t, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	out := make([]float64, t.NumElements())
	switch t.DType {
	case F64:
		for i := range out {
			out[i] = math.Float64frombits(le.Uint64(b[8*i:]))
		}
	case F32:
		for i := range out {
			out[i] = float64(math.Float32frombits(le.Uint32(b[4*i:])))
		}
	case F16:
		for i := range out {
			out[i] = float64(F16ToFloat32(le.Uint16(b[2*i:])))
		}
	case BF16:
		for i := range out {
			out[i] = float64(BF16ToFloat32(le.Uint16(b[2*i:])))
		}
	default:
		return nil, tensorErrorf(name, "%w: %v to float64", ErrConvert, t.DType)
	}
	return out, nil
}

// Int64s decodes the named tensor of any integer dtype (I8…I64, U8…U64) to int64. A U64
// value above math.MaxInt64 returns ErrRange; other dtypes return ErrConvert.
func (f *File) Int64s(name string) ([]int64, error) {
	return decodeInts[int64](f, name, math.MinInt64, math.MaxInt64)
}

// Int32s decodes the named tensor of any integer dtype to int32; a value outside the int32
// range returns ErrRange naming its index.
func (f *File) Int32s(name string) ([]int32, error) {
	return decodeInts[int32](f, name, math.MinInt32, math.MaxInt32)
}

// Int8s decodes the named tensor of any integer dtype to int8 (I8 is copied); a value
// outside the int8 range returns ErrRange naming its index.
func (f *File) Int8s(name string) ([]int8, error) {
	return decodeInts[int8](f, name, math.MinInt8, math.MaxInt8)
}

func decodeInts[T int8 | int32 | int64](f *File, name string, lo, hi int64) ([]T, error) {
	t, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	var get func(i int) (int64, bool)
	switch t.DType {
	case I8:
		get = func(i int) (int64, bool) { return int64(int8(b[i])), true }
	case U8:
		get = func(i int) (int64, bool) { return int64(b[i]), true }
	case I16:
		get = func(i int) (int64, bool) { return int64(int16(le.Uint16(b[2*i:]))), true }
	case U16:
		get = func(i int) (int64, bool) { return int64(le.Uint16(b[2*i:])), true }
	case I32:
		get = func(i int) (int64, bool) { return int64(int32(le.Uint32(b[4*i:]))), true }
	case U32:
		get = func(i int) (int64, bool) { return int64(le.Uint32(b[4*i:])), true }
	case I64:
		get = func(i int) (int64, bool) { return int64(le.Uint64(b[8*i:])), true }
	case U64:
		get = func(i int) (int64, bool) {
			v := le.Uint64(b[8*i:])
			return int64(v), v <= math.MaxInt64
		}
	default:
		var zero T
		return nil, tensorErrorf(name, "%w: %v to %T", ErrConvert, t.DType, zero)
	}
	out := make([]T, t.NumElements())
	for i := range out {
		v, ok := get(i)
		if !ok || v < lo || v > hi {
			var zero T
			if !ok {
				return nil, tensorErrorf(name, "%w: element %d = %d does not fit in %T", ErrRange, i, le.Uint64(b[8*i:]), zero)
			}
			return nil, tensorErrorf(name, "%w: element %d = %d does not fit in %T", ErrRange, i, v, zero)
		}
		out[i] = T(v)
	}
	return out, nil
}

// Bools decodes a BOOL tensor; each byte must be 0 or 1 (ErrRange otherwise). Other dtypes
// return ErrConvert.
func (f *File) Bools(name string) ([]bool, error) {
	t, b, err := f.raw(name)
	if err != nil {
		return nil, err
	}
	if t.DType != BOOL {
		return nil, tensorErrorf(name, "%w: %v to bool", ErrConvert, t.DType)
	}
	out := make([]bool, len(b))
	for i, c := range b {
		if c > 1 {
			return nil, tensorErrorf(name, "%w: element %d = %d is not a bool", ErrRange, i, c)
		}
		out[i] = c == 1
	}
	return out, nil
}
