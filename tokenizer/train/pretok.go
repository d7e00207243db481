package train

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The normalizers and pre-tokenizers below are the training-time twins of the components
// the trainers write into tokenizer.json; they follow the Rust implementations (and package
// hf, which ports them for encoding).

// isWhitespace is Rust's char::is_whitespace (the White_Space property), also the \s of the
// pre-tokenizer regexes.
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

// lowercase is the Lowercase normalizer (Rust's str::to_lowercase, char by char: U+0130 İ
// becomes "i̇", everything else unicode.ToLower).
func lowercase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == 0x130 {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// ---- byte-level (GPT-2) ----

// byteChar maps each byte to the printable char GPT-2's byte-level BPE uses for it.
var byteChar [256]rune

func init() {
	n := 0
	for b := range 256 {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteChar[b] = rune(b)
		} else {
			byteChar[b] = rune(256 + n)
			n++
		}
	}
}

// byteLevelString maps the bytes of s to byte-level chars.
func byteLevelString(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteChar[s[i]])
	}
	return b.String()
}

const (
	clsOther = iota
	clsSpace
	clsLetter
	clsNumber
)

// classAt returns the class (\p{L}, \p{N}, \s or other) of the char at i and its size.
func classAt(s string, i int) (int, int) {
	c := s[i]
	if c < 0x80 {
		switch {
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			return clsLetter, 1
		case c >= '0' && c <= '9':
			return clsNumber, 1
		case c == ' ' || (c >= '\t' && c <= '\r'):
			return clsSpace, 1
		}
		return clsOther, 1
	}
	r, sz := utf8.DecodeRuneInString(s[i:])
	switch {
	case unicode.IsLetter(r):
		return clsLetter, sz
	case unicode.IsNumber(r):
		return clsNumber, sz
	case isWhitespace(r):
		return clsSpace, sz
	}
	return clsOther, sz
}

// runEnd returns the end of the run of chars of class cls that starts at i.
func runEnd(s string, i, cls int) int {
	for i < len(s) {
		c, sz := classAt(s, i)
		if c != cls {
			break
		}
		i += sz
	}
	return i
}

// gpt2Split calls emit with the pieces GPT-2's pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// cuts s into (leftmost-first alternation). The pattern matches at every position, so the
// pieces cover s.
func gpt2Split(s string, emit func(string)) {
	for i := 0; i < len(s); {
		e := gpt2Match(s, i)
		emit(s[i:e])
		i = e
	}
}

// gpt2Match returns the end of the match of GPT-2's pattern at i.
func gpt2Match(s string, i int) int {
	if s[i] == '\'' && i+1 < len(s) {
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
	if s[i] == ' ' && i+1 < len(s) { // " ?X+" with the optional space
		if cls, sz := classAt(s, i+1); cls != clsSpace {
			return runEnd(s, i+1+sz, cls)
		}
	}
	cls, sz := classAt(s, i)
	if cls != clsSpace {
		return runEnd(s, i+sz, cls)
	}
	// \s+(?!\S): the whitespace run, less its last char when a non-space follows it;
	// \s+ when that leaves nothing.
	e := runEnd(s, i+sz, clsSpace)
	if e == len(s) {
		return e
	}
	_, last := utf8.DecodeLastRuneInString(s[:e])
	if e-last > i {
		return e - last
	}
	return e
}

// byteLevelWords is the ByteLevel pre-tokenizer (after the optional Lowercase normalizer):
// the words are byte strings, which the BPE maps to byte-level chars.
func byteLevelWords(text string, addPrefixSpace, lower bool, emit func(string)) {
	if lower {
		text = lowercase(text)
	}
	if addPrefixSpace && text != "" && text[0] != ' ' {
		text = " " + text
	}
	gpt2Split(text, emit)
}

// ---- character BPE: NFKC, BertNormalizer, BertPreTokenizer ----

// isOther is unicode_categories' is_other: Cc, Cf, Co or Cs.
func isOther(r rune) bool {
	if r < 0x80 {
		return r < 0x20 || r == 0x7F
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

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

// isBertPunct is BertPreTokenizer's punctuation: ASCII punctuation or general category P.
func isBertPunct(r rune) bool {
	if r < 0x80 {
		return (r >= '!' && r <= '/') || (r >= ':' && r <= '@') || (r >= '[' && r <= '`') || (r >= '{' && r <= '~')
	}
	return unicode.IsPunct(r)
}

// bertNormalize is BertNormalizer with clean_text and handle_chinese_chars, without
// strip_accents: control chars are dropped, whitespace becomes ' ', CJK ideographs are
// surrounded by spaces, and with lower the text is lowercased.
func bertNormalize(s string, lower bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r' || isWhitespace(r):
			b.WriteByte(' ')
		case r == 0 || r == utf8.RuneError || isOther(r):
		case isChinese(r):
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	if lower {
		return lowercase(b.String())
	}
	return b.String()
}

// charBPEWords normalizes text (NFKC, then BertNormalizer) and cuts it as BertPreTokenizer
// does: whitespace separates words and is dropped, each punctuation char is a word.
func charBPEWords(text string, lower bool, emit func(string)) {
	s := bertNormalize(norm.NFKC.String(text), lower)
	start := -1
	for i, r := range s {
		switch {
		case isWhitespace(r):
			if start >= 0 {
				emit(s[start:i])
				start = -1
			}
		case isBertPunct(r):
			if start >= 0 {
				emit(s[start:i])
				start = -1
			}
			emit(s[i : i+utf8.RuneLen(r)])
		default:
			if start < 0 {
				start = i
			}
		}
	}
	if start >= 0 {
		emit(s[start:])
	}
}

// ---- unigram: Nmt, NFKC, collapsed spaces, Metaspace ----

// metaspace is the word-boundary char of SentencePiece (U+2581).
const metaspace = "▁"

// nmtNormalize is the Nmt normalizer: some control chars are dropped, some space-like chars
// become ' '.
func nmtNormalize(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case (r >= 1 && r <= 8) || r == 0xB || (r >= 0xE && r <= 0x1F) || r == 0x7F || r == 0x8F || r == 0x9F:
		case r == 9 || r == 0xA || r == 0xC || r == 0xD || r == 0x1680 || (r >= 0x200B && r <= 0x200F) ||
			r == 0x2028 || r == 0x2029 || r == 0x2581 || r == 0xFEFF || r == 0xFFFD:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// unigramNormalize is the unigram tokenizer's normalizer: Nmt, NFKC, runs of spaces
// collapsed to one (Replace " {2,}" → " "), then the optional Lowercase.
func unigramNormalize(s string, lower bool) string {
	s = norm.NFKC.String(nmtNormalize(s))
	if strings.Contains(s, "  ") {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); i++ {
			if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
				continue
			}
			b.WriteByte(s[i])
		}
		s = b.String()
	}
	if lower {
		s = lowercase(s)
	}
	return s
}

// unigramWords normalizes text and cuts it as Metaspace (prepend_scheme "always", split)
// does: spaces become "▁", one is prepended, and each word starts at a "▁".
func unigramWords(text string, lower bool, emit func(string)) {
	s := unigramNormalize(text, lower)
	if s == "" {
		return
	}
	s = strings.ReplaceAll(s, " ", metaspace)
	if !strings.HasPrefix(s, metaspace) {
		s = metaspace + s
	}
	for len(s) > 0 {
		k := strings.Index(s[len(metaspace):], metaspace)
		if k < 0 {
			emit(s)
			return
		}
		emit(s[:len(metaspace)+k])
		s = s[len(metaspace)+k:]
	}
}
