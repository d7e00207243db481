package decode_test

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"sort"
	"testing"

	"github.com/optiformer/optiformer/decode"
)

// toy is a deterministic model: the log-probabilities of the next token depend on the source
// and the whole prefix through a hash, so any bookkeeping mistake changes the output.
type toy struct {
	v        int
	steps    int // Step calls, over all sessions
	rows     int // rows stepped
	releases int // Release calls, over all sessions
}

type toySession struct {
	m        *toy
	src      [][]int
	prefix   [][]int // per row: source index, then tokens fed
	out      []float32
	released bool
}

func (m *toy) VocabSize() int { return m.v }

func (m *toy) Begin(src [][]int) (decode.Session, error) {
	s := &toySession{m: m, src: src}
	for i := range src {
		s.prefix = append(s.prefix, []int{i})
	}
	return s, nil
}

func (m *toy) logprobs(src []int, prefix []int) []float64 {
	lp := make([]float64, m.v)
	var sum float64
	for t := range lp {
		h := fnv.New64a()
		fmt.Fprint(h, src, prefix, t)
		x := float64(h.Sum64()%1000) / 250 // logits in [0, 4)
		lp[t] = x
		sum += math.Exp(x)
	}
	for t := range lp {
		lp[t] -= math.Log(sum)
	}
	return lp
}

func (s *toySession) Step(tokens []int) ([]float32, error) {
	if s.released {
		return nil, errors.New("Step after Release")
	}
	if len(tokens) != len(s.prefix) {
		return nil, fmt.Errorf("%d tokens for %d rows", len(tokens), len(s.prefix))
	}
	s.m.steps++
	s.m.rows += len(tokens)
	s.out = s.out[:0]
	for r, t := range tokens {
		s.prefix[r] = append(s.prefix[r], t)
		for _, x := range s.m.logprobs(s.src[s.prefix[r][0]], s.prefix[r][1:]) {
			s.out = append(s.out, float32(x))
		}
	}
	return s.out, nil
}

// Release counts the calls (decode.Releaser); a second one on the same session is a bug.
func (s *toySession) Release() {
	if s.released {
		panic("Release twice")
	}
	s.released = true
	s.m.releases++
}

func (s *toySession) Keep(idx []int) {
	p := make([][]int, len(idx))
	for i, j := range idx {
		p[i] = append([]int(nil), s.prefix[j]...)
	}
	s.prefix = p
}

const bos, eos = 1, 2

// bruteForce enumerates every hypothesis up to maxLen tokens and returns the best by score.
func bruteForce(m *toy, src []int, maxLen int, alpha float64) (best []int, score float64) {
	score = math.Inf(-1)
	var walk func(prefix []int, logp float64)
	walk = func(prefix []int, logp float64) {
		lp := m.logprobs(src, append([]int{bos}, prefix...))
		// end here
		n := len(prefix) + 1
		if sc := (logp + lp[eos]) / math.Pow(float64(n), alpha); sc > score {
			best, score = append([]int(nil), prefix...), sc
		}
		if len(prefix) == maxLen {
			return
		}
		for t := 0; t < m.v; t++ {
			if t != eos {
				walk(append(prefix, t), logp+lp[t])
			}
		}
	}
	walk(nil, 0)
	return best, score
}

func TestBeamMatchesExhaustiveSearch(t *testing.T) {
	m := &toy{v: 4}
	src := [][]int{{5, 6}, {7}, {8, 9, 10}}
	const maxLen = 3 // 3 non-end tokens: 27 prefixes of the longest length, within the beam of 64
	for _, alpha := range []float64{0, 1} {
		// A beam as wide as all prefixes of the longest length is exhaustive.
		res, err := decode.Generate(m, src, decode.Options{BOS: bos, EOS: eos, MaxLen: maxLen, Beam: 64, LengthPenalty: alpha})
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range src {
			want, ws := bruteForce(m, s, maxLen, alpha)
			got := res[i].Hyps[0]
			if !reflect.DeepEqual(got.Tokens, want) || math.Abs(got.Score-ws) > 1e-5 {
				t.Errorf("alpha %v source %d: beam %v (%.6f), exhaustive %v (%.6f)", alpha, i, got.Tokens, got.Score, want, ws)
			}
		}
	}
}

func TestGreedyAndBatching(t *testing.T) {
	m := &toy{v: 6}
	src := [][]int{{3}, {4, 4}, {5, 5, 5}, {3}}
	o := decode.Options{BOS: bos, EOS: eos, MaxLenA: 2, MaxLenB: 3}
	all, err := decode.Generate(m, src, o)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range src {
		one, err := decode.Generate(m, [][]int{s}, o)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one[0], all[i]) {
			t.Errorf("source %d alone %+v, in a batch %+v", i, one[0], all[i])
		}
		// Greedy is the argmax at every step.
		prefix := []int{bos}
		for _, tok := range all[i].Hyps[0].Tokens {
			lp := m.logprobs(s, prefix)
			best := 0
			for j := range lp {
				if lp[j] > lp[best] {
					best = j
				}
			}
			if best != tok {
				t.Fatalf("source %d: token %d is not the argmax %d", i, tok, best)
			}
			prefix = append(prefix, tok)
		}
		if n := len(all[i].Hyps[0].Tokens); n > 2*len(s)+3 {
			t.Errorf("source %d: %d tokens over the limit %d", i, n, 2*len(s)+3)
		}
	}
	// Equal sources give equal outputs; finished rows left the batch (fewer rows than
	// sources × steps).
	if !reflect.DeepEqual(all[0], all[3]) {
		t.Error("equal sources decoded differently")
	}
}

// Greedy and beam search release their session once, after its last step.
func TestReleaseOnce(t *testing.T) {
	for _, beam := range []int{1, 3} {
		m := &toy{v: 6}
		o := decode.Options{BOS: bos, EOS: eos, MaxLenA: 2, MaxLenB: 3, Beam: beam}
		for call := 1; call <= 2; call++ {
			if _, err := decode.Generate(m, [][]int{{3}, {4, 4}}, o); err != nil {
				t.Fatal(beam, err)
			}
			if m.releases != call {
				t.Fatalf("beam %d: %d releases after %d searches", beam, m.releases, call)
			}
		}
	}
}

func TestNoRepeatNgram(t *testing.T) {
	m := &toy{v: 3} // tokens 0 and 1 (no eos choice besides 2): repeats are likely
	res, err := decode.Generate(m, [][]int{{1}, {2}}, decode.Options{BOS: bos, EOS: eos, MaxLen: 12, NoRepeatNgram: 2, Beam: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		for _, h := range r.Hyps {
			seen := map[[2]int]bool{}
			for i := 0; i+1 < len(h.Tokens); i++ {
				g := [2]int{h.Tokens[i], h.Tokens[i+1]}
				if seen[g] {
					t.Fatalf("bigram %v repeated in %v", g, h.Tokens)
				}
				seen[g] = true
			}
		}
		sorted := sort.SliceIsSorted(r.Hyps, func(i, j int) bool { return r.Hyps[i].Score > r.Hyps[j].Score })
		if !sorted || len(r.Hyps) == 0 {
			t.Fatalf("hypotheses not best-first: %+v", r.Hyps)
		}
	}
}

func TestBadOptions(t *testing.T) {
	m := &toy{v: 4}
	for _, o := range []decode.Options{
		{BOS: 9, EOS: 2, MaxLen: 3},
		{BOS: 1, EOS: 2},
		{BOS: 1, EOS: 2, MaxLen: 3, NoRepeatNgram: -1},
	} {
		if _, err := decode.Generate(m, [][]int{{1}}, o); !errors.Is(err, decode.ErrBadOptions) {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
