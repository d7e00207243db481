package metrics_test

import (
	"fmt"

	"github.com/optiformer/optiformer/metrics"
)

// The example of sacreBLEU's README: two reference streams for three hypotheses.
func ExampleCorpusBLEU() {
	hyps := []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}
	refs := [][]string{
		{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
		{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
	}
	bleu, err := metrics.CorpusBLEU(hyps, refs, metrics.BLEUOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println(bleu)
	fmt.Println(bleu.Signature)
	chrf, _ := metrics.CorpusCHRF(hyps, refs, metrics.CHRFOptions{})
	fmt.Println(chrf)
	// Output:
	// BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)
	// nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0
	// chrF2 = 59.73
}

// sacrebleu.sentence_bleu is SentenceBLEU with effective order. Here the 13a tokens give
// precisions 6/7, 4/6, 2/5 and 1/4 and no brevity penalty.
func ExampleSentenceBLEU() {
	s, _ := metrics.SentenceBLEU("The cat sat on the mat.", []string{"The cat is on the mat."},
		metrics.BLEUOptions{EffectiveOrder: true})
	fmt.Printf("%.2f %s\n", s.Score, s.Signature)
	// Output: 48.89 nrefs:1|case:mixed|eff:yes|tok:13a|smooth:exp|version:2.6.0
}

func ExampleROUGEScorer_ScoreMulti() {
	scorer, err := metrics.NewROUGEScorer([]string{"rouge1", "rouge2", "rougeL", "rougeLsum"}, true)
	if err != nil {
		panic(err)
	}
	scores, _ := scorer.ScoreMulti([]string{"The quick brown fox jumps over the lazy dog"},
		"The quick brown dog jumps on the log.")
	for _, t := range scorer.Types() {
		fmt.Printf("%s P=%.4f R=%.4f F=%.4f\n", t, scores[t].Precision, scores[t].Recall, scores[t].FMeasure)
	}
	// Output:
	// rouge1 P=0.7500 R=0.6667 F=0.7059
	// rouge2 P=0.2857 R=0.2500 F=0.2667
	// rougeL P=0.6250 R=0.5556 F=0.5882
	// rougeLsum P=0.6250 R=0.5556 F=0.5882
}

func ExampleSQuADEvaluate() {
	questions := []metrics.SQuADQuestion{
		{ID: "q1", Answers: []string{"Denver Broncos", "the Denver Broncos"}},
		{ID: "q2", Answers: []string{"Santa Clara, California"}},
	}
	r, _ := metrics.SQuADEvaluate(questions, map[string]string{"q1": "Broncos", "q2": "Santa Clara, California"})
	fmt.Printf("exact_match %.2f f1 %.2f\n", r.ExactMatch, r.F1)
	// Output: exact_match 50.00 f1 83.33
}
