package hf

import "errors"

// wordLevel maps each word to its id, or to the unk token.
type wordLevel struct {
	*vocab
	unk string
}

func (w *wordLevel) tokenize(s string, out []token) ([]token, error) {
	if id, ok := w.ids[s]; ok {
		return append(out, token{id: id, value: s, s: 0, e: len(s)}), nil
	}
	if id, ok := w.ids[w.unk]; ok {
		return append(out, token{id: id, value: w.unk, s: 0, e: len(s)}), nil
	}
	return out, errors.New("hf: WordLevel: the unk token is not in the vocabulary")
}
