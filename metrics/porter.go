package metrics

// PorterMode selects one of the three variants of NLTK's PorterStemmer.
type PorterMode int

const (
	// PorterNLTK is NLTK's default NLTK_EXTENSIONS mode, the one rouge-score uses
	// (porter.PorterStemmer() with no arguments).
	PorterNLTK PorterMode = iota
	// PorterMartin is MARTIN_EXTENSIONS: Martin Porter's own published implementations.
	PorterMartin
	// PorterOriginal is ORIGINAL_ALGORITHM: the 1980 paper as written.
	PorterOriginal
)

// porterIrregular is NLTK_EXTENSIONS' table of irregular forms, mapped to their stems.
var porterIrregular = map[string]string{
	"sky": "sky", "skies": "sky", "dying": "die", "lying": "lie", "tying": "tie",
	"news": "news", "innings": "inning", "inning": "inning", "outings": "outing",
	"outing": "outing", "cannings": "canning", "canning": "canning", "howe": "howe",
	"proceed": "proceed", "exceed": "exceed", "succeed": "succeed",
}

// PorterStem stems word as NLTK's PorterStemmer().stem(word) does (NLTK_EXTENSIONS mode, the
// one rouge-score's tokenizer uses). The word is lowercased first.
func PorterStem(word string) string { return PorterStemMode(word, PorterNLTK) }

// PorterStemMode stems word as NLTK's PorterStemmer(mode).stem(word) does
// (nltk/stem/porter.py, the 2017 rewrite with three modes). Porter, M. "An algorithm for
// suffix stripping." Program 14.3 (1980): 130-137.
func PorterStemMode(word string, mode PorterMode) string {
	lower := pyLower(word)
	if mode == PorterNLTK {
		if s, ok := porterIrregular[word]; ok {
			// NLTK looks the original word up but returns pool[lowercased]; the table is all
			// lower case, so the two agree whenever the lookup succeeds.
			return s
		}
	}
	w := []rune(lower)
	if mode != PorterOriginal && len([]rune(word)) <= 2 {
		return lower
	}
	p := porter{mode: mode}
	w = p.step1a(w)
	w = p.step1b(w)
	w = p.step1c(w)
	w = p.step2(w)
	w = p.step3(w)
	w = p.step4(w)
	w = p.step5a(w)
	w = p.step5b(w)
	return string(w)
}

type porter struct{ mode PorterMode }

// isConsonant reports whether w[i] is a consonant: a letter other than a, e, i, o, u, and other
// than a y preceded by a consonant. The recursion of the definition runs as a loop over a run
// of y's.
func (p porter) isConsonant(w []rune, i int) bool {
	neg := false
	for {
		switch w[i] {
		case 'a', 'e', 'i', 'o', 'u':
			return neg
		case 'y':
			if i == 0 {
				return !neg
			}
			neg = !neg
			i--
		default:
			return !neg
		}
	}
}

// consonants calls fn with isConsonant(w, i) for every i, in one forward pass.
func consonants(w []rune, fn func(i int, c bool) bool) {
	prev := false
	for i, r := range w {
		var c bool
		switch r {
		case 'a', 'e', 'i', 'o', 'u':
			c = false
		case 'y':
			c = i == 0 || !prev
		default:
			c = true
		}
		if !fn(i, c) {
			return
		}
		prev = c
	}
}

// measure is m in [C](VC){m}[V]: the number of vowel-to-consonant transitions (NLTK counts "vc"
// in the word's c/v pattern).
func (p porter) measure(stem []rune) int {
	m := 0
	prevVowel := false
	consonants(stem, func(_ int, c bool) bool {
		if c && prevVowel {
			m++
		}
		prevVowel = !c
		return true
	})
	return m
}

func (p porter) positiveMeasure(stem []rune) bool { return p.measure(stem) > 0 }

func (p porter) containsVowel(stem []rune) bool {
	found := false
	consonants(stem, func(_ int, c bool) bool {
		found = !c
		return !found
	})
	return found
}

// endsDoubleConsonant is condition *d.
func (p porter) endsDoubleConsonant(w []rune) bool {
	n := len(w)
	return n >= 2 && w[n-1] == w[n-2] && p.isConsonant(w, n-1)
}

// endsCVC is condition *o (with NLTK's extension for two-letter stems).
func (p porter) endsCVC(w []rune) bool {
	n := len(w)
	if n >= 3 && p.isConsonant(w, n-3) && !p.isConsonant(w, n-2) && p.isConsonant(w, n-1) &&
		w[n-1] != 'w' && w[n-1] != 'x' && w[n-1] != 'y' {
		return true
	}
	return p.mode == PorterNLTK && n == 2 && !p.isConsonant(w, 0) && p.isConsonant(w, 1)
}

func hasSuffix(w []rune, suf string) bool {
	if len(suf) > len(w) {
		return false
	}
	off := len(w) - len(suf)
	for i := 0; i < len(suf); i++ {
		if w[off+i] != rune(suf[i]) {
			return false
		}
	}
	return true
}

// withSuffix returns stem + suf in a new slice.
func withSuffix(stem []rune, suf string) []rune {
	out := make([]rune, len(stem), len(stem)+len(suf))
	copy(out, stem)
	for i := 0; i < len(suf); i++ {
		out = append(out, rune(suf[i]))
	}
	return out
}

// rule is (suffix, replacement, condition); a nil condition always holds. cond gets the word
// the rule list is applied to and the stem left by removing the suffix. The suffix "*d" stands
// for a double consonant, and the replacement "*d" for the word's last letter, as in NLTK's
// step 1b.
type rule struct {
	suffix, repl string
	cond         func(p porter, w, stem []rune) bool
}

func posMeasure(p porter, _, stem []rune) bool { return p.measure(stem) > 0 }
func measureGT1(p porter, _, stem []rune) bool { return p.measure(stem) > 1 }

// applyRules is NLTK's _apply_rule_list: the first rule whose suffix matches decides; if its
// condition fails the word is returned unchanged.
func (p porter) applyRules(w []rune, rules []rule) []rune {
	for _, r := range rules {
		n := -1 // length of the matched suffix
		if r.suffix == "*d" && p.endsDoubleConsonant(w) {
			n = 2
		} else if hasSuffix(w, r.suffix) { // for "*d", NLTK then tests the literal suffix
			n = len(r.suffix)
		}
		if n < 0 {
			continue
		}
		stem := w[:len(w)-n]
		if r.cond != nil && !r.cond(p, w, stem) {
			return w
		}
		if r.repl == "*d" {
			return append(stem[:len(stem):len(stem)], w[len(w)-1])
		}
		return withSuffix(stem, r.repl)
	}
	return w
}

var (
	step1aRules = []rule{{"sses", "ss", nil}, {"ies", "i", nil}, {"ss", "ss", nil}, {"s", "", nil}}
	step1bRules = []rule{
		{"at", "ate", nil},
		{"bl", "ble", nil},
		{"iz", "ize", nil},
		// (*d and not (*L or *S or *Z)) -> single letter
		{"*d", "*d", func(_ porter, w, _ []rune) bool {
			last := w[len(w)-1]
			return last != 'l' && last != 's' && last != 'z'
		}},
		// (m=1 and *o) -> E
		{"", "e", func(p porter, _, stem []rune) bool { return p.measure(stem) == 1 && p.endsCVC(stem) }},
	}
	step1cOriginal = []rule{{"y", "i", func(p porter, _, stem []rune) bool { return p.containsVowel(stem) }}}
	step1cNLTK     = []rule{{"y", "i", func(p porter, _, stem []rune) bool {
		return len(stem) > 1 && p.isConsonant(stem, len(stem)-1)
	}}}
	step2Rules = func() map[PorterMode][]rule {
		common := func(bli rule) []rule {
			return []rule{
				{"ational", "ate", posMeasure},
				{"tional", "tion", posMeasure},
				{"enci", "ence", posMeasure},
				{"anci", "ance", posMeasure},
				{"izer", "ize", posMeasure},
				bli,
				{"alli", "al", posMeasure},
				{"entli", "ent", posMeasure},
				{"eli", "e", posMeasure},
				{"ousli", "ous", posMeasure},
				{"ization", "ize", posMeasure},
				{"ation", "ate", posMeasure},
				{"ator", "ate", posMeasure},
				{"alism", "al", posMeasure},
				{"iveness", "ive", posMeasure},
				{"fulness", "ful", posMeasure},
				{"ousness", "ous", posMeasure},
				{"aliti", "al", posMeasure},
				{"iviti", "ive", posMeasure},
				{"biliti", "ble", posMeasure},
			}
		}
		bli := rule{"bli", "ble", posMeasure}
		return map[PorterMode][]rule{
			PorterOriginal: common(rule{"abli", "able", posMeasure}),
			PorterMartin:   append(common(bli), rule{"logi", "log", posMeasure}),
			PorterNLTK: append(common(bli),
				rule{"fulli", "ful", posMeasure},
				// The 'l' of 'logi' -> 'log' stays with the stem, so that short stems like
				// 'geo' and 'theo' work like 'archaeo' and 'philo'.
				rule{"logi", "log", func(p porter, w, _ []rune) bool { return p.measure(w[:len(w)-3]) > 0 }}),
		}
	}()
	step3Rules = []rule{
		{"icate", "ic", posMeasure},
		{"ative", "", posMeasure},
		{"alize", "al", posMeasure},
		{"iciti", "ic", posMeasure},
		{"ical", "ic", posMeasure},
		{"ful", "", posMeasure},
		{"ness", "", posMeasure},
	}
	step4Rules = []rule{
		{"al", "", measureGT1},
		{"ance", "", measureGT1},
		{"ence", "", measureGT1},
		{"er", "", measureGT1},
		{"ic", "", measureGT1},
		{"able", "", measureGT1},
		{"ible", "", measureGT1},
		{"ant", "", measureGT1},
		{"ement", "", measureGT1},
		{"ment", "", measureGT1},
		{"ent", "", measureGT1},
		// (m>1 and (*S or *T)) ION ->
		{"ion", "", func(p porter, _, s []rune) bool {
			return p.measure(s) > 1 && (s[len(s)-1] == 's' || s[len(s)-1] == 't')
		}},
		{"ou", "", measureGT1},
		{"ism", "", measureGT1},
		{"ate", "", measureGT1},
		{"iti", "", measureGT1},
		{"ous", "", measureGT1},
		{"ive", "", measureGT1},
		{"ize", "", measureGT1},
	}
	step5bRules = []rule{{"ll", "l", func(p porter, w, _ []rune) bool { return p.measure(w[:len(w)-1]) > 1 }}}
)

func (p porter) step1a(w []rune) []rune {
	if p.mode == PorterNLTK && hasSuffix(w, "ies") && len(w) == 4 {
		return withSuffix(w[:len(w)-3], "ie")
	}
	return p.applyRules(w, step1aRules)
}

func (p porter) step1b(w []rune) []rune {
	if p.mode == PorterNLTK && hasSuffix(w, "ied") {
		if len(w) == 4 {
			return withSuffix(w[:len(w)-3], "ie")
		}
		return withSuffix(w[:len(w)-3], "i")
	}
	if hasSuffix(w, "eed") {
		stem := w[:len(w)-3]
		if p.measure(stem) > 0 {
			return withSuffix(stem, "ee")
		}
		return w
	}
	for _, suf := range []string{"ed", "ing"} {
		if hasSuffix(w, suf) {
			if stem := w[:len(w)-len(suf)]; p.containsVowel(stem) {
				// The stem holds a vowel, so it is not empty.
				return p.applyRules(stem, step1bRules)
			}
		}
	}
	return w
}

func (p porter) step1c(w []rune) []rune {
	if p.mode == PorterNLTK {
		return p.applyRules(w, step1cNLTK)
	}
	return p.applyRules(w, step1cOriginal)
}

func (p porter) step2(w []rune) []rune {
	if p.mode == PorterNLTK && hasSuffix(w, "alli") && p.measure(w[:len(w)-4]) > 0 {
		return p.step2(withSuffix(w[:len(w)-4], "al"))
	}
	return p.applyRules(w, step2Rules[p.mode])
}

func (p porter) step3(w []rune) []rune { return p.applyRules(w, step3Rules) }

func (p porter) step4(w []rune) []rune { return p.applyRules(w, step4Rules) }

func (p porter) step5a(w []rune) []rune {
	if hasSuffix(w, "e") {
		stem := w[:len(w)-1]
		m := p.measure(stem)
		if m > 1 || m == 1 && !p.endsCVC(stem) {
			return stem
		}
	}
	return w
}

func (p porter) step5b(w []rune) []rune { return p.applyRules(w, step5bRules) }
