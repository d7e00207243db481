package hf

import (
	"unicode/utf8"
)

// byteChar maps each byte to the printable char GPT-2's byte-level BPE uses for it; charByte
// is the reverse map.
var (
	byteChar [256]rune
	charByte = map[rune]byte{}
	// byteCharStr[b] is string(byteChar[b]).
	byteCharStr [256]string
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
		charByte[byteChar[b]] = byte(b)
		byteCharStr[b] = string(byteChar[b])
	}
}

// byteLevelRC is the transformation of s into byte-level chars.
func byteLevelRC(s string) []rc {
	out := make([]rc, 0, len(s))
	for i := 0; i < len(s); {
		_, sz := utf8.DecodeRuneInString(s[i:])
		for k := 0; k < sz; k++ {
			ch := int32(1)
			if k == 0 {
				ch = 0
			}
			out = append(out, rc{byteChar[s[i+k]], ch})
		}
		i += sz
	}
	return out
}

// byteLevelTransform maps the normalized string of n to byte-level chars: each char's bytes
// become chars aligned with that char.
func byteLevelTransform(n *nstr) {
	if n.norm == "" {
		return
	}
	st, en, ok := n.convertOriginal(0, len(n.orig))
	if !ok || st != 0 || en != len(n.norm) {
		n.transform(byteLevelRC(n.norm), 0)
		return
	}
	s := n.norm
	size := 0
	for i := 0; i < len(s); i++ {
		if byteChar[s[i]] < 0x80 {
			size++
		} else {
			size += 2
		}
	}
	buf := make([]byte, 0, size)
	al := make([]span, 0, size)
	for i := 0; i < len(s); {
		_, sz := utf8.DecodeRuneInString(s[i:])
		a := n.alignAt(i)
		a.s += int32(n.shift)
		a.e += int32(n.shift)
		for k := 0; k < sz; k++ {
			c := byteChar[s[i+k]]
			if c < 0x80 {
				buf = append(buf, byte(c))
				al = append(al, a)
			} else {
				buf = utf8.AppendRune(buf, c)
				al = append(al, a, a)
			}
		}
		i += sz
	}
	n.norm = string(buf)
	n.align = al
}

// gpt2Split calls f with the pieces of s as GPT-2's pattern
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// (Oniguruma, leftmost-first) cuts it. The pattern matches at every position, so the
// pieces cover s.
func gpt2Split(s string, f func(st, e int)) {
	i := 0
	for i < len(s) {
		e := gpt2Match(s, i)
		f(i, e)
		i = e
	}
}

const (
	clsOther = iota
	clsSpace
	clsLetter
	clsNumber
)

var asciiCls [128]uint8

func init() {
	for c := 0; c < 128; c++ {
		switch {
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			asciiCls[c] = clsLetter
		case c >= '0' && c <= '9':
			asciiCls[c] = clsNumber
		case c == ' ' || (c >= '\t' && c <= '\r'):
			asciiCls[c] = clsSpace
		default:
			asciiCls[c] = clsOther
		}
	}
}

// classAt returns the class of the char at i and its size.
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < 0x80 {
		return asciiCls[c], 1
	}
	r, sz := utf8.DecodeRuneInString(s[i:])
	switch {
	case isLetter(r):
		return clsLetter, sz
	case isNumber(r):
		return clsNumber, sz
	case isWhitespace(r):
		return clsSpace, sz
	}
	return clsOther, sz
}

// runOf returns the end of the run of chars of class cls starting at i.
func runOf(s string, i int, cls uint8) int {
	for i < len(s) {
		c, sz := classAt(s, i)
		if c != cls {
			break
		}
		i += sz
	}
	return i
}

func gpt2Match(s string, i int) int {
	c := s[i]
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	cls, sz := classAt(s, i)
	start := i
	if c == ' ' && i+1 < len(s) {
		ncls, nsz := classAt(s, i+1)
		if ncls != clsSpace {
			return runOf(s, i+1+nsz, ncls)
		}
	}
	if cls != clsSpace {
		return runOf(s, start+sz, cls)
	}
	// \s+(?!\S) | \s+
	e := runOf(s, start+sz, clsSpace)
	if e == len(s) {
		return e
	}
	// back off one char so that the run is not followed by a non-space
	_, lsz := utf8.DecodeLastRuneInString(s[:e])
	if e-lsz > start {
		return e - lsz
	}
	return e
}

// byteLevelPre is the ByteLevel pre-tokenizer.
type byteLevelPre struct {
	addPrefixSpace, trimOffsets, useRegex bool
}

func (b *byteLevelPre) preTokenize(p *pretok) error {
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		if b.addPrefixSpace && (n.norm == "" || n.norm[0] != ' ') {
			n.prepend(" ")
		}
		if !b.useRegex {
			byteLevelTransform(n)
			return append(out, psplit{n: *n}), nil
		}
		// Split on the text, then map the whole piece to byte-level chars at once and cut
		// it at the corresponding places: the same as mapping each piece (the mapping is
		// per char), with two allocations per piece of text instead of two per word.
		start := len(out)
		gpt2Split(n.norm, func(st, e int) { out = append(out, psplit{n: nstr{shift: st, norm: n.norm[st:e]}}) })
		// out[k].n.shift temporarily holds the piece's start in n.norm
		src := n.norm
		whole, ok := byteLevelWhole(n)
		if !ok {
			// rare alignments: transform piece by piece
			out = out[:start]
			gpt2Split(src, func(st, e int) {
				sl := n.slice(st, e)
				byteLevelTransform(&sl)
				out = append(out, psplit{n: sl})
			})
			return out, nil
		}
		pos := 0 // byte position in whole.norm
		for k := start; k < len(out); k++ {
			st := out[k].n.shift
			e := st + len(out[k].n.norm)
			w := 0
			for i := st; i < e; i++ {
				w += len(byteCharStr[src[i]])
			}
			out[k].n = whole.slice(pos, pos+w)
			pos += w
		}
		return out, nil
	})
}

// byteLevelWhole returns n mapped to byte-level chars, when the fast transformation applies.
func byteLevelWhole(n *nstr) (nstr, bool) {
	st, en, ok := n.convertOriginal(0, len(n.orig))
	if !ok || st != 0 || en != len(n.norm) {
		return nstr{}, false
	}
	c := *n
	byteLevelTransform(&c)
	return c, true
}

// byteLevelDecoder is the ByteLevel decoder.
type byteLevelDecoder struct{}

func (byteLevelDecoder) decodeChain(toks []string) ([]string, error) {
	var buf []byte
	for _, t := range toks {
		start := len(buf)
		ok := true
		for _, r := range t {
			b, found := charByte[r]
			if !found {
				ok = false
				break
			}
			buf = append(buf, b)
		}
		if !ok {
			buf = append(buf[:start], t...)
		}
	}
	return []string{lossyUTF8(buf)}, nil
}

// lossyUTF8 is Rust's String::from_utf8_lossy: every maximal invalid subpart becomes one
// U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, sz := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || sz > 1 {
			out = append(out, b[i:i+sz]...)
			i += sz
			continue
		}
		out = append(out, "\uFFFD"...)
		i += invalidLen(b[i:])
	}
	return string(out)
}

// invalidLen is the length of the maximal prefix of b that could start a valid sequence
// (at least 1).
func invalidLen(b []byte) int {
	c := b[0]
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		x := b[n]
		if k == 0 {
			if x < lo || x > hi {
				return n
			}
		} else if x < 0x80 || x > 0xBF {
			return n
		}
		n++
	}
	return n
}

// trimOffsets is Rust's process_offsets of the byte-level post-processing: offsets lose the
// whitespace (Ġ) chars a token starts or ends with. Rust counts these in the chars of the text
// (its char offsets, which the reference records hold), so the offsets move by whole chars of
// text.
func trimOffsets(e []itok, text string, addPrefixSpace bool) {
	isSpace := func(r rune) bool { return r == 'Ġ' || isWhitespace(r) }
	for i := range e {
		t := e[i].value
		lead, trail := 0, 0
		for _, r := range t {
			if !isSpace(r) {
				break
			}
			lead++
		}
		for rest := t; len(rest) > 0; {
			r, sz := utf8.DecodeLastRuneInString(rest)
			if !isSpace(r) {
				break
			}
			trail++
			rest = rest[:len(rest)-sz]
		}
		if lead == 0 && trail == 0 {
			continue
		}
		off := [2]int{int(e[i].s), int(e[i].e)}
		if lead > 0 {
			first := i == 0 || off[0] == 0
			if first && addPrefixSpace && lead == 1 {
				lead = 0
			}
			s := off[0]
			for k := 0; k < lead && s < off[1]; k++ {
				s += charLenAt(text, s)
			}
			off[0] = min(s, off[1])
		}
		if trail > 0 {
			// Rust: if end >= trail (in chars) { end = max(end - trail, start) }
			e2, k := off[1], 0
			for ; k < trail && e2 > 0; k++ {
				e2 -= lastCharLen(text, e2)
			}
			if k == trail {
				off[1] = max(e2, off[0])
			}
		}
		e[i].s, e[i].e = int32(off[0]), int32(off[1])
	}
}

// charLenAt is the size of the char of text at byte i (1 outside the text).
func charLenAt(text string, i int) int {
	if i < 0 || i >= len(text) {
		return 1
	}
	_, sz := utf8.DecodeRuneInString(text[i:])
	return sz
}

// lastCharLen is the size of the char of text ending at byte i (1 outside the text).
func lastCharLen(text string, i int) int {
	if i <= 0 || i > len(text) {
		return 1
	}
	_, sz := utf8.DecodeLastRuneInString(text[:i])
	return sz
}

// byteLevelPost is the ByteLevel post-processor.
type byteLevelPost struct {
	addPrefixSpace, trimOffsets bool
}

func (byteLevelPost) addedTokens(bool) int { return 0 }

func (b byteLevelPost) processEncodings(encs []ienc, texts []string, _ bool) ([]ienc, error) {
	if b.trimOffsets {
		for i, e := range encs {
			for _, seg := range e {
				trimOffsets(seg, textOf(texts, i), b.addPrefixSpace)
			}
		}
	}
	return encs, nil
}
