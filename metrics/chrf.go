package metrics

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// CHRFOptions mirrors the arguments of sacreBLEU's CHRF(...). The zero value is CHRF(): chrF2
// with character 6-grams, no word n-grams, whitespace removed, effective-order averaging.
// WordOrder 2 gives chrF++.
type CHRFOptions struct {
	// CharOrder is the character n-gram order; zero means 6.
	CharOrder int
	// WordOrder is the word n-gram order: 0 for chrF, 2 for chrF++.
	WordOrder int
	// Beta weighs recall beta times as much as precision; zero means 2.
	Beta int
	// Lowercase makes the metric case-insensitive (Python's str.lower()).
	Lowercase bool
	// Whitespace keeps whitespace inside character n-grams.
	Whitespace bool
	// EpsSmoothing averages per-order F scores with 1e-16 for missing orders (chrF++.py, Moses,
	// NLTK) instead of sacreBLEU's default effective-order averaging of precision and recall.
	EpsSmoothing bool
}

// CHRFScore is sacreBLEU's CHRFScore.
type CHRFScore struct {
	// Score is in [0, 100].
	Score                      float64
	CharOrder, WordOrder, Beta int
	// Signature is sacreBLEU's signature, e.g.
	// "nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0".
	Signature string
}

// Name is sacreBLEU's metric name: "chrF2", or "chrF2++" for word order 2.
func (s CHRFScore) Name() string {
	return "chrF" + strconv.Itoa(s.Beta) + strings.Repeat("+", s.WordOrder)
}

// String formats the score as sacreBLEU prints it, e.g. "chrF2 = 67.65".
func (s CHRFScore) String() string {
	return s.Name() + " = " + strconv.FormatFloat(s.Score, 'f', 2, 64)
}

type chrfConfig struct {
	CHRFOptions
	order int
}

func (o CHRFOptions) config() (chrfConfig, error) {
	if o.CharOrder == 0 {
		o.CharOrder = 6
	}
	if o.Beta == 0 {
		o.Beta = 2
	}
	if o.CharOrder < 0 || o.CharOrder > 100 || o.WordOrder < 0 || o.WordOrder > 100 {
		return chrfConfig{}, fmt.Errorf("metrics: chrF orders (char %d, word %d) out of range [0, 100]", o.CharOrder, o.WordOrder)
	}
	if o.Beta < 0 || o.Beta > 1000 {
		return chrfConfig{}, fmt.Errorf("metrics: chrF beta %d out of range [1, 1000]", o.Beta)
	}
	return chrfConfig{CHRFOptions: o, order: o.CharOrder + o.WordOrder}, nil
}

func (c chrfConfig) signature(nrefs int) string {
	return fmt.Sprintf("nrefs:%d|case:%s|eff:%s|nc:%d|nw:%d|space:%s|version:%s",
		nrefs, caseName(c.Lowercase), yesNo(!c.EpsSmoothing), c.CharOrder, c.WordOrder,
		yesNo(c.Whitespace), SacreBLEUVersion)
}

// chrfNgrams are the n-gram counts of one sentence. Character n-grams of every order share
// one map (keys of different orders have different lengths in code points); charTotals[n-1]
// is the number of character n-grams of order n. Word n-grams of order n are in words[n-1].
type chrfNgrams struct {
	char       map[string]int
	charTotals []int
	words      []map[string]int
}

func (c chrfConfig) ngrams(sent string) chrfNgrams {
	if c.Lowercase {
		sent = pyLower(sent)
	}
	line := sent
	if !c.Whitespace {
		line = strings.Join(pyFields(sent), "")
	}
	// Byte offsets of the code points of line, so n-grams are substrings.
	offs := make([]int, 0, len(line)+1)
	for i := range line {
		offs = append(offs, i)
	}
	offs = append(offs, len(line))
	nr := len(offs) - 1
	out := chrfNgrams{charTotals: make([]int, c.CharOrder)}
	size := 0
	for n := 1; n <= c.CharOrder; n++ {
		out.charTotals[n-1] = max(nr-n+1, 0)
		size += out.charTotals[n-1]
	}
	out.char = make(map[string]int, size)
	for n := 1; n <= c.CharOrder; n++ {
		for i := 0; i+n <= nr; i++ {
			out.char[line[offs[i]:offs[i+n]]]++
		}
	}
	if c.WordOrder > 0 {
		words := chrfWords(sent)
		for n := 1; n <= c.WordOrder; n++ {
			m := make(map[string]int, max(len(words)-n+1, 0))
			for i := 0; i+n <= len(words); i++ {
				m[strings.Join(words[i:i+n], " ")]++
			}
			out.words = append(out.words, m)
		}
	}
	return out
}

// chrfWords is sacreBLEU's CHRF._remove_punctuation: whitespace tokens, with one ASCII
// punctuation character split off the end of a word, or else off its start.
func chrfWords(sent string) []string {
	var out []string
	for _, w := range pyFields(sent) {
		rs := []rune(w)
		if len(rs) == 1 {
			out = append(out, w)
			continue
		}
		if last := rs[len(rs)-1]; isASCIIPunct(last) {
			out = append(out, string(rs[:len(rs)-1]), string(last))
		} else if first := rs[0]; isASCIIPunct(first) {
			out = append(out, string(first), string(rs[1:]))
		} else {
			out = append(out, w)
		}
	}
	return out
}

// isASCIIPunct reports whether r is in Python's string.punctuation.
func isASCIIPunct(r rune) bool {
	return r >= '!' && r <= '/' || r >= ':' && r <= '@' || r >= '[' && r <= '`' || r >= '{' && r <= '~'
}

// matchStats is sacreBLEU's CHRF._get_match_statistics for every order, appended to st as
// [hyp count, ref count, matches] triples: character orders first, then word orders.
func matchStats(hyp, ref chrfNgrams, st []int) []int {
	charMatch := make([]int, len(hyp.charTotals))
	for ng, n := range hyp.char {
		if m, ok := ref.char[ng]; ok {
			charMatch[utf8.RuneCountInString(ng)-1] += min(n, m)
		}
	}
	for i, hypCount := range hyp.charTotals {
		refCount := ref.charTotals[i]
		if refCount == 0 { // "Don't count hits if no reference exists for that n-gram"
			hypCount = 0
		}
		st = append(st, hypCount, refCount, charMatch[i])
	}
	for i := range hyp.words {
		h, r := hyp.words[i], ref.words[i]
		match, hypCount, refCount := 0, 0, 0
		for ng, n := range h {
			hypCount += n
			if m, ok := r[ng]; ok {
				match += min(n, m)
			}
		}
		for _, n := range r {
			refCount += n
		}
		if len(r) == 0 {
			hypCount = 0
		}
		st = append(st, hypCount, refCount, match)
	}
	return st
}

// fScore is sacreBLEU's CHRF._compute_f_score, operation for operation.
func (c chrfConfig) fScore(st []int) float64 {
	const eps = 1e-16
	factor := float64(c.Beta * c.Beta)
	score, avgPrec, avgRec := 0.0, 0.0, 0.0
	effOrder := 0
	for i := 0; i < c.order; i++ {
		nHyp, nRef, nMatch := st[3*i], st[3*i+1], st[3*i+2]
		prec, rec := eps, eps
		if nHyp > 0 {
			prec = float64(nMatch) / float64(nHyp)
		}
		if nRef > 0 {
			rec = float64(nMatch) / float64(nRef)
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if nHyp > 0 && nRef > 0 {
			avgPrec += prec
			avgRec += rec
			effOrder++
		}
	}
	if c.EpsSmoothing {
		return 100 * score / float64(c.order)
	}
	if effOrder == 0 {
		avgPrec, avgRec = 0, 0
	} else {
		avgPrec /= float64(effOrder)
		avgRec /= float64(effOrder)
	}
	if avgPrec+avgRec != 0 {
		score = (1 + factor) * avgPrec * avgRec
		score /= factor*avgPrec + avgRec
		return 100 * score
	}
	return 0
}

// segmentStats returns the statistics against the reference with the best F score (the first
// one on ties), as CHRF._compute_segment_statistics does.
func (c chrfConfig) segmentStats(hyp string, refs []chrfNgrams) []int {
	h := c.ngrams(hyp)
	var best []int
	bestF := -1.0
	for _, r := range refs {
		st := matchStats(h, r, make([]int, 0, 3*c.order))
		if f := c.fScore(st); f > bestF {
			bestF, best = f, st
		}
	}
	return best
}

// CorpusCHRF is sacreBLEU's CHRF(**opts).corpus_score(hyps, refs), with refs given as reference
// streams like CorpusBLEU's.
func CorpusCHRF(hyps []string, refs [][]string, opts CHRFOptions) (CHRFScore, error) {
	c, err := opts.config()
	if err != nil {
		return CHRFScore{}, err
	}
	if err := checkStreams(hyps, refs); err != nil {
		return CHRFScore{}, err
	}
	total := make([]int, 3*c.order)
	segRefs := make([]chrfNgrams, len(refs))
	for i, h := range hyps {
		for k := range refs {
			segRefs[k] = c.ngrams(refs[k][i])
		}
		for j, v := range c.segmentStats(h, segRefs) {
			total[j] += v
		}
	}
	return c.result(total, len(refs)), nil
}

// SentenceCHRF is sacreBLEU's CHRF(**opts).sentence_score(hyp, refs) (sacrebleu.sentence_chrf).
func SentenceCHRF(hyp string, refs []string, opts CHRFOptions) (CHRFScore, error) {
	c, err := opts.config()
	if err != nil {
		return CHRFScore{}, err
	}
	if len(refs) == 0 {
		return CHRFScore{}, fmt.Errorf("metrics: sentence chrF needs at least one reference")
	}
	segRefs := make([]chrfNgrams, len(refs))
	for k, r := range refs {
		segRefs[k] = c.ngrams(r)
	}
	return c.result(c.segmentStats(hyp, segRefs), len(refs)), nil
}

func (c chrfConfig) result(st []int, nrefs int) CHRFScore {
	return CHRFScore{Score: c.fScore(st), CharOrder: c.CharOrder, WordOrder: c.WordOrder, Beta: c.Beta,
		Signature: c.signature(nrefs)}
}
