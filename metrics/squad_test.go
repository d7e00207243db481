package metrics

import (
	"strings"
	"testing"
)

func TestSQuADNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"The Apollo program", "apollo program"},
		{"  National   Aeronautics (NASA) \t", "national aeronautics nasa"},
		{"a an the A An The", ""},
		{"theater another anthem", "theater another anthem"},
		{"the_the a-b", "thethe ab"},           // '_' and '-' are punctuation, removed first
		{"théa a", "théa"},                     // é is a word character: no boundary before 'a'
		{"“smart” quotes…", "“smart” quotes…"}, // non-ASCII punctuation is kept
		{"İstanbul", "i\u0307stanbul"},         // Python's str.lower()
	} {
		if got := SQuADNormalize(tc.in); got != tc.want {
			t.Errorf("SQuADNormalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSQuADScores(t *testing.T) {
	if !SQuADExactMatch("The  Beatles!", "beatles") || SQuADExactMatch("Beatles band", "beatles") {
		t.Error("exact match")
	}
	near(t, "f1", SQuADF1("John F. Kennedy", "Kennedy"), 0.5, 1e-15)
	near(t, "f1 repeated", SQuADF1("x b b c", "b b b d"), 2*(2.0/4)*(2.0/4)/(2.0/4+2.0/4), 1e-15)
	if SQuADF1("", "x") != 0 || SQuADF1("x", "") != 0 || SQuADF1("", "") != 0 || SQuADF1("the", "a") != 0 {
		t.Error("empty F1 should be 0")
	}
	em, f1 := SQuADScore("Denver Broncos", []string{"Broncos", "Denver Broncos", "the Denver Broncos"})
	if em != 1 || f1 != 1 {
		t.Errorf("max over ground truths: %v %v", em, f1)
	}
	em, f1 = SQuADScore("x", nil)
	if em != 0 || f1 != 0 {
		t.Errorf("no ground truths: %v %v", em, f1)
	}
	for _, s := range []string{"", "a", "Ünïcödé ✓", "the the", "1,000"} {
		if em, f1 := SQuADScore(s, []string{s}); em != 1 || (f1 != 1 && strings.TrimSpace(SQuADNormalize(s)) != "") {
			t.Errorf("identical %q: %v %v", s, em, f1)
		}
	}
}

func TestSQuADEvaluate(t *testing.T) {
	qs := []SQuADQuestion{{"q1", []string{"Paris"}}, {"q2", []string{"1990", "in 1990"}}, {"q3", []string{"blue"}}}
	r, err := SQuADEvaluate(qs, map[string]string{"q1": "paris", "q2": "1990s", "unknown": "x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Total != 3 || r.Unanswered != 1 {
		t.Errorf("%+v", r)
	}
	near(t, "exact_match", r.ExactMatch, 100.0/3, 1e-12)
	near(t, "f1", r.F1, 100.0/3, 1e-12)
	if _, err := SQuADEvaluate(nil, nil); err == nil {
		t.Error("empty dataset: no error")
	}
	if _, err := SQuADEvaluate([]SQuADQuestion{{"q", nil}}, nil); err == nil {
		t.Error("question without answers: no error")
	}
	for _, bad := range []string{"", "{", "[]", `{"data": 3}`, `{"data": [{"paragraphs": [{"qas": [{"answers": []}]}]}]}`,
		`{"data": [{"paragraphs": [{"qas": [{"id": "x", "answers": [{"answer_start": 1}]}]}]}]}`} {
		if _, err := ReadSQuADDataset(strings.NewReader(bad)); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("ReadSQuADDataset(%q): error %v", bad, err)
		}
	}
	for _, bad := range []string{"", "null", "[]", `{"a": 1}`} {
		if _, err := ReadSQuADPredictions(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadSQuADPredictions(%q): no error", bad)
		}
	}
}
