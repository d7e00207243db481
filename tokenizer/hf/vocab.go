package hf

// vocab maps tokens to ids and back. Ids are dense in practice, so the reverse map is a
// slice when they are, and a map otherwise.
type vocab struct {
	ids    map[string]int
	dense  []string // id -> token; "" with hasID false for holes
	has    []bool
	sparse map[int]string
	size   int
}

func newVocab(ids map[string]int) *vocab {
	v := &vocab{ids: ids, size: len(ids)}
	maxID := -1
	for _, id := range ids {
		maxID = max(maxID, id)
	}
	if maxID < 4*len(ids)+1024 {
		v.dense = make([]string, maxID+1)
		v.has = make([]bool, maxID+1)
		// Rust builds vocab_r from a hash map: with duplicate ids the winner is arbitrary;
		// keep the lexically smallest token for determinism.
		for s, id := range ids {
			if !v.has[id] || s < v.dense[id] {
				v.dense[id], v.has[id] = s, true
			}
		}
	} else {
		v.sparse = make(map[int]string, len(ids))
		for s, id := range ids {
			if old, ok := v.sparse[id]; !ok || s < old {
				v.sparse[id] = s
			}
		}
	}
	return v
}

func (v *vocab) tokenToID(s string) (int, bool) {
	id, ok := v.ids[s]
	return id, ok
}

func (v *vocab) idToToken(id int) (string, bool) {
	if v.sparse != nil {
		s, ok := v.sparse[id]
		return s, ok
	}
	if id < 0 || id >= len(v.dense) || !v.has[id] {
		return "", false
	}
	return v.dense[id], true
}

func (v *vocab) vocabSize() int { return v.size }
