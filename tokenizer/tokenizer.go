// Package tokenizer turns text into token ids and back, exactly as the reference libraries
// do: Hugging Face's tokenizers (tokenizer.json, package tokenizer/hf) and SentencePiece
// (.model/.spm files, package tokenizer/spm). It imports nothing else of ours and only the
// standard library.
//
// Offsets are UTF-8 byte offsets into the text given to Encode, [start, end); commands convert
// them to Unicode code points when asked.
package tokenizer

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Encoding is the result of encoding a text or a pair of texts. All slices have one entry per
// token.
type Encoding struct {
	IDs     []int
	Tokens  []string
	Offsets [][2]int // byte offsets into the input, [start, end); special tokens get [0, 0]
	// TypeIDs is the segment of each token (0 for the first text of a pair, 1 for the second).
	TypeIDs []int
	// SpecialTokensMask is 1 for tokens added by post-processing (CLS, SEP, </s>, …).
	SpecialTokensMask []int
	// WordIDs is the index of the pre-tokenized word each token came from, -1 for none.
	WordIDs []int
	// AttentionMask is 1 for real tokens and 0 for padding (set by EncodeBatch).
	AttentionMask []int
	// SequenceIDs is 0 or 1 for tokens of the first or second text, -1 for special tokens.
	SequenceIDs []int
}

// Len is the number of tokens.
func (e *Encoding) Len() int { return len(e.IDs) }

// Tokenizer encodes and decodes text.
type Tokenizer interface {
	// Encode tokenizes text; with addSpecial the post-processor adds its special tokens.
	Encode(text string, addSpecial bool) (*Encoding, error)
	// EncodePair tokenizes a pair of texts (question and context, say).
	EncodePair(a, b string, addSpecial bool) (*Encoding, error)
	// Decode turns ids back into text; skipSpecial leaves special tokens out.
	Decode(ids []int, skipSpecial bool) (string, error)
	// VocabSize is the number of ids, added tokens included.
	VocabSize() int
	// TokenToID and IDToToken look up the vocabulary.
	TokenToID(token string) (int, bool)
	IDToToken(id int) (string, bool)
}

// Truncation says how EncodeBatch shortens encodings longer than MaxLength.
type Truncation int

const (
	NoTruncation Truncation = iota
	// LongestFirst removes tokens from the longer text of a pair first (HF's default).
	LongestFirst
	OnlyFirst
	OnlySecond
)

// BatchOptions control EncodeBatch.
type BatchOptions struct {
	AddSpecial bool
	// MaxLength, when > 0, is the longest encoding kept (special tokens included).
	MaxLength  int
	Truncation Truncation
	// Pad pads every encoding to the longest of the batch (or to MaxLength with PadToMax).
	Pad      bool
	PadToMax bool
	PadID    int
	PadToken string
	// Threads encodes texts in parallel (0: one per GOMAXPROCS); results keep their order.
	Threads int
}

// ErrTooLong is returned when truncation cannot bring an encoding within MaxLength.
var ErrTooLong = errors.New("tokenizer: encoding longer than the maximum length")

// Truncator is implemented by tokenizers that can truncate a pair's tokens before
// post-processing (so special tokens stay), as Hugging Face does. EncodeBatch uses it when
// present and otherwise truncates the finished encoding from the end.
type Truncator interface {
	EncodeTruncated(a string, b *string, addSpecial bool, maxLength int, strategy Truncation) (*Encoding, error)
}

// EncodeBatch encodes texts (and, when pairs is not nil, pairs[i] with texts[i]) with
// truncation and padding, on several goroutines.
func EncodeBatch(t Tokenizer, texts []string, pairs []string, o BatchOptions) ([]*Encoding, error) {
	if pairs != nil && len(pairs) != len(texts) {
		return nil, fmt.Errorf("tokenizer: %d texts and %d pair texts", len(texts), len(pairs))
	}
	out := make([]*Encoding, len(texts))
	errs := make([]error, len(texts))
	threads := o.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	// Workers take chunks of consecutive texts: one atomic add per chunk, not per text.
	const chunk = 16
	threads = max(1, min(threads, (len(texts)+chunk-1)/chunk))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(texts) {
					return
				}
				for i := lo; i < min(lo+chunk, len(texts)); i++ {
					out[i], errs[i] = encodeOne(t, texts[i], pairs, i, o)
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("tokenizer: text %d: %w", i, err)
		}
	}
	if o.Pad {
		width := 0
		for _, e := range out {
			width = max(width, e.Len())
		}
		if o.PadToMax && o.MaxLength > 0 {
			width = o.MaxLength
		}
		for _, e := range out {
			pad(e, width, o.PadID, o.PadToken)
		}
	} else {
		for _, e := range out {
			if e.AttentionMask == nil {
				e.AttentionMask = ones(e.Len())
			}
		}
	}
	return out, nil
}

func encodeOne(t Tokenizer, text string, pairs []string, i int, o BatchOptions) (*Encoding, error) {
	var b *string
	if pairs != nil {
		b = &pairs[i]
	}
	if o.MaxLength > 0 && o.Truncation != NoTruncation {
		if tr, ok := t.(Truncator); ok {
			return tr.EncodeTruncated(text, b, o.AddSpecial, o.MaxLength, o.Truncation)
		}
	}
	var e *Encoding
	var err error
	if b != nil {
		e, err = t.EncodePair(text, *b, o.AddSpecial)
	} else {
		e, err = t.Encode(text, o.AddSpecial)
	}
	if err != nil {
		return nil, err
	}
	if o.MaxLength > 0 && e.Len() > o.MaxLength {
		if o.Truncation == NoTruncation {
			return nil, fmt.Errorf("%w: %d tokens, maximum %d", ErrTooLong, e.Len(), o.MaxLength)
		}
		truncateEnd(e, o.MaxLength)
	}
	return e, nil
}

func ones(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

// truncateEnd cuts every field of e to n tokens.
func truncateEnd(e *Encoding, n int) {
	e.IDs, e.Tokens, e.Offsets = e.IDs[:n], e.Tokens[:n], e.Offsets[:n]
	cut := func(s []int) []int {
		if len(s) > n {
			return s[:n]
		}
		return s
	}
	e.TypeIDs, e.SpecialTokensMask, e.WordIDs = cut(e.TypeIDs), cut(e.SpecialTokensMask), cut(e.WordIDs)
	e.AttentionMask, e.SequenceIDs = cut(e.AttentionMask), cut(e.SequenceIDs)
}

// pad extends e to width tokens with padding on the right.
func pad(e *Encoding, width, id int, token string) {
	n := e.Len()
	if e.AttentionMask == nil {
		e.AttentionMask = ones(n)
	}
	for i := n; i < width; i++ {
		e.IDs = append(e.IDs, id)
		e.Tokens = append(e.Tokens, token)
		e.Offsets = append(e.Offsets, [2]int{0, 0})
		e.TypeIDs = append(e.TypeIDs, 0)
		e.SpecialTokensMask = append(e.SpecialTokensMask, 1)
		e.WordIDs = append(e.WordIDs, -1)
		e.AttentionMask = append(e.AttentionMask, 0)
		e.SequenceIDs = append(e.SequenceIDs, -1)
	}
}
