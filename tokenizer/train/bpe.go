package train

import (
	"fmt"
	"iter"
	"slices"
	"unicode/utf8"
)

// ByteLevelOptions configure ByteLevelBPE.
type ByteLevelOptions struct {
	// VocabSize is the number of tokens: special tokens, the 256 byte-level chars and the
	// merged tokens. Training stops earlier when no pair is left to merge.
	VocabSize int
	// MinFrequency: pairs seen fewer times in the corpus are not merged (0 or 1: any pair).
	MinFrequency int
	// SpecialTokens take ids 0, 1, … in this order (e.g. "<pad>", "<s>", "</s>", "<unk>").
	SpecialTokens []string
	// AddPrefixSpace adds a space before each text that does not start with one, so that the
	// first word is tokenized like the others (GPT-2 and RoBERTa do not). Decoding then
	// returns that space.
	AddPrefixSpace bool
	// Lowercase adds the Lowercase normalizer (decoding is then no longer lossless).
	Lowercase bool
	// MaxTokenLength, when > 0, is the longest merged token, in bytes.
	MaxTokenLength int
	// Threads is the number of goroutines counting words (0: GOMAXPROCS).
	Threads int
}

// CharBPEOptions configure CharBPE.
type CharBPEOptions struct {
	// VocabSize is the number of tokens: special tokens (the unknown token included), the
	// alphabet, its end-of-word variants ("e</w>") and the merged tokens. Training stops
	// earlier when no pair is left to merge.
	VocabSize int
	// MinFrequency: pairs seen fewer times in the corpus are not merged (0 or 1: any pair).
	MinFrequency int
	// SpecialTokens take ids 0, 1, … in this order.
	SpecialTokens []string
	// UnkToken is the token of chars outside the alphabet ("" means "<unk>"). It is appended
	// to SpecialTokens when not among them.
	UnkToken string
	// Lowercase lowercases the text (in the BertNormalizer).
	Lowercase bool
	// LimitAlphabet, when > 0, keeps only the most frequent chars in the alphabet; the others
	// are encoded as UnkToken.
	LimitAlphabet int
	// MaxTokenLength, when > 0, is the longest merged token, in chars (the suffix excluded).
	MaxTokenLength int
	// Threads is the number of goroutines counting words (0: GOMAXPROCS).
	Threads int
}

// charSuffix marks the last symbol of a word in character BPE.
const charSuffix = "</w>"

func checkBPE(vocabSize, minFreq, maxLen, threads int, specials []string) error {
	if err := checkCommon(vocabSize, threads, specials); err != nil {
		return err
	}
	if minFreq < 0 {
		return fmt.Errorf("train: minimum frequency %d is negative", minFreq)
	}
	if maxLen < 0 {
		return fmt.Errorf("train: maximum token length %d is negative", maxLen)
	}
	return nil
}

// ByteLevelBPE trains a byte-level BPE tokenizer (GPT-2, RoBERTa; Hugging Face's
// ByteLevelBPETokenizer) and returns its tokenizer.json.
//
// The text is cut by the ByteLevel pre-tokenizer (GPT-2's regex, then every byte mapped to
// a printable char); the BPE starts from the 256 byte chars, so every text is encoded
// without unknown tokens, and the ByteLevel decoder restores it exactly. The file has no
// normalizer (Lowercase with o.Lowercase), the ByteLevel pre-tokenizer, post-processor and
// decoder, and a BPE model without unk_token.
func ByteLevelBPE(corpus iter.Seq[string], o ByteLevelOptions) ([]byte, error) {
	if err := checkBPE(o.VocabSize, o.MinFrequency, o.MaxTokenLength, o.Threads, o.SpecialTokens); err != nil {
		return nil, err
	}
	b := newBPEBuilder(o.SpecialTokens)
	var byteID [256]int32
	alphabet := make([]string, 256)
	for i := range 256 {
		alphabet[i] = string(byteChar[i])
	}
	slices.Sort(alphabet) // by code point, as Hugging Face's trainer orders its alphabet
	for _, s := range alphabet {
		b.add(s)
	}
	for i := range 256 {
		byteID[i] = b.ids[string(byteChar[i])]
	}
	if o.VocabSize < len(b.vocab) {
		return nil, fmt.Errorf("train: vocabulary size %d is smaller than the %d special tokens and 256 byte-level chars",
			o.VocabSize, len(o.SpecialTokens))
	}
	words, err := countWords(corpus, threadCount(o.Threads), func(text string, emit func(string)) {
		byteLevelWords(text, o.AddPrefixSpace, o.Lowercase, emit)
	})
	if err != nil {
		return nil, err
	}
	syms := make([][]int32, len(words))
	counts := make([]int64, len(words))
	for i, w := range words {
		s := make([]int32, len(w.word))
		for k := 0; k < len(w.word); k++ {
			s[k] = byteID[w.word[k]]
		}
		syms[i], counts[i] = s, w.count
	}
	merges := b.learn(syms, counts, o.VocabSize, int64(o.MinFrequency), o.MaxTokenLength)
	f := &file{
		specials:     o.SpecialTokens,
		preTokenizer: byteLevelJSON{"ByteLevel", o.AddPrefixSpace, true, true},
		post:         byteLevelJSON{"ByteLevel", o.AddPrefixSpace, true, true},
		decoder:      byteLevelJSON{"ByteLevel", true, true, true},
		model:        bpeModel(b.vocab, merges, "", ""),
	}
	if o.Lowercase {
		f.normalizer = typed{"Lowercase"}
	}
	return f.marshal(), nil
}

// CharBPE trains a character-level BPE tokenizer with the end-of-word suffix "</w>"
// (Hugging Face's CharBPETokenizer) and returns its tokenizer.json.
//
// Normalizer: NFKC, then BertNormalizer (control chars removed, whitespace made ' ', CJK
// ideographs split apart, accents kept, lowercase with o.Lowercase). NFKC folds
// compatibility forms (ligatures, full-width letters) so that they share tokens with their
// plain forms. Pre-tokenizer: BertPreTokenizer (split on whitespace, every punctuation char
// its own word). Decoder: BPEDecoder, which joins words with single spaces, so decoding
// gives the pre-tokenized words separated by spaces (a space appears before punctuation).
func CharBPE(corpus iter.Seq[string], o CharBPEOptions) ([]byte, error) {
	if err := checkBPE(o.VocabSize, o.MinFrequency, o.MaxTokenLength, o.Threads, o.SpecialTokens); err != nil {
		return nil, err
	}
	if o.LimitAlphabet < 0 {
		return nil, fmt.Errorf("train: alphabet limit %d is negative", o.LimitAlphabet)
	}
	unk := o.UnkToken
	if unk == "" {
		unk = "<unk>"
	}
	specials := withUnk(o.SpecialTokens, unk)
	if err := checkCommon(o.VocabSize, o.Threads, specials); err != nil {
		return nil, err
	}
	words, err := countWords(corpus, threadCount(o.Threads), func(text string, emit func(string)) {
		charBPEWords(text, o.Lowercase, emit)
	})
	if err != nil {
		return nil, err
	}

	// The alphabet: every char, or the LimitAlphabet most frequent ones.
	freq := map[rune]int64{}
	for _, w := range words {
		for _, r := range w.word {
			freq[r] += w.count
		}
	}
	chars := make([]rune, 0, len(freq))
	for r := range freq {
		chars = append(chars, r)
	}
	if o.LimitAlphabet > 0 && len(chars) > o.LimitAlphabet {
		slices.SortFunc(chars, func(a, b rune) int {
			if freq[a] != freq[b] {
				return int(sign(freq[b] - freq[a]))
			}
			return int(a - b)
		})
		chars = chars[:o.LimitAlphabet]
	}
	slices.Sort(chars)
	inAlphabet := make(map[rune]bool, len(chars))
	b := newBPEBuilder(specials)
	for _, r := range chars {
		inAlphabet[r] = true
		b.add(string(r))
	}
	// End-of-word variants of the chars that end words, in code point order.
	var finals []rune
	seen := map[rune]bool{}
	for _, w := range words {
		r, _ := utf8.DecodeLastRuneInString(w.word)
		if inAlphabet[r] && !seen[r] {
			seen[r] = true
			finals = append(finals, r)
		}
	}
	slices.Sort(finals)
	for _, r := range finals {
		b.add(string(r) + charSuffix)
	}
	if o.VocabSize < len(b.vocab) {
		return nil, fmt.Errorf("train: vocabulary size %d is smaller than the %d initial tokens (%d special, %d chars, %d end-of-word chars); raise it or set LimitAlphabet",
			o.VocabSize, len(b.vocab), len(specials), len(chars), len(finals))
	}

	syms := make([][]int32, len(words))
	counts := make([]int64, len(words))
	for i, w := range words {
		s := make([]int32, 0, len(w.word))
		last, _ := utf8.DecodeLastRuneInString(w.word)
		for k, r := range w.word {
			if !inAlphabet[r] {
				continue // as Hugging Face's trainer: chars outside the alphabet are skipped
			}
			if k+utf8.RuneLen(r) == len(w.word) && r == last {
				s = append(s, b.ids[string(r)+charSuffix])
			} else {
				s = append(s, b.ids[string(r)])
			}
		}
		syms[i], counts[i] = s, w.count
	}
	merges := b.learn(syms, counts, o.VocabSize, int64(o.MinFrequency), o.MaxTokenLength)
	f := &file{
		specials: specials,
		normalizer: sequenceNormalizer{"Sequence", []any{
			typed{"NFKC"},
			bertNormalizerJSON{"BertNormalizer", true, true, false, o.Lowercase},
		}},
		preTokenizer: typed{"BertPreTokenizer"},
		decoder:      bpeDecoderJSON{"BPEDecoder", charSuffix},
		model:        bpeModel(b.vocab, merges, unk, charSuffix),
	}
	return f.marshal(), nil
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// bpeBuilder holds the vocabulary of a BPE being trained.
type bpeBuilder struct {
	vocab []string
	ids   map[string]int32
	// symLen is the length of each token in initial symbols (bytes or chars), for
	// MaxTokenLength; special tokens count 0.
	symLen []int
}

func newBPEBuilder(specials []string) *bpeBuilder {
	b := &bpeBuilder{ids: map[string]int32{}}
	for _, s := range specials {
		b.vocab = append(b.vocab, s)
		b.ids[s] = int32(len(b.vocab) - 1)
		b.symLen = append(b.symLen, 0)
	}
	return b
}

// add appends an alphabet token (unless it is already there, as a special token).
func (b *bpeBuilder) add(s string) {
	if _, ok := b.ids[s]; ok {
		return
	}
	b.vocab = append(b.vocab, s)
	b.ids[s] = int32(len(b.vocab) - 1)
	b.symLen = append(b.symLen, 1)
}

// pairEntry is an entry of the merge queue: a pair and its count when it was queued.
type pairEntry struct {
	count int64
	a, b  int32
}

// before orders the queue: the highest count first, then the smallest pair (as Hugging
// Face's BpeTrainer).
func (x pairEntry) before(y pairEntry) bool {
	if x.count != y.count {
		return x.count > y.count
	}
	if x.a != y.a {
		return x.a < y.a
	}
	return x.b < y.b
}

// pairQueue is a binary max-heap of pairEntry.
type pairQueue []pairEntry

func (q pairQueue) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q[i].before(q[p]) {
			return
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (q pairQueue) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(q) {
			return
		}
		m := l
		if r := l + 1; r < len(q) && q[r].before(q[l]) {
			m = r
		}
		if !q[m].before(q[i]) {
			return
		}
		q[i], q[m] = q[m], q[i]
		i = m
	}
}

func (q *pairQueue) push(e pairEntry) {
	*q = append(*q, e)
	q.up(len(*q) - 1)
}

func (q *pairQueue) pop() pairEntry {
	h := *q
	top := h[0]
	h[0] = h[len(h)-1]
	*q = h[:len(h)-1]
	q.down(0)
	return top
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// learn merges pairs until the vocabulary has vocabSize tokens, no pair is left, or the
// most frequent pair is seen fewer than minFreq times. words are the symbol ids of the
// distinct words, counts their frequencies; both are modified. It returns the merges in
// order; the new tokens are appended to b.vocab.
//
// The algorithm is the incremental one of Hugging Face's BpeTrainer and SentencePiece: the
// counts of all adjacent pairs and the words each pair occurs in are computed once; a
// merge then only revisits the words that contain its pair, updating the counts of the
// pairs it destroys and creates. The priority queue is updated lazily: an entry whose
// count is out of date is re-queued with the current count when it reaches the top, and
// pairs whose count grows get a new entry.
func (b *bpeBuilder) learn(words [][]int32, counts []int64, vocabSize int, minFreq int64, maxLen int) [][2]int32 {
	minFreq = max(minFreq, 1)
	pairCount := map[uint64]int64{}
	where := map[uint64][]int32{} // words a pair occurs (or occurred) in, without repeats in a row
	addWhere := func(k uint64, w int32) {
		l := where[k]
		if len(l) == 0 || l[len(l)-1] != w {
			where[k] = append(l, w)
		}
	}
	for w, s := range words {
		for i := 0; i+1 < len(s); i++ {
			k := pairKey(s[i], s[i+1])
			pairCount[k] += counts[w]
			addWhere(k, int32(w))
		}
	}
	q := make(pairQueue, 0, len(pairCount))
	for k, c := range pairCount {
		q = append(q, pairEntry{c, int32(k >> 32), int32(uint32(k))})
	}
	for i := len(q)/2 - 1; i >= 0; i-- {
		q.down(i)
	}

	var merges [][2]int32
	stamp := make([]int, len(words)) // the last merge that visited each word, plus 1
	created := map[uint64]bool{}
	for len(b.vocab) < vocabSize && len(q) > 0 {
		top := q.pop()
		k := pairKey(top.a, top.b)
		c := pairCount[k]
		if c != top.count {
			if c > 0 && c < top.count { // a grown count has its own, newer entry
				q.push(pairEntry{c, top.a, top.b})
			}
			continue
		}
		if c < minFreq {
			break
		}
		a, z := top.a, top.b
		if maxLen > 0 && b.symLen[a]+b.symLen[z] > maxLen {
			continue // never merged; its later entries are dropped here too
		}
		tok := b.vocab[a] + b.vocab[z]
		n, ok := b.ids[tok]
		if !ok { // a token can be made by two different merges ("ab"+"c", "a"+"bc")
			n = int32(len(b.vocab))
			b.vocab = append(b.vocab, tok)
			b.ids[tok] = n
			b.symLen = append(b.symLen, b.symLen[a]+b.symLen[z])
		}
		merges = append(merges, [2]int32{a, z})
		for _, w := range where[k] {
			if stamp[w] == len(merges) {
				continue
			}
			stamp[w] = len(merges)
			s := words[w]
			if !containsPair(s, a, z) {
				continue // the pair left this word in an earlier merge
			}
			cw := counts[w]
			for i := 0; i+1 < len(s); i++ {
				p := pairKey(s[i], s[i+1])
				if pairCount[p] -= cw; pairCount[p] == 0 {
					delete(pairCount, p)
				}
			}
			j := 0
			for i := 0; i < len(s); j++ {
				if i+1 < len(s) && s[i] == a && s[i+1] == z {
					s[j] = n
					i += 2
				} else {
					s[j] = s[i]
					i++
				}
			}
			s = s[:j]
			words[w] = s
			for i := 0; i+1 < len(s); i++ {
				p := pairKey(s[i], s[i+1])
				pairCount[p] += cw
				if s[i] == n || s[i+1] == n {
					addWhere(p, w)
					created[p] = true
				}
			}
		}
		delete(pairCount, k)
		delete(where, k)
		// Queue the new pairs in a fixed order (map order would not change the pops, as
		// entries are totally ordered, but keeps the heap layout reproducible).
		keys := make([]uint64, 0, len(created))
		for p := range created {
			keys = append(keys, p)
		}
		slices.Sort(keys)
		for _, p := range keys {
			if c := pairCount[p]; c > 0 {
				q.push(pairEntry{c, int32(p >> 32), int32(uint32(p))})
			}
		}
		clear(created)
	}
	return merges
}

func containsPair(s []int32, a, b int32) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == a && s[i+1] == b {
			return true
		}
	}
	return false
}
