package metrics

import (
	"strings"
	"testing"
)

// Cases from rouge-score's own test suite (rouge/rouge_scorer_test.py).
func TestROUGEScorerSuite(t *testing.T) {
	for _, typ := range []string{"rougen", "rouge0", "rouge10", "rougeLSum", "", "ROUGE1"} {
		if _, err := NewROUGEScorer([]string{typ}, false); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("type %q: error %v", typ, err)
		}
	}
	if _, err := NewROUGEScorer(nil, false); err == nil {
		t.Error("no types: no error")
	}
	for _, typ := range []string{"rouge1", "rouge9", "rougeL", "rougeLsum"} {
		s, err := NewROUGEScorer([]string{typ}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Score("testing one two", "testing"); len(got) != 1 {
			t.Errorf("%s: %v", typ, got)
		}
	}
	check := func(what string, got ROUGEScore, p, r, f float64) {
		t.Helper()
		near(t, what+" precision", got.Precision, p, 1e-12)
		near(t, what+" recall", got.Recall, r, 1e-12)
		near(t, what+" fmeasure", got.FMeasure, f, 1e-12)
	}
	s, _ := NewROUGEScorer([]string{"rouge1", "rouge2", "rougeL", "rougeLsum"}, false)
	check("rouge1", s.Score("testing one two", "testing")["rouge1"], 1, 1.0/3, 0.5)
	for typ, sc := range s.Score("testing one two", "") {
		check("empty "+typ, sc, 0, 0, 0)
	}
	check("rouge2", s.Score("testing one two", "testing one")["rouge2"], 1, 0.5, 2.0/3)
	check("rougeL consecutive", s.Score("testing one two", "testing one")["rougeL"], 1, 2.0/3, 0.8)
	check("rougeL non-consecutive", s.Score("testing one two", "testing two")["rougeL"], 1, 2.0/3, 0.8)
	check("rougeLsum", s.Score("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5")["rougeLsum"], 0.4, 0.8, 2*0.4*0.8/1.2)
	check("rougeLsum empty prediction", s.Score("w1 w2 w3 w4 w5", "")["rougeLsum"], 0, 0, 0)
	check("rougeLsum empty target", s.Score("", "w1")["rougeLsum"], 0, 0, 0)
	check("rougeLsum non-word prediction", s.Score("w1 w2 w3 w4 w5", "/")["rougeLsum"], 0, 0, 0)

	// _lcs_table / _backtrack_norec and the union LCS of the ROUGE paper, section 3.2.
	ref := strings.Fields("1 2 3 4 5")
	if got := lcsIndices(ref, strings.Fields("2 5 3 4")); !equalInts(got, []int{1, 2, 3}) {
		t.Errorf("lcs indices %v", got)
	}
	if got := lcsIndices(ref, strings.Fields("8 9")); len(got) != 0 {
		t.Errorf("no common subsequence: %v", got)
	}
	sc := summaryLevelLCS([][]string{ref}, [][]string{strings.Fields("1 2 6 7 8"), strings.Fields("1 3 8 9 5")})
	if sc.Recall != 0.8 || sc.Precision != 0.4 {
		t.Errorf("summary-level LCS %+v", sc)
	}
	if sc := summaryLevelLCS([][]string{{"reference"}}, [][]string{{}}); sc.Recall != 0 {
		t.Errorf("empty candidate sentence: %+v", sc)
	}
}

func TestROUGEScoreMulti(t *testing.T) {
	s, _ := NewROUGEScorer([]string{"rouge1", "rougeL"}, false)
	got, err := s.ScoreMulti([]string{"a b c d", "x y", "a b"}, "a b")
	if err != nil {
		t.Fatal(err)
	}
	if got["rouge1"].FMeasure != 1 || got["rouge1"].Recall != 1 {
		t.Errorf("best reference not chosen: %+v", got)
	}
	// Ties keep the first reference: both give F = 2/3 but different P and R.
	got, _ = s.ScoreMulti([]string{"a", "a b c b"}, "a b")
	if got["rouge1"].Precision != 0.5 || got["rouge1"].Recall != 1 {
		t.Errorf("tie rule: %+v", got["rouge1"])
	}
	if _, err := s.ScoreMulti(nil, "a"); err == nil {
		t.Error("no targets: no error")
	}
}

func TestROUGETokenize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		stem bool
		want string
	}{
		{"", false, ""},
		{"The quick brown fox's 2nd jump!", false, "the quick brown fox s 2nd jump"},
		{"Running dogs ran HAPPILY", true, "run dog ran happili"},
		{"cats are fast", true, "cat are fast"}, // 3-letter tokens are not stemmed
		{"naïve café İstanbul \u212a", false, "na ve caf i stanbul k"},
		{"line one\nline two", false, "line one line two"},
	} {
		if got := strings.Join(ROUGETokenize(tc.in, tc.stem), " "); got != tc.want {
			t.Errorf("ROUGETokenize(%q, %v) = %q, want %q", tc.in, tc.stem, got, tc.want)
		}
	}
}

// Porter stemmer: the examples of the 1980 paper quoted in NLTK's docstrings, step by step,
// plus NLTK's extensions.
func TestPorterSteps(t *testing.T) {
	p := porter{mode: PorterNLTK}
	po := porter{mode: PorterOriginal}
	for _, tc := range []struct {
		step     func([]rune) []rune
		in, want string
	}{
		{p.step1a, "caresses", "caress"}, {p.step1a, "ponies", "poni"}, {po.step1a, "ties", "ti"},
		{p.step1a, "ties", "tie"}, {p.step1a, "caress", "caress"}, {p.step1a, "cats", "cat"},
		{p.step1b, "feed", "feed"}, {p.step1b, "agreed", "agree"}, {p.step1b, "plastered", "plaster"},
		{p.step1b, "bled", "bled"}, {p.step1b, "motoring", "motor"}, {p.step1b, "sing", "sing"},
		{p.step1b, "conflated", "conflate"}, {p.step1b, "troubled", "trouble"}, {p.step1b, "sized", "size"},
		{p.step1b, "hopping", "hop"}, {p.step1b, "tanned", "tan"}, {p.step1b, "falling", "fall"},
		{p.step1b, "hissing", "hiss"}, {p.step1b, "fizzed", "fizz"}, {p.step1b, "failing", "fail"},
		{p.step1b, "filing", "file"}, {p.step1b, "spied", "spi"}, {p.step1b, "died", "die"},
		{po.step1c, "happy", "happi"}, {po.step1c, "sky", "sky"}, {p.step1c, "enjoy", "enjoy"},
		{po.step2, "relational", "relate"}, {po.step2, "conditional", "condition"},
		{po.step2, "rational", "rational"}, {po.step2, "valenci", "valence"},
		{po.step2, "hesitanci", "hesitance"}, {po.step2, "digitizer", "digitize"},
		{po.step2, "conformabli", "conformable"}, {po.step2, "radicalli", "radical"},
		{po.step2, "differentli", "different"}, {po.step2, "vileli", "vile"},
		{po.step2, "analogousli", "analogous"}, {po.step2, "vietnamization", "vietnamize"},
		{po.step2, "predication", "predicate"}, {po.step2, "operator", "operate"},
		{po.step2, "feudalism", "feudal"}, {po.step2, "decisiveness", "decisive"},
		{po.step2, "hopefulness", "hopeful"}, {po.step2, "callousness", "callous"},
		{po.step2, "formaliti", "formal"}, {po.step2, "sensitiviti", "sensitive"},
		{po.step2, "sensibiliti", "sensible"},
		{p.step3, "triplicate", "triplic"}, {p.step3, "formative", "form"}, {p.step3, "formalize", "formal"},
		{p.step3, "electriciti", "electric"}, {p.step3, "electrical", "electric"},
		{p.step3, "hopeful", "hope"}, {p.step3, "goodness", "good"},
		{p.step4, "revival", "reviv"}, {p.step4, "allowance", "allow"}, {p.step4, "inference", "infer"},
		{p.step4, "airliner", "airlin"}, {p.step4, "gyroscopic", "gyroscop"},
		{p.step4, "adjustable", "adjust"}, {p.step4, "defensible", "defens"},
		{p.step4, "irritant", "irrit"}, {p.step4, "replacement", "replac"},
		{p.step4, "adjustment", "adjust"}, {p.step4, "dependent", "depend"},
		{p.step4, "adoption", "adopt"}, {p.step4, "homologou", "homolog"},
		{p.step4, "communism", "commun"}, {p.step4, "activate", "activ"},
		{p.step4, "angulariti", "angular"}, {p.step4, "homologous", "homolog"},
		{p.step4, "effective", "effect"}, {p.step4, "bowdlerize", "bowdler"},
		{p.step5a, "probate", "probat"}, {p.step5a, "rate", "rate"}, {p.step5a, "cease", "ceas"},
		{p.step5b, "controll", "control"}, {p.step5b, "roll", "roll"},
	} {
		if got := string(tc.step([]rune(tc.in))); got != tc.want {
			t.Errorf("step(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for in, want := range map[string]string{
		"generalizations": "gener", "oscillators": "oscil", "dying": "die", "skies": "sky",
		"happily": "happili", "geology": "geolog", "Running": "run", "is": "is", "": "",
		"yyyyyy": "yyyyyi", "succeed": "succeed", "ÉTÉS": "été",
	} {
		if got := PorterStem(in); got != want {
			t.Errorf("PorterStem(%q) = %q, want %q", in, got, want)
		}
	}
	// Long runs of y must not be quadratic or recursive.
	long := strings.Repeat("y", 200000) + "ing"
	if got := PorterStem(long); len(got) == 0 {
		t.Error("long word")
	}
}
