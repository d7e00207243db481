package metrics

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"
)

var fuzzSeeds = []string{
	"", " ", "a", "The cat sat on the mat.", "Ein Hund läuft über die Straße.", "1,000.50 - 3-4 e.g.",
	"&quot;x&quot; <skipped> a-\nb", "ΟΔΟΣ İstanbul \u212a ß", "日本語のテキスト。", "\x00\x1c\t\r\n\u2028",
	"(hi) [x] {y} ~z", "the an a", "yyyyyyyyyy", "\xff\xfe invalid", "line one\nline two\n\n",
}

func inRange(v, lo, hi float64) bool { return !math.IsNaN(v) && v >= lo-1e-9 && v <= hi+1e-9 }

// FuzzBLEU checks that BLEU and chrF never panic, stay in [0, 100], and give 100 for a
// hypothesis equal to its reference.
func FuzzBLEU(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+3)%len(fuzzSeeds)], uint8(i))
	}
	f.Fuzz(func(t *testing.T, hyp, ref string, knobs uint8) {
		opts := BLEUOptions{
			Lowercase:      knobs&1 != 0,
			Tokenize:       []string{"13a", "intl", "none", ""}[knobs>>1&3],
			Smooth:         []string{"exp", "floor", "add-k", "none"}[knobs>>3&3],
			EffectiveOrder: knobs&32 != 0,
		}
		for _, r := range [][]string{{ref}, {ref, hyp}, {""}} {
			s, err := SentenceBLEU(hyp, r, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !inRange(s.Score, 0, 100) || !inRange(s.BP, 0, 1) {
				t.Fatalf("BLEU %v BP %v for %q vs %q", s.Score, s.BP, hyp, r)
			}
			_ = s.String()
		}
		c, err := CorpusBLEU([]string{hyp, ref}, [][]string{{ref, hyp}}, opts)
		if err != nil || !inRange(c.Score, 0, 100) {
			t.Fatalf("corpus BLEU %v %v", c.Score, err)
		}
		// A hypothesis equal to its reference scores 100 when it has a 1-gram (and, without
		// effective order, every n-gram order; exp smoothing does not apply to complete
		// matches).
		same, _ := SentenceBLEU(hyp, []string{hyp}, BLEUOptions{EffectiveOrder: true, Tokenize: opts.Tokenize, Lowercase: opts.Lowercase})
		if same.SysLen > 0 && math.Abs(same.Score-100) > 1e-9 {
			t.Fatalf("identical %q: BLEU %v", hyp, same.Score)
		}
		for _, co := range []CHRFOptions{{}, {WordOrder: 2}, {Whitespace: true, Lowercase: true}, {EpsSmoothing: true}} {
			s, err := SentenceCHRF(hyp, []string{ref, ""}, co)
			if err != nil || !inRange(s.Score, 0, 100) {
				t.Fatalf("chrF %v %v", s.Score, err)
			}
			if co.EpsSmoothing {
				continue
			}
			s, _ = SentenceCHRF(hyp, []string{hyp}, co)
			if strings.Join(pyFields(hyp), "") != "" && math.Abs(s.Score-100) > 1e-9 {
				t.Fatalf("identical %q: chrF %v (%+v)", hyp, s.Score, co)
			}
		}
		_ = Tokenize13a(hyp)
		_ = TokenizeIntl(hyp)
	})
}

// FuzzROUGE checks that ROUGE never panics, stays in [0, 1], gives 1 for a prediction equal to
// its target, and that the stemmer keeps tokens valid.
func FuzzROUGE(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+5)%len(fuzzSeeds)], i%2 == 0)
	}
	f.Fuzz(func(t *testing.T, target, pred string, stem bool) {
		if len(target)+len(pred) > 4000 {
			return // the LCS tables are quadratic, as in rouge-score
		}
		s, err := NewROUGEScorer([]string{"rouge1", "rouge2", "rouge3", "rougeL", "rougeLsum"}, stem)
		if err != nil {
			t.Fatal(err)
		}
		multi, err := s.ScoreMulti([]string{target, pred, ""}, pred)
		if err != nil {
			t.Fatal(err)
		}
		for typ, sc := range s.Score(target, pred) {
			for _, v := range []float64{sc.Precision, sc.Recall, sc.FMeasure} {
				if !inRange(v, 0, 1) {
					t.Fatalf("%s = %+v for %q vs %q", typ, sc, target, pred)
				}
			}
			if multi[typ].FMeasure < sc.FMeasure {
				t.Fatalf("%s: score_multi %v below score %v", typ, multi[typ].FMeasure, sc.FMeasure)
			}
		}
		toks := ROUGETokenize(pred, stem)
		for _, tok := range toks {
			if !validROUGEToken(tok) {
				t.Fatalf("invalid token %q", tok)
			}
		}
		same := s.Score(pred, pred)
		if len(toks) > 0 && same["rouge1"].FMeasure != 1 || len(toks) > 0 && same["rougeL"].FMeasure != 1 {
			t.Fatalf("identical %q: %+v", pred, same)
		}
		if utf8.ValidString(target) {
			_ = PorterStemMode(target, PorterMode(len(target)%3))
		}
	})
}

// FuzzSQuAD checks that SQuAD scoring never panics, stays in [0, 1], and that an answer
// matches itself.
func FuzzSQuAD(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s, fuzzSeeds[(i+7)%len(fuzzSeeds)])
	}
	f.Fuzz(func(t *testing.T, pred, truth string) {
		em, f1 := SQuADScore(pred, []string{truth, ""})
		if !inRange(em, 0, 1) || !inRange(f1, 0, 1) || em == 1 && f1 != 1 && SQuADNormalize(pred) != "" {
			t.Fatalf("em %v f1 %v for %q vs %q", em, f1, pred, truth)
		}
		em, f1 = SQuADScore(pred, []string{pred})
		if em != 1 || f1 != 1 && SQuADNormalize(pred) != "" {
			t.Fatalf("identical %q: em %v f1 %v", pred, em, f1)
		}
		r, err := SQuADEvaluate([]SQuADQuestion{{"a", []string{truth}}, {"b", []string{pred}}}, map[string]string{"a": pred})
		if err != nil || !inRange(r.ExactMatch, 0, 100) || !inRange(r.F1, 0, 100) {
			t.Fatalf("%+v %v", r, err)
		}
		_, _ = ReadSQuADPredictions(strings.NewReader(pred))
		_, _ = ReadSQuADDataset(strings.NewReader(truth))
	})
}
