package hf

import (
	"sort"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	id                                              int
	content                                         string
	singleWord, lstrip, rstrip, normalized, special bool
}

// matcher finds added tokens with leftmost-longest, non-overlapping matching (the
// aho-corasick MatchKind::LeftmostLongest of the Rust AddedVocabulary).
type matcher struct {
	pats  []string
	ids   []int
	first [256]bool
	// byFirst lists pattern indexes by first byte, longest first.
	byFirst [256][]int
}

func newMatcher(pats []string, ids []int) *matcher {
	m := &matcher{pats: pats, ids: ids}
	for i, p := range pats {
		if p == "" {
			continue
		}
		m.first[p[0]] = true
		m.byFirst[p[0]] = append(m.byFirst[p[0]], i)
	}
	for b := range m.byFirst {
		l := m.byFirst[b]
		sort.SliceStable(l, func(i, j int) bool { return len(pats[l[i]]) > len(pats[l[j]]) })
	}
	return m
}

func (m *matcher) empty() bool { return len(m.pats) == 0 }

// next returns the leftmost-longest match at or after pos: start, end and pattern index.
func (m *matcher) next(s string, pos int) (int, int, int) {
	for i := pos; i < len(s); i++ {
		if !m.first[s[i]] {
			continue
		}
		for _, k := range m.byFirst[s[i]] {
			p := m.pats[k]
			if len(s)-i >= len(p) && s[i:i+len(p)] == p {
				return i, i + len(p), k
			}
		}
	}
	return -1, -1, -1
}

// addedVocab ports AddedVocabulary.
type addedVocab struct {
	byContent map[string]int
	byID      map[int]*addedToken
	special   map[string]bool
	ordered   []*addedToken // classic then special order does not matter for lookups
	plain     *matcher      // tokens matched in the raw text (normalized: false)
	norm      *matcher      // tokens matched in the normalized text
	// normCache holds the normalized content of normalized tokens whose content the
	// normalizer changes: Rust decodes (and id_to_token returns) that form.
	normCache map[int]string
}

func newAddedVocab() *addedVocab {
	return &addedVocab{byContent: map[string]int{}, byID: map[int]*addedToken{}, special: map[string]bool{}, normCache: map[int]string{}}
}

// add registers tokens as Rust's add_tokens does: a token already in the model keeps the
// model's id, a new one gets the next free id.
func (a *addedVocab) add(t addedToken, m model) {
	if t.content == "" {
		return
	}
	if t.special {
		a.special[t.content] = true
	}
	for _, old := range a.byID {
		o := *old
		o.id = t.id
		if o == t {
			return
		}
	}
	id, ok := a.byContent[t.content]
	if !ok {
		id, ok = m.tokenToID(t.content)
	}
	if !ok {
		vs := m.vocabSize()
		maxID := -1
		for _, v := range a.byContent {
			maxID = max(maxID, v)
		}
		switch {
		case maxID < 0:
			id = vs
		case maxID >= vs || vs == 0:
			id = maxID + 1
		default:
			id = vs
		}
	}
	t.id = id
	a.byContent[t.content] = id
	tt := t
	a.byID[id] = &tt
	a.ordered = append(a.ordered, &tt)
}

// refresh rebuilds the matchers; norm normalizes the contents of normalized tokens.
func (a *addedVocab) refresh(normalize func(string) (string, error)) error {
	// Rust partitions special tokens first, then the classic ones, in insertion order.
	var specials, classic []*addedToken
	seen := map[string]bool{}
	for _, t := range a.ordered {
		cur := a.byID[a.byContent[t.content]]
		if cur == nil || seen[t.content] {
			continue
		}
		seen[t.content] = true
		if a.special[t.content] {
			specials = append(specials, cur)
		} else {
			classic = append(classic, cur)
		}
	}
	var pp, np []string
	var pid, nid []int
	for _, t := range append(specials, classic...) {
		if t.normalized {
			c := t.content
			if normalize != nil {
				var err error
				if c, err = normalize(c); err != nil {
					return err
				}
			}
			if c != t.content {
				a.normCache[a.byContent[t.content]] = c
			}
			np = append(np, c)
			nid = append(nid, a.byContent[t.content])
		} else {
			pp = append(pp, t.content)
			pid = append(pid, a.byContent[t.content])
		}
	}
	a.plain, a.norm = newMatcher(pp, pid), newMatcher(np, nid)
	return nil
}

// decodeForm is the string Rust's simple_id_to_token gives for an added token id.
func (a *addedVocab) decodeForm(id int) (string, bool) {
	t, ok := a.byID[id]
	if !ok {
		return "", false
	}
	if c, ok := a.normCache[id]; ok {
		return c, true
	}
	return t.content, true
}

// wordAt reports whether the char before (at end) or after (at start) the position is a
// regex \w char.
func endsWithWord(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	return isRegexWord(r)
}

func startsWithWord(s string) bool {
	if s == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(s)
	return isRegexWord(r)
}

// splitWithIndices cuts n around the added tokens m finds (Rust find_matches and
// split_with_indices) and appends the pieces to out.
func (a *addedVocab) splitWithIndices(n *nstr, m *matcher, out []psplit) []psplit {
	s := n.norm
	if s == "" || m.empty() {
		return append(out, psplit{n: *n})
	}
	startOffset := 0
	pos := 0
	found := false
	for {
		st, e, k := m.next(s, pos)
		if k < 0 {
			break
		}
		pos = e
		id := m.ids[k]
		t := a.byID[id]
		if t.singleWord {
			startSpace := st == 0 || !endsWithWord(s[:st])
			stopSpace := e == len(s) || !startsWithWord(s[e:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.lstrip {
			ns := st
			for ns > 0 {
				r, sz := utf8.DecodeLastRuneInString(s[:ns])
				if !isWhitespace(r) {
					break
				}
				ns -= sz
			}
			st = max(ns, startOffset)
		}
		if t.rstrip {
			for e < len(s) {
				r, sz := utf8.DecodeRuneInString(s[e:])
				if !isWhitespace(r) {
					break
				}
				e += sz
			}
		}
		if !found {
			found = true
		}
		if startOffset < st {
			out = append(out, psplit{n: n.slice(startOffset, st)})
		}
		sl := n.slice(st, e)
		out = append(out, psplit{n: sl, toks: []token{{id: id, value: sl.norm, s: 0, e: len(sl.norm)}}, done: true})
		// The next search starts at the end of the match itself, not of the stripped
		// whitespace: like Rust's find_iter, a following match may overlap the rstrip.
		startOffset = e
	}
	if !found {
		return append(out, psplit{n: *n})
	}
	if startOffset != len(s) {
		out = append(out, psplit{n: n.slice(startOffset, len(s))})
	}
	return out
}

// extractAndNormalize fills p with the text, split around the added tokens of the raw text,
// normalized, and split around the added tokens of the normalized text.
func (a *addedVocab) extractAndNormalize(p *pretok, norm normalizer, text string) error {
	p.reset(text)
	if !a.plain.empty() {
		if err := p.split(func(n *nstr, out []psplit) ([]psplit, error) {
			return a.splitWithIndices(n, a.plain, out), nil
		}); err != nil {
			return err
		}
	}
	return p.split(func(n *nstr, out []psplit) ([]psplit, error) {
		if norm != nil {
			if err := norm.normalize(n); err != nil {
				return out, err
			}
		}
		return a.splitWithIndices(n, a.norm, out), nil
	})
}
