package tokenizer

import "unicode/utf8"

// CharOffsets converts UTF-8 byte offsets into text to Unicode code point offsets, as Hugging
// Face's tokenizers do for their char offsets: a position inside a char maps to that char and
// the end of the text to the char count. Pairs outside the text are left as they are.
func CharOffsets(text string, offsets [][2]int) [][2]int {
	// index[b] is the index of the char containing byte b; index[len(text)] the char count.
	index := make([]int, len(text)+1)
	ci := 0
	for b := 0; b < len(text); {
		_, sz := utf8.DecodeRuneInString(text[b:])
		for k := 0; k < sz; k++ {
			index[b+k] = ci
		}
		b += sz
		ci++
	}
	index[len(text)] = ci
	in := func(p int) bool { return p >= 0 && p < len(index) }
	out := make([][2]int, len(offsets))
	for i, o := range offsets {
		s, e := o[0], o[1]
		switch {
		case in(s) && in(e):
			out[i] = [2]int{index[s], index[e]}
		case in(s):
			last := index[s] + 1
			if in(e - 1) {
				last = index[e-1] + 1
			}
			out[i] = [2]int{index[s], last}
		default:
			out[i] = o
		}
	}
	return out
}
