package hf

import (
	"errors"
	"unicode/utf8"
)

// wordPiece is the WordPiece model: greedy longest-match-first, continuing pieces prefixed.
type wordPiece struct {
	*vocab
	unk      string
	prefix   string
	maxChars int
	unkID    int
	hasUnk   bool
	// maxLen is the byte length of the longest vocabulary entry: longer candidates cannot
	// match, so the greedy search starts there instead of at the end of the word.
	maxLen int
}

var errMissingUnk = errors.New("hf: WordPiece: the unk token is not in the vocabulary")

func (w *wordPiece) unkToken(s string, out []token) ([]token, error) {
	if !w.hasUnk {
		return out, errMissingUnk
	}
	return append(out, token{id: w.unkID, value: w.unk, s: 0, e: len(s)}), nil
}

func (w *wordPiece) tokenize(s string, out []token) ([]token, error) {
	if utf8.RuneCountInString(s) > w.maxChars {
		return w.unkToken(s, out)
	}
	base := len(out)
	var arr [64]byte
	buf := arr[:0]
	start := 0
	for start < len(s) {
		end := len(s)
		limit := start + w.maxLen
		if start > 0 {
			limit -= len(w.prefix)
		}
		if limit < end {
			end = limit
			for end > start && !utf8.RuneStart(s[end]) {
				end--
			}
		}
		found := false
		for start < end {
			var id int
			var ok bool
			var val string
			if start > 0 {
				buf = append(append(buf[:0], w.prefix...), s[start:end]...)
				id, ok = w.ids[string(buf)]
				if ok {
					if v, found := w.idToToken(id); found && v == string(buf) {
						val = v
					} else {
						val = string(buf)
					}
				}
			} else {
				id, ok = w.ids[s[start:end]]
				val = s[start:end]
			}
			if ok {
				out = append(out, token{id: id, value: val, s: start, e: end})
				found = true
				break
			}
			_, sz := utf8.DecodeLastRuneInString(s[start:end])
			end -= sz
		}
		if !found {
			return w.unkToken(s, out[:base])
		}
		start = end
	}
	return out, nil
}
