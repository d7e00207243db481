package hf

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"
)

type mergeVal struct {
	rank  int32
	newID int32
}

// bpe is the BPE model.
type bpe struct {
	*vocab
	merges       map[uint64]mergeVal
	unk          string
	hasUnk       bool
	prefix       string
	hasPrefix    bool
	suffix       string
	hasSuffix    bool
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	// byteIDs[b] is the id of "<0xXX>" (or -1), for byte_fallback.
	byteIDs [256]int
	// charIDs caches the id of single ASCII chars as first / later / last / only char of a
	// word (prefix and suffix applied), or -1.
	charIDs [4][128]int32

	cache bpeCache
}

type sym struct {
	id   int32
	size int32 // bytes of the original word
}

// bpeCache remembers the symbols of words, like the Rust model's cache (capacity 10,000
// words shorter than 256 bytes; once full it stops adding).
type bpeCache struct {
	mu sync.RWMutex
	m  map[string][]sym
}

const (
	bpeCacheCap    = 10000
	bpeCacheMaxLen = 256
)

func (c *bpeCache) get(s string) ([]sym, bool) {
	c.mu.RLock()
	v, ok := c.m[s]
	c.mu.RUnlock()
	return v, ok
}

func (c *bpeCache) set(s string, v []sym) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string][]sym, 1024)
	}
	if len(c.m) < bpeCacheCap {
		c.m[s] = v
	}
	c.mu.Unlock()
}

func pairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func (m *bpe) init() {
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := m.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	for k := 0; k < 4; k++ {
		for c := 0; c < 128; c++ {
			s := string(rune(c))
			if (k == 1 || k == 2) && m.hasPrefix { // not first
				s = m.prefix + s
			}
			if (k == 2 || k == 3) && m.hasSuffix { // last
				s += m.suffix
			}
			m.charIDs[k][c] = -1
			if id, ok := m.ids[s]; ok {
				m.charIDs[k][c] = int32(id)
			}
		}
	}
}

var errUnkNotInVocab = errors.New("hf: BPE: the unk token is not in the vocabulary")

// word builds the initial symbols of w (Rust merge_word before merging).
func (m *bpe) word(w string) ([]sym, error) {
	syms := make([]sym, 0, len(w))
	unkID, unkLen := int32(-1), int32(0)
	var buf []byte
	for i := 0; i < len(w); {
		r, size := utf8.DecodeRuneInString(w[i:])
		first, last := i == 0, i+size == len(w)
		id := int32(-1)
		if r < 128 {
			k := 1
			switch {
			case first && last:
				k = 3
			case first:
				k = 0
			case last:
				k = 2
			}
			if first && last && m.hasPrefix {
				k = 3
			}
			id = m.charIDs[k][r]
		} else {
			buf = buf[:0]
			if !first && m.hasPrefix {
				buf = append(buf, m.prefix...)
			}
			buf = append(buf, w[i:i+size]...)
			if last && m.hasSuffix {
				buf = append(buf, m.suffix...)
			}
			if v, ok := m.ids[string(buf)]; ok {
				id = int32(v)
			}
		}
		if id >= 0 {
			if unkID >= 0 {
				syms = append(syms, sym{unkID, unkLen})
				unkID = -1
			}
			syms = append(syms, sym{id, int32(size)})
			i += size
			continue
		}
		if m.byteFallback {
			// The whole char (with prefix / suffix) must be representable in bytes.
			s := w[i : i+size]
			if !first && m.hasPrefix {
				s = m.prefix + s
			}
			if last && m.hasSuffix {
				s += m.suffix
			}
			ok := true
			for k := 0; k < len(s); k++ {
				if m.byteIDs[s[k]] < 0 {
					ok = false
					break
				}
			}
			if ok {
				for k := 0; k < len(s); k++ {
					syms = append(syms, sym{int32(m.byteIDs[s[k]]), 1})
				}
				i += size
				continue
			}
		}
		if m.hasUnk {
			uid, ok := m.ids[m.unk]
			if !ok {
				return nil, errUnkNotInVocab
			}
			switch {
			case unkID >= 0 && m.fuseUnk:
				unkLen += int32(size)
			case unkID >= 0:
				syms = append(syms, sym{unkID, unkLen})
				unkID, unkLen = int32(uid), int32(size)
			default:
				unkID, unkLen = int32(uid), int32(size)
			}
		}
		i += size
	}
	if unkID >= 0 {
		syms = append(syms, sym{unkID, unkLen})
	}
	return syms, nil
}

// mergeAll applies the merges by rank, leftmost first (Rust Word::merge_all).
func (m *bpe) mergeAll(syms []sym) []sym {
	if len(syms) < 2 {
		return syms
	}
	if len(syms) > 48 {
		return m.mergeHeap(syms)
	}
	for {
		best, bestRank, bestID := -1, int32(0), int32(0)
		for i := 0; i+1 < len(syms); i++ {
			if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok && (best < 0 || v.rank < bestRank) {
				best, bestRank, bestID = i, v.rank, v.newID
			}
		}
		if best < 0 {
			return syms
		}
		syms[best] = sym{bestID, syms[best].size + syms[best+1].size}
		syms = append(syms[:best+1], syms[best+2:]...)
	}
}

type mergeItem struct {
	pos   int
	rank  int32
	newID int32
}

type mergeHeap []mergeItem

func (h mergeHeap) Len() int { return len(h) }
func (h mergeHeap) Less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}
func (h mergeHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *mergeHeap) Push(x any)   { *h = append(*h, x.(mergeItem)) }
func (h *mergeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (m *bpe) mergeHeap(syms []sym) []sym {
	n := len(syms)
	prev := make([]int, n)
	next := make([]int, n)
	for i := range syms {
		prev[i], next[i] = i-1, i+1
	}
	next[n-1] = -1
	h := &mergeHeap{}
	for i := 0; i+1 < n; i++ {
		if v, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			*h = append(*h, mergeItem{i, v.rank, v.newID})
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		top := heap.Pop(h).(mergeItem)
		if syms[top.pos].size == 0 || next[top.pos] < 0 {
			continue
		}
		np := next[top.pos]
		v, ok := m.merges[pairKey(syms[top.pos].id, syms[np].id)]
		if !ok || v.newID != top.newID {
			continue
		}
		syms[top.pos] = sym{top.newID, syms[top.pos].size + syms[np].size}
		syms[np].size = 0
		next[top.pos] = next[np]
		if next[np] >= 0 {
			prev[next[np]] = top.pos
		}
		if p := prev[top.pos]; p >= 0 {
			if v, ok := m.merges[pairKey(syms[p].id, syms[top.pos].id)]; ok {
				heap.Push(h, mergeItem{p, v.rank, v.newID})
			}
		}
		if nx := next[top.pos]; nx >= 0 {
			if v, ok := m.merges[pairKey(syms[top.pos].id, syms[nx].id)]; ok {
				heap.Push(h, mergeItem{top.pos, v.rank, v.newID})
			}
		}
	}
	out := syms[:0]
	for _, s := range syms {
		if s.size != 0 {
			out = append(out, s)
		}
	}
	return out
}

func (m *bpe) emit(syms []sym, out []token) []token {
	off := 0
	for _, s := range syms {
		v, _ := m.idToToken(int(s.id))
		out = append(out, token{id: int(s.id), value: v, s: off, e: off + int(s.size)})
		off += int(s.size)
	}
	return out
}

func (m *bpe) tokenize(s string, out []token) ([]token, error) {
	if s == "" {
		return out, nil
	}
	if m.ignoreMerges {
		if id, ok := m.ids[s]; ok {
			return append(out, token{id: id, value: s, s: 0, e: len(s)}), nil
		}
	}
	if syms, ok := m.cache.get(s); ok {
		return m.emit(syms, out), nil
	}
	syms, err := m.word(s)
	if err != nil {
		return out, err
	}
	syms = m.mergeAll(syms)
	if len(s) < bpeCacheMaxLen {
		m.cache.set(s, syms)
	}
	return m.emit(syms, out), nil
}
