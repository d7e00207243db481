package spm

import (
	"slices"
	"strings"
)

// trie is a byte trie over the vocabulary, the role darts-clone's double array plays in
// SentencePiece: walking it along the text yields every piece that is a prefix of the
// text, shortest first. The root has a direct 256-entry table; other nodes keep their
// sorted edge labels contiguous.
type trie struct {
	root   [256]int32 // child of the root for each byte, -1 for none
	first  []int32    // per node: index of its first edge
	count  []uint16   // per node: number of edges
	value  []int32    // per node: the id stored at the node, -1 for none
	labels []byte     // edge labels
	child  []int32    // edge targets
}

// newTrie builds a trie of keys (non-empty, without duplicates) mapping to values.
func newTrie(keys []string, values []int32) *trie {
	idx := make([]int, len(keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make([]string, len(keys))
	vals := make([]int32, len(keys))
	for i, j := range idx {
		sorted[i], vals[i] = keys[j], values[j]
	}
	t := &trie{}
	for i := range t.root {
		t.root[i] = -1
	}
	t.newNode() // node 0 is the root
	// The root's children, grouped by first byte.
	for lo := 0; lo < len(sorted); {
		if sorted[lo] == "" {
			lo++
			continue
		}
		c := sorted[lo][0]
		hi := lo
		for hi < len(sorted) && sorted[hi] != "" && sorted[hi][0] == c {
			hi++
		}
		t.root[c] = t.build(sorted, vals, lo, hi, 1)
		lo = hi
	}
	return t
}

func (t *trie) newNode() int32 {
	t.first = append(t.first, 0)
	t.count = append(t.count, 0)
	t.value = append(t.value, -1)
	return int32(len(t.value) - 1)
}

// build makes the node for keys[lo:hi], which share their first depth bytes.
func (t *trie) build(keys []string, vals []int32, lo, hi, depth int) int32 {
	n := t.newNode()
	if len(keys[lo]) == depth {
		t.value[n] = vals[lo]
		lo++
	}
	type group struct{ lo, hi int }
	var groups []group
	for i := lo; i < hi; {
		c := keys[i][depth]
		j := i
		for j < hi && keys[j][depth] == c {
			j++
		}
		groups = append(groups, group{i, j})
		i = j
	}
	start := len(t.labels)
	t.first[n] = int32(start)
	t.count[n] = uint16(len(groups))
	for _, g := range groups {
		t.labels = append(t.labels, keys[g.lo][depth])
		t.child = append(t.child, -1)
	}
	for k, g := range groups {
		t.child[start+k] = t.build(keys, vals, g.lo, g.hi, depth+1)
	}
	return n
}

// step follows the edge labelled c from node n (-1 for the root's parent, meaning
// "start at the root"); it returns -1 when there is none.
func (t *trie) step(n int32, c byte) int32 {
	if n < 0 {
		return t.root[c]
	}
	first := int(t.first[n])
	labels := t.labels[first : first+int(t.count[n])]
	if len(labels) <= 8 {
		for i, l := range labels {
			if l == c {
				return t.child[first+i]
			}
		}
		return -1
	}
	lo, hi := 0, len(labels)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if labels[m] < c {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(labels) && labels[lo] == c {
		return t.child[first+lo]
	}
	return -1
}

// longest returns the length of the longest key that is a prefix of s, or 0.
func (t *trie) longest(s string) int {
	best := 0
	n := int32(-1)
	for i := 0; i < len(s); i++ {
		if n = t.step(n, s[i]); n < 0 {
			break
		}
		if t.value[n] >= 0 {
			best = i + 1
		}
	}
	return best
}

// lookup returns the value stored for key s.
func (t *trie) lookup(s string) (int32, bool) {
	if s == "" {
		return -1, false
	}
	n := int32(-1)
	for i := 0; i < len(s); i++ {
		if n = t.step(n, s[i]); n < 0 {
			return -1, false
		}
	}
	return t.value[n], t.value[n] >= 0
}
