package hf

import (
	"strings"
	"unicode/utf8"
)

// span is the [start, end) byte range of the original text that one normalized byte comes from.
type span struct{ s, e int32 }

// rc is one char of a transformation: the new char and how it relates to the old ones, as in
// the Rust NormalizedString::transform_range: 1 for an inserted char, 0 for a char replacing
// one old char, -N for a char replacing one old char and removing the N that follow.
type rc struct {
	r      rune
	change int32
}

// nstr ports Hugging Face's NormalizedString: the original text, the normalized text and, for
// every normalized byte, the original range it comes from. align == nil stands for the
// identity alignment (normalized byte i maps to the original char containing byte i), which
// holds until a transformation changes the char structure; it saves allocating the alignment
// on the common paths that only replace chars one for one (ASCII lowercasing, say).
//
// Unlike the Rust struct, align holds offsets into the whole text (not into orig), so that
// slices share their parent's alignment instead of copying it; shift is where orig starts in
// the whole text.
type nstr struct {
	orig  string
	norm  string
	align []span
	shift int
	// bad is set when a transformation indexed outside the alignments (the Rust code panics
	// there); the tokenizer turns it into an error.
	bad bool
}

func newNstr(s string) *nstr { return &nstr{orig: s, norm: s} }

// charRange is the range of the char of s containing byte i.
func charRange(s string, i int) span {
	st := i
	for st > 0 && !utf8.RuneStart(s[st]) {
		st--
	}
	_, sz := utf8.DecodeRuneInString(s[st:])
	return span{int32(st), int32(st + sz)}
}

// alignAt is the alignment of normalized byte i, relative to orig.
func (n *nstr) alignAt(i int) span {
	if n.align != nil {
		a := n.align[i]
		sh := int32(n.shift)
		return span{a.s - sh, a.e - sh}
	}
	return charRange(n.orig, i)
}

// materialize builds the identity alignment explicitly.
func (n *nstr) materialize() {
	if n.align != nil {
		return
	}
	a := make([]span, len(n.orig))
	for i := 0; i < len(n.orig); {
		_, sz := utf8.DecodeRuneInString(n.orig[i:])
		for k := 0; k < sz; k++ {
			a[i+k] = span{int32(n.shift + i), int32(n.shift + i + sz)}
		}
		i += sz
	}
	n.align = a
}

func (n *nstr) offsetsOriginal() (int, int) { return n.shift, n.shift + len(n.orig) }

// convertNormalized maps a normalized byte range to the original (Rust convert_offsets with a
// Normalized range). ok is false where Rust returns None.
func (n *nstr) convertNormalized(s, e int) (int, int, bool) {
	if s == e {
		return s, e, true
	}
	if s > e || e > len(n.norm) || s < 0 {
		return 0, 0, false
	}
	return int(n.alignAt(s).s), int(n.alignAt(e - 1).e), true
}

// convertOriginal maps an original byte range to the normalized one (Rust convert_offsets
// with an Original range).
func (n *nstr) convertOriginal(ts, te int) (int, int, bool) {
	if ts == te {
		return ts, te, true
	}
	if ts > te {
		return 0, 0, false
	}
	if len(n.orig) == 0 && ts == 0 && te == 0 {
		return 0, len(n.norm), true
	}
	start, end := -1, -1
	for i := 0; i < len(n.norm); i++ {
		a := n.alignAt(i)
		if te < int(a.e) {
			break
		}
		if start < 0 && ts <= int(a.s) && a.s != a.e {
			start = i
		}
		end = i + 1
	}
	switch {
	case start >= 0 && end < 0:
		return start, start, true
	case start < 0 && end >= 0:
		return end, end, true
	case start >= 0 && end >= 0:
		return start, end, true
	}
	return 0, 0, false
}

// slice returns the part of n for the normalized range [s, e), which must be on char
// boundaries (the callers guarantee it).
func (n *nstr) slice(s, e int) nstr {
	os, oe, ok := n.convertNormalized(s, e)
	if !ok {
		return nstr{shift: n.shift, bad: true}
	}
	out := nstr{norm: n.norm[s:e], shift: n.shift + os}
	if os <= oe && oe <= len(n.orig) && os >= 0 {
		out.orig = n.orig[os:oe]
	}
	if n.align != nil {
		out.align = n.align[s:e:e]
	}
	return out
}

// transformRange replaces the normalized bytes [ns, ne) with dest (Rust transform_range over a
// Normalized range).
func (n *nstr) transformRange(ns, ne int, dest []rc, initialOffset int) {
	rep := n.norm[ns:ne]
	// Fast path: one-for-one replacement of chars of the same size keeps every alignment.
	if initialOffset == 0 && len(dest) > 0 {
		same, rp := true, 0
		for _, d := range dest {
			if d.change != 0 || rp >= len(rep) {
				same = false
				break
			}
			_, sz := utf8.DecodeRuneInString(rep[rp:])
			if utf8.RuneLen(d.r) != sz {
				same = false
				break
			}
			rp += sz
		}
		if same && rp == len(rep) {
			var b strings.Builder
			b.Grow(len(n.norm))
			b.WriteString(n.norm[:ns])
			for _, d := range dest {
				b.WriteRune(d.r)
			}
			b.WriteString(n.norm[ne:])
			n.norm = b.String()
			return
		}
	}
	n.materialize()
	rp := 0
	next := func() int {
		if rp >= len(rep) {
			return -1
		}
		_, sz := utf8.DecodeRuneInString(rep[rp:])
		rp += sz
		return sz
	}
	initialRemoved := 0
	for k := 0; k < initialOffset; k++ {
		sz := next()
		if sz < 0 {
			break
		}
		initialRemoved += sz
	}
	offset := initialRemoved + ns
	alignments := make([]span, 0, len(rep)+len(dest))
	var b strings.Builder
	b.Grow(len(n.norm) - len(rep) + len(dest))
	b.WriteString(n.norm[:ns])
	for _, d := range dest {
		idx := offset
		var al span
		if d.change > 0 {
			if idx >= 1 {
				if idx-1 < len(n.align) {
					al = n.align[idx-1]
				} else {
					n.bad = true
				}
			} else {
				al = span{int32(n.shift), int32(n.shift)} // Rust's (0, 0), relative to orig
			}
		} else if idx < len(n.align) {
			al = n.align[idx]
		} else {
			n.bad = true
		}
		replaced := 0
		if d.change <= 0 {
			if sz := next(); sz > 0 {
				replaced = sz
			}
		}
		removed := 0
		if d.change < 0 {
			for k := int32(0); k < -d.change; k++ {
				sz := next()
				if sz < 0 {
					break
				}
				removed += sz
			}
		}
		offset += replaced + removed
		l := utf8.RuneLen(d.r)
		if l < 0 {
			l = 3 // written as U+FFFD
		}
		for k := 0; k < l; k++ {
			alignments = append(alignments, al)
		}
		b.WriteRune(d.r)
	}
	b.WriteString(n.norm[ne:])
	na := make([]span, 0, len(n.align)-(ne-ns)+len(alignments))
	na = append(na, n.align[:ns]...)
	na = append(na, alignments...)
	na = append(na, n.align[ne:]...)
	n.align = na
	n.norm = b.String()
}

// transform replaces the whole normalized string (Rust transform, which goes through the
// Original referential).
func (n *nstr) transform(dest []rc, initialOffset int) {
	s, e, ok := n.convertOriginal(0, len(n.orig))
	if !ok {
		return
	}
	n.transformRange(s, e, dest, initialOffset)
}

// filter keeps the chars for which keep is true.
func (n *nstr) filter(keep func(rune) bool) {
	s := n.norm
	first := -1
	for i, r := range s {
		if !keep(r) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	// Removed chars are folded into the change of the kept char before them (Rust builds the
	// list backwards); removed chars at the start become the initial offset.
	out := make([]rc, 0, len(s))
	initial := 0
	for _, r := range s {
		if keep(r) {
			out = append(out, rc{r, 0})
		} else if len(out) == 0 {
			initial++
		} else {
			out[len(out)-1].change--
		}
	}
	n.transform(out, initial)
}

// mapSame rebuilds the normalized string with f applied to every char when f keeps the size
// of every char it changes (the alignment is then unchanged). It reports false, changing
// nothing, otherwise.
func (n *nstr) mapSame(f func(rune) rune) bool {
	s := n.norm
	first := -1
	for i, r := range s {
		if c := f(r); c != r {
			if utf8.RuneLen(c) != utf8.RuneLen(r) {
				return false
			}
			if first < 0 {
				first = i
			}
		}
	}
	if first < 0 {
		return true
	}
	for _, r := range s[first:] {
		if c := f(r); c != r && utf8.RuneLen(c) != utf8.RuneLen(r) {
			return false
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:first])
	for _, r := range s[first:] {
		b.WriteRune(f(r))
	}
	n.norm = b.String()
	return true
}

// mapRunes replaces every char by f(char).
func (n *nstr) mapRunes(f func(rune) rune) {
	if n.mapSame(f) {
		return
	}
	out := make([]rc, 0, len(n.norm))
	for _, r := range n.norm {
		out = append(out, rc{f(r), 0})
	}
	n.transform(out, 0)
}

// lowercase is Rust's char::to_lowercase applied char by char.
func (n *nstr) lowercase() {
	if !strings.ContainsRune(n.norm, 0x130) && n.mapSame(lowerRune) {
		return
	}
	out := make([]rc, 0, len(n.norm))
	for _, r := range n.norm {
		if r == 0x130 { // İ lowercases to i + combining dot above (SpecialCasing.txt)
			out = append(out, rc{'i', 0}, rc{0x307, 1})
			continue
		}
		out = append(out, rc{lowerRune(r), 0})
	}
	n.transform(out, 0)
}

// prepend inserts s before the normalized string, aligned with its first char (what the Rust
// transformation gives every inserted byte).
func (n *nstr) prepend(s string) {
	if n.norm == "" || s == "" {
		return
	}
	na := make([]span, len(s)+len(n.norm))
	if n.align != nil {
		copy(na[len(s):], n.align)
	} else {
		for i := 0; i < len(n.orig); {
			_, sz := utf8.DecodeRuneInString(n.orig[i:])
			for k := 0; k < sz; k++ {
				na[len(s)+i+k] = span{int32(n.shift + i), int32(n.shift + i + sz)}
			}
			i += sz
		}
	}
	a := na[len(s)]
	for i := 0; i < len(s); i++ {
		na[i] = a
	}
	n.align = na
	n.norm = s + n.norm
}

// replace replaces every match of p by content, in one pass: the chars of content take the
// alignment of the last byte of the match (what the Rust per-match transform_range with
// inserted chars gives), or Rust's (0, 0) for an empty match at the start.
func (n *nstr) replace(p pattern, content string) error {
	if rp, ok := p.(runePattern); ok {
		n.replaceRunes(rp, content)
		return nil
	}
	ms, err := p.findMatches(n.norm)
	if err != nil {
		return err
	}
	any := false
	for _, m := range ms {
		if m.match {
			any = true
			break
		}
	}
	if !any {
		return nil
	}
	n.materialize()
	s := n.norm
	var b strings.Builder
	b.Grow(len(s) + len(content)*4)
	al := make([]span, 0, len(s)+len(content)*4)
	for _, m := range ms {
		if !m.match {
			b.WriteString(s[m.s:m.e])
			al = append(al, n.align[m.s:m.e]...)
			continue
		}
		if content == "" {
			continue
		}
		a := span{int32(n.shift), int32(n.shift)}
		if m.e >= 1 {
			a = n.align[m.e-1]
		}
		b.WriteString(content)
		for k := 0; k < len(content); k++ {
			al = append(al, a)
		}
	}
	n.norm = b.String()
	n.align = al
	return nil
}

// lrstrip removes leading and/or trailing whitespace.
func (n *nstr) lrstrip(left, right bool) {
	runes := []rune(n.norm)
	lead, trail := 0, 0
	if left {
		for _, r := range runes {
			if !isWhitespace(r) {
				break
			}
			lead++
		}
	}
	if right {
		for i := len(runes) - 1; i >= 0; i-- {
			if !isWhitespace(runes[i]) {
				break
			}
			trail++
		}
	}
	if lead == 0 && trail == 0 {
		return
	}
	out := make([]rc, 0, len(runes))
	ln := len(runes)
	for i, c := range runes {
		switch {
		case i < lead || i >= ln-trail:
		case i == ln-trail-1:
			out = append(out, rc{c, int32(-trail)})
		default:
			out = append(out, rc{c, 0})
		}
	}
	n.transform(out, lead)
}

// splitBehavior is Rust's SplitDelimiterBehavior.
type splitBehavior int

const (
	splitRemoved splitBehavior = iota
	splitIsolated
	splitMergedWithPrevious
	splitMergedWithNext
	splitContiguous
)

type match struct {
	s, e  int
	match bool
}

// split cuts n according to the matches of p and appends the pieces to out.
func (n *nstr) split(p pattern, b splitBehavior, out []psplit) ([]psplit, error) {
	ms, err := p.findMatches(n.norm)
	if err != nil {
		return out, err
	}
	return n.splitMatches(ms, b, out), nil
}

func (n *nstr) splitMatches(ms []match, b splitBehavior, out []psplit) []psplit {
	type sp struct {
		s, e   int
		remove bool
	}
	var splits []sp
	switch b {
	case splitIsolated:
		splits = make([]sp, len(ms))
		for i, m := range ms {
			splits[i] = sp{m.s, m.e, false}
		}
	case splitRemoved:
		splits = make([]sp, len(ms))
		for i, m := range ms {
			splits[i] = sp{m.s, m.e, m.match}
		}
	case splitContiguous:
		prev := false
		for _, m := range ms {
			if m.match == prev && len(splits) > 0 {
				splits[len(splits)-1].e = m.e
			} else {
				splits = append(splits, sp{m.s, m.e, false})
			}
			prev = m.match
		}
	case splitMergedWithPrevious:
		prev := false
		for _, m := range ms {
			if m.match && !prev && len(splits) > 0 {
				splits[len(splits)-1].e = m.e
			} else {
				splits = append(splits, sp{m.s, m.e, false})
			}
			prev = m.match
		}
	case splitMergedWithNext:
		prev := false
		for i := len(ms) - 1; i >= 0; i-- {
			m := ms[i]
			if m.match && !prev && len(splits) > 0 {
				splits[len(splits)-1].s = m.s
			} else {
				splits = append(splits, sp{m.s, m.e, false})
			}
			prev = m.match
		}
		for i, j := 0, len(splits)-1; i < j; i, j = i+1, j-1 {
			splits[i], splits[j] = splits[j], splits[i]
		}
	}
	for _, s := range splits {
		if !s.remove && s.e > s.s {
			out = append(out, psplit{n: n.slice(s.s, s.e)})
		}
	}
	return out
}

// replaceRunes is replace for a single-char pattern, done in one pass: each content char
// takes the alignment of the char it replaces, as the Rust per-match transformation gives.
func (n *nstr) replaceRunes(f func(rune) bool, content string) {
	s := n.norm
	first := -1
	for i, r := range s {
		if f(r) {
			first = i
			break
		}
	}
	if first < 0 {
		return
	}
	if n.align == nil && utf8.RuneCountInString(content) == 1 {
		// one char for one char of the same size keeps the identity alignment
		same := true
		for _, r := range s {
			if f(r) && utf8.RuneLen(r) != len(content) {
				same = false
				break
			}
		}
		if same {
			var b strings.Builder
			b.Grow(len(s))
			for _, r := range s {
				if f(r) {
					b.WriteString(content)
				} else {
					b.WriteRune(r)
				}
			}
			n.norm = b.String()
			return
		}
	}
	n.materialize()
	var b strings.Builder
	b.Grow(len(s) + len(content)*4)
	al := make([]span, 0, len(s)+len(content)*4)
	b.WriteString(s[:first])
	al = append(al, n.align[:first]...)
	for i := first; i < len(s); {
		r, sz := utf8.DecodeRuneInString(s[i:])
		if f(r) {
			a := n.align[i]
			b.WriteString(content)
			for k := 0; k < len(content); k++ {
				al = append(al, a)
			}
		} else {
			b.WriteString(s[i : i+sz])
			al = append(al, n.align[i:i+sz]...)
		}
		i += sz
	}
	n.norm = b.String()
	n.align = al
}
