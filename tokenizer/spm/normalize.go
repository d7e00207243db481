package spm

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/optiformer/optiformer/tokenizer/charsmap"
)

// spaceSymbol is U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's visible space.
const spaceSymbol = "\u2581"

// normalizer is SentencePiece's normalizer::Normalizer (normalizer.cc, 0.1.97).
type normalizer struct {
	cm     *charsmap.Map // nil without precompiled_charsmap
	user   *trie         // user-defined symbols, copied unnormalized; nil for none
	spec   NormalizerSpec
	suffix bool // TrainerSpec.treat_whitespace_as_suffix (false for the denormalizer)
}

// oneCharLen is string_util::OneCharLen: the length of a UTF-8 sequence from its first
// byte, without validation.
func oneCharLen(b byte) int {
	return int("\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x02\x02\x03\x04"[b>>4])
}

// prefix is NormalizePrefix: the normalized form of the first unit of s and the number
// of bytes of s it covers (s is not empty).
func (n *normalizer) prefix(s string) (string, int) {
	if n.user != nil {
		if l := n.user.longest(s); l > 0 {
			return s[:l], l
		}
	}
	if n.cm != nil {
		if r, c, ok := n.cm.Transform(s); ok {
			return r, c
		}
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		// Malformed UTF-8: one byte becomes U+FFFD.
		return "\uFFFD", 1
	}
	return s[:size], size
}

// normalize returns the normalized text and, for each of its bytes and one past the end,
// the byte offset in input it comes from (norm_to_orig), appended to dst (may be nil).
func (n *normalizer) normalize(input string, dst []int) (string, []int) {
	if input == "" {
		return "", dst
	}
	consumed := 0
	if n.spec.RemoveExtraWhitespaces {
		for input != "" {
			r, c := n.prefix(input)
			if r != " " {
				break
			}
			input = input[c:]
			consumed += c
		}
	}
	if input == "" {
		return "", dst
	}
	var out strings.Builder
	out.Grow(len(input) * 3 / 2)
	toOrig := slices.Grow(dst, len(input)*3/2+4)
	addWS := func() {
		if n.spec.EscapeWhitespaces {
			out.WriteString(spaceSymbol)
			toOrig = append(toOrig, consumed, consumed, consumed)
		} else {
			out.WriteByte(' ')
			toOrig = append(toOrig, consumed)
		}
	}
	if !n.suffix && n.spec.AddDummyPrefix {
		addWS()
	}
	isPrevSpace := n.spec.RemoveExtraWhitespaces
	for input != "" {
		sp, c := n.prefix(input)
		if isPrevSpace {
			for strings.HasPrefix(sp, " ") {
				sp = sp[1:]
			}
		}
		if sp != "" {
			for i := 0; i < len(sp); i++ {
				if n.spec.EscapeWhitespaces && sp[i] == ' ' {
					out.WriteString(spaceSymbol)
					toOrig = append(toOrig, consumed, consumed, consumed)
				} else {
					out.WriteByte(sp[i])
					toOrig = append(toOrig, consumed)
				}
			}
			isPrevSpace = sp[len(sp)-1] == ' '
		}
		consumed += c
		input = input[c:]
		if !n.spec.RemoveExtraWhitespaces {
			isPrevSpace = false
		}
	}
	norm := out.String()
	if n.spec.RemoveExtraWhitespaces {
		space := " "
		if n.spec.EscapeWhitespaces {
			space = spaceSymbol
		}
		for strings.HasSuffix(norm, space) {
			l := len(norm) - len(space)
			consumed = toOrig[l]
			norm = norm[:l]
			toOrig = toOrig[:l]
		}
	}
	if n.suffix && n.spec.AddDummyPrefix {
		out.Reset()
		out.WriteString(norm)
		addWS()
		norm = out.String()
	}
	toOrig = append(toOrig, consumed)
	return norm, toOrig
}
