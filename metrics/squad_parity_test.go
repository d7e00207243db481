package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

type squadScoresFile struct {
	Scores map[string]struct {
		ExactMatch float64 `json:"exact_match"`
		F1         float64 `json:"f1"`
		Unanswered int     `json:"unanswered"`
		NQuestions int     `json:"n_questions"`
	} `json:"scores"`
}

type squadPerQuestion struct {
	System     string  `json:"system"`
	ID         string  `json:"id"`
	Prediction *string `json:"prediction"`
	ExactMatch float64 `json:"exact_match"`
	F1         float64 `json:"f1"`
	Answered   bool    `json:"answered"`
}

// TestSQuADParity checks the official script's aggregate scores for the 8 systems and every
// per-question exact match and F1.
func TestSQuADParity(t *testing.T) {
	p := &parity{t: t, file: "squad (scores.json + per_question.jsonl)"}
	qs, err := ReadSQuADDataset(bytes.NewReader(readGz(t, "squad/dev.json.gz")))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]SQuADQuestion{}
	for _, q := range qs {
		byID[q.ID] = q
	}
	var scores squadScoresFile
	readJSONGz(t, "squad/scores.json.gz", &scores)
	if len(scores.Scores) != 8 {
		t.Fatalf("want 8 systems, got %d", len(scores.Scores))
	}
	preds := map[string]map[string]string{}
	for _, sys := range sortedKeys(scores.Scores) {
		want := scores.Scores[sys]
		pr, err := ReadSQuADPredictions(bytes.NewReader(readGz(t, "squad/pred_"+sys+".json.gz")))
		if err != nil {
			t.Fatal(err)
		}
		preds[sys] = pr
		got, err := SQuADEvaluate(qs, pr)
		if err != nil {
			t.Fatal(err)
		}
		p.float(sys+" exact_match", got.ExactMatch, want.ExactMatch)
		p.float(sys+" f1", got.F1, want.F1)
		p.int(sys+" unanswered", got.Unanswered, want.Unanswered)
		p.int(sys+" n_questions", got.Total, want.NQuestions)
	}
	perSystem := map[string]int{}
	readJSONLinesGz(t, "squad/per_question.jsonl.gz", func(line []byte) error {
		var pq squadPerQuestion
		if err := json.Unmarshal(line, &pq); err != nil {
			return err
		}
		perSystem[pq.System]++
		q, ok := byID[pq.ID]
		if !ok {
			return fmt.Errorf("unknown question id %q", pq.ID)
		}
		pr, ok := preds[pq.System]
		if !ok {
			return fmt.Errorf("unknown system %q", pq.System)
		}
		where := pq.System + " " + pq.ID
		pred, answered := pr[pq.ID]
		if answered != pq.Answered {
			p.fail(fmt.Sprintf("%s: answered %v, want %v", where, answered, pq.Answered))
		}
		p.checked++
		if !answered {
			p.float(where+" exact_match", 0, pq.ExactMatch)
			p.float(where+" f1", 0, pq.F1)
			return nil
		}
		if pq.Prediction != nil {
			p.str(where+" prediction", pred, *pq.Prediction)
		}
		em, f1 := SQuADScore(pred, q.Answers)
		p.float(where+" exact_match", em, pq.ExactMatch)
		p.float(where+" f1", f1, pq.F1)
		return nil
	})
	for sys := range scores.Scores {
		p.int(sys+" per-question lines", perSystem[sys], len(qs))
	}
	p.done()
}
