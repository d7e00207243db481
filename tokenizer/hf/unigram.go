package hf

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// byteTrie is a trie over the bytes of the vocabulary: nodes keep their children as a
// sorted run of edges.
type byteTrie struct {
	nodes []trieNode
	edges []trieEdge
	root  [256]int32 // child of the root by byte (0: none)
}

type trieNode struct {
	first, count int32
	id           int32 // token id ending here, or -1
}

type trieEdge struct {
	b     byte
	child int32
}

// buildTrie builds the trie of tokens (token i gets ids[i]; the last of duplicates wins).
func buildTrie(tokens []string, ids []int32) *byteTrie {
	type edge struct {
		parent int32
		b      byte
		child  int32
	}
	kids := make(map[uint64]int32, len(tokens)*2)
	var edges []edge
	nodeID := []int32{-1}
	for i, tok := range tokens {
		cur := int32(0)
		for k := 0; k < len(tok); k++ {
			key := uint64(cur)<<8 | uint64(tok[k])
			nx, ok := kids[key]
			if !ok {
				nx = int32(len(nodeID))
				nodeID = append(nodeID, -1)
				kids[key] = nx
				edges = append(edges, edge{cur, tok[k], nx})
			}
			cur = nx
		}
		if len(tok) > 0 {
			nodeID[cur] = ids[i]
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].parent != edges[j].parent {
			return edges[i].parent < edges[j].parent
		}
		return edges[i].b < edges[j].b
	})
	t := &byteTrie{nodes: make([]trieNode, len(nodeID)), edges: make([]trieEdge, len(edges))}
	for i, id := range nodeID {
		t.nodes[i].id = id
	}
	for i, e := range edges {
		t.edges[i] = trieEdge{e.b, e.child}
		n := &t.nodes[e.parent]
		if n.count == 0 {
			n.first = int32(i)
		}
		n.count++
		if e.parent == 0 {
			t.root[e.b] = e.child
		}
	}
	return t
}

func (t *byteTrie) child(n int32, b byte) int32 {
	if n == 0 {
		return t.root[b]
	}
	nd := &t.nodes[n]
	es := t.edges[nd.first : nd.first+nd.count]
	if len(es) <= 8 {
		for _, e := range es {
			if e.b == b {
				return e.child
			}
			if e.b > b {
				return 0
			}
		}
		return 0
	}
	lo, hi := 0, len(es)
	for lo < hi {
		m := (lo + hi) / 2
		switch {
		case es[m].b < b:
			lo = m + 1
		case es[m].b > b:
			hi = m
		default:
			return es[m].child
		}
	}
	return 0
}

// unigram is the Unigram model: the most probable segmentation by Viterbi.
type unigram struct {
	pieces       []string
	scores       []float64
	ids          map[string]int
	trie         *byteTrie
	minScore     float64
	unkID        int // -1: none
	byteFallback bool
	byteIDs      [256]int
	pool         sync.Pool
	cache        unigramCache
}

type unigramCache struct {
	mu sync.RWMutex
	m  map[string][]upiece
}

type upiece struct {
	s, e int32
	id   int32 // -1: unknown (fused unk chars)
}

const kUnkPenalty = 10.0

var errMissingUnkID = errors.New("hf: Unigram: encountered an unknown token but unk_id is missing")

type bestNode struct {
	score    float64
	startsAt int32 // -1: none
	id       int32
}

func (u *unigram) init() {
	ids := make([]int32, len(u.pieces))
	for i, p := range u.pieces {
		ids[i] = int32(u.ids[p])
	}
	u.trie = buildTrie(u.pieces, ids)
	for b := 0; b < 256; b++ {
		u.byteIDs[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.byteIDs[b] = id
		}
	}
}

// encode returns the best segmentation of s (Rust encode_optimized).
func (u *unigram) encode(s string) ([]upiece, error) {
	size := len(s)
	var best []bestNode
	if p, ok := u.pool.Get().(*[]bestNode); ok && cap(*p) >= size+1 {
		best = (*p)[:size+1]
	} else {
		best = make([]bestNode, size+1)
	}
	defer func() { u.pool.Put(&best) }()
	for i := range best {
		best[i] = bestNode{startsAt: -1}
	}
	unkScore := u.minScore - kUnkPenalty
	for st := 0; st < size; {
		here := best[st].score
		mblen := runeLenAt(s, st)
		single := false
		node := int32(0)
		for k := st; k < size; k++ {
			node = u.trie.child(node, s[k])
			if node == 0 {
				break
			}
			id := u.trie.nodes[node].id
			if id < 0 {
				continue
			}
			key := k + 1
			cand := u.scores[id] + here
			t := &best[key]
			if t.startsAt < 0 || cand > t.score {
				t.score, t.startsAt, t.id = cand, int32(st), id
			}
			if !single && key-st == mblen {
				single = true
			}
		}
		if !single {
			t := &best[st+mblen]
			cand := unkScore + here
			if t.startsAt < 0 || cand > t.score {
				if u.unkID < 0 {
					return nil, errMissingUnkID
				}
				t.score, t.startsAt, t.id = cand, int32(st), int32(u.unkID)
			}
		}
		st += mblen
	}
	// Backtrack, fusing consecutive unknown pieces.
	var rev []upiece
	end := size
	unkEnd := -1
	for end > 0 {
		n := best[end]
		st := int(n.startsAt)
		if u.unkID >= 0 && int(n.id) == u.unkID {
			if unkEnd < 0 {
				unkEnd = end
			}
		} else {
			if unkEnd >= 0 {
				rev = append(rev, upiece{int32(end), int32(unkEnd), -1})
				unkEnd = -1
			}
			rev = append(rev, upiece{int32(st), int32(end), n.id})
		}
		end = st
	}
	if unkEnd >= 0 {
		rev = append(rev, upiece{0, int32(unkEnd), -1})
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev, nil
}

func runeLenAt(s string, i int) int {
	c := s[i]
	switch {
	case c < 0x80:
		return 1
	case c < 0xE0:
		return min(2, len(s)-i)
	case c < 0xF0:
		return min(3, len(s)-i)
	}
	return min(4, len(s)-i)
}

func (u *unigram) tokenize(s string, out []token) ([]token, error) {
	if s == "" {
		return out, nil
	}
	u.cache.mu.RLock()
	pieces, ok := u.cache.m[s]
	u.cache.mu.RUnlock()
	if !ok {
		var err error
		if pieces, err = u.encode(s); err != nil {
			return out, err
		}
		u.cache.mu.Lock()
		if u.cache.m == nil {
			u.cache.m = make(map[string][]upiece, 1024)
		}
		if len(u.cache.m) < bpeCacheCap {
			u.cache.m[s] = pieces
		}
		u.cache.mu.Unlock()
	}
	for _, p := range pieces {
		str := s[p.s:p.e]
		id := int(p.id)
		if id < 0 {
			if v, ok := u.ids[str]; ok {
				id = v
			} else {
				if u.byteFallback {
					ok := true
					for k := 0; k < len(str); k++ {
						if u.byteIDs[str[k]] < 0 {
							ok = false
							break
						}
					}
					if ok {
						for k := 0; k < len(str); k++ {
							bid := u.byteIDs[str[k]]
							out = append(out, token{id: bid, value: u.pieces[bid], s: int(p.s), e: int(p.e)})
						}
						continue
					}
				}
				if u.unkID < 0 {
					return out, errMissingUnkID
				}
				id = u.unkID
			}
		}
		out = append(out, token{id: id, value: str, s: int(p.s), e: int(p.e)})
	}
	return out, nil
}

func (u *unigram) tokenToID(s string) (int, bool) {
	id, ok := u.ids[s]
	return id, ok
}

func (u *unigram) idToToken(id int) (string, bool) {
	if id < 0 || id >= len(u.pieces) {
		return "", false
	}
	return u.pieces[id], true
}

func (u *unigram) vocabSize() int { return len(u.pieces) }
