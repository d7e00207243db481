package hf

import (
	"github.com/optiformer/optiformer/tokenizer"
)

// token is one model output: an id, its string and its byte offsets in the normalized piece.
type token struct {
	id    int
	value string
	s, e  int
}

// psplit is one piece of a pre-tokenized string, with its tokens once known.
type psplit struct {
	n    nstr
	toks []token
	done bool
}

// pretok ports PreTokenizedString: the pieces a text is split into before the model runs.
type pretok struct {
	orig    string
	splits  []psplit
	scratch []psplit
	toks    []token // model output buffer
	itoks   []itok  // encoding buffer
}

func (p *pretok) reset(text string) {
	p.orig = text
	p.splits = append(p.splits[:0], psplit{n: nstr{orig: text, norm: text}})
}

// split replaces every piece without tokens by the pieces f appends to out (empty pieces
// are dropped).
func (p *pretok) split(f func(n *nstr, out []psplit) ([]psplit, error)) error {
	out := p.scratch[:0]
	for i := range p.splits {
		s := &p.splits[i]
		if s.done {
			out = append(out, *s)
			continue
		}
		start := len(out)
		var err error
		if out, err = f(&s.n, out); err != nil {
			return err
		}
		// drop empty pieces
		k := start
		for j := start; j < len(out); j++ {
			if out[j].n.norm != "" {
				out[k] = out[j]
				k++
			}
		}
		out = out[:k]
	}
	p.scratch, p.splits = p.splits, out
	return nil
}

// itok is a token of an encoding being built.
type itok struct {
	value   string
	id      int32
	s, e    int32
	word    int32
	typeID  int32
	seq     int8 // -1: special token added by post-processing
	special bool
}

// intoTokens lists the tokens with offsets mapped back to the original text, the word id of
// each being the index of its piece (Rust into_encoding).
func (p *pretok) intoTokens(typeID int, out []itok) ([]itok, error) {
	for i := range p.splits {
		s := &p.splits[i]
		if s.n.bad {
			return nil, errAlign
		}
		base, _ := s.n.offsetsOriginal()
		for _, t := range s.toks {
			st, en := t.s, t.e
			if rs, re, ok := s.n.convertNormalized(t.s, t.e); ok {
				st, en = base+rs, base+re
			}
			out = append(out, itok{id: int32(t.id), value: t.value, s: int32(st), e: int32(en), word: int32(i), typeID: int32(typeID)})
		}
	}
	return out, nil
}

// toEncoding builds the public encoding from the segments of tokens.
func toEncoding(segs ienc) *tokenizer.Encoding {
	n := 0
	for _, seg := range segs {
		n += len(seg)
	}
	ints := make([]int, 6*n)
	e := &tokenizer.Encoding{
		IDs:               ints[0*n : 1*n : 1*n],
		TypeIDs:           ints[1*n : 2*n : 2*n],
		SpecialTokensMask: ints[2*n : 3*n : 3*n],
		WordIDs:           ints[3*n : 4*n : 4*n],
		AttentionMask:     ints[4*n : 5*n : 5*n],
		SequenceIDs:       ints[5*n : 6*n : 6*n],
		Tokens:            make([]string, n),
		Offsets:           make([][2]int, n),
	}
	i := 0
	for _, seg := range segs {
		for k := range seg {
			t := &seg[k]
			e.IDs[i] = int(t.id)
			e.Tokens[i] = t.value
			e.Offsets[i] = [2]int{int(t.s), int(t.e)}
			e.TypeIDs[i] = int(t.typeID)
			if t.special {
				e.SpecialTokensMask[i] = 1
			}
			e.WordIDs[i] = int(t.word)
			e.AttentionMask[i] = 1
			e.SequenceIDs[i] = int(t.seq)
			i++
		}
	}
	return e
}
