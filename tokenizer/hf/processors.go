package hf

import (
	"errors"
)

type postSeq []postProcessor

func (s postSeq) addedTokens(pair bool) int {
	n := 0
	for _, p := range s {
		n += p.addedTokens(pair)
	}
	return n
}

func (s postSeq) processEncodings(encs []ienc, texts []string, add bool) ([]ienc, error) {
	var err error
	for _, p := range s {
		if encs, err = p.processEncodings(encs, texts, add); err != nil {
			return nil, err
		}
	}
	return encs, nil
}

func specialTok(id int, tok string, typeID int) itok {
	return itok{id: int32(id), value: tok, word: -1, typeID: int32(typeID), seq: -1, special: true}
}

// ienc is an encoding being post-processed, as segments of tokens (the segments of the
// texts are not copied).
type ienc [][]itok

func (e ienc) each(f func(t *itok)) {
	for _, seg := range e {
		for k := range seg {
			f(&seg[k])
		}
	}
}

// wrap surrounds e with special tokens.
func wrap(e ienc, pre, post []itok) ienc {
	out := make(ienc, 0, len(e)+2)
	if len(pre) > 0 {
		out = append(out, pre)
	}
	out = append(out, e...)
	if len(post) > 0 {
		out = append(out, post)
	}
	return out
}

// bertPost is BertProcessing: [CLS] A [SEP] and [CLS] A [SEP] B [SEP].
type bertPost struct {
	sepID, clsID   int
	sepTok, clsTok string
}

func (bertPost) addedTokens(pair bool) int {
	if pair {
		return 3
	}
	return 2
}

func (b bertPost) processEncodings(encs []ienc, _ []string, add bool) ([]ienc, error) {
	if !add {
		return encs, nil
	}
	for i, e := range encs {
		if i == 0 {
			encs[i] = wrap(e, []itok{specialTok(b.clsID, b.clsTok, 0)}, []itok{specialTok(b.sepID, b.sepTok, 0)})
		} else {
			encs[i] = wrap(e, nil, []itok{specialTok(b.sepID, b.sepTok, 1)})
		}
	}
	return encs, nil
}

// robertaPost is RobertaProcessing: <s> A </s> and <s> A </s></s> B </s>, all type ids 0.
type robertaPost struct {
	sepID, clsID                int
	sepTok, clsTok              string
	trimOffsets, addPrefixSpace bool
}

func (robertaPost) addedTokens(pair bool) int {
	if pair {
		return 4
	}
	return 2
}

func (r robertaPost) processEncodings(encs []ienc, texts []string, add bool) ([]ienc, error) {
	if r.trimOffsets {
		for i, e := range encs {
			for _, seg := range e {
				trimOffsets(seg, textOf(texts, i), r.addPrefixSpace)
			}
		}
	}
	for _, e := range encs {
		e.each(func(t *itok) { t.typeID = 0 })
	}
	if !add {
		return encs, nil
	}
	for i, e := range encs {
		if i == 0 {
			encs[i] = wrap(e, []itok{specialTok(r.clsID, r.clsTok, 0)}, []itok{specialTok(r.sepID, r.sepTok, 0)})
		} else {
			encs[i] = wrap(e, []itok{specialTok(r.sepID, r.sepTok, 0)}, []itok{specialTok(r.sepID, r.sepTok, 0)})
		}
	}
	return encs, nil
}

// piece is one item of a template: a sequence (seq 0 or 1) or a special token.
type piece struct {
	isSeq   bool
	seq     int
	special string
	typeID  int
}

type specialToks struct {
	ids  []int
	toks []string
}

// templatePost is TemplateProcessing.
type templatePost struct {
	single, pair []piece
	specials     map[string]specialToks
}

func (t *templatePost) count(ps []piece) int {
	n := 0
	for _, p := range ps {
		if !p.isSeq {
			n += len(t.specials[p.special].ids)
		}
	}
	return n
}

func (t *templatePost) addedTokens(pair bool) int {
	if pair {
		return t.count(t.pair)
	}
	return t.count(t.single)
}

func (t *templatePost) processEncodings(encs []ienc, _ []string, add bool) ([]ienc, error) {
	tpl := t.single
	if len(encs) == 2 {
		tpl = t.pair
	}
	var out ienc
	used := [2]bool{}
	for _, p := range tpl {
		if p.isSeq {
			if p.seq >= len(encs) {
				return nil, errors.New("hf: post_processor: the template uses sequence B for a single text")
			}
			e := encs[p.seq]
			if used[p.seq] {
				// a sequence used twice gets its own copy
				var c ienc
				for _, seg := range e {
					c = append(c, append([]itok(nil), seg...))
				}
				e = c
			}
			used[p.seq] = true
			e.each(func(x *itok) { x.typeID, x.seq = int32(p.typeID), int8(p.seq) })
			out = append(out, e...)
			continue
		}
		if add {
			sp := t.specials[p.special]
			seg := make([]itok, len(sp.ids))
			for k, id := range sp.ids {
				seg[k] = specialTok(id, sp.toks[k], p.typeID)
			}
			out = append(out, seg)
		}
	}
	return []ienc{out}, nil
}

func textOf(texts []string, i int) string {
	if i < len(texts) {
		return texts[i]
	}
	return ""
}
