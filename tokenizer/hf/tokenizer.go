// Package hf loads Hugging Face tokenizer.json files and tokenizes exactly as Hugging Face's
// Rust tokenizers library (version 0.23) does: same ids, tokens, offsets, type ids, special
// token masks, word ids and decoded text.
//
// The pipeline is the Rust one: added tokens are split out of the raw text, the rest is
// normalized (keeping, for every normalized byte, the original bytes it comes from), split
// again around added tokens matched in the normalized text, pre-tokenized into words, cut
// into tokens by the model, mapped back to offsets in the caller's text and post-processed
// (special tokens, type ids). Offsets are UTF-8 byte offsets; tokenizer.CharOffsets converts
// them to code points.
//
// Files are treated as hostile: every malformed field gives an error naming it ("hf:
// model.vocab: ..."), sizes are bounded and no input panics.
package hf

import (
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/optiformer/optiformer/tokenizer"
)

var errAlign = errors.New("hf: internal error: offsets out of range")

// MaxTextLen bounds the texts Encode accepts (offsets are kept in 32 bits, and
// normalizers may make the text a few times longer).
const MaxTextLen = 1 << 28

type normalizer interface {
	normalize(n *nstr) error
}

type preTokenizer interface {
	preTokenize(p *pretok) error
}

type model interface {
	// tokenize appends the tokens of one pre-tokenized word to out.
	tokenize(s string, out []token) ([]token, error)
	tokenToID(s string) (int, bool)
	idToToken(id int) (string, bool)
	vocabSize() int
}

type postProcessor interface {
	// addedTokens is the number of special tokens added to a single text or a pair.
	addedTokens(pair bool) int
	// processEncodings adds special tokens and sets type ids (Rust process_encodings);
	// texts[i] is the text encs[i] comes from (offset trimming moves by its chars).
	processEncodings(encs []ienc, texts []string, addSpecial bool) ([]ienc, error)
}

type decoder interface {
	decodeChain(tokens []string) ([]string, error)
}

// Tokenizer is a loaded tokenizer.json. It is safe for concurrent use.
type Tokenizer struct {
	normalizer   normalizer
	preTokenizer preTokenizer
	model        model
	post         postProcessor
	decoder      decoder
	added        *addedVocab
	// Truncation and Padding are the settings found in the file; Encode ignores them
	// (tokenizer.EncodeBatch takes its own), they are kept for callers that want them.
	Truncation *TruncationParams
	Padding    *PaddingParams
}

// TruncationParams is tokenizer.json's "truncation".
type TruncationParams struct {
	MaxLength int
	Strategy  tokenizer.Truncation
	Stride    int
	Direction string // "Right" or "Left"
}

// PaddingParams is tokenizer.json's "padding".
type PaddingParams struct {
	Strategy         string // "BatchLongest" or "Fixed"
	Length           int    // for Fixed
	Direction        string
	PadToMultipleOf  int
	PadID, PadTypeID int
	PadToken         string
}

var (
	_ tokenizer.Tokenizer = (*Tokenizer)(nil)
	_ tokenizer.Truncator = (*Tokenizer)(nil)
)

var pretokPool = sync.Pool{New: func() any { return &pretok{} }}

// encodeSingle runs the pipeline up to the model on one text and appends its tokens to out.
func (t *Tokenizer) encodeSingle(p *pretok, text string, typeID int, out []itok) ([]itok, error) {
	if !utf8.ValidString(text) {
		return nil, errors.New("hf: the text is not valid UTF-8")
	}
	if len(text) > MaxTextLen {
		return nil, fmt.Errorf("hf: text of %d bytes exceeds the limit of %d", len(text), MaxTextLen)
	}
	if err := t.added.extractAndNormalize(p, t.normalizer, text); err != nil {
		return nil, err
	}
	if t.preTokenizer != nil {
		if err := t.preTokenizer.preTokenize(p); err != nil {
			return nil, err
		}
	}
	buf := p.toks[:0]
	var err error
	for i := range p.splits {
		s := &p.splits[i]
		if s.done {
			continue
		}
		start := len(buf)
		buf, err = t.model.tokenize(s.n.norm, buf)
		if err != nil {
			return nil, err
		}
		s.toks = buf[start:len(buf):len(buf)]
		s.done = true
	}
	p.toks = buf
	return p.intoTokens(typeID, out)
}

func getPretok() *pretok { return pretokPool.Get().(*pretok) }

// putPretok returns p to the pool. Its buffers may keep pieces of the last text alive until
// the pool drops p (at the latest after two garbage collections).
func putPretok(p *pretok) {
	p.orig = ""
	pretokPool.Put(p)
}

// Encode tokenizes text; with addSpecial the post-processor adds its special tokens.
func (t *Tokenizer) Encode(text string, addSpecial bool) (*tokenizer.Encoding, error) {
	p := getPretok()
	defer putPretok(p)
	e, err := t.encodeSingle(p, text, 0, p.itoks[:0])
	if err != nil {
		return nil, err
	}
	p.itoks = e
	return t.postProcess(e, nil, false, []string{text}, addSpecial)
}

// EncodePair tokenizes a pair of texts.
func (t *Tokenizer) EncodePair(a, b string, addSpecial bool) (*tokenizer.Encoding, error) {
	p := getPretok()
	defer putPretok(p)
	e, err := t.encodeSingle(p, a, 0, nil)
	if err != nil {
		return nil, err
	}
	q, err := t.encodeSingle(p, b, 1, nil)
	if err != nil {
		return nil, err
	}
	return t.postProcess(e, q, true, []string{a, b}, addSpecial)
}

// EncodeTruncated encodes a (and b when not nil) and truncates the tokens of the texts so
// the result, special tokens included, has at most maxLength tokens, as Hugging Face's
// truncation does (stride 0, from the right).
func (t *Tokenizer) EncodeTruncated(a string, b *string, addSpecial bool, maxLength int, strategy tokenizer.Truncation) (*tokenizer.Encoding, error) {
	pt := getPretok()
	defer putPretok(pt)
	e, err := t.encodeSingle(pt, a, 0, nil)
	if err != nil {
		return nil, err
	}
	var p []itok
	texts := []string{a}
	if b != nil {
		if p, err = t.encodeSingle(pt, *b, 1, nil); err != nil {
			return nil, err
		}
		texts = append(texts, *b)
	}
	if strategy != tokenizer.NoTruncation && maxLength > 0 {
		limit := maxLength
		if addSpecial && t.post != nil {
			limit -= t.post.addedTokens(b != nil)
		}
		if limit < 0 {
			return nil, fmt.Errorf("%w: %d special tokens, maximum %d", tokenizer.ErrTooLong, maxLength-limit, maxLength)
		}
		if e, p, err = truncatePair(e, p, b != nil, limit, strategy); err != nil {
			return nil, err
		}
	}
	out, err := t.postProcess(e, p, b != nil, texts, addSpecial)
	if err != nil {
		return nil, err
	}
	if strategy == tokenizer.NoTruncation && maxLength > 0 && out.Len() > maxLength {
		return nil, fmt.Errorf("%w: %d tokens, maximum %d", tokenizer.ErrTooLong, out.Len(), maxLength)
	}
	return out, nil
}

// truncatePair is Rust's truncate_encodings (stride 0, direction right).
func truncatePair(e, p []itok, pair bool, maxLen int, strategy tokenizer.Truncation) ([]itok, []itok, error) {
	if maxLen == 0 {
		return e[:0], p[:0], nil
	}
	total := len(e) + len(p)
	if total <= maxLen {
		return e, p, nil
	}
	toRemove := total - maxLen
	switch strategy {
	case tokenizer.LongestFirst:
		if !pair {
			return e[:total-toRemove], p, nil
		}
		n1, n2 := len(e), len(p)
		swap := false
		if n1 > n2 {
			swap = true
			n1, n2 = n2, n1
		}
		if n1 > maxLen {
			n2 = n1
		} else {
			n2 = max(n1, maxLen-n1)
		}
		if n1+n2 > maxLen {
			n1 = maxLen / 2
			n2 = n1 + maxLen%2
		}
		if swap {
			n1, n2 = n2, n1
		}
		return e[:min(n1, len(e))], p[:min(n2, len(p))], nil
	case tokenizer.OnlyFirst:
		if len(e) <= toRemove {
			return nil, nil, fmt.Errorf("%w: the text to truncate is too short", tokenizer.ErrTooLong)
		}
		return e[:len(e)-toRemove], p, nil
	case tokenizer.OnlySecond:
		if !pair {
			return nil, nil, errors.New("hf: truncation OnlySecond needs a second text")
		}
		if len(p) <= toRemove {
			return nil, nil, fmt.Errorf("%w: the text to truncate is too short", tokenizer.ErrTooLong)
		}
		return e, p[:len(p)-toRemove], nil
	}
	return e, p, nil
}

func (t *Tokenizer) postProcess(e, p []itok, pair bool, texts []string, addSpecial bool) (*tokenizer.Encoding, error) {
	encs := []ienc{{e}}
	if pair {
		encs = append(encs, ienc{p})
	}
	for i, x := range encs {
		x.each(func(t *itok) { t.seq = int8(i) })
	}
	if t.post != nil {
		var err error
		if encs, err = t.post.processEncodings(encs, texts, addSpecial); err != nil {
			return nil, err
		}
	}
	var all ienc
	for _, x := range encs {
		all = append(all, x...)
	}
	return toEncoding(all), nil
}

// Decode turns ids back into text; unknown ids are skipped, as in Rust.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) (string, error) {
	toks := make([]string, 0, len(ids))
	for _, id := range ids {
		s, ok := t.IDToToken(id)
		if !ok {
			continue
		}
		if skipSpecial && t.added.special[s] {
			continue
		}
		toks = append(toks, s)
	}
	if t.decoder == nil {
		return joinSpace(toks), nil
	}
	parts, err := t.decoder.decodeChain(toks)
	if err != nil {
		return "", err
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = append(b, p...)
	}
	return string(b), nil
}

func joinSpace(toks []string) string {
	n := 0
	for _, s := range toks {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range toks {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	return string(b)
}

// VocabSize is the number of distinct tokens, added tokens included (Rust
// get_vocab_size(true)).
func (t *Tokenizer) VocabSize() int {
	n := t.model.vocabSize()
	for s := range t.added.byContent {
		if _, ok := t.model.tokenToID(s); !ok {
			n++
		}
	}
	return n
}

// TokenToID looks a token up, added tokens first.
func (t *Tokenizer) TokenToID(s string) (int, bool) {
	if id, ok := t.added.byContent[s]; ok {
		return id, true
	}
	return t.model.tokenToID(s)
}

// IDToToken looks an id up, added tokens first.
func (t *Tokenizer) IDToToken(id int) (string, bool) {
	if s, ok := t.added.decodeForm(id); ok {
		return s, true
	}
	return t.model.idToToken(id)
}

// IsSpecial reports whether a token is a special added token (left out by Decode with
// skipSpecial).
func (t *Tokenizer) IsSpecial(s string) bool { return t.added.special[s] }
