package hf

import "unicode/utf8"

type graphemeRange struct {
	lo, hi rune
	v      uint8
}

const (
	gcOther = iota
	gcCR
	gcLF
	gcControl
	gcExtend
	gcZWJ
	gcRI
	gcPrepend
	gcSpacingMark
	gcL
	gcV
	gcT
	gcLV
	gcLVT
)

const (
	incbNone = iota
	incbLinker
	incbConsonant
	incbExtend
)

// graphemeProps returns the break category, Extended_Pictographic and InCB value of r.
func graphemeProps(r rune) (cat uint8, pict bool, incb uint8) {
	if r >= 0x20 && r < 0x7F {
		return gcOther, false, incbNone
	}
	lo, hi := 0, len(graphemeRanges)
	for lo < hi {
		m := (lo + hi) / 2
		g := &graphemeRanges[m]
		switch {
		case r < g.lo:
			hi = m
		case r > g.hi:
			lo = m + 1
		default:
			return g.v & 15, g.v&16 != 0, (g.v >> 5) & 3
		}
	}
	return gcOther, false, incbNone
}

// graphemeLen is the byte length of the extended grapheme cluster at the start of s
// (UAX #29, Unicode 16.0, as the unicode-segmentation crate's graphemes(true)).
func graphemeLen(s string) int {
	if s == "" {
		return 0
	}
	r, sz := utf8.DecodeRuneInString(s)
	prev, pict, incb := graphemeProps(r)
	i := sz
	// GB11 state: an Extended_Pictographic followed by Extend* (and then a ZWJ).
	emoji := pict
	emojiZWJ := false
	// GB9c state: a consonant, then Extend/Linker chars, at least one Linker.
	conso := incb == incbConsonant
	linked := false
	riCount := 0
	if prev == gcRI {
		riCount = 1
	}
	for i < len(s) {
		r, sz := utf8.DecodeRuneInString(s[i:])
		cur, cpict, cincb := graphemeProps(r)
		brk := true
		switch {
		case prev == gcCR && cur == gcLF:
			brk = false
		case prev == gcControl || prev == gcCR || prev == gcLF:
			brk = true
		case cur == gcControl || cur == gcCR || cur == gcLF:
			brk = true
		case prev == gcL && (cur == gcL || cur == gcV || cur == gcLV || cur == gcLVT):
			brk = false
		case (prev == gcLV || prev == gcV) && (cur == gcV || cur == gcT):
			brk = false
		case (prev == gcLVT || prev == gcT) && cur == gcT:
			brk = false
		case cur == gcExtend || cur == gcZWJ || cur == gcSpacingMark || prev == gcPrepend:
			brk = false
		case conso && linked && cincb == incbConsonant:
			brk = false
		case emojiZWJ && prev == gcZWJ && cpict:
			brk = false
		case prev == gcRI && cur == gcRI && riCount%2 == 1:
			brk = false
		}
		if brk {
			return i
		}
		// update states
		switch {
		case cpict:
			emoji, emojiZWJ = true, false
		case emoji && !emojiZWJ && cur == gcExtend:
		case emoji && !emojiZWJ && cur == gcZWJ:
			emojiZWJ = true
		default:
			emoji, emojiZWJ = false, false
		}
		switch cincb {
		case incbConsonant:
			conso, linked = true, false
		case incbLinker:
			if conso {
				linked = true
			}
		case incbExtend:
		default:
			conso, linked = false, false
		}
		if cur == gcRI {
			riCount++
		} else {
			riCount = 0
		}
		prev = cur
		i += sz
	}
	return i
}
