package hf

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

type normSeq []normalizer

func (s normSeq) normalize(n *nstr) error {
	for _, x := range s {
		if err := x.normalize(n); err != nil {
			return err
		}
	}
	return nil
}

// bertNormalizer is BertNormalizer.
type bertNormalizer struct {
	cleanText, handleChinese, stripAccents, lowercase bool
}

func bertClean(r rune) bool { // true: removed
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return r == 0 || r == 0xFFFD || isOther(r)
}

func bertSpace(r rune) rune {
	if r == '\t' || r == '\n' || r == '\r' || isWhitespace(r) {
		return ' '
	}
	return r
}

func (b *bertNormalizer) normalize(n *nstr) error {
	if b.fastASCII(n) {
		return nil
	}
	if b.cleanText {
		n.filter(func(r rune) bool { return !bertClean(r) })
		n.mapRunes(bertSpace)
	}
	if b.handleChinese {
		has := false
		for _, r := range n.norm {
			if isChinese(r) {
				has = true
				break
			}
		}
		if has {
			out := make([]rc, 0, len(n.norm)+16)
			for _, r := range n.norm {
				if isChinese(r) {
					out = append(out, rc{' ', 0}, rc{r, 1}, rc{' ', 1})
				} else {
					out = append(out, rc{r, 0})
				}
			}
			n.transform(out, 0)
		}
	}
	if b.stripAccents {
		nfd(n)
		n.filter(func(r rune) bool { return !isMn(r) })
	}
	if b.lowercase {
		n.lowercase()
	}
	return nil
}

// fastASCII handles printable-ASCII-and-whitespace text, where the normalizer only maps
// whitespace to spaces and lowercases: chars are replaced one for one, so the alignment is
// unchanged. It reports whether it handled n.
func (b *bertNormalizer) fastASCII(n *nstr) bool {
	s := n.norm
	changed := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F {
			return false
		}
		if (b.cleanText && (c == '\t' || c == '\n' || c == '\r')) || (b.lowercase && c >= 'A' && c <= 'Z') {
			changed = true
		}
	}
	if !changed {
		return true
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if b.cleanText && (c == '\t' || c == '\n' || c == '\r') {
			c = ' '
		} else if b.lowercase && c >= 'A' && c <= 'Z' {
			c += 32
		}
		sb.WriteByte(c)
	}
	n.norm = sb.String()
	return true
}

// The quick checks skip strings already in the form: the transformation would leave them
// (and their alignments) unchanged.
func nfd(n *nstr) {
	if !norm.NFD.IsNormalString(n.norm) {
		transformIfChanged(n, decomposeRC(n.norm, false))
	}
}

func nfkd(n *nstr) {
	if !norm.NFKD.IsNormalString(n.norm) {
		transformIfChanged(n, decomposeRC(n.norm, true))
	}
}

func nfc(n *nstr) {
	if !norm.NFC.IsNormalString(n.norm) {
		transformIfChanged(n, composeRC(n.norm, false))
	}
}

func nfkc(n *nstr) {
	if !norm.NFKC.IsNormalString(n.norm) {
		transformIfChanged(n, composeRC(n.norm, true))
	}
}

// transformIfChanged applies dest unless it is the identity (which transform would leave as
// is anyway).
func transformIfChanged(n *nstr, dest []rc) {
	i := 0
	same := true
	for _, d := range dest {
		r, sz := utf8.DecodeRuneInString(n.norm[i:])
		if d.change != 0 || r != d.r || i >= len(n.norm) {
			same = false
			break
		}
		i += sz
	}
	if same && i == len(n.norm) {
		return
	}
	n.transform(dest, 0)
}

type unicodeNorm int

const (
	formNFC unicodeNorm = iota
	formNFD
	formNFKC
	formNFKD
)

func (f unicodeNorm) normalize(n *nstr) error {
	if isASCII(n.norm) {
		return nil
	}
	switch f {
	case formNFC:
		nfc(n)
	case formNFD:
		nfd(n)
	case formNFKC:
		nfkc(n)
	case formNFKD:
		nfkd(n)
	}
	return nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

type lowercaseNorm struct{}

func (lowercaseNorm) normalize(n *nstr) error { n.lowercase(); return nil }

type stripAccentsNorm struct{}

func (stripAccentsNorm) normalize(n *nstr) error {
	n.filter(func(r rune) bool { return !isCombiningMark(r) })
	return nil
}

type stripNorm struct{ left, right bool }

func (s stripNorm) normalize(n *nstr) error { n.lrstrip(s.left, s.right); return nil }

type replaceNorm struct {
	pat     pattern
	content string
}

func (r *replaceNorm) normalize(n *nstr) error { return n.replace(r.pat, r.content) }

type prependNorm struct{ s string }

func (p prependNorm) normalize(n *nstr) error {
	if n.norm != "" {
		n.prepend(p.s)
	}
	return nil
}

// byteLevelNorm is the ByteLevel normalizer: every byte becomes its GPT-2 char.
type byteLevelNorm struct{}

func (byteLevelNorm) normalize(n *nstr) error {
	if n.norm == "" {
		return nil
	}
	n.transform(byteLevelRC(n.norm), 0)
	return nil
}

// nmtNorm is the Nmt normalizer.
type nmtNorm struct{}

func (nmtNorm) normalize(n *nstr) error {
	n.filter(func(r rune) bool {
		return !((r >= 1 && r <= 8) || r == 0xB || (r >= 0xE && r <= 0x1F) || r == 0x7F || r == 0x8F || r == 0x9F)
	})
	n.mapRunes(func(r rune) rune {
		switch {
		case r == 9 || r == 0xA || r == 0xC || r == 0xD || r == 0x1680 || (r >= 0x200B && r <= 0x200F) ||
			r == 0x2028 || r == 0x2029 || r == 0x2581 || r == 0xFEFF || r == 0xFFFD:
			return ' '
		}
		return r
	})
	return nil
}

// precompiledNorm is SentencePiece's precompiled charsmap as Hugging Face applies it: per
// grapheme cluster (when shorter than 6 bytes), replaced whole by the replacement of its
// shortest matching prefix, else per char.
type precompiledNorm struct {
	m charsMap
}

// charsMap finds the replacement of the shortest rule matching a prefix of s.
type charsMap interface {
	shortest(s string) (string, bool)
}

func pcReplace(dest []rc, old, repl string) []rc {
	diff := int32(utf8.RuneCountInString(repl) - utf8.RuneCountInString(old))
	for _, c := range repl {
		dest = append(dest, rc{c, 0})
	}
	switch {
	case diff > 0:
		for k := int32(0); k < diff && int(k) < len(dest); k++ {
			dest[len(dest)-1-int(k)].change = 1
		}
	case diff < 0:
		if len(dest) > 0 {
			dest[len(dest)-1].change += diff
		}
	}
	return dest
}

func (p *precompiledNorm) normalize(n *nstr) error {
	if p.m == nil {
		return nil
	}
	s := n.norm
	var dest []rc
	modified := false
	// dest is only built from the first replacement on; backfill copies the chars before.
	backfill := func(upto int) {
		if !modified {
			modified = true
			dest = make([]rc, 0, len(s)+8)
			for _, r := range s[:upto] {
				dest = append(dest, rc{r, 0})
			}
		}
	}
	for i := 0; i < len(s); {
		g := graphemeLen(s[i:])
		gr := s[i : i+g]
		gstart := i
		i += g
		if len(gr) < 6 {
			if repl, ok := p.m.shortest(gr); ok {
				backfill(gstart)
				dest = pcReplace(dest, gr, repl)
				continue
			}
		}
		for k := 0; k < len(gr); {
			r, sz := utf8.DecodeRuneInString(gr[k:])
			part := gr[k : k+sz]
			k += sz
			if repl, ok := p.m.shortest(part); ok {
				backfill(gstart + k - sz)
				dest = pcReplace(dest, part, repl)
			} else if modified {
				dest = append(dest, rc{r, 0})
			}
		}
	}
	if modified {
		n.transform(dest, 0)
	}
	return nil
}
