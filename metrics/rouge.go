package metrics

import (
	"fmt"
	"sort"
	"strings"
)

// ROUGEScore is rouge-score's Score tuple. All three values are in [0, 1].
type ROUGEScore struct {
	Precision, Recall, FMeasure float64
}

// fmeasure is rouge-score's scoring.fmeasure: 2PR/(P+R), 0 when P+R is 0.
func fmeasure(p, r float64) float64 {
	if p+r > 0 {
		return 2 * p * r / (p + r)
	}
	return 0
}

// ROUGEScorer is rouge-score 0.1.2's RougeScorer(rouge_types, use_stemmer) with its default
// tokenizer and split_summaries=False. Lin, C.-Y. "ROUGE: A Package for Automatic Evaluation of
// Summaries." Text Summarization Branches Out (2004). A ROUGEScorer is immutable and safe for
// concurrent use.
type ROUGEScorer struct {
	types []string
	stem  bool
}

// NewROUGEScorer checks the ROUGE types — "rouge1" … "rouge9" (n-gram overlap), "rougeL"
// (longest common subsequence over the whole text) and "rougeLsum" (summary-level LCS over
// sentences separated by "\n") — and returns a scorer. useStemmer stems tokens longer than 3
// characters with NLTK's Porter stemmer.
func NewROUGEScorer(types []string, useStemmer bool) (*ROUGEScorer, error) {
	if len(types) == 0 {
		return nil, fmt.Errorf("metrics: no ROUGE types given")
	}
	for _, t := range types {
		if _, err := rougeN(t); err != nil {
			return nil, err
		}
	}
	return &ROUGEScorer{types: append([]string(nil), types...), stem: useStemmer}, nil
}

// rougeN returns n for "rougeN", 0 for rougeL and rougeLsum, and an error for anything else
// (rouge-score accepts re.match(r"rouge[0-9]$") with n > 0).
func rougeN(t string) (int, error) {
	switch t {
	case "rougeL", "rougeLsum":
		return 0, nil
	}
	if len(t) == 6 && strings.HasPrefix(t, "rouge") && t[5] >= '0' && t[5] <= '9' {
		if t[5] == '0' {
			return 0, fmt.Errorf("metrics: rougen requires positive n: %s", t)
		}
		return int(t[5] - '0'), nil
	}
	return 0, fmt.Errorf("metrics: invalid ROUGE type %q (want rouge1…rouge9, rougeL or rougeLsum)", t)
}

// Types returns the scorer's ROUGE types.
func (s *ROUGEScorer) Types() []string { return append([]string(nil), s.types...) }

// ROUGETokenize is rouge-score's default tokenizer (tokenize.tokenize): lowercase (Python's
// str.lower()), replace every run of characters outside [a-z0-9] by a space, split, stem tokens
// longer than 3 characters with PorterStem when stem is set, and drop empty tokens.
func ROUGETokenize(text string, stem bool) []string {
	text = pyLower(text)
	var toks []string
	i := 0
	for i < len(text) {
		if !isLowerAlnum(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isLowerAlnum(text[j]) {
			j++
		}
		tok := text[i:j]
		if stem && len(tok) > 3 {
			tok = PorterStem(tok)
		}
		if validROUGEToken(tok) {
			toks = append(toks, tok)
		}
		i = j
	}
	return toks
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// validROUGEToken is the final check ^[a-z0-9]+$.
func validROUGEToken(t string) bool {
	if t == "" {
		return false
	}
	for i := 0; i < len(t); i++ {
		if !isLowerAlnum(t[i]) {
			return false
		}
	}
	return true
}

// rougeText is a text tokenized as the scorer's types need it.
type rougeText struct {
	toks  []string   // whole-text tokens (rougeN, rougeL)
	sents [][]string // tokens of each "\n"-separated sentence (rougeLsum)
}

func (s *ROUGEScorer) prepare(text string) rougeText {
	var t rougeText
	for _, typ := range s.types {
		if typ == "rougeLsum" {
			t.sents = s.sentences(text)
			break
		}
	}
	for _, typ := range s.types {
		if typ != "rougeLsum" {
			t.toks = ROUGETokenize(text, s.stem)
			break
		}
	}
	return t
}

func (s *ROUGEScorer) score(target, prediction rougeText) map[string]ROUGEScore {
	out := make(map[string]ROUGEScore, len(s.types))
	for _, typ := range s.types {
		switch typ {
		case "rougeL":
			out[typ] = scoreLCS(target.toks, prediction.toks)
		case "rougeLsum":
			out[typ] = summaryLevelLCS(target.sents, prediction.sents)
		default:
			n, _ := rougeN(typ) // checked by NewROUGEScorer
			out[typ] = scoreNgrams(ngramCounts(target.toks, n), ngramCounts(prediction.toks, n))
		}
	}
	return out
}

// Score is RougeScorer.score(target, prediction): one ROUGEScore per type.
func (s *ROUGEScorer) Score(target, prediction string) map[string]ROUGEScore {
	return s.score(s.prepare(target), s.prepare(prediction))
}

// ScoreMulti is RougeScorer.score_multi(targets, prediction): for each type separately, the
// score against the target with the highest F measure, the first one on ties (np.argmax).
func (s *ROUGEScorer) ScoreMulti(targets []string, prediction string) (map[string]ROUGEScore, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("metrics: ROUGE score_multi needs at least one target")
	}
	pred := s.prepare(prediction)
	all := make([]map[string]ROUGEScore, len(targets))
	for i, t := range targets {
		all[i] = s.score(s.prepare(t), pred)
	}
	out := make(map[string]ROUGEScore, len(s.types))
	for _, typ := range s.types {
		best := 0
		for i := 1; i < len(all); i++ {
			if all[i][typ].FMeasure > all[best][typ].FMeasure {
				best = i
			}
		}
		out[typ] = all[best][typ]
	}
	return out, nil
}

// sentences splits on "\n" only, drops empty strings and tokenizes each sentence.
func (s *ROUGEScorer) sentences(text string) [][]string {
	var out [][]string
	for _, sent := range strings.Split(text, "\n") {
		if sent != "" {
			out = append(out, ROUGETokenize(sent, s.stem))
		}
	}
	return out
}

// ngramCounts is _create_ngrams: n-grams as tokens joined by spaces (tokens have none).
func ngramCounts(toks []string, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], " ")]++
	}
	return m
}

// scoreNgrams is _score_ngrams.
func scoreNgrams(target, prediction map[string]int) ROUGEScore {
	inter, tc, pc := 0, 0, 0
	for ng, n := range target {
		inter += min(n, prediction[ng])
		tc += n
	}
	for _, n := range prediction {
		pc += n
	}
	p := float64(inter) / float64(max(pc, 1))
	r := float64(inter) / float64(max(tc, 1))
	return ROUGEScore{p, r, fmeasure(p, r)}
}

// lcsTable is _lcs_table: t[i][j] is the LCS length of ref[:i] and can[:j], stored row-major
// with stride len(can)+1.
func lcsTable(ref, can []string) []int32 {
	cols := len(can) + 1
	t := make([]int32, (len(ref)+1)*cols)
	for i := 1; i <= len(ref); i++ {
		row, prev := t[i*cols:(i+1)*cols], t[(i-1)*cols:i*cols]
		for j := 1; j <= len(can); j++ {
			if ref[i-1] == can[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
	}
	return t
}

// lcsLength is the bottom-right cell of lcsTable, computed with two rows.
func lcsLength(ref, can []string) int {
	prev := make([]int32, len(can)+1)
	row := make([]int32, len(can)+1)
	for i := 1; i <= len(ref); i++ {
		for j := 1; j <= len(can); j++ {
			if ref[i-1] == can[j-1] {
				row[j] = prev[j-1] + 1
			} else {
				row[j] = max(prev[j], row[j-1])
			}
		}
		prev, row = row, prev
	}
	return int(prev[len(can)])
}

// scoreLCS is _score_lcs (rougeL).
func scoreLCS(target, prediction []string) ROUGEScore {
	if len(target) == 0 || len(prediction) == 0 {
		return ROUGEScore{}
	}
	l := float64(lcsLength(target, prediction))
	p := l / float64(len(prediction))
	r := l / float64(len(target))
	return ROUGEScore{p, r, fmeasure(p, r)}
}

// lcsIndices is lcs_ind: the indices into ref of the LCS that _backtrack_norec reads out.
func lcsIndices(ref, can []string) []int {
	t := lcsTable(ref, can)
	cols := len(can) + 1
	i, j := len(ref), len(can)
	var idx []int
	for i > 0 && j > 0 {
		switch {
		case ref[i-1] == can[j-1]:
			idx = append(idx, i-1)
			i--
			j--
		case t[i*cols+j-1] > t[(i-1)*cols+j]:
			j--
		default:
			i--
		}
	}
	// Read out backwards; reverse to ascending order (Python inserts at the front).
	for a, b := 0, len(idx)-1; a < b; a, b = a+1, b-1 {
		idx[a], idx[b] = idx[b], idx[a]
	}
	return idx
}

// summaryLevelLCS is _summary_level_lcs (rougeLsum): for each reference sentence, the union of
// its LCS with every candidate sentence, with hits counted at most as often as the token occurs
// in both summaries.
func summaryLevelLCS(refSents, canSents [][]string) ROUGEScore {
	if len(refSents) == 0 || len(canSents) == 0 {
		return ROUGEScore{}
	}
	m, n := 0, 0
	cntR, cntC := map[string]int{}, map[string]int{}
	for _, s := range refSents {
		m += len(s)
		for _, t := range s {
			cntR[t]++
		}
	}
	for _, s := range canSents {
		n += len(s)
		for _, t := range s {
			cntC[t]++
		}
	}
	if m == 0 || n == 0 {
		return ROUGEScore{}
	}
	hits := 0
	for _, r := range refSents {
		union := map[int]bool{}
		for _, c := range canSents {
			for _, i := range lcsIndices(r, c) {
				union[i] = true
			}
		}
		idx := make([]int, 0, len(union))
		for i := range union {
			idx = append(idx, i)
		}
		sort.Ints(idx)
		for _, i := range idx {
			t := r[i]
			if cntC[t] > 0 && cntR[t] > 0 {
				hits++
				cntC[t]--
				cntR[t]--
			}
		}
	}
	rec := float64(hits) / float64(m)
	prec := float64(hits) / float64(n)
	return ROUGEScore{prec, rec, fmeasure(prec, rec)}
}
