// Package decode generates token sequences from a model one position at a time: greedy
// search and beam search (length penalty, early stopping, no-repeat n-grams, a maximum length
// relative to the source), batched over many sentences, with finished sentences dropped from
// the batch as they end. It drives models through the Model and Session interfaces it defines;
// models implement them without importing this package.
package decode

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/optiformer/optiformer/kernels"
)

// Model starts decoding sessions.
type Model interface {
	// Begin encodes the sources (token ids, one slice per sentence, without padding) and
	// returns a session with one row per source, positioned before the first target token.
	Begin(src [][]int) (Session, error)
	// VocabSize is the number of token ids the model scores.
	VocabSize() int
}

// Session is the incremental state of a batch of rows (hypotheses).
type Session interface {
	// Step feeds one token per row and returns the log-probabilities of the next token:
	// rows × VocabSize values, row-major. The slice may be reused by the next call.
	Step(tokens []int) ([]float32, error)
	// Keep rebuilds the batch: new row i continues old row idx[i]. Rows may repeat (beam
	// search copies a hypothesis) or be left out (finished sentences).
	Keep(idx []int)
}

// Releaser is a Session that holds buffers worth reusing: the search calls Release once it is
// done with the session (and never uses the session after).
type Releaser interface {
	Release()
}

// release hands s's buffers back when it holds any.
func release(s Session) {
	if r, ok := s.(Releaser); ok {
		r.Release()
	}
}

// Options control generation.
type Options struct {
	BOS, EOS int // the decoder's start token and the end token
	// MaxLenA and MaxLenB bound the output length at MaxLenA·len(src)+MaxLenB tokens (EOS
	// not counted), as fairseq's max_len_a/b; MaxLen, when > 0, is an absolute cap too.
	MaxLenA float64
	MaxLenB int
	MaxLen  int
	// Beam is the number of hypotheses kept per source; ≤ 1 is greedy search.
	Beam int
	// LengthPenalty α: a finished hypothesis scores Σ log p / len^α, len counting its tokens
	// including EOS (Hugging Face's length_penalty, which divides by the decoder input length:
	// start token plus tokens before EOS, the same number; 1 is the mean log-probability, 0 the
	// plain sum).
	LengthPenalty float64
	// EarlyStop ends a source's search as soon as Beam hypotheses have finished (Hugging Face
	// early_stopping=True); otherwise the search goes on while an open hypothesis could still
	// beat the worst finished one (an exact bound, where Hugging Face uses the current length).
	EarlyStop bool
	// NoRepeatNgram, when > 0, forbids repeating any n-gram of that size in a hypothesis.
	NoRepeatNgram int
}

// ErrBadOptions reports unusable options.
var ErrBadOptions = errors.New("decode: bad options")

func (o *Options) maxLen(srcLen int) int {
	n := int(o.MaxLenA*float64(srcLen)) + o.MaxLenB
	if o.MaxLen > 0 && (n <= 0 || n > o.MaxLen) {
		n = o.MaxLen
	}
	return max(n, 1)
}

func (o *Options) check(v int) error {
	switch {
	case o.BOS < 0 || o.BOS >= v || o.EOS < 0 || o.EOS >= v:
		return fmt.Errorf("%w: bos %d / eos %d outside the vocabulary of %d", ErrBadOptions, o.BOS, o.EOS, v)
	case o.MaxLenA < 0 || math.IsNaN(o.MaxLenA) || (o.MaxLenA == 0 && o.MaxLenB <= 0 && o.MaxLen <= 0):
		return fmt.Errorf("%w: no usable maximum length (max_len_a %v, max_len_b %d, max_len %d)", ErrBadOptions, o.MaxLenA, o.MaxLenB, o.MaxLen)
	case o.NoRepeatNgram < 0 || o.Beam > 1024:
		return fmt.Errorf("%w: beam %d, no_repeat_ngram %d", ErrBadOptions, o.Beam, o.NoRepeatNgram)
	}
	return nil
}

// Result is the output for one source: the best hypothesis first.
type Result struct {
	Hyps []Hypothesis
}

// Hypothesis is one output sequence (without BOS and EOS) and its score: the length-normalised
// log-probability for beam search, the plain sum for greedy search. Every hypothesis ends with
// EOS: at the maximum length EOS is forced (as fairseq does), so all scores count the same
// kind of sequence.
type Hypothesis struct {
	Tokens    []int
	Score     float64
	LogProb   float64 // Σ log p over the tokens and the final EOS
	Truncated bool    // EOS was forced at the maximum length
}

// Generate decodes every source and returns one Result per source, in order.
func Generate(m Model, src [][]int, o Options) ([]Result, error) {
	v := m.VocabSize()
	if err := o.check(v); err != nil {
		return nil, err
	}
	if len(src) == 0 {
		return nil, nil
	}
	if o.Beam <= 1 {
		return greedy(m, src, o, v)
	}
	return beam(m, src, o, v)
}

// banned returns the tokens that would repeat an n-gram of hyp (the no-repeat rule).
func banned(hyp []int, n int) []int {
	if n <= 0 || len(hyp)+1 < n {
		return nil
	}
	prefix := hyp[len(hyp)-(n-1):]
	var out []int
	for i := 0; i+n <= len(hyp); i++ {
		match := true
		for j := 0; j < n-1; j++ {
			if hyp[i+j] != prefix[j] {
				match = false
				break
			}
		}
		if match {
			out = append(out, hyp[i+n-1])
		}
	}
	return out
}

// greedy decodes all sources at once, one row each, dropping rows as they finish.
func greedy(m Model, src [][]int, o Options, v int) ([]Result, error) {
	s, err := m.Begin(src)
	if err != nil {
		return nil, err
	}
	defer release(s)
	n := len(src)
	out := make([]Result, n)
	live := make([]int, n) // batch row → source
	hyps := make([][]int, n)
	logp := make([]float64, n)
	tokens := make([]int, n)
	limits := make([]int, n)
	for i := range live {
		live[i] = i
		tokens[i] = o.BOS
		limits[i] = o.maxLen(len(src[i]))
	}
	for len(live) > 0 {
		lp, err := s.Step(tokens)
		if err != nil {
			return nil, err
		}
		var keep []int
		next := tokens[:0]
		for r, si := range live {
			row := lp[r*v : (r+1)*v]
			forced := len(hyps[si]) >= limits[si]
			best := o.EOS
			if !forced {
				for _, t := range banned(hyps[si], o.NoRepeatNgram) {
					row[t] = float32(math.Inf(-1))
				}
				best = kernels.ArgMax(row)
			}
			logp[si] += float64(row[best])
			if best == o.EOS {
				out[si] = Result{Hyps: []Hypothesis{{Tokens: hyps[si], Score: logp[si], LogProb: logp[si], Truncated: forced}}}
				continue
			}
			hyps[si] = append(hyps[si], best)
			keep = append(keep, r)
			next = append(next, best)
		}
		if len(keep) < len(live) {
			nl := make([]int, len(keep))
			for i, r := range keep {
				nl[i] = live[r]
			}
			live = nl
			if len(live) > 0 {
				s.Keep(keep)
			}
		}
		tokens = next
	}
	return out, nil
}

// beamState is the search of one source.
type beamState struct {
	src      int
	limit    int
	open     []hyp // the live hypotheses (≤ beam)
	finished []Hypothesis
	done     bool
}

type hyp struct {
	tokens []int
	logp   float64
}

func (o *Options) normalise(logp float64, length int) float64 {
	if o.LengthPenalty == 0 {
		return logp
	}
	return logp / math.Pow(float64(length), o.LengthPenalty)
}

// worstFinished is the lowest score among finished hypotheses (+Inf when fewer than beam).
func (b *beamState) worstFinished(beam int) float64 {
	if len(b.finished) < beam {
		return math.Inf(1)
	}
	w := math.Inf(1)
	for _, h := range b.finished {
		w = math.Min(w, h.Score)
	}
	return w
}

// addFinished keeps the best beam finished hypotheses.
func (b *beamState) addFinished(h Hypothesis, beam int) {
	b.finished = append(b.finished, h)
	sort.SliceStable(b.finished, func(i, j int) bool { return b.finished[i].Score > b.finished[j].Score })
	if len(b.finished) > beam {
		b.finished = b.finished[:beam]
	}
}

// beam runs beam search for all sources together: the session holds beam rows per live source
// (one row at the start), sources leave the batch when their search is done.
func beam(m Model, src [][]int, o Options, v int) ([]Result, error) {
	k := o.Beam
	s, err := m.Begin(src)
	if err != nil {
		return nil, err
	}
	defer release(s)
	states := make([]*beamState, len(src))
	for i := range src {
		states[i] = &beamState{src: i, limit: o.maxLen(len(src[i])), open: []hyp{{}}}
	}
	live := states // sources in the batch, each owning len(open) consecutive rows
	tokens := make([]int, len(src))
	for i := range tokens {
		tokens[i] = o.BOS
	}
	type cand struct {
		row    int // batch row it extends
		h      int // index in open
		tok    int
		logp   float64
		forced bool // EOS at the maximum length
	}
	var top []int
	for len(live) > 0 {
		lp, err := s.Step(tokens)
		if err != nil {
			return nil, err
		}
		var keepRows []int
		var nextTokens []int
		var nextLive []*beamState
		row := 0
		for _, b := range live {
			var cands []cand
			for hi, h := range b.open {
				r := lp[(row+hi)*v : (row+hi+1)*v]
				if len(h.tokens) >= b.limit { // only EOS may follow
					cands = append(cands, cand{row: row + hi, h: hi, tok: o.EOS, logp: h.logp + float64(r[o.EOS]), forced: true})
					continue
				}
				for _, t := range banned(h.tokens, o.NoRepeatNgram) {
					r[t] = float32(math.Inf(-1))
				}
				// The 2k best tokens of this hypothesis are enough: at most k can end.
				top = kernels.TopK(top[:0], r, 2*k)
				for _, t := range top {
					lpn := h.logp + float64(r[t])
					cands = append(cands, cand{row: row + hi, h: hi, tok: t, logp: lpn})
				}
			}
			row += len(b.open)
			sort.SliceStable(cands, func(i, j int) bool { return cands[i].logp > cands[j].logp })
			var open []hyp
			var rows, toks []int
			for ci, c := range cands {
				h := b.open[c.h]
				if c.tok == o.EOS {
					// As in Hugging Face, an end counts only among the beam best candidates
					// (a forced end always counts).
					if ci < k || c.forced {
						n := len(h.tokens) + 1
						b.addFinished(Hypothesis{Tokens: append([]int(nil), h.tokens...), LogProb: c.logp,
							Score: o.normalise(c.logp, n), Truncated: c.forced}, k)
					}
					continue
				}
				if math.IsInf(c.logp, -1) {
					continue
				}
				nt := append(append([]int(nil), h.tokens...), c.tok)
				open = append(open, hyp{tokens: nt, logp: c.logp})
				rows = append(rows, c.row)
				toks = append(toks, c.tok)
				if len(open) == k {
					break
				}
			}
			b.open = open
			b.done = b.isDone(o, k)
			if b.done {
				continue
			}
			nextLive = append(nextLive, b)
			keepRows = append(keepRows, rows...)
			nextTokens = append(nextTokens, toks...)
		}
		live = nextLive
		if len(live) > 0 {
			s.Keep(keepRows)
		}
		tokens = nextTokens
	}
	out := make([]Result, len(src))
	for i, b := range states {
		out[i] = Result{Hyps: b.finished}
	}
	return out, nil
}

// isDone decides whether a source's search is over.
func (b *beamState) isDone(o Options, k int) bool {
	if len(b.open) == 0 {
		return true
	}
	if len(b.finished) < k {
		return false
	}
	if o.EarlyStop {
		return true
	}
	// Can an open hypothesis still beat the worst finished one? With α ≥ 0 and
	// log-probabilities ≤ 0, the best it can reach is its current sum divided by the longest
	// length it may still reach (α > 0), or its current sum (α = 0). The open hypotheses are
	// sorted by sum, so the first is the best.
	best := b.open[0].logp
	bound := best
	if o.LengthPenalty > 0 {
		bound = best / math.Pow(float64(b.limit+1), o.LengthPenalty)
	} else if o.LengthPenalty < 0 {
		bound = math.Inf(1) // no useful bound: search to the end
	}
	return bound < b.worstFinished(k)
}

// Func adapts a function to Model, for models that expose their sessions without importing
// this package:
//
//	decode.Func{Vocab: v, BeginFunc: func(src [][]int) (decode.Session, error) { return m.BeginDecode(src) }}
type Func struct {
	Vocab     int
	BeginFunc func(src [][]int) (Session, error)
}

// VocabSize returns f.Vocab.
func (f Func) VocabSize() int { return f.Vocab }

// Begin calls f.BeginFunc.
func (f Func) Begin(src [][]int) (Session, error) { return f.BeginFunc(src) }
