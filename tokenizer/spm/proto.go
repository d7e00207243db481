package spm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// A minimal reader of the protobuf wire format, enough for sentencepiece_model.proto
// (proto2). It follows the C++ runtime where it matters for a valid file: a field with
// an unexpected wire type is skipped as an unknown field, the last value of a scalar
// field wins, a message field that appears twice is merged, and an enum value outside
// the enum is ignored (kept in the unknown fields by C++, so the field keeps its value).

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireStart   = 3 // start group (deprecated)
	wireEnd     = 4 // end group
	wireFixed32 = 5
)

// maxGroupDepth bounds the nesting of (deprecated) groups skipped as unknown fields.
const maxGroupDepth = 64

var errTruncated = errors.New("truncated")

// reader walks the fields of one message.
type reader struct {
	b   []byte
	pos int
}

// field is one decoded field; val holds varint and fixed values, data the bytes of a
// length-delimited field.
type field struct {
	num  uint64
	wire int
	val  uint64
	data []byte
}

func (r *reader) done() bool { return r.pos >= len(r.b) }

func (r *reader) varint() (uint64, error) {
	v, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 {
		if n == 0 {
			return 0, errTruncated
		}
		return 0, errors.New("varint overflows 64 bits")
	}
	r.pos += n
	return v, nil
}

// next reads the next field. Groups are skipped (and reported with wire wireStart and
// no data) so that callers treat them as unknown fields.
func (r *reader) next() (field, error) {
	key, err := r.varint()
	if err != nil {
		return field{}, fmt.Errorf("field key at byte %d: %w", r.pos, err)
	}
	f := field{num: key >> 3, wire: int(key & 7)}
	if f.num == 0 {
		return f, fmt.Errorf("field number 0 at byte %d", r.pos)
	}
	switch f.wire {
	case wireVarint:
		if f.val, err = r.varint(); err != nil {
			return f, fmt.Errorf("field %d: %w", f.num, err)
		}
	case wireFixed64:
		if len(r.b)-r.pos < 8 {
			return f, fmt.Errorf("field %d: %w", f.num, errTruncated)
		}
		f.val = binary.LittleEndian.Uint64(r.b[r.pos:])
		r.pos += 8
	case wireFixed32:
		if len(r.b)-r.pos < 4 {
			return f, fmt.Errorf("field %d: %w", f.num, errTruncated)
		}
		f.val = uint64(binary.LittleEndian.Uint32(r.b[r.pos:]))
		r.pos += 4
	case wireBytes:
		n, err := r.varint()
		if err != nil {
			return f, fmt.Errorf("field %d length: %w", f.num, err)
		}
		if n > uint64(len(r.b)-r.pos) {
			return f, fmt.Errorf("field %d: length %d exceeds the %d bytes left", f.num, n, len(r.b)-r.pos)
		}
		f.data = r.b[r.pos : r.pos+int(n)]
		r.pos += int(n)
	case wireStart:
		if err := r.skipGroup(f.num, 1); err != nil {
			return f, err
		}
	case wireEnd:
		return f, fmt.Errorf("unexpected end of group %d", f.num)
	default:
		return f, fmt.Errorf("field %d: invalid wire type %d", f.num, f.wire)
	}
	return f, nil
}

// skipGroup skips the fields of a group up to its end tag.
func (r *reader) skipGroup(num uint64, depth int) error {
	if depth > maxGroupDepth {
		return fmt.Errorf("groups nested deeper than %d", maxGroupDepth)
	}
	for {
		if r.done() {
			return fmt.Errorf("group %d: %w", num, errTruncated)
		}
		save := r.pos
		key, err := r.varint()
		if err != nil {
			return fmt.Errorf("group %d: %w", num, err)
		}
		switch int(key & 7) {
		case wireEnd:
			if key>>3 != num {
				return fmt.Errorf("group %d closed by end tag %d", num, key>>3)
			}
			return nil
		case wireStart:
			if err := r.skipGroup(key>>3, depth+1); err != nil {
				return err
			}
		default:
			r.pos = save
			if _, err := r.next(); err != nil {
				return err
			}
		}
	}
}

// Typed accessors. Each reports ok false for a wire type that does not fit, in which
// case the caller ignores the field as the C++ runtime does.

func (f field) str() (string, bool) { return string(f.data), f.wire == wireBytes }

func (f field) bytes() ([]byte, bool) { return f.data, f.wire == wireBytes }

func (f field) boolean() (bool, bool) { return f.val != 0, f.wire == wireVarint }

// int32 truncates like the C++ runtime (a negative int32 is a 10-byte varint).
func (f field) int32() (int32, bool) { return int32(f.val), f.wire == wireVarint }

func (f field) float32() (float32, bool) {
	return math.Float32frombits(uint32(f.val)), f.wire == wireFixed32
}

func (f field) message() ([]byte, bool) { return f.data, f.wire == wireBytes }
