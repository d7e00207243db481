package metrics

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SacreBLEUVersion is the sacreBLEU release whose BLEU and chrF this package reproduces; it ends
// every signature.
const SacreBLEUVersion = "2.6.0"

// BLEUOptions mirrors the arguments of sacreBLEU's BLEU(...). The zero value is BLEU() with its
// defaults: mixed case, tokenizer "13a", exp smoothing, 4-grams, no effective order.
type BLEUOptions struct {
	// Lowercase computes case-insensitive BLEU (Python's str.lower()).
	Lowercase bool
	// Tokenize names the tokenizer: "13a" (default when empty), "intl" or "none".
	Tokenize string
	// Smooth is the smoothing method: "exp" (default when empty), "floor", "add-k" or "none".
	Smooth string
	// SmoothValue is the value for "floor" (default 0.1) and "add-k" (default 1); zero means
	// the default (sacreBLEU's None), so an explicit smooth_value=0 is not expressible: it
	// equals "none" for floor and no smoothing for add-k.
	SmoothValue float64
	// MaxNgramOrder is the highest n-gram order; zero means 4.
	MaxNgramOrder int
	// EffectiveOrder stops averaging at the highest order that has any n-gram, as
	// sacrebleu.sentence_bleu does (BLEU(effective_order=True)). Use it for sentence BLEU.
	EffectiveOrder bool
}

// BLEUScore is sacreBLEU's BLEUScore: the score in [0, 100] and its sufficient statistics.
type BLEUScore struct {
	Score float64
	// Counts[n-1] is the number of matched n-grams (clipped by the references), Totals[n-1]
	// the number of hypothesis n-grams. They are the raw statistics: with "add-k" smoothing
	// sacreBLEU's own object reports them with k added for n ≥ 2; Precisions include it.
	Counts []int
	Totals []int
	// Precisions[n-1] is the n-gram precision in percent, after smoothing.
	Precisions []float64
	// BP is the brevity penalty.
	BP float64
	// SysLen is the number of hypothesis tokens, RefLen the sum of the closest reference
	// lengths.
	SysLen, RefLen int
	// Signature is sacreBLEU's reproducibility signature, e.g.
	// "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0".
	Signature string
}

// String formats the score as sacreBLEU prints it (Score.format with width 2), e.g.
// "BLEU = 34.03 85.8/39.7/24.6/16.3 (BP = 0.995 ratio = 0.995 hyp_len = 12763 ref_len = 12825)".
func (s BLEUScore) String() string {
	var b strings.Builder
	b.WriteString("BLEU = ")
	b.WriteString(strconv.FormatFloat(s.Score, 'f', 2, 64))
	b.WriteByte(' ')
	for i, p := range s.Precisions {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(strconv.FormatFloat(p, 'f', 1, 64))
	}
	ratio := 0.0
	if s.RefLen != 0 {
		ratio = float64(s.SysLen) / float64(s.RefLen)
	}
	fmt.Fprintf(&b, " (BP = %s ratio = %s hyp_len = %d ref_len = %d)",
		strconv.FormatFloat(s.BP, 'f', 3, 64), strconv.FormatFloat(ratio, 'f', 3, 64), s.SysLen, s.RefLen)
	return b.String()
}

// bleuConfig is BLEUOptions with the defaults resolved and checked.
type bleuConfig struct {
	lowercase   bool
	tok         string
	tokenize    func(string) string
	smooth      string
	smoothValue float64
	order       int
	effective   bool
}

func (o BLEUOptions) config() (bleuConfig, error) {
	c := bleuConfig{lowercase: o.Lowercase, tok: o.Tokenize, smooth: o.Smooth, order: o.MaxNgramOrder,
		effective: o.EffectiveOrder, smoothValue: o.SmoothValue}
	switch c.tok {
	case "", "13a":
		c.tok, c.tokenize = "13a", Tokenize13a
	case "intl":
		c.tokenize = TokenizeIntl
	case "none":
		c.tokenize = func(s string) string { return s }
	default:
		return c, fmt.Errorf("metrics: unknown BLEU tokenizer %q (want 13a, intl or none)", o.Tokenize)
	}
	switch c.smooth {
	case "", "exp":
		c.smooth = "exp"
	case "none":
	case "floor":
		if c.smoothValue == 0 {
			c.smoothValue = 0.1
		}
	case "add-k":
		if c.smoothValue == 0 {
			c.smoothValue = 1
		}
	default:
		return c, fmt.Errorf("metrics: unknown BLEU smoothing method %q (want exp, floor, add-k or none)", o.Smooth)
	}
	if math.IsNaN(c.smoothValue) || math.IsInf(c.smoothValue, 0) || c.smoothValue < 0 {
		return c, fmt.Errorf("metrics: BLEU smoothing value %v must be a finite non-negative number", o.SmoothValue)
	}
	if c.order == 0 {
		c.order = 4
	}
	if c.order < 0 || c.order > 100 {
		return c, fmt.Errorf("metrics: BLEU n-gram order %d out of range [1, 100]", o.MaxNgramOrder)
	}
	return c, nil
}

// signature formats BLEUSignature: nrefs, case, eff, tok, smooth, version.
func (c bleuConfig) signature(nrefs int) string {
	smooth := c.smooth
	if smooth == "floor" || smooth == "add-k" {
		smooth += "[" + strconv.FormatFloat(c.smoothValue, 'f', 2, 64) + "]"
	}
	return fmt.Sprintf("nrefs:%d|case:%s|eff:%s|tok:%s|smooth:%s|version:%s",
		nrefs, caseName(c.lowercase), yesNo(c.effective), c.tok, smooth, SacreBLEUVersion)
}

func caseName(lc bool) string {
	if lc {
		return "lc"
	}
	return "mixed"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func (c bleuConfig) preprocess(s string) string {
	if c.lowercase {
		s = pyLower(s)
	}
	return c.tokenize(pyRStrip(s))
}

// wordNgrams counts the n-grams (1 ≤ n ≤ order) of the whitespace-separated tokens of line.
// Keys are substrings of the re-joined token string, so an n-gram is its tokens joined by single
// spaces; tokens never contain spaces, so keys of different orders never collide.
func wordNgrams(line string, order int, into map[string]int) (ntokens int) {
	toks := pyFields(line)
	joined := strings.Join(toks, " ")
	starts := make([]int, len(toks)+1)
	off := 0
	for i, t := range toks {
		starts[i] = off
		off += len(t) + 1
	}
	starts[len(toks)] = off // one past the trailing (virtual) space
	for n := 1; n <= order; n++ {
		for i := 0; i+n <= len(toks); i++ {
			into[joined[starts[i]:starts[i+n]-1]]++
		}
	}
	return len(toks)
}

// bleuRef holds one segment's references: max-over-references n-gram counts and lengths.
type bleuRef struct {
	ngrams map[string]int
	lens   []int
}

func (c bleuConfig) refInfo(refs []string) bleuRef {
	r := bleuRef{ngrams: map[string]int{}, lens: make([]int, 0, len(refs))}
	var tmp map[string]int
	for k, ref := range refs {
		ref = c.preprocess(ref)
		if k == 0 {
			r.lens = append(r.lens, wordNgrams(ref, c.order, r.ngrams))
			continue
		}
		if tmp == nil {
			tmp = map[string]int{}
		} else {
			clear(tmp)
		}
		r.lens = append(r.lens, wordNgrams(ref, c.order, tmp))
		for ng, n := range tmp {
			if n > r.ngrams[ng] {
				r.ngrams[ng] = n
			}
		}
	}
	return r
}

// closestRefLen is sacreBLEU's _get_closest_ref_len: the reference length closest to hypLen,
// the shorter one on ties.
func closestRefLen(hypLen int, lens []int) int {
	closestDiff, closestLen := -1, -1
	for _, l := range lens {
		d := hypLen - l
		if d < 0 {
			d = -d
		}
		if closestDiff == -1 || d < closestDiff {
			closestDiff, closestLen = d, l
		} else if d == closestDiff && l < closestLen {
			closestLen = l
		}
	}
	return closestLen
}

// bleuStats are the summed segment statistics: sysLen, refLen, correct[n], total[n].
type bleuStats struct {
	sysLen, refLen int
	correct, total []int
}

func (c bleuConfig) segmentStats(hyp string, ref bleuRef, st *bleuStats, scratch map[string]int) {
	clear(scratch)
	hypLen := wordNgrams(c.preprocess(hyp), c.order, scratch)
	st.sysLen += hypLen
	st.refLen += closestRefLen(hypLen, ref.lens)
	for ng, n := range scratch {
		o := strings.Count(ng, " ")
		st.total[o] += n
		if m, ok := ref.ngrams[ng]; ok {
			st.correct[o] += min(n, m)
		}
	}
}

// CorpusBLEU is sacreBLEU's BLEU(**opts).corpus_score(hyps, refs). refs is a list of reference
// streams, as in sacreBLEU: refs[k][i] is the k-th reference of hyps[i], and every stream must
// have len(hyps) lines. An empty reference line counts as a reference of length 0.
func CorpusBLEU(hyps []string, refs [][]string, opts BLEUOptions) (BLEUScore, error) {
	c, err := opts.config()
	if err != nil {
		return BLEUScore{}, err
	}
	if err := checkStreams(hyps, refs); err != nil {
		return BLEUScore{}, err
	}
	st := bleuStats{correct: make([]int, c.order), total: make([]int, c.order)}
	segRefs := make([]string, len(refs))
	scratch := map[string]int{}
	for i, h := range hyps {
		for k := range refs {
			segRefs[k] = refs[k][i]
		}
		c.segmentStats(h, c.refInfo(segRefs), &st, scratch)
	}
	s := c.compute(st)
	s.Signature = c.signature(len(refs))
	return s, nil
}

// SentenceBLEU is sacreBLEU's BLEU(**opts).sentence_score(hyp, refs). sacrebleu.sentence_bleu
// is SentenceBLEU with EffectiveOrder set; without it short sentences often score 0.
func SentenceBLEU(hyp string, refs []string, opts BLEUOptions) (BLEUScore, error) {
	c, err := opts.config()
	if err != nil {
		return BLEUScore{}, err
	}
	if len(refs) == 0 {
		return BLEUScore{}, fmt.Errorf("metrics: sentence BLEU needs at least one reference")
	}
	st := bleuStats{correct: make([]int, c.order), total: make([]int, c.order)}
	c.segmentStats(hyp, c.refInfo(refs), &st, map[string]int{})
	s := c.compute(st)
	s.Signature = c.signature(len(refs))
	return s, nil
}

func checkStreams(hyps []string, refs [][]string) error {
	if len(hyps) == 0 {
		return fmt.Errorf("metrics: no hypotheses")
	}
	if len(refs) == 0 {
		return fmt.Errorf("metrics: no reference streams")
	}
	for k, r := range refs {
		if len(r) != len(hyps) {
			return fmt.Errorf("metrics: hypothesis and reference counts differ: %d hypotheses, reference stream %d has %d lines", len(hyps), k, len(r))
		}
	}
	return nil
}

// myLog is sacreBLEU's my_log: log floored to -9999999999 at zero.
func myLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// compute is sacreBLEU's BLEU.compute_bleu: brevity penalty, smoothed precisions and their
// geometric mean, with the same floating-point operations in the same order.
func (c bleuConfig) compute(st bleuStats) BLEUScore {
	s := BLEUScore{Counts: st.correct, Totals: st.total, SysLen: st.sysLen, RefLen: st.refLen,
		Precisions: make([]float64, c.order)}
	if st.sysLen < st.refLen {
		if st.sysLen > 0 {
			s.BP = math.Exp(1 - float64(st.refLen)/float64(st.sysLen))
		}
	} else {
		s.BP = 1
	}
	matched := false
	for _, n := range st.correct {
		if n != 0 {
			matched = true
			break
		}
	}
	if !matched {
		return s
	}
	smoothMteval := 1.0
	effOrder := c.order
	for n := 1; n <= c.order; n++ {
		correct, total := float64(st.correct[n-1]), float64(st.total[n-1])
		if c.smooth == "add-k" && n > 1 {
			correct += c.smoothValue
			total += c.smoothValue
		}
		if total == 0 {
			break
		}
		if c.effective {
			effOrder = n
		}
		if correct == 0 {
			switch c.smooth {
			case "exp":
				smoothMteval *= 2
				s.Precisions[n-1] = 100 / (smoothMteval * total)
			case "floor":
				s.Precisions[n-1] = 100 * c.smoothValue / total
			}
		} else {
			s.Precisions[n-1] = 100 * correct / total
		}
	}
	logs := make([]float64, effOrder)
	for i := range logs {
		logs[i] = myLog(s.Precisions[i])
	}
	s.Score = s.BP * math.Exp(pySum(logs)/float64(effOrder))
	return s
}

// pySum is Python's built-in sum() over floats as CPython up to 3.11 computes it: left to right,
// starting from 0. (CPython 3.12 added Neumaier compensation, which can change the last bit;
// the reference vectors agree bit for bit more often with the plain sum.)
func pySum(xs []float64) float64 {
	sum := 0.0
	for _, x := range xs {
		sum += x
	}
	return sum
}
