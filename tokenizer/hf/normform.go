package hf

import (
	"sort"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Unicode normalization with alignment changes, ported from the unicode-normalization-
// alignments crate the Rust tokenizers use: each output char carries 0 for the first char of
// an input char's decomposition and 1 for the others; canonical reordering moves these flags
// with their chars, and composition merges them.

const (
	hangulSBase  = 0xAC00
	hangulLBase  = 0x1100
	hangulVBase  = 0x1161
	hangulTBase  = 0x11A7
	hangulLCount = 19
	hangulVCount = 21
	hangulTCount = 28
	hangulNCount = hangulVCount * hangulTCount
	hangulSCount = hangulLCount * hangulNCount
)

func ccc(r rune) uint8 {
	if r < 0x300 {
		return 0
	}
	var b [4]byte
	n := utf8.EncodeRune(b[:], r)
	return norm.NFD.Properties(b[:n]).CCC()
}

// decomposeRune calls f with the full canonical (or compatibility) decomposition of r.
func decomposeRune(r rune, compat bool, f func(rune)) {
	if r < 0xC0 && !(compat && r >= 0xA0) {
		f(r)
		return
	}
	if r >= hangulSBase && r < hangulSBase+hangulSCount {
		si := r - hangulSBase
		f(hangulLBase + si/hangulNCount)
		f(hangulVBase + (si%hangulNCount)/hangulTCount)
		if t := si % hangulTCount; t != 0 {
			f(hangulTBase + t)
		}
		return
	}
	var b [4]byte
	n := utf8.EncodeRune(b[:], r)
	var d []byte
	if compat {
		d = norm.NFKD.Properties(b[:n]).Decomposition()
	} else {
		d = norm.NFD.Properties(b[:n]).Decomposition()
	}
	if d == nil {
		f(r)
		return
	}
	for len(d) > 0 {
		c, sz := utf8.DecodeRune(d)
		d = d[sz:]
		// x/text leaves Hangul syllables inside decompositions composed
		if c >= hangulSBase && c < hangulSBase+hangulSCount {
			decomposeRune(c, compat, f)
			continue
		}
		f(c)
	}
}

type cccRC struct {
	class uint8
	rc
}

// decomposeRC is NFD (or NFKD) of s with alignment changes.
func decomposeRC(s string, compat bool) []rc {
	buf := make([]cccRC, 0, len(s))
	for _, ch := range s {
		first := true
		decomposeRune(ch, compat, func(d rune) {
			ch := int32(1)
			if first {
				ch = 0
			}
			first = false
			buf = append(buf, cccRC{ccc(d), rc{d, ch}})
		})
	}
	// Stable-sort each run that starts at a starter (and the leading non-starters).
	start := 0
	for i := 1; i <= len(buf); i++ {
		if i == len(buf) || buf[i].class == 0 {
			if i-start > 1 {
				blk := buf[start:i]
				sort.SliceStable(blk, func(a, b int) bool { return blk[a].class < blk[b].class })
			}
			start = i
		}
	}
	out := make([]rc, len(buf))
	for i, x := range buf {
		out[i] = x.rc
	}
	return out
}

var composeCache sync.Map // [2]rune -> rune (-1: none)

// compose is the canonical composition of a pair (Hangul included), as
// unicode_normalization::char::compose.
func compose(a, b rune) (rune, bool) {
	if a >= hangulLBase && a < hangulLBase+hangulLCount && b >= hangulVBase && b < hangulVBase+hangulVCount {
		return hangulSBase + ((a-hangulLBase)*hangulVCount+(b-hangulVBase))*hangulTCount, true
	}
	if a >= hangulSBase && a < hangulSBase+hangulSCount && (a-hangulSBase)%hangulTCount == 0 &&
		b > hangulTBase && b < hangulTBase+hangulTCount {
		return a + (b - hangulTBase), true
	}
	key := [2]rune{a, b}
	if v, ok := composeCache.Load(key); ok {
		r := v.(rune)
		return r, r >= 0
	}
	res := rune(-1)
	c := norm.NFC.String(string([]rune{a, b}))
	if r, sz := utf8.DecodeRuneInString(c); sz == len(c) && r != utf8.RuneError {
		res = r
	}
	composeCache.Store(key, res)
	return res, res >= 0
}

// composeRC is NFC (or NFKC) of s with alignment changes (the Recompositions iterator).
func composeRC(s string, compat bool) []rc {
	in := decomposeRC(s, compat)
	out := make([]rc, 0, len(in))
	var buffer []rc
	var composee rc
	hasComposee := false
	lastCCC := -1
	for _, x := range in {
		class := int(ccc(x.r))
		if !hasComposee {
			if class != 0 {
				out = append(out, x)
				continue
			}
			composee, hasComposee = x, true
			continue
		}
		k := composee
		if lastCCC < 0 {
			if r, ok := compose(k.r, x.r); ok {
				composee = rc{r, k.change + x.change - 1}
				continue
			}
			if class == 0 {
				composee = x
				out = append(out, k)
				continue
			}
			buffer = append(buffer, x)
			lastCCC = class
			continue
		}
		if lastCCC >= class {
			if class == 0 {
				composee = x
				lastCCC = -1
				out = append(out, k)
				out = append(out, buffer...)
				buffer = buffer[:0]
				continue
			}
			buffer = append(buffer, x)
			lastCCC = class
			continue
		}
		if r, ok := compose(k.r, x.r); ok {
			composee = rc{r, k.change + x.change - 1}
			continue
		}
		buffer = append(buffer, x)
		lastCCC = class
	}
	if hasComposee {
		out = append(out, composee)
	}
	out = append(out, buffer...)
	return out
}
