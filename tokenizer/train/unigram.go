package train

import (
	"cmp"
	"fmt"
	"iter"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// UnigramOptions configure Unigram.
type UnigramOptions struct {
	// VocabSize is the number of pieces: special tokens (the unknown token included), the
	// 256 byte pieces with ByteFallback, and the learned pieces, among which every char of
	// the corpus. A small corpus can give fewer pieces (the EM drops useless ones).
	VocabSize int
	// SpecialTokens take ids 0, 1, … in this order.
	SpecialTokens []string
	// UnkToken is the piece of unknown chars ("" means "<unk>"). It is appended to
	// SpecialTokens when not among them.
	UnkToken string
	// Lowercase adds the Lowercase normalizer.
	Lowercase bool
	// ByteFallback adds the pieces <0x00> … <0xFF>, which encode the UTF-8 bytes of chars
	// missing from the vocabulary instead of UnkToken.
	ByteFallback bool
	// MaxPieceLength is the longest piece, in chars (0: 16).
	MaxPieceLength int
	// SeedSize is the number of seed pieces, chars included (0: 1,000,000).
	SeedSize int
	// ShrinkingFactor is the share of pieces kept by each pruning round (0: 0.75).
	ShrinkingFactor float64
	// SubIterations is the number of EM iterations between two prunings (0: 2).
	SubIterations int
	// Threads is the number of goroutines (0: GOMAXPROCS).
	Threads int
}

const (
	// unkPenalty lowers the score of unknown chars below every piece (Rust kUnkPenalty).
	unkPenalty = 10.0
	// expectedFrequencyThreshold drops pieces expected fewer times in the M step.
	expectedFrequencyThreshold = 0.5
	// missingCharPenalty separates the scores of the required chars the EM dropped.
	missingCharPenalty = 0.0001
)

// Unigram trains a unigram language-model tokenizer (SentencePiece's unigram, as Hugging
// Face's UnigramTrainer and SentencePieceUnigramTokenizer) and returns its tokenizer.json.
//
// Normalizer: Nmt, NFKC, runs of spaces collapsed to one, and Lowercase with o.Lowercase.
// Pre-tokenizer and decoder: Metaspace ("▁" for spaces, prepended to every text, each word
// starting at a "▁"); with ByteFallback the decoder is ByteFallback then Metaspace. Decoding
// gives the normalized text without the leading space.
//
// Training (Kudo 2018, "Subword Regularization"; SentencePiece's unigram_model_trainer):
//  1. Seeds: every char, plus the substrings of words (up to MaxPieceLength chars) that occur
//     at least twice and are right-maximal (not always followed by the same char), scored
//     by frequency × length; the SeedSize best, as log probabilities. Frequencies count
//     word occurrences, as SentencePiece counts over sentences (Hugging Face counts each
//     distinct word once).
//  2. EM: the E step runs the forward–backward algorithm on the lattice of every distinct
//     word to get each piece's expected count (weighted by the word's frequency); the M
//     step drops pieces expected fewer than 0.5 times and sets scores to
//     digamma(count) − digamma(total) (the Bayesian EM of SentencePiece).
//  3. Pruning, after SubIterations EM steps, until the vocabulary is within 1.1 × its target:
//     for each piece, the loss of likelihood when its occurrences in the Viterbi
//     segmentations are replaced by its second-best segmentation; the pieces that cost least
//     are removed, keeping ShrinkingFactor of them. Single chars are never pruned.
//  4. Final vocabulary: every char of the corpus (chars the EM dropped get scores just
//     below the others) and the best-scoring pieces, sorted by score.
func Unigram(corpus iter.Seq[string], o UnigramOptions) ([]byte, error) {
	if err := checkCommon(o.VocabSize, o.Threads, o.SpecialTokens); err != nil {
		return nil, err
	}
	switch {
	case o.MaxPieceLength < 0:
		return nil, fmt.Errorf("train: maximum piece length %d is negative", o.MaxPieceLength)
	case o.SeedSize < 0:
		return nil, fmt.Errorf("train: seed size %d is negative", o.SeedSize)
	case o.SubIterations < 0:
		return nil, fmt.Errorf("train: sub-iteration count %d is negative", o.SubIterations)
	case o.ShrinkingFactor < 0 || o.ShrinkingFactor >= 1 || math.IsNaN(o.ShrinkingFactor):
		return nil, fmt.Errorf("train: shrinking factor %v is not in (0, 1)", o.ShrinkingFactor)
	}
	if o.MaxPieceLength == 0 {
		o.MaxPieceLength = 16
	}
	if o.SeedSize == 0 {
		o.SeedSize = 1_000_000
	}
	if o.ShrinkingFactor == 0 {
		o.ShrinkingFactor = 0.75
	}
	if o.SubIterations == 0 {
		o.SubIterations = 2
	}
	unk := o.UnkToken
	if unk == "" {
		unk = "<unk>"
	}
	specials := withUnk(o.SpecialTokens, unk)
	if err := checkCommon(o.VocabSize, o.Threads, specials); err != nil {
		return nil, err
	}
	reserved := len(specials)
	reservedDesc := fmt.Sprintf("%d special tokens", len(specials))
	if o.ByteFallback {
		reserved += 256
		reservedDesc += " and 256 byte pieces"
	}
	if o.VocabSize <= reserved {
		return nil, fmt.Errorf("train: vocabulary size %d leaves no room for pieces after %s", o.VocabSize, reservedDesc)
	}
	threads := threadCount(o.Threads)
	words, err := countWords(corpus, threads, func(text string, emit func(string)) {
		unigramWords(text, o.Lowercase, emit)
	})
	if err != nil {
		return nil, err
	}
	u := newUnigramTrainer(words, o, threads)
	if len(u.chars) == 1 && u.chars[0] == metaspace {
		return nil, errEmpty // only whitespace
	}
	target := o.VocabSize - reserved
	if len(u.chars) > target {
		return nil, fmt.Errorf("train: vocabulary size %d is smaller than the %s and the %d chars of the corpus",
			o.VocabSize, reservedDesc, len(u.chars))
	}
	u.seed()
	u.em(target)
	pieces, scores := u.finalize(target)

	// Special tokens and byte pieces first, with score 0 (as SentencePiece's control and
	// byte pieces), then the pieces by decreasing score.
	taken := map[string]bool{}
	var allPieces []string
	var allScores []float64
	add := func(p string, s float64) {
		if !taken[p] {
			taken[p] = true
			allPieces = append(allPieces, p)
			allScores = append(allScores, s)
		}
	}
	for _, s := range specials {
		add(s, 0)
	}
	if o.ByteFallback {
		for b := range 256 {
			add(fmt.Sprintf("<0x%02X>", b), 0)
		}
	}
	for i, p := range pieces {
		add(p, scores[i])
	}
	normalizers := []any{
		typed{"Nmt"},
		typed{"NFKC"},
		replaceJSON{"Replace", map[string]string{"Regex": " {2,}"}, " "},
	}
	if o.Lowercase {
		normalizers = append(normalizers, typed{"Lowercase"})
	}
	ms := metaspaceJSON{"Metaspace", metaspace, "always", true}
	var decoder any = ms
	if o.ByteFallback {
		decoder = sequenceDecoder{"Sequence", []any{typed{"ByteFallback"}, ms}}
	}
	f := &file{
		specials:     specials,
		normalizer:   sequenceNormalizer{"Sequence", normalizers},
		preTokenizer: ms,
		decoder:      decoder,
		model:        unigramModel(allPieces, allScores, slices.Index(specials, unk), o.ByteFallback),
	}
	return f.marshal(), nil
}

// unigramTrainer holds the words and the seed lattice nodes of every word.
type unigramTrainer struct {
	o       UnigramOptions
	threads int
	words   []wordCount
	// offs[w] are the byte offsets of the chars of words[w] (one more than the chars).
	offs [][]int32
	// chars are the distinct chars of the corpus, by decreasing frequency (then code
	// point), with their frequencies.
	chars     []string
	charFreq  []int64
	seeds     []string // seed pieces; the chars first
	seedScore []float64
	// seedAt[i] is an occurrence of seeds[i]: a word and the char position it starts at.
	seedAt []suffix
	// The lattice nodes of word w are nodes[nodeOff[w]:nodeOff[w+1]], sorted by start then
	// end: the seed pieces found in the word.
	nodes   []latticeNode
	nodeOff []int32
	// The EM state: cur[seed] is the index of the seed among the current pieces (-1: gone),
	// pieces[i] the seed of the i-th current piece and scores[i] its log probability.
	cur    []int32
	pieces []int32
	scores []float64
}

type latticeNode struct {
	start, end int32 // char positions in the word
	seed       int32
}

func newUnigramTrainer(words []wordCount, o UnigramOptions, threads int) *unigramTrainer {
	u := &unigramTrainer{o: o, threads: threads, words: words, offs: make([][]int32, len(words))}
	freq := map[string]int64{}
	for i, w := range words {
		off := make([]int32, 0, len(w.word)+1)
		for k := range w.word {
			off = append(off, int32(k))
		}
		off = append(off, int32(len(w.word)))
		u.offs[i] = off
		for k := 0; k+1 < len(off); k++ {
			freq[w.word[off[k]:off[k+1]]] += w.count
		}
	}
	for c := range freq {
		u.chars = append(u.chars, c)
	}
	slices.SortFunc(u.chars, func(a, b string) int {
		if c := cmp.Compare(freq[b], freq[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	for _, c := range u.chars {
		u.charFreq = append(u.charFreq, freq[c])
	}
	return u
}

// suffix is the suffix of words[w] that starts at char i.
type suffix struct{ w, i int32 }

// seed makes the seed pieces and the lattice nodes of every word.
//
// The candidates are the right-maximal repeats of the words, found as SentencePiece (and
// Hugging Face) find them, with a suffix array: sorted, the suffixes of all distinct words
// (cut to maxLen chars) put the occurrences of every substring next to each other, and the
// intervals of suffixes sharing a prefix longer than their neighbors' (the lcp-intervals)
// are the substrings that are not always followed by the same char, with all their
// occurrences. A substring's frequency is the sum of the counts of the words it occurs in,
// so a word seen several times is a repeat too (its suffix is then a candidate on its own).
func (u *unigramTrainer) seed() {
	maxLen := u.o.MaxPieceLength
	// The suffixes, cut to maxLen chars.
	type entry struct {
		s string
		suffix
	}
	var ents []entry
	for w, wc := range u.words {
		off := u.offs[w]
		for i := 0; i+1 < len(off); i++ {
			ents = append(ents, entry{wc.word[off[i]:off[min(i+maxLen, len(off)-1)]], suffix{int32(w), int32(i)}})
		}
	}
	slices.SortFunc(ents, func(a, b entry) int {
		if c := strings.Compare(a.s, b.s); c != 0 {
			return c
		}
		if a.w != b.w {
			return cmp.Compare(a.w, b.w)
		}
		return cmp.Compare(a.i, b.i)
	})
	n := len(ents)
	sa := make([]suffix, n)
	for k, e := range ents {
		sa[k] = e.suffix
	}
	// lcp[k] is the number of chars SA[k-1] and SA[k] share; weight[k] the prefix sums of
	// the word counts in suffix order.
	lcp := make([]int, n+1)
	weight := make([]int64, n+1)
	for k := range n {
		weight[k+1] = weight[k] + u.words[sa[k].w].count
		if k == 0 {
			continue
		}
		a, b := ents[k-1].s, ents[k].s
		l := 0
		for l < len(a) && l < len(b) && a[l] == b[l] {
			l++
		}
		for l > 0 && l < len(a) && !utf8.RuneStart(a[l]) {
			l-- // back to the start of a char both differ in
		}
		lcp[k] = utf8.RuneCountInString(a[:l])
	}

	type cand struct {
		s     string
		score int64
		at    suffix
		// lb, rb are the suffix interval of the occurrences
		lb, rb int
	}
	var cands []cand
	add := func(depth, lb, rb int) {
		f := weight[rb+1] - weight[lb]
		if depth < 2 || f < 2 {
			return
		}
		x := sa[lb]
		off := u.offs[x.w]
		str := u.words[x.w].word[off[x.i]:off[int(x.i)+depth]]
		cands = append(cands, cand{str, f * int64(depth), x, lb, rb})
	}
	// Bottom-up traversal of the lcp-intervals (Abouelhoda et al. 2004).
	type frame struct{ depth, lb int }
	stack := []frame{{0, 0}}
	for k := 1; k <= n; k++ {
		h := 0
		if k < n {
			h = lcp[k]
		}
		lb := k - 1
		for h < stack[len(stack)-1].depth {
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			add(f.depth, f.lb, k-1)
			lb = f.lb
		}
		if h > stack[len(stack)-1].depth {
			stack = append(stack, frame{h, lb})
		}
	}
	// A suffix longer than what it shares with its neighbors, of a word seen at least
	// twice, is a repeat of its own.
	for k, x := range sa {
		depth := min(len(u.offs[x.w])-1-int(x.i), maxLen)
		if depth > lcp[k] && depth > lcp[k+1] {
			add(depth, k, k)
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return strings.Compare(a.s, b.s)
	})

	// The seeds: the chars, then the best candidates, as log probabilities.
	var total float64
	charSeed := make(map[string]int32, len(u.chars))
	for i, c := range u.chars {
		charSeed[c] = int32(i)
		u.seeds = append(u.seeds, c)
		u.seedScore = append(u.seedScore, float64(u.charFreq[i]))
		u.seedAt = append(u.seedAt, suffix{-1, -1})
		total += float64(u.charFreq[i])
	}
	if room := u.o.SeedSize - len(u.seeds); len(cands) > room {
		cands = cands[:max(room, 0)]
	}
	for _, c := range cands {
		u.seeds = append(u.seeds, c.s)
		u.seedScore = append(u.seedScore, float64(c.score))
		u.seedAt = append(u.seedAt, c.at)
		total += float64(c.score)
	}
	logTotal := math.Log(total)
	for i, s := range u.seedScore {
		u.seedScore[i] = math.Log(s) - logTotal
	}

	// The lattice nodes of every word: every char, and the occurrences of the other seeds.
	perWord := make([]int32, len(u.words)+1)
	for w := range u.words {
		perWord[w+1] = int32(len(u.offs[w]) - 1)
	}
	for _, c := range cands {
		for k := c.lb; k <= c.rb; k++ {
			perWord[sa[k].w+1]++
		}
	}
	for w := range u.words {
		perWord[w+1] += perWord[w]
	}
	u.nodeOff = slices.Clone(perWord)
	u.nodes = make([]latticeNode, perWord[len(u.words)])
	for w, wc := range u.words {
		off := u.offs[w]
		for i := 0; i+1 < len(off); i++ {
			u.nodes[perWord[w]] = latticeNode{int32(i), int32(i + 1), charSeed[wc.word[off[i]:off[i+1]]]}
			perWord[w]++
		}
	}
	for j, c := range cands {
		depth := int32(utf8.RuneCountInString(c.s))
		for k := c.lb; k <= c.rb; k++ {
			x := sa[k]
			u.nodes[perWord[x.w]] = latticeNode{x.i, x.i + depth, int32(len(u.chars) + j)}
			perWord[x.w]++
		}
	}
	for w := range u.words {
		slices.SortFunc(u.nodes[u.nodeOff[w]:u.nodeOff[w+1]], func(a, b latticeNode) int {
			if a.start != b.start {
				return cmp.Compare(a.start, b.start)
			}
			return cmp.Compare(a.end, b.end)
		})
	}
	u.cur = make([]int32, len(u.seeds))
	u.pieces = make([]int32, len(u.seeds))
	u.scores = slices.Clone(u.seedScore)
	for i := range u.seeds {
		u.cur[i] = int32(i)
		u.pieces[i] = int32(i)
	}
}

// em runs EM and pruning rounds until at most 1.1 × target pieces remain.
func (u *unigramTrainer) em(target int) {
	desired := target * 11 / 10
	for {
		for range u.o.SubIterations {
			expected := u.eStep()
			u.mStep(expected)
		}
		if len(u.pieces) <= desired {
			return
		}
		if !u.prune(desired) {
			return
		}
	}
}

// minScore is the lowest score of the current pieces.
func (u *unigramTrainer) minScore() float64 {
	m := math.Inf(1)
	for _, s := range u.scores {
		m = min(m, s)
	}
	return m
}

// nodeScore is the score of a lattice node under the current pieces: the piece's, the
// unknown score for a single char whose piece is gone, or NaN for a node to skip.
func (u *unigramTrainer) nodeScore(n latticeNode, unkScore float64) (float64, int32) {
	if p := u.cur[n.seed]; p >= 0 {
		return u.scores[p], p
	}
	if n.end-n.start == 1 {
		return unkScore, -1
	}
	return math.NaN(), -1
}

// logAdd is log(exp(x) + exp(y)), with -Inf as the empty sum.
func logAdd(x, y float64) float64 {
	if math.IsInf(x, -1) {
		return y
	}
	hi, lo := max(x, y), min(x, y)
	if hi > lo+50 {
		return hi
	}
	return hi + math.Log1p(math.Exp(lo-hi))
}

// eStep returns the expected count of every current piece: the sum over words of the
// word frequency times the marginal probability of each node of the word's lattice
// (forward–backward). The marginals are computed in parallel into per-node slots and
// summed in node order, so the result does not depend on the thread count.
//
// Words are short, so the forward and backward sums are computed with probabilities
// rather than log probabilities (one exp per piece instead of an exp and a log per node);
// a word whose probability underflows is redone in log space.
func (u *unigramTrainer) eStep() []float64 {
	unkScore := u.minScore() - unkPenalty
	prob := make([]float64, len(u.scores))
	for i, s := range u.scores {
		prob[i] = math.Exp(s)
	}
	unkProb := math.Exp(unkScore)
	marg := make([]float64, len(u.nodes))
	type scratch struct{ alpha, beta []float64 }
	pool := make(chan *scratch, u.threads)
	for range u.threads {
		pool <- &scratch{}
	}
	parallel(len(u.words), u.threads, func(w int) {
		sc := <-pool
		defer func() { pool <- sc }()
		nodes := u.nodes[u.nodeOff[w]:u.nodeOff[w+1]]
		n := len(u.offs[w]) - 1
		sc.alpha = resize(sc.alpha, n+1)
		sc.beta = resize(sc.beta, n+1)
		alpha, beta := sc.alpha, sc.beta
		freq := float64(u.words[w].count)
		out := marg[u.nodeOff[w]:u.nodeOff[w+1]]
		clear(alpha)
		clear(beta)
		alpha[0], beta[n] = 1, 1
		pr := func(nd latticeNode) (float64, int32) {
			if p := u.cur[nd.seed]; p >= 0 {
				return prob[p], p
			}
			if nd.end-nd.start == 1 {
				return unkProb, -1
			}
			return 0, -1
		}
		for _, nd := range nodes {
			if p, _ := pr(nd); p > 0 {
				alpha[nd.end] += alpha[nd.start] * p
			}
		}
		if z := alpha[n]; z > 1e-200 {
			for k := len(nodes) - 1; k >= 0; k-- {
				nd := nodes[k]
				if p, _ := pr(nd); p > 0 {
					beta[nd.start] += p * beta[nd.end]
				}
			}
			scale := freq / z
			for k, nd := range nodes {
				if p, id := pr(nd); id >= 0 {
					out[k] = scale * alpha[nd.start] * p * beta[nd.end]
				}
			}
			return
		}
		// Log space.
		for i := range alpha {
			alpha[i], beta[i] = math.Inf(-1), math.Inf(-1)
		}
		alpha[0], beta[n] = 0, 0
		for _, nd := range nodes {
			if s, _ := u.nodeScore(nd, unkScore); !math.IsNaN(s) {
				alpha[nd.end] = logAdd(alpha[nd.end], alpha[nd.start]+s)
			}
		}
		for k := len(nodes) - 1; k >= 0; k-- {
			nd := nodes[k]
			if s, _ := u.nodeScore(nd, unkScore); !math.IsNaN(s) {
				beta[nd.start] = logAdd(beta[nd.start], s+beta[nd.end])
			}
		}
		z := alpha[n]
		for k, nd := range nodes {
			if s, p := u.nodeScore(nd, unkScore); p >= 0 {
				out[k] = freq * math.Exp(alpha[nd.start]+s+beta[nd.end]-z)
			}
		}
	})
	expected := make([]float64, len(u.pieces))
	for k, nd := range u.nodes {
		if p := u.cur[nd.seed]; p >= 0 {
			expected[p] += marg[k]
		}
	}
	return expected
}

func resize(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// digamma is the digamma function (asymptotic series after shifting x above 7), as
// SentencePiece and Hugging Face compute it.
func digamma(x float64) float64 {
	var r float64
	for x < 7 {
		r -= 1 / x
		x++
	}
	x -= 0.5
	xx := 1 / x
	xx2 := xx * xx
	xx4 := xx2 * xx2
	return r + math.Log(x) + xx2/24 - 7.0/960*xx4 + 31.0/8064*xx4*xx2 - 127.0/30720*xx4*xx4
}

// mStep keeps the pieces expected at least 0.5 times and sets their scores to
// digamma(expected) − digamma(sum of expected).
func (u *unigramTrainer) mStep(expected []float64) {
	var sum float64
	keep := u.pieces[:0]
	var counts []float64
	for i, seed := range u.pieces {
		if expected[i] < expectedFrequencyThreshold {
			continue
		}
		keep = append(keep, seed)
		counts = append(counts, expected[i])
		sum += expected[i]
	}
	u.setPieces(keep)
	logSum := digamma(sum)
	u.scores = u.scores[:0]
	for _, c := range counts {
		u.scores = append(u.scores, digamma(c)-logSum)
	}
}

// setPieces makes pieces the current pieces (scores are set by the caller).
func (u *unigramTrainer) setPieces(pieces []int32) {
	for i := range u.cur {
		u.cur[i] = -1
	}
	for i, s := range pieces {
		u.cur[s] = int32(i)
	}
	u.pieces = pieces
}

// viterbi returns the best segmentation of word w as current piece indices (-1 for an
// unknown char), appended to path.
func (u *unigramTrainer) viterbi(w int, unkScore float64, best []float64, back []int32, path []int32) []int32 {
	nodes := u.nodes[u.nodeOff[w]:u.nodeOff[w+1]]
	n := len(u.offs[w]) - 1
	for i := range best[:n+1] {
		best[i] = math.Inf(-1)
		back[i] = -1
	}
	best[0] = 0
	for k, nd := range nodes {
		s, _ := u.nodeScore(nd, unkScore)
		if math.IsNaN(s) || math.IsInf(best[nd.start], -1) {
			continue
		}
		if c := best[nd.start] + s; c > best[nd.end] {
			best[nd.end], back[nd.end] = c, int32(k)
		}
	}
	start := len(path)
	for e := n; e > 0; {
		nd := nodes[back[e]]
		_, p := u.nodeScore(nd, unkScore)
		path = append(path, p)
		e = int(nd.start)
	}
	slices.Reverse(path[start:])
	return path
}

// alternative returns, for a piece, whether it is its own best segmentation and the
// pieces of its best segmentation without itself (nil when it is a single char). The
// lattice of the piece is the part of the lattice of a word it occurs in.
func (u *unigramTrainer) alternative(piece int, unkScore float64, best []float64, back, from []int32) (bool, []int32) {
	seed := u.pieces[piece]
	at := u.seedAt[seed]
	if at.w < 0 {
		return true, nil // a char
	}
	n := utf8.RuneCountInString(u.seeds[seed])
	nodes := u.nodes[u.nodeOff[at.w]:u.nodeOff[at.w+1]]
	k, _ := slices.BinarySearchFunc(nodes, at.i, func(nd latticeNode, i int32) int { return cmp.Compare(nd.start, i) })
	for i := range best[:n+1] {
		best[i] = math.Inf(-1)
	}
	best[0] = 0
	for ; k < len(nodes) && int(nodes[k].start) < int(at.i)+n; k++ {
		nd := nodes[k]
		st, e := int(nd.start-at.i), int(nd.end-at.i)
		if e > n || (st == 0 && e == n) || math.IsInf(best[st], -1) {
			continue // outside the piece, or the piece itself
		}
		sc, p := u.nodeScore(nd, unkScore)
		if math.IsNaN(sc) {
			continue
		}
		if c := best[st] + sc; c > best[e] {
			best[e], back[e], from[e] = c, p, int32(st)
		}
	}
	if best[n] > u.scores[piece] {
		return false, nil
	}
	var alt []int32
	for e := n; e > 0; e = int(from[e]) {
		alt = append(alt, back[e])
	}
	slices.Reverse(alt)
	return true, alt
}

// prune removes the pieces whose removal costs the least likelihood, keeping
// max(desired, ShrinkingFactor × current) pieces. It reports whether it removed any.
func (u *unigramTrainer) prune(desired int) bool {
	unkScore := u.minScore() - unkPenalty
	np := len(u.pieces)
	selfBest := make([]bool, np)
	alts := make([][]int32, np)
	type altScratch struct {
		best       []float64
		back, from []int32
	}
	altPool := make(chan *altScratch, u.threads)
	for range u.threads {
		n := u.o.MaxPieceLength + 1
		altPool <- &altScratch{make([]float64, n), make([]int32, n), make([]int32, n)}
	}
	parallel(np, u.threads, func(i int) {
		sc := <-altPool
		selfBest[i], alts[i] = u.alternative(i, unkScore, sc.best, sc.back, sc.from)
		altPool <- sc
	})

	// Piece frequencies in the Viterbi segmentations (integers, so the per-goroutine sums
	// add up to the same total in any order).
	type scratch struct {
		best []float64
		back []int32
		path []int32
		freq []int64
	}
	var scratches []*scratch
	pool := make(chan *scratch, u.threads)
	for range u.threads {
		sc := &scratch{freq: make([]int64, np+1)} // the last slot counts unknown chars
		scratches = append(scratches, sc)
		pool <- sc
	}
	parallel(len(u.words), u.threads, func(w int) {
		sc := <-pool
		defer func() { pool <- sc }()
		n := len(u.offs[w]) - 1
		if cap(sc.best) < n+1 {
			sc.best, sc.back = make([]float64, n+1), make([]int32, n+1)
		}
		sc.path = u.viterbi(w, unkScore, sc.best[:n+1], sc.back[:n+1], sc.path[:0])
		for _, p := range sc.path {
			if p < 0 {
				p = int32(np)
			}
			sc.freq[p] += u.words[w].count
		}
	})
	freqI := make([]int64, np+1)
	var vsum int64
	for _, sc := range scratches {
		for i, f := range sc.freq {
			freqI[i] += f
		}
	}
	for _, w := range u.words {
		vsum += w.count
	}
	freq := make([]float64, np+1)
	var sum float64
	for i, f := range freqI {
		freq[i] = float64(f)
		sum += freq[i]
	}
	logSum := math.Log(sum)
	altFreq := func(p int32) float64 {
		if p < 0 {
			return freq[np]
		}
		return freq[p]
	}

	type cand struct {
		piece int
		loss  float64
	}
	var kept []int32
	var cands []cand
	for i := range np {
		switch {
		case freq[i] == 0 && !selfBest[i]:
			// never in a best segmentation, not even of itself: drop
		case len(alts[i]) == 0:
			kept = append(kept, u.pieces[i]) // single chars, and pieces without alternative
		case freq[i] == 0:
			// unused: drop
		default:
			// The loss if every occurrence of the piece were segmented as its alternative
			// (SentencePiece's approximation).
			f := freq[i] / float64(vsum)
			logProbPiece := math.Log(freq[i]) - logSum
			logSumAlt := math.Log(sum + freq[i]*float64(len(alts[i])-1))
			var logProbAlt float64
			for _, a := range alts[i] {
				logProbAlt += math.Log(altFreq(a)+freq[i]) - logSumAlt
			}
			cands = append(cands, cand{i, f * (logProbPiece - logProbAlt)})
		}
	}
	slices.SortStableFunc(cands, func(a, b cand) int { return cmp.Compare(b.loss, a.loss) })
	size := max(desired, int(float64(np)*u.o.ShrinkingFactor))
	newPieces := kept
	var newScores []float64
	for _, s := range kept {
		newScores = append(newScores, u.scores[u.cur[s]])
	}
	for _, c := range cands {
		if len(newPieces) >= size {
			break
		}
		newPieces = append(newPieces, u.pieces[c.piece])
		newScores = append(newScores, u.scores[c.piece])
	}
	if len(newPieces) >= np {
		return false
	}
	u.setPieces(newPieces)
	u.scores = newScores
	return true
}

// finalize returns the final pieces and scores: every char, then the best other pieces up
// to target, sorted by decreasing score (then by piece).
func (u *unigramTrainer) finalize(target int) ([]string, []float64) {
	minScore := u.minScore()
	type ps struct {
		p string
		s float64
	}
	var out []ps
	inOut := map[int32]bool{}
	missing := 0
	for i, c := range u.chars { // by decreasing frequency
		seed := int32(i) // the chars are the first seeds
		if p := u.cur[seed]; p >= 0 {
			out = append(out, ps{c, u.scores[p]})
		} else {
			missing++
			out = append(out, ps{c, minScore - float64(missing)*missingCharPenalty})
		}
		inOut[seed] = true
	}
	order := make([]int, len(u.pieces))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmp.Compare(u.scores[b], u.scores[a]); c != 0 {
			return c
		}
		return strings.Compare(u.seeds[u.pieces[a]], u.seeds[u.pieces[b]])
	})
	for _, i := range order {
		if len(out) >= target {
			break
		}
		if seed := u.pieces[i]; !inOut[seed] {
			out = append(out, ps{u.seeds[seed], u.scores[i]})
		}
	}
	slices.SortStableFunc(out, func(a, b ps) int {
		if c := cmp.Compare(b.s, a.s); c != 0 {
			return c
		}
		return strings.Compare(a.p, b.p)
	})
	pieces := make([]string, len(out))
	scores := make([]float64, len(out))
	for i, x := range out {
		pieces[i], scores[i] = x.p, x.s
	}
	return pieces, scores
}
