package data

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/optiformer/optiformer/tensor"
)

// Example is an encoded sentence pair: token ids of the source and of the target (without
// BOS/EOS, which batching adds), and the input line.
type Example struct {
	Src, Tgt []int
	Line     int
}

// FilterOptions say which examples to drop.
type FilterOptions struct {
	MaxLen   int     // drop pairs where either side has more tokens (0: no limit)
	MaxRatio float64 // drop pairs whose length ratio (longer/shorter) exceeds this (0: no limit)
	// KeepEmpty keeps pairs with an empty side (dropped by default).
	KeepEmpty bool
}

// FilterReport counts what Filter dropped.
type FilterReport struct {
	Kept, Empty, TooLong, BadRatio int
}

func (r FilterReport) String() string {
	return fmt.Sprintf("kept %d pairs; dropped %d empty, %d over-long, %d with mismatched lengths", r.Kept, r.Empty, r.TooLong, r.BadRatio)
}

// Filter drops empty, over-long and badly length-mismatched pairs.
func Filter(ex []Example, o FilterOptions) ([]Example, FilterReport) {
	var rep FilterReport
	out := ex[:0:0]
	for _, e := range ex {
		ls, lt := len(e.Src), len(e.Tgt)
		switch {
		case !o.KeepEmpty && (ls == 0 || lt == 0):
			rep.Empty++
		case o.MaxLen > 0 && (ls > o.MaxLen || lt > o.MaxLen):
			rep.TooLong++
		case o.MaxRatio > 0 && ls > 0 && lt > 0 && float64(max(ls, lt)) > o.MaxRatio*float64(min(ls, lt)):
			rep.BadRatio++
		default:
			out = append(out, e)
		}
	}
	rep.Kept = len(out)
	return out, rep
}

// Batch is a padded batch of examples for a sequence-to-sequence model.
type Batch struct {
	Src    *tensor.Tensor // (B, S) source ids, then EOS, then padding
	TgtIn  *tensor.Tensor // (B, T) BOS, target ids, padding
	Labels *tensor.Tensor // (B, T) target ids, EOS, padding
	Lines  []int          // the input line of each row
	Tokens int            // target tokens that count (labels that are not padding)
}

// Special are the ids batching adds.
type Special struct{ Pad, BOS, EOS int }

// Batcher cuts examples into batches of at most MaxTokens padded tokens (the larger of the
// source and target sides, rows × longest row), grouping sentences of similar length so that
// little padding is needed. The order of batches is shuffled by a seed and an epoch number,
// so a run can be resumed at any batch.
type Batcher struct {
	ex        []Example
	maxTokens int
	sp        Special
	plan      [][]int // batches as example indices, in length order
}

// NewBatcher plans the batches. maxTokens must admit the longest example.
func NewBatcher(ex []Example, maxTokens int, sp Special) (*Batcher, error) {
	if maxTokens <= 0 {
		return nil, fmt.Errorf("data: max tokens per batch %d must be positive", maxTokens)
	}
	order := make([]int, len(ex))
	for i := range order {
		order[i] = i
	}
	size := func(e Example) (s, t int) { return len(e.Src) + 1, len(e.Tgt) + 1 }
	// Sort by target then source length (stable: equal lengths keep file order).
	sort.SliceStable(order, func(a, b int) bool {
		sa, ta := size(ex[order[a]])
		sb, tb := size(ex[order[b]])
		if ta != tb {
			return ta < tb
		}
		return sa < sb
	})
	b := &Batcher{ex: ex, maxTokens: maxTokens, sp: sp}
	var cur []int
	longest := 0
	for _, i := range order {
		s, t := size(ex[i])
		l := max(s, t)
		if l > maxTokens {
			return nil, fmt.Errorf("data: line %d has %d tokens, more than a whole batch (%d)", ex[i].Line, l, maxTokens)
		}
		if len(cur) > 0 && max(longest, l)*(len(cur)+1) > maxTokens {
			b.plan = append(b.plan, cur)
			cur, longest = nil, 0
		}
		cur = append(cur, i)
		longest = max(longest, l)
	}
	if len(cur) > 0 {
		b.plan = append(b.plan, cur)
	}
	return b, nil
}

// Len is the number of batches per epoch.
func (b *Batcher) Len() int { return len(b.plan) }

// Order is the order of batches in an epoch: a permutation of 0…Len()−1 fixed by seed and
// epoch.
func (b *Batcher) Order(seed uint64, epoch int) []int {
	r := rand.New(rand.NewPCG(seed, uint64(epoch)))
	return r.Perm(len(b.plan))
}

// Batch builds batch i of the plan (an index from Order).
func (b *Batcher) Batch(i int) Batch {
	rows := b.plan[i]
	ws, wt := 0, 0
	for _, r := range rows {
		ws = max(ws, len(b.ex[r].Src)+1)
		wt = max(wt, len(b.ex[r].Tgt)+1)
	}
	n := len(rows)
	src := make([]int32, n*ws)
	tin := make([]int32, n*wt)
	lab := make([]int32, n*wt)
	out := Batch{Lines: make([]int, n)}
	fill := func(s []int32, v int) {
		for i := range s {
			s[i] = int32(v)
		}
	}
	fill(src, b.sp.Pad)
	fill(tin, b.sp.Pad)
	fill(lab, b.sp.Pad)
	for k, r := range rows {
		e := b.ex[r]
		out.Lines[k] = e.Line
		for j, id := range e.Src {
			src[k*ws+j] = int32(id)
		}
		src[k*ws+len(e.Src)] = int32(b.sp.EOS)
		tin[k*wt] = int32(b.sp.BOS)
		for j, id := range e.Tgt {
			tin[k*wt+j+1] = int32(id)
			lab[k*wt+j] = int32(id)
		}
		lab[k*wt+len(e.Tgt)] = int32(b.sp.EOS)
		out.Tokens += len(e.Tgt) + 1
	}
	out.Src = tensor.FromI32(src, n, ws)
	out.TgtIn = tensor.FromI32(tin, n, wt)
	out.Labels = tensor.FromI32(lab, n, wt)
	return out
}
