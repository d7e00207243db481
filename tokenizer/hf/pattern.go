package hf

import (
	"strings"
	"unicode/utf8"
)

// pattern finds the parts of a string to split on or replace (Rust tokenizers' Pattern): the
// result covers the whole string with contiguous ranges, each flagged as a match or not.
type pattern interface {
	findMatches(s string) ([]match, error)
}

// runePattern matches single chars.
type runePattern func(rune) bool

func (p runePattern) findMatches(s string) ([]match, error) {
	if s == "" {
		return []match{{0, 0, false}}, nil
	}
	var out []match
	last := 0
	for i, c := range s {
		if p(c) {
			if last < i {
				out = append(out, match{last, i, false})
			}
			sz := utf8.RuneLen(c)
			if sz < 0 {
				sz = 1
			}
			out = append(out, match{i, i + sz, true})
			last = i + sz
		}
	}
	if last < len(s) {
		out = append(out, match{last, len(s), false})
	}
	return out, nil
}

// strPattern matches a literal string.
type strPattern string

func (p strPattern) findMatches(s string) ([]match, error) {
	if p == "" {
		// Rust returns one non-matching range of the char count (sic).
		return []match{{0, utf8.RuneCountInString(s), false}}, nil
	}
	if s == "" {
		return []match{{0, 0, false}}, nil
	}
	var out []match
	prev := 0
	for prev <= len(s) {
		i := strings.Index(s[prev:], string(p))
		if i < 0 {
			break
		}
		st := prev + i
		if st != prev {
			out = append(out, match{prev, st, false})
		}
		out = append(out, match{st, st + len(p), true})
		prev = st + len(p)
	}
	if prev != len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out, nil
}

// regexPattern matches a regular expression (Oniguruma syntax, as in tokenizer.json).
type regexPattern struct{ re *regex }

func (p regexPattern) findMatches(s string) ([]match, error) {
	if s == "" {
		return []match{{0, 0, false}}, nil
	}
	var out []match
	prev := 0
	err := p.re.findAll(s, func(st, e int) {
		if prev != st {
			out = append(out, match{prev, st, false})
		}
		out = append(out, match{st, e, true})
		prev = e
	})
	if err != nil {
		return nil, err
	}
	if prev != len(s) {
		out = append(out, match{prev, len(s), false})
	}
	return out, nil
}

// invertPattern flips the match flags.
type invertPattern struct{ p pattern }

func (p invertPattern) findMatches(s string) ([]match, error) {
	ms, err := p.p.findMatches(s)
	for i := range ms {
		ms[i].match = !ms[i].match
	}
	return ms, err
}
