package safetensors

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// metadataKey is the one key of the header that is not a tensor.
const metadataKey = "__metadata__"

// rawTensor is a header entry as parsed, before validation.
type rawTensor struct {
	name       string
	dtype      DType
	shape      []uint64
	begin, end uint64
}

// parseHeader parses the JSON header. It is schema-directed rather than a general JSON
// parser: the header is an object whose values are either tensor entries
// {"dtype": string, "shape": [uint…], "data_offsets": [uint, uint]} or, under
// "__metadata__", an object of strings (or null). Anything else is rejected where it
// appears, so the parser never recurses more than three levels and never keeps anything
// it does not return. Whitespace around tokens is JSON whitespace (space, tab, CR, LF),
// which is how writers pad the header. The caller has checked that b is valid UTF-8.
func parseHeader(b []byte) ([]rawTensor, map[string]string, error) {
	p := &parser{b: b}
	p.ws()
	if p.eof() {
		return nil, nil, p.syntax("empty header")
	}
	if c := p.b[p.i]; c != '{' {
		if c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n' {
			return nil, nil, errorf("%w: header must be a JSON object", ErrSchema)
		}
		return nil, nil, p.syntax("header must start with '{'")
	}
	p.i++
	var (
		tensors  []rawTensor
		meta     map[string]string
		seenMeta bool
		seen     = map[string]bool{}
	)
	p.ws()
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			p.ws()
			key, err := p.str()
			if err != nil {
				return nil, nil, err
			}
			if err := p.colon(); err != nil {
				return nil, nil, err
			}
			if key == metadataKey {
				if seenMeta {
					return nil, nil, errorf("%w %q in header", ErrDuplicate, metadataKey)
				}
				seenMeta = true
				if meta, err = p.metadata(); err != nil {
					return nil, nil, err
				}
			} else {
				if seen[key] {
					return nil, nil, errorf("%w: tensor %q appears twice in header", ErrDuplicate, key)
				}
				seen[key] = true
				t, err := p.tensor(key)
				if err != nil {
					return nil, nil, err
				}
				tensors = append(tensors, t)
			}
			more, err := p.next('}')
			if err != nil {
				return nil, nil, err
			}
			if !more {
				break
			}
		}
	}
	p.ws()
	if !p.eof() {
		return nil, nil, p.syntax("data after the header object")
	}
	return tensors, meta, nil
}

type parser struct {
	b []byte
	i int
}

func (p *parser) eof() bool { return p.i >= len(p.b) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.b[p.i]
}

func (p *parser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *parser) syntax(msg string) error {
	return errorf("%w at header byte %d: %s", ErrSyntax, p.i, msg)
}

// colon consumes whitespace, a ':' and whitespace.
func (p *parser) colon() error {
	p.ws()
	if p.peek() != ':' {
		return p.syntax("expected ':'")
	}
	p.i++
	p.ws()
	return nil
}

// next consumes whitespace and either ',' (more is true) or the closing byte.
func (p *parser) next(closing byte) (more bool, err error) {
	p.ws()
	switch p.peek() {
	case ',':
		p.i++
		p.ws()
		return true, nil
	case closing:
		p.i++
		return false, nil
	}
	return false, p.syntax(fmt.Sprintf("expected ',' or '%c'", closing))
}

// str parses a JSON string. It rejects raw control characters and unpaired surrogate
// escapes, as serde_json does when it deserializes into a Rust String.
func (p *parser) str() (string, error) {
	if p.peek() != '"' {
		return "", p.syntax("expected a string")
	}
	p.i++
	start := p.i
	for p.i < len(p.b) { // fast path: no escapes
		c := p.b[p.i]
		if c == '"' {
			s := string(p.b[start:p.i])
			p.i++
			return s, nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	buf := append([]byte(nil), p.b[start:p.i]...)
	for {
		if p.eof() {
			return "", p.syntax("unterminated string")
		}
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(buf), nil
		case c < 0x20:
			return "", p.syntax("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.i++
			continue
		}
		p.i++ // the backslash
		if p.eof() {
			return "", p.syntax("unterminated escape")
		}
		e := p.b[p.i]
		p.i++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			switch {
			case utf16.IsSurrogate(r) && r < 0xdc00: // high surrogate: a low one must follow
				if p.i+1 >= len(p.b) || p.b[p.i] != '\\' || p.b[p.i+1] != 'u' {
					return "", p.syntax("unpaired surrogate in \\u escape")
				}
				p.i += 2
				lo, err := p.hex4()
				if err != nil {
					return "", err
				}
				r = utf16.DecodeRune(r, lo)
				if r == utf8.RuneError {
					return "", p.syntax("unpaired surrogate in \\u escape")
				}
			case utf16.IsSurrogate(r):
				return "", p.syntax("unpaired surrogate in \\u escape")
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.syntax("invalid escape")
		}
	}
}

func (p *parser) hex4() (rune, error) {
	if p.i+4 > len(p.b) {
		return 0, p.syntax("short \\u escape")
	}
	var r rune
	for _, c := range p.b[p.i : p.i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, p.syntax("invalid \\u escape")
		}
	}
	p.i += 4
	return r, nil
}

// uint parses a JSON number that must be a non-negative integer fitting in 64 bits. A
// well-formed number that is not one yields problem (for the caller to report with its
// context) and a nil error; a malformed one yields a syntax error.
func (p *parser) uint() (v uint64, problem string, err error) {
	start := p.i
	neg := p.peek() == '-'
	if neg {
		p.i++
	}
	switch c := p.peek(); {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
	default:
		p.i = start
		return 0, "", p.syntax("invalid number")
	}
	digitsEnd := p.i
	frac := false
	if p.peek() == '.' {
		p.i++
		if c := p.peek(); c < '0' || c > '9' {
			return 0, "", p.syntax("invalid number")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
		frac = true
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.i++
		if c := p.peek(); c == '+' || c == '-' {
			p.i++
		}
		if c := p.peek(); c < '0' || c > '9' {
			return 0, "", p.syntax("invalid number")
		}
		for c := p.peek(); c >= '0' && c <= '9'; c = p.peek() {
			p.i++
		}
		frac = true
	}
	tok := string(p.b[start:p.i])
	switch {
	case frac:
		return 0, fmt.Sprintf("%s is not an integer", clip(tok)), nil
	case neg:
		return 0, fmt.Sprintf("%s is negative", clip(tok)), nil
	}
	v, perr := strconv.ParseUint(string(p.b[start:digitsEnd]), 10, 64)
	if perr != nil {
		return 0, fmt.Sprintf("%s does not fit in 64 bits", clip(tok)), nil
	}
	return v, "", nil
}

// uints parses an array of non-negative integers; class is the error to report a
// non-integer element with.
func (p *parser) uints(name, field string, class error) ([]uint64, error) {
	if p.peek() != '[' {
		return nil, tensorErrorf(name, "%w: %s must be an array of non-negative integers", class, field)
	}
	p.i++
	p.ws()
	out := []uint64{}
	if p.peek() == ']' {
		p.i++
		return out, nil
	}
	for {
		c := p.peek()
		if c != '-' && (c < '0' || c > '9') {
			return nil, tensorErrorf(name, "%w: %s must be an array of non-negative integers", class, field)
		}
		v, problem, err := p.uint()
		if err != nil {
			return nil, err
		}
		if problem != "" {
			return nil, tensorErrorf(name, "%w: %s element %d: %s", class, field, len(out), problem)
		}
		out = append(out, v)
		more, err := p.next(']')
		if err != nil {
			return nil, err
		}
		if !more {
			return out, nil
		}
	}
}

// tensor parses one tensor entry.
func (p *parser) tensor(name string) (rawTensor, error) {
	t := rawTensor{name: name}
	if p.peek() != '{' {
		return t, tensorErrorf(name, "%w: entry must be an object with dtype, shape and data_offsets", ErrSchema)
	}
	p.i++
	p.ws()
	var haveDType, haveShape, haveOffsets bool
	if p.peek() == '}' {
		p.i++
	} else {
		for {
			key, err := p.str()
			if err != nil {
				return t, err
			}
			if err := p.colon(); err != nil {
				return t, err
			}
			switch key {
			case "dtype":
				if haveDType {
					return t, tensorErrorf(name, "%w: dtype appears twice", ErrDuplicate)
				}
				haveDType = true
				if p.peek() != '"' {
					return t, tensorErrorf(name, "%w: dtype must be a string", ErrDType)
				}
				s, err := p.str()
				if err != nil {
					return t, err
				}
				d, ok := ParseDType(s)
				if !ok {
					return t, tensorErrorf(name, "%w %q", ErrDType, clip(s))
				}
				t.dtype = d
			case "shape":
				if haveShape {
					return t, tensorErrorf(name, "%w: shape appears twice", ErrDuplicate)
				}
				haveShape = true
				if t.shape, err = p.uints(name, "shape", ErrShape); err != nil {
					return t, err
				}
			case "data_offsets":
				if haveOffsets {
					return t, tensorErrorf(name, "%w: data_offsets appears twice", ErrDuplicate)
				}
				haveOffsets = true
				offs, err := p.uints(name, "data_offsets", ErrOffsets)
				if err != nil {
					return t, err
				}
				if len(offs) != 2 {
					return t, tensorErrorf(name, "%w: got %d numbers, want [begin, end]", ErrOffsets, len(offs))
				}
				t.begin, t.end = offs[0], offs[1]
			default:
				return t, tensorErrorf(name, "%w: unknown field %q", ErrSchema, clip(key))
			}
			more, err := p.next('}')
			if err != nil {
				return t, err
			}
			if !more {
				break
			}
		}
	}
	switch {
	case !haveDType:
		return t, tensorErrorf(name, "%w: missing dtype", ErrSchema)
	case !haveShape:
		return t, tensorErrorf(name, "%w: missing shape", ErrSchema)
	case !haveOffsets:
		return t, tensorErrorf(name, "%w: missing data_offsets", ErrSchema)
	}
	return t, nil
}

// metadata parses the "__metadata__" value: null or an object of strings.
func (p *parser) metadata() (map[string]string, error) {
	if p.i+4 <= len(p.b) && string(p.b[p.i:p.i+4]) == "null" {
		p.i += 4
		return nil, nil
	}
	if p.peek() != '{' {
		return nil, errorf("%w: must be an object of strings", ErrMetadata)
	}
	p.i++
	p.ws()
	m := map[string]string{}
	if p.peek() == '}' {
		p.i++
		return m, nil
	}
	for {
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if err := p.colon(); err != nil {
			return nil, err
		}
		if _, dup := m[key]; dup {
			return nil, errorf("%w %q in %s", ErrDuplicate, clip(key), metadataKey)
		}
		if p.peek() != '"' {
			return nil, errorf("%w: value of %q is not a string", ErrMetadata, clip(key))
		}
		if m[key], err = p.str(); err != nil {
			return nil, err
		}
		more, err := p.next('}')
		if err != nil {
			return nil, err
		}
		if !more {
			return m, nil
		}
	}
}

// clip shortens a string from the file for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// validate checks the parsed entries against each other and a data buffer of dataLen bytes,
// and returns them as TensorInfos sorted by name.
//
// The rules are the Rust library's (Metadata::validate and SafeTensors::read_metadata):
// begin ≤ end; the element count, multiplied left to right, times the element size must not
// overflow and must equal end − begin; sorted by offset, the tensors must tile the data
// buffer exactly, from 0 to its end, with no overlap, no hole and no trailing bytes. Each
// failure is reported with its own error class and the tensors involved.
func validate(raw []rawTensor, dataLen int64) ([]TensorInfo, error) {
	slices.SortFunc(raw, func(a, b rawTensor) int { return cmp.Compare(a.name, b.name) })
	infos := make([]TensorInfo, len(raw))
	for i, t := range raw {
		if t.begin > t.end {
			return nil, tensorErrorf(t.name, "%w: begin %d > end %d", ErrOffsets, t.begin, t.end)
		}
		n, err := byteLen(t.dtype, t.shape)
		if err != nil {
			return nil, tensorErrorf(t.name, "%w", err)
		}
		if uint64(n) != t.end-t.begin {
			return nil, tensorErrorf(t.name, "%w: shape %v of %v needs %d bytes, data_offsets [%d, %d] hold %d",
				ErrSizeMismatch, t.shape, t.dtype, n, t.begin, t.end, t.end-t.begin)
		}
		if t.end > uint64(dataLen) {
			return nil, tensorErrorf(t.name, "%w: data_offsets [%d, %d] exceed the data buffer of %d bytes",
				ErrOutOfBounds, t.begin, t.end, dataLen)
		}
		shape := make([]int, len(t.shape))
		for j, d := range t.shape {
			if d > math.MaxInt {
				// Only possible beside a zero dimension, which keeps the byte count small.
				return nil, tensorErrorf(t.name, "%w: dimension %d does not fit in int", ErrShape, d)
			}
			shape[j] = int(d)
		}
		infos[i] = TensorInfo{Name: t.name, DType: t.dtype, Shape: shape, Begin: int64(t.begin), End: int64(t.end)}
	}
	order := make([]int, len(infos))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		x, y := &infos[a], &infos[b]
		return cmp.Or(cmp.Compare(x.Begin, y.Begin), cmp.Compare(x.End, y.End), cmp.Compare(x.Name, y.Name))
	})
	var pos int64
	prev := -1
	for _, i := range order {
		t := &infos[i]
		switch {
		case t.Begin < pos:
			p := &infos[prev]
			return nil, tensorErrorf(t.Name, "%w: data_offsets [%d, %d] overlap tensor %q at [%d, %d]",
				ErrOverlap, t.Begin, t.End, p.Name, p.Begin, p.End)
		case t.Begin > pos:
			return nil, tensorErrorf(t.Name, "%w: data_offsets [%d, %d] leave bytes [%d, %d) unused",
				ErrGap, t.Begin, t.End, pos, t.Begin)
		}
		pos = t.End
		prev = i
	}
	if pos != dataLen {
		return nil, errorf("%w: tensors end at %d, the data buffer at %d", ErrTrailing, pos, dataLen)
	}
	return infos, nil
}
