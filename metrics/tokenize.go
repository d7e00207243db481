package metrics

import (
	"strings"
	"unicode"
)

// Tokenize13a is sacreBLEU's default "13a" tokenizer (tokenizers/tokenizer_13a.py, the
// mteval-v13a.pl rules): it drops "<skipped>" and "-\n", turns newlines into spaces, unescapes
// &quot; &amp; &lt; &gt;, pads the line with spaces and then applies, in order,
//
//	s/([\{-\~\[-\` -\&\(-\+\:-\@\/])/ \1 /g   isolate ASCII punctuation and symbols
//	s/([^0-9])([\.,])/\1 \2 /g                period and comma unless preceded by a digit
//	s/([\.,])([^0-9])/ \1 \2/g                period and comma unless followed by a digit
//	s/([0-9])(-)/\1 \2 /g                     dash preceded by a digit
//
// and finally collapses whitespace (Python's str.split / ' '.join).
func Tokenize13a(line string) string {
	line = strings.ReplaceAll(line, "<skipped>", "")
	line = strings.ReplaceAll(line, "-\n", "")
	line = strings.ReplaceAll(line, "\n", " ")
	line = strings.ReplaceAll(line, "&quot;", `"`)
	line = strings.ReplaceAll(line, "&amp;", "&")
	line = strings.ReplaceAll(line, "&lt;", "<")
	line = strings.ReplaceAll(line, "&gt;", ">")
	s := " " + line + " "

	// The patterns only ever match ASCII bytes (or, for [^0-9], the last byte of a multi-byte
	// rune directly before an ASCII '.' or ','), so scanning bytes gives exactly the output of
	// Python's code-point scan, with re.sub's left-to-right non-overlapping matches.
	var b []byte
	b = make([]byte, 0, len(s)*2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if is13aPunct(c) {
			b = append(b, ' ', c, ' ')
		} else {
			b = append(b, c)
		}
	}
	b = sub2(b, func(x, y byte) bool { return !isDigit(x) && (y == '.' || y == ',') },
		func(o []byte, x, y byte) []byte { return append(o, x, ' ', y, ' ') })
	b = sub2(b, func(x, y byte) bool { return (x == '.' || x == ',') && !isDigit(y) },
		func(o []byte, x, y byte) []byte { return append(o, ' ', x, ' ', y) })
	b = sub2(b, func(x, y byte) bool { return isDigit(x) && y == '-' },
		func(o []byte, x, y byte) []byte { return append(o, x, ' ', y, ' ') })
	return pyJoinFields(string(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// is13aPunct is the class [\{-\~\[-\` -\&\(-\+\:-\@\/].
func is13aPunct(c byte) bool {
	return c >= '{' && c <= '~' || c >= '[' && c <= '`' || c >= ' ' && c <= '&' ||
		c >= '(' && c <= '+' || c >= ':' && c <= '@' || c == '/'
}

// sub2 applies a two-character regular-expression substitution left to right without overlaps,
// as re.sub does.
func sub2(s []byte, match func(x, y byte) bool, repl func(o []byte, x, y byte) []byte) []byte {
	o := make([]byte, 0, len(s)+len(s)/2)
	i := 0
	for i < len(s) {
		if i+1 < len(s) && match(s[i], s[i+1]) {
			o = repl(o, s[i], s[i+1])
			i += 2
			continue
		}
		o = append(o, s[i])
		i++
	}
	return o
}

// TokenizeIntl is sacreBLEU's "intl" tokenizer (tokenizers/tokenizer_intl.py, the
// mteval-v14.pl international rules):
//
//	s/(\P{N})(\p{P})/\1 \2 /g    punctuation preceded by a non-number
//	s/(\p{P})(\P{N})/ \1 \2/g    punctuation followed by a non-number
//	s/(\p{S})/ \1 /g             every symbol
//
// then collapses whitespace. Character classes come from Go's unicode tables (Unicode 15.0);
// sacreBLEU takes them from the Python regex module, whose Unicode version may be newer, so
// characters assigned since then may be classified differently.
func TokenizeIntl(line string) string {
	rs := []rune(line)
	rs = subRunes2(rs, func(x, y rune) bool { return !unicode.IsNumber(x) && unicode.IsPunct(y) },
		func(o []rune, x, y rune) []rune { return append(o, x, ' ', y, ' ') })
	rs = subRunes2(rs, func(x, y rune) bool { return unicode.IsPunct(x) && !unicode.IsNumber(y) },
		func(o []rune, x, y rune) []rune { return append(o, ' ', x, ' ', y) })
	o := make([]rune, 0, len(rs)+8)
	for _, r := range rs {
		if unicode.IsSymbol(r) {
			o = append(o, ' ', r, ' ')
		} else {
			o = append(o, r)
		}
	}
	return pyJoinFields(string(o))
}

func subRunes2(s []rune, match func(x, y rune) bool, repl func(o []rune, x, y rune) []rune) []rune {
	o := make([]rune, 0, len(s)+len(s)/2)
	i := 0
	for i < len(s) {
		if i+1 < len(s) && match(s[i], s[i+1]) {
			o = repl(o, s[i], s[i+1])
			i += 2
			continue
		}
		o = append(o, s[i])
		i++
	}
	return o
}
