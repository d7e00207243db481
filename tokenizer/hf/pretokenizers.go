package hf

import (
	"unicode/utf8"
)

type preSeq []preTokenizer

func (s preSeq) preTokenize(p *pretok) error {
	for _, x := range s {
		if err := x.preTokenize(p); err != nil {
			return err
		}
	}
	return nil
}

// splitRunes splits every piece on the chars f matches.
func splitRunes(p *pretok, f func(rune) bool, b splitBehavior) error {
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		return splitRunesOne(n, f, b, out), nil
	})
}

// splitRunesOne splits n on the chars f matches, with the Removed, Isolated and Contiguous
// behaviors done in one pass (the others go through the generic match list).
func splitRunesOne(n *nstr, f func(rune) bool, b splitBehavior, out []psplit) []psplit {
	s := n.norm
	switch b {
	case splitRemoved, splitIsolated, splitContiguous:
	default:
		ms, _ := runePattern(f).findMatches(s)
		return n.splitMatches(ms, b, out)
	}
	start := 0     // start of the current run
	inRun := false // current run is of matching chars (Contiguous)
	for i := 0; i < len(s); {
		c := s[i]
		var r rune
		sz := 1
		if c < 0x80 {
			r = rune(c)
		} else {
			r, sz = utf8.DecodeRuneInString(s[i:])
		}
		if f(r) {
			switch b {
			case splitRemoved:
				if start < i {
					out = append(out, psplit{n: n.slice(start, i)})
				}
				start = i + sz
			case splitIsolated:
				if start < i {
					out = append(out, psplit{n: n.slice(start, i)})
				}
				out = append(out, psplit{n: n.slice(i, i+sz)})
				start = i + sz
			case splitContiguous:
				if !inRun && start < i {
					out = append(out, psplit{n: n.slice(start, i)})
					start = i
				}
				inRun = true
			}
		} else if b == splitContiguous && inRun {
			out = append(out, psplit{n: n.slice(start, i)})
			start = i
			inRun = false
		}
		i += sz
	}
	if start < len(s) {
		out = append(out, psplit{n: n.slice(start, len(s))})
	}
	return out
}

// bertPre is BertPreTokenizer: split on whitespace (removed), then isolate punctuation.
type bertPre struct{}

func (bertPre) preTokenize(p *pretok) error {
	// One pass: whitespace removed, punctuation isolated.
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		s := n.norm
		start := 0
		for i := 0; i < len(s); {
			c := s[i]
			var r rune
			sz := 1
			if c < 0x80 {
				r = rune(c)
			} else {
				r, sz = utf8.DecodeRuneInString(s[i:])
			}
			switch {
			case isWhitespace(r):
				if start < i {
					out = append(out, psplit{n: n.slice(start, i)})
				}
				start = i + sz
			case bertPunct(r):
				if start < i {
					out = append(out, psplit{n: n.slice(start, i)})
				}
				out = append(out, psplit{n: n.slice(i, i+sz)})
				start = i + sz
			}
			i += sz
		}
		if start < len(s) {
			out = append(out, psplit{n: n.slice(start, len(s))})
		}
		return out, nil
	})
}

type whitespaceSplitPre struct{}

func (whitespaceSplitPre) preTokenize(p *pretok) error {
	return splitRunes(p, isWhitespace, splitRemoved)
}

// whitespacePre is Whitespace: the regex \w+|[^\w\s]+ (Rust regex crate), keeping matches.
type whitespacePre struct{}

func (whitespacePre) preTokenize(p *pretok) error {
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		s := n.norm
		for i := 0; i < len(s); {
			r, sz := utf8.DecodeRuneInString(s[i:])
			if isWhitespace(r) {
				i += sz
				continue
			}
			word := isRegexWord(r)
			j := i + sz
			for j < len(s) {
				r2, sz2 := utf8.DecodeRuneInString(s[j:])
				if isWhitespace(r2) || isRegexWord(r2) != word {
					break
				}
				j += sz2
			}
			out = append(out, psplit{n: n.slice(i, j)})
			i = j
		}
		return out, nil
	})
}

type punctuationPre struct{ behavior splitBehavior }

func (x punctuationPre) preTokenize(p *pretok) error { return splitRunes(p, bertPunct, x.behavior) }

type digitsPre struct{ individual bool }

func (d digitsPre) preTokenize(p *pretok) error {
	if d.individual {
		return splitRunes(p, isNumeric, splitIsolated)
	}
	return splitRunes(p, isNumeric, splitContiguous)
}

type charDelimiterPre struct{ delim rune }

func (c charDelimiterPre) preTokenize(p *pretok) error {
	return splitRunes(p, func(r rune) bool { return r == c.delim }, splitRemoved)
}

type splitPre struct {
	pat      pattern
	behavior splitBehavior
	invert   bool
}

func (s *splitPre) preTokenize(p *pretok) error {
	pat := s.pat
	if s.invert {
		pat = invertPattern{pat}
	}
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) { return n.split(pat, s.behavior, out) })
}

type prependScheme int

const (
	prependAlways prependScheme = iota
	prependNever
	prependFirst
)

// metaspace is the Metaspace pre-tokenizer and decoder.
type metaspace struct {
	replacement rune
	repl        string
	scheme      prependScheme
	split       bool
}

func (m *metaspace) preTokenize(p *pretok) error {
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		n.replaceRunes(func(r rune) bool { return r == ' ' }, m.repl)
		switch m.scheme {
		case prependAlways:
			if r, _ := utf8.DecodeRuneInString(n.norm); n.norm == "" || r != m.replacement {
				n.prepend(m.repl)
			}
		case prependFirst:
			if r, _ := utf8.DecodeRuneInString(n.norm); (n.norm == "" || r != m.replacement) && n.shift == 0 {
				n.prepend(m.repl)
			}
		}
		if !m.split {
			return append(out, psplit{n: *n}), nil
		}
		// MergedWithNext on the replacement char: a piece starts at each replacement char.
		s := n.norm
		start := 0
		for i, r := range s {
			if r == m.replacement && i > start {
				out = append(out, psplit{n: n.slice(start, i)})
				start = i
			}
		}
		if start < len(s) {
			out = append(out, psplit{n: n.slice(start, len(s))})
		}
		return out, nil
	})
}

func (m *metaspace) decodeChain(toks []string) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		b := make([]byte, 0, len(t))
		for _, r := range t {
			if r == m.replacement {
				if i == 0 && m.scheme != prependNever {
					continue
				}
				b = append(b, ' ')
				continue
			}
			b = utf8.AppendRune(b, r)
		}
		out[i] = string(b)
	}
	return out, nil
}
