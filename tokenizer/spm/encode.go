package spm

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/optiformer/optiformer/tokenizer"
)

// result is one piece of a model's segmentation of the normalized text.
type result struct {
	piece string // a substring of the normalized text
	id    int
}

// spPiece is one SentencePieceText.SentencePiece.
type spPiece struct {
	piece      string
	id         int
	surface    string
	begin, end int  // byte offsets in the input
	newWord    bool // starts a whitespace-delimited word (for Encoding.WordIDs)
}

// scratch holds the buffers of one encoding, reused through scratchPool.
type scratch struct {
	toOrig  []int
	best    []bestNode
	res     []result
	symbols []bpeSymbol
	agenda  pairHeap
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooled bounds the buffers kept for reuse (in elements).
const maxPooled = 1 << 20

// segment runs the model on normalized text (ModelInterface::Encode).
func (m *Model) segment(sc *scratch, normalized string) []result {
	if normalized == "" {
		return nil
	}
	switch m.trainer.ModelType {
	case Unigram:
		return m.viterbi(sc, normalized)
	case BPE:
		return m.bpe(sc, normalized)
	case Word:
		words := splitIntoWords(normalized)
		out := make([]result, len(words))
		for i, w := range words {
			out[i] = result{w, m.pieceToID(w)}
		}
		return out
	default: // Char
		var out []result
		for normalized != "" {
			l, _ := m.prefixMatch(normalized)
			out = append(out, result{normalized[:l], m.pieceToID(normalized[:l])})
			normalized = normalized[l:]
		}
		return out
	}
}

// prefixMatch is PrefixMatcher::PrefixMatch over the user-defined symbols: the longest
// symbol at the start of s (found true), else one character (OneCharLen, clipped).
func (m *Model) prefixMatch(s string) (int, bool) {
	if m.user != nil {
		if l := m.user.longest(s); l > 0 {
			return l, true
		}
	}
	return min(len(s), oneCharLen(s[0])), false
}

// bestNode is the best path ending at a position (BestPathNode).
type bestNode struct {
	id    int32
	score float32
	start int32 // -1: not reached yet
}

// viterbi is unigram::Model::EncodeOptimized. Scores follow the C++ types: a piece's
// candidate score is computed in double (the conditional mixes float and double) and
// stored as float; the unknown candidate is computed in float.
func (m *Model) viterbi(sc *scratch, s string) []result {
	n := len(s)
	best := slices.Grow(sc.best[:0], n+1)[:n+1]
	sc.best = best
	for i := range best {
		best[i] = bestNode{start: -1}
	}
	unkScore := m.minScore - 10 // kUnkPenalty
	for start := 0; start < n; {
		tillHere := best[start].score
		mblen := min(oneCharLen(s[start]), n-start)
		hasSingle := false
		node := int32(-1)
		for pos := start; pos < n; {
			if node = m.trie.step(node, s[pos]); node < 0 {
				break
			}
			pos++
			id := m.trie.value[node]
			if id < 0 {
				continue
			}
			p := &m.pieces[id]
			if p.Type == Unused {
				continue
			}
			length := pos - start
			var score float64
			if p.Type == UserDefined {
				score = float64(float32(length)*m.maxScore) - 0.1
			} else {
				score = float64(p.Score)
			}
			cand := score + float64(tillHere)
			t := &best[pos]
			if t.start == -1 || cand > float64(t.score) {
				t.score = float32(cand)
				t.start = int32(start)
				t.id = id
			}
			if !hasSingle && length == mblen {
				hasSingle = true
			}
		}
		if !hasSingle {
			t := &best[start+mblen]
			cand := unkScore + tillHere
			if t.start == -1 || cand > t.score {
				t.score = cand
				t.start = int32(start)
				t.id = int32(m.unkID)
			}
		}
		start += mblen
	}
	out := sc.res[:0]
	for end := n; end > 0; {
		b := best[end]
		out = append(out, result{s[b.start:end], int(b.id)})
		end = int(b.start)
	}
	slices.Reverse(out)
	sc.res = out
	return out
}

// bpeSymbol is a symbol of the BPE merge loop.
type bpeSymbol struct {
	prev, next int
	freeze     bool
	begin, end int // the piece is s[begin:end]; begin == end once merged away
}

// bpe is bpe::Model::SampleEncode without dropout.
func (m *Model) bpe(sc *scratch, s string) []result {
	symbols := sc.symbols[:0]
	defer func() { sc.symbols = symbols }()
	for pos := 0; pos < len(s); {
		l, frozen := m.prefixMatch(s[pos:])
		i := len(symbols)
		next := i + 1
		if pos+l == len(s) {
			next = -1
		}
		symbols = append(symbols, bpeSymbol{prev: i - 1, next: next, freeze: frozen, begin: pos, end: pos + l})
		pos += l
	}
	if len(symbols) == 0 {
		return nil
	}
	agenda := sc.agenda[:0]
	defer func() { sc.agenda = agenda }()
	var revMerge map[string][2]string
	piece := func(i int) string { return s[symbols[i].begin:symbols[i].end] }
	addPair := func(left, right int) {
		if left == -1 || right == -1 || symbols[left].freeze || symbols[right].freeze {
			return
		}
		merged := s[symbols[left].begin : symbols[left].end+(symbols[right].end-symbols[right].begin)]
		id, ok := m.pieceIDs[merged]
		if !ok {
			return
		}
		agenda.push(symbolPair{left: left, right: right, score: m.pieces[id].Score, size: len(merged)})
		if m.pieces[id].Type == Unused {
			if revMerge == nil {
				revMerge = map[string][2]string{}
			}
			revMerge[merged] = [2]string{piece(left), piece(right)}
		}
	}
	for i := 1; i < len(symbols); i++ {
		addPair(i-1, i)
	}
	for len(agenda) > 0 {
		top := agenda.pop()
		l, r := &symbols[top.left], &symbols[top.right]
		if l.begin == l.end || r.begin == r.end || (l.end-l.begin)+(r.end-r.begin) != top.size {
			continue // no longer valid
		}
		l.end += r.end - r.begin
		l.next = r.next
		if r.next >= 0 {
			symbols[r.next].prev = top.left
		}
		r.begin, r.end = 0, 0
		addPair(l.prev, top.left)
		addPair(top.left, l.next)
	}
	out := sc.res[:0]
	defer func() { sc.res = out }()
	var resegment func(w string)
	resegment = func(w string) {
		id := m.pieceToID(w)
		if m.pieces[id].Type != Unused {
			out = append(out, result{w, id})
			return
		}
		p, ok := revMerge[w]
		if !ok {
			out = append(out, result{w, id})
			return
		}
		resegment(p[0])
		resegment(p[1])
	}
	for i := 0; i != -1; i = symbols[i].next {
		resegment(piece(i))
	}
	return out
}

type symbolPair struct {
	left, right int
	score       float32
	size        int
}

// pairHeap is a binary heap that pops the highest score first and, on ties, the leftmost
// pair (SymbolPairComparator in bpe_model.cc).
type pairHeap []symbolPair

func (h pairHeap) less(i, j int) bool {
	return h[i].score > h[j].score || (h[i].score == h[j].score && h[i].left < h[j].left)
}

func (h *pairHeap) push(p symbolPair) {
	*h = append(*h, p)
	q := *h
	for i := len(q) - 1; i > 0; {
		parent := (i - 1) / 2
		if !q.less(i, parent) {
			break
		}
		q[i], q[parent] = q[parent], q[i]
		i = parent
	}
}

func (h *pairHeap) pop() symbolPair {
	q := *h
	top := q[0]
	last := len(q) - 1
	q[0] = q[last]
	q = q[:last]
	for i := 0; ; {
		l, r, best := 2*i+1, 2*i+2, i
		if l < len(q) && q.less(l, best) {
			best = l
		}
		if r < len(q) && q.less(r, best) {
			best = r
		}
		if best == i {
			break
		}
		q[i], q[best] = q[best], q[i]
		i = best
	}
	*h = q
	return top
}

// splitIntoWords is SplitIntoWords(text) with its defaults (whitespace as a prefix),
// which word::Model uses.
func splitIntoWords(text string) []string {
	var out []string
	start := -1
	for pos := 0; pos < len(text); {
		l := min(oneCharLen(text[pos]), len(text)-pos)
		if pos == 0 || text[pos:pos+l] == spaceSymbol {
			if start >= 0 {
				out = append(out, text[start:pos])
			}
			start = pos
		}
		pos += l
	}
	if start >= 0 {
		out = append(out, text[start:])
	}
	return out
}

// encodePieces is SentencePieceProcessor::Encode: normalize, segment, and
// PopulateSentencePieceText.
func (m *Model) encodePieces(text string) ([]spPiece, error) {
	sc := scratchPool.Get().(*scratch)
	normalized, toOrig := m.norm.normalize(text, sc.toOrig[:0])
	sc.toOrig = toOrig
	pieces, err := m.populate(text, normalized, toOrig, m.segment(sc, normalized))
	if max(cap(sc.toOrig), cap(sc.best), cap(sc.res), cap(sc.symbols), cap(sc.agenda)) <= maxPooled {
		scratchPool.Put(sc)
	}
	return pieces, err
}

func byteToPiece(b byte) string {
	const hex = "0123456789ABCDEF"
	return string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})
}

// populate is PopulateSentencePieceText: offsets from the alignment, unknown pieces
// merged or split into byte pieces.
func (m *Model) populate(input, normalized string, toOrig []int, res []result) ([]spPiece, error) {
	ws := " "
	if m.normSpec.EscapeWhitespaces {
		ws = spaceSymbol
	}
	suffix := m.trainer.TreatWhitespaceAsSuffix
	out := make([]spPiece, 0, len(res))
	consumed := 0
	prevUnk := false
	prevEndsWS := false
	runStart := 0 // where the last piece starts in normalized
	for _, r := range res {
		w, id := r.piece, r.id
		if w == "" {
			return nil, fmt.Errorf("spm: empty piece")
		}
		if id < 0 || id >= len(m.pieces) {
			return nil, fmt.Errorf("spm: piece id %d out of range", id)
		}
		isUnk := m.typeOf(id) == Unknown
		newWord := strings.HasPrefix(w, ws)
		if suffix {
			newWord = prevEndsWS
		}
		prevEndsWS = strings.HasSuffix(w, ws)
		if m.typeOf(id) == Control {
			// A control symbol has no surface: begin == end.
			out = append(out, spPiece{piece: w, id: id, begin: toOrig[consumed], end: toOrig[consumed], newWord: newWord})
			prevUnk = isUnk
			continue
		}
		begin, end := consumed, consumed+len(w)
		if begin >= len(toOrig) || end >= len(toOrig) {
			return nil, fmt.Errorf("spm: piece %q runs past the normalized text", w)
		}
		ob, oe := toOrig[begin], toOrig[end]
		if ob > len(input) || oe > len(input) || ob > oe {
			return nil, fmt.Errorf("spm: bad alignment [%d, %d) for input of %d bytes", ob, oe, len(input))
		}
		surface := input[ob:oe]
		switch {
		case isUnk && m.trainer.ByteFallback:
			for i := 0; i < len(w); i++ {
				p := spPiece{piece: byteToPiece(w[i]), id: m.byteIDs[w[i]], begin: ob, end: ob, newWord: newWord && i == 0}
				if i == len(w)-1 {
					// The last byte piece holds the surface of the unknown character.
					p.surface, p.end = surface, oe
				}
				out = append(out, p)
			}
		case prevUnk && isUnk:
			// Runs of unknown pieces are merged into one. The pieces of a run are
			// consecutive in the normalized text and their surfaces in the input, so the
			// concatenations SentencePiece builds are slices (and no quadratic copying).
			last := &out[len(out)-1]
			last.piece = normalized[runStart:end]
			last.surface = input[last.begin:oe]
			last.end = oe
		default:
			out = append(out, spPiece{piece: w, id: id, surface: surface, begin: ob, end: oe, newWord: newWord})
			runStart = begin
		}
		consumed += len(w)
		prevUnk = isUnk
	}
	if consumed != len(normalized) {
		return nil, fmt.Errorf("spm: all normalized characters are not consumed")
	}
	return out, nil
}

// Encode tokenizes text as SentencePiece's encode(text). With addSpecial, the model's
// BOS piece is put first and its EOS piece last, each only when the model has it: when
// SentencePiece's bos_id() / eos_id() (BosID / EosID here) is not -1, that is the piece
// named TrainerSpec.bos_piece / eos_piece exists as a control symbol, which the trainer
// makes unless bos_id / eos_id is -1. This is encode(text, add_bos=True, add_eos=True)
// minus the -1 ids it would insert. Special tokens get offsets [0, 0].
//
// Tokens are the pieces (a merged run of unknown characters is one token with the
// normalized characters as its text). Offsets are SentencePiece's begin/end as UTF-8 byte
// offsets into text. WordIDs count whitespace-delimited words: a piece starting with
// U+2581 (ending, with treat_whitespace_as_suffix, for the piece before) starts a new
// word.
func (m *Model) Encode(text string, addSpecial bool) (*tokenizer.Encoding, error) {
	pieces, err := m.encodePieces(text)
	if err != nil {
		return nil, err
	}
	e := newEncoding(len(pieces) + 2)
	m.appendSequence(e, pieces, 0, addSpecial)
	return e, nil
}

// EncodePair encodes two texts one after the other, each as Encode does (with
// addSpecial, each text gets the BOS and EOS the model defines: "a </s> b </s>" for a
// T5-like model). Offsets refer to each text; TypeIDs are 0 for a and 1 for b.
func (m *Model) EncodePair(a, b string, addSpecial bool) (*tokenizer.Encoding, error) {
	return m.EncodeTruncated(a, &b, addSpecial, 0, tokenizer.NoTruncation)
}

// EncodeTruncated implements tokenizer.Truncator: the pieces of a (and b) are cut
// before BOS/EOS are added, as transformers' slow tokenizers do
// (PreTrainedTokenizerBase.truncate_sequences): LongestFirst removes one token at a time
// from the longer text (from b on ties), OnlyFirst / OnlySecond from one text only.
// When maxLength cannot be met it returns tokenizer.ErrTooLong.
func (m *Model) EncodeTruncated(a string, b *string, addSpecial bool, maxLength int, strategy tokenizer.Truncation) (*tokenizer.Encoding, error) {
	pa, err := m.encodePieces(a)
	if err != nil {
		return nil, err
	}
	var pb []spPiece
	if b != nil {
		if pb, err = m.encodePieces(*b); err != nil {
			return nil, err
		}
	}
	extra := 0
	if addSpecial {
		per := 0
		if m.BosID() >= 0 {
			per++
		}
		if m.EosID() >= 0 {
			per++
		}
		extra = per
		if b != nil {
			extra = 2 * per
		}
	}
	la, lb, err := truncateLengths(len(pa), len(pb), b != nil, extra, maxLength, strategy)
	if err != nil {
		return nil, err
	}
	e := newEncoding(la + lb + extra)
	m.appendSequence(e, pa[:la], 0, addSpecial)
	if b != nil {
		m.appendSequence(e, pb[:lb], 1, addSpecial)
	}
	return e, nil
}

// truncateLengths returns how many content tokens of each text to keep so that the
// total with extra special tokens is at most maxLength (maxLength ≤ 0: no limit).
func truncateLengths(na, nb int, pair bool, extra, maxLength int, strategy tokenizer.Truncation) (int, int, error) {
	if maxLength <= 0 || na+nb+extra <= maxLength || strategy == tokenizer.NoTruncation {
		if maxLength > 0 && na+nb+extra > maxLength {
			return 0, 0, fmt.Errorf("%w: %d tokens, maximum %d", tokenizer.ErrTooLong, na+nb+extra, maxLength)
		}
		return na, nb, nil
	}
	remove := na + nb + extra - maxLength
	tooLong := func() (int, int, error) {
		return 0, 0, fmt.Errorf("%w: %d tokens, maximum %d", tokenizer.ErrTooLong, na+nb+extra, maxLength)
	}
	switch {
	case strategy == tokenizer.OnlyFirst || (strategy == tokenizer.LongestFirst && !pair):
		if na <= remove {
			return tooLong()
		}
		return na - remove, nb, nil
	case strategy == tokenizer.OnlySecond:
		if !pair || nb <= remove {
			return tooLong()
		}
		return na, nb - remove, nil
	default: // LongestFirst on a pair
		if na+nb < remove {
			return tooLong()
		}
		for ; remove > 0; remove-- {
			if na > nb {
				na--
			} else {
				nb--
			}
		}
		return na, nb, nil
	}
}

// newEncoding returns an empty Encoding with room for n tokens.
func newEncoding(n int) *tokenizer.Encoding {
	ints := make([]int, 0, 6*n)
	next := func() []int {
		s := ints[len(ints) : len(ints) : len(ints)+n]
		ints = ints[:len(ints)+n]
		return s
	}
	return &tokenizer.Encoding{
		IDs: next(), TypeIDs: next(), SpecialTokensMask: next(), WordIDs: next(), AttentionMask: next(), SequenceIDs: next(),
		Tokens: make([]string, 0, n), Offsets: make([][2]int, 0, n),
	}
}

// appendSequence appends the pieces of one text (and BOS/EOS with addSpecial).
func (m *Model) appendSequence(e *tokenizer.Encoding, pieces []spPiece, typeID int, addSpecial bool) {
	special := func(id int) {
		e.IDs = append(e.IDs, id)
		e.Tokens = append(e.Tokens, m.pieces[id].Text)
		e.Offsets = append(e.Offsets, [2]int{0, 0})
		e.TypeIDs = append(e.TypeIDs, typeID)
		e.SpecialTokensMask = append(e.SpecialTokensMask, 1)
		e.WordIDs = append(e.WordIDs, -1)
		e.AttentionMask = append(e.AttentionMask, 1)
		e.SequenceIDs = append(e.SequenceIDs, -1)
	}
	if addSpecial {
		if id := m.BosID(); id >= 0 {
			special(id)
		}
	}
	word := -1
	for _, p := range pieces {
		if p.newWord || word < 0 {
			word++
		}
		e.IDs = append(e.IDs, p.id)
		e.Tokens = append(e.Tokens, p.piece)
		e.Offsets = append(e.Offsets, [2]int{p.begin, p.end})
		e.TypeIDs = append(e.TypeIDs, typeID)
		e.SpecialTokensMask = append(e.SpecialTokensMask, 0)
		e.WordIDs = append(e.WordIDs, word)
		e.AttentionMask = append(e.AttentionMask, 1)
		e.SequenceIDs = append(e.SequenceIDs, typeID)
	}
	if addSpecial {
		if id := m.EosID(); id >= 0 {
			special(id)
		}
	}
}

// Surfaces returns, for each piece of encode(text), its surface: the part of text it
// covers (SentencePieceText.SentencePiece.surface; empty for all but the last byte piece
// of an unknown character).
func (m *Model) Surfaces(text string) ([]string, error) {
	pieces, err := m.encodePieces(text)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(pieces))
	for i, p := range pieces {
		out[i] = p.surface
	}
	return out, nil
}

// CharOffsets converts UTF-8 byte offsets into text to code-point offsets the way
// SentencePiece's immutable proto does (ConvertToUnicodeSpans): each byte maps to the
// index of the character it belongs to, characters are cut by their first byte
// (OneCharLen), and offsets are clipped to the text.
func CharOffsets(text string, offsets [][2]int) [][2]int {
	toChar := make([]int, len(text)+1)
	prev, n := 0, 0
	for prev < len(text) {
		l := min(max(1, oneCharLen(text[prev])), len(text)-prev)
		for i := prev; i < prev+l; i++ {
			toChar[i] = n
		}
		n++
		prev += l
	}
	toChar[len(text)] = n
	clip := func(x int) int { return min(max(0, x), len(toChar)-1) }
	out := make([][2]int, len(offsets))
	for i, o := range offsets {
		out[i] = [2]int{toChar[clip(o[0])], toChar[clip(o[1])]}
	}
	return out
}
