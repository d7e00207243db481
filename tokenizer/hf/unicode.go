package hf

import (
	"sort"
)

// Unicode properties. The Rust libraries behind tokenizers 0.23 use different Unicode
// versions, and so do these helpers (tables in unicode_tables.go): Rust's std, the regex
// crate and Oniguruma use Unicode 16.0; the unicode_categories crate (BERT punctuation,
// control and accent tests) Unicode 8.0; unicode-normalization-alignments (StripAccents)
// Unicode 9.0.

func init() {
	for _, t := range []*rclass{u16Letter, u16Mark, u16Number, u16Decimal, u16Connector, u16Alphabetic, u16Punct, u16Symbol,
		u8Punct, u8Other, u8Mn, u9Mark} {
		t.finish()
	}
	for _, t := range []*rclass{u16Alphabetic, u16Mark, u16Decimal, u16Connector} {
		unicodeWord.r = append(unicodeWord.r, t.r...)
	}
	unicodeWord.finish()
	onigWord.r = append(onigWord.r, unicodeWord.r...)
	// Oniguruma's ISO-8859-1 ctype table counts ² ³ ¹ ¼ ½ ¾ as word chars.
	onigWord.r = append(onigWord.r, [2]rune{0xB2, 0xB3}, [2]rune{0xB9, 0xB9}, [2]rune{0xBC, 0xBE})
	onigWord.finish()
}

// unicodeWord is Unicode's word class (Alphabetic, M, Nd, Pc; Unicode 16.0), Oniguruma's \w
// inside brackets; onigWord is its \w outside brackets.
var unicodeWord, onigWord = &rclass{}, &rclass{}

// isWhitespace is Rust's char::is_whitespace (the White_Space property).
func isWhitespace(r rune) bool {
	switch {
	case r == ' ' || (r >= '\t' && r <= '\r'):
		return true
	case r < 0x85:
		return false
	}
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// lowerRune is Rust's char::to_lowercase for the chars that lowercase to one char (every
// char but U+0130, which the callers handle).
func lowerRune(r rune) rune {
	if r < 0x80 {
		if r >= 'A' && r <= 'Z' {
			return r + 32
		}
		return r
	}
	i := sort.Search(len(u16Lower), func(i int) bool { return u16Lower[i][0] >= r })
	if i < len(u16Lower) && u16Lower[i][0] == r {
		return u16Lower[i][1]
	}
	return r
}

// asciiPunct is char::is_ascii_punctuation.
func asciiPunct(r rune) bool {
	return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
}

// bertPunct is the punctuation test of BertPreTokenizer and Punctuation:
// is_ascii_punctuation or unicode_categories' is_punctuation.
func bertPunct(r rune) bool {
	if r < 0x80 {
		return asciiPunct(r)
	}
	return u8Punct.has(r)
}

// isOther is unicode_categories' is_other: Cc, Cf, Co or Cs.
func isOther(r rune) bool {
	if r < 0x80 {
		return r < 0x20 || r == 0x7F
	}
	return u8Other.has(r)
}

// isMn is unicode_categories' is_mark_nonspacing.
func isMn(r rune) bool { return r >= 0x300 && u8Mn.has(r) }

// isCombiningMark is unicode-normalization-alignments' is_combining_mark.
func isCombiningMark(r rune) bool { return r >= 0x300 && u9Mark.has(r) }

// isNumeric is Rust's char::is_numeric (Nd, Nl, No).
func isNumeric(r rune) bool {
	if r < 0x80 {
		return r >= '0' && r <= '9'
	}
	return u16Number.has(r)
}

// isRegexWord is the regex crate's Unicode \w: Alphabetic, M, Nd, Pc and Join_Control.
func isRegexWord(r rune) bool {
	if r < 0x80 {
		return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || r == '_'
	}
	return u16Alphabetic.has(r) || u16Mark.has(r) || u16Decimal.has(r) || u16Connector.has(r) ||
		r == 0x200C || r == 0x200D
}

// isLetter is Oniguruma's \p{L}; isNumber its \p{N}.
func isLetter(r rune) bool { return u16Letter.has(r) }
func isNumber(r rune) bool { return u16Number.has(r) }

// isChinese is BertNormalizer's CJK test.
func isChinese(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B920 && r <= 0x2CEAF,
		r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}
