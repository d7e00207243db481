package metrics

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// SQuADNormalize is normalize_answer of the official SQuAD v1.1 evaluation script
// (evaluate-v1.1.py): lowercase (Python's str.lower()), remove the ASCII punctuation of
// Python's string.punctuation, replace the words "a", "an" and "the" (re's \b(a|an|the)\b, with
// Unicode word characters) by a space, and collapse whitespace.
func SQuADNormalize(s string) string {
	s = pyLower(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if !isASCIIPunct(r) {
			b.WriteRune(r)
		}
	}
	return pyJoinFields(removeArticles(b.String()))
}

// removeArticles is re.sub(r'\b(a|an|the)\b', ' ', s): a match starts at a word boundary and
// ends at one, so it is exactly a maximal run of word characters that equals an article.
func removeArticles(s string) string {
	rs := []rune(s)
	out := make([]rune, 0, len(rs))
	i := 0
	for i < len(rs) {
		if !pyIsWord(rs[i]) {
			out = append(out, rs[i])
			i++
			continue
		}
		j := i
		for j < len(rs) && pyIsWord(rs[j]) {
			j++
		}
		switch string(rs[i:j]) {
		case "a", "an", "the":
			out = append(out, ' ')
		default:
			out = append(out, rs[i:j]...)
		}
		i = j
	}
	return string(out)
}

// SQuADExactMatch is exact_match_score: the normalized strings are equal.
func SQuADExactMatch(prediction, groundTruth string) bool {
	return SQuADNormalize(prediction) == SQuADNormalize(groundTruth)
}

// SQuADF1 is f1_score: the F1 of the bag-of-tokens overlap of the normalized strings, in [0, 1].
func SQuADF1(prediction, groundTruth string) float64 {
	return squadF1Tokens(pyFields(SQuADNormalize(prediction)), pyFields(SQuADNormalize(groundTruth)))
}

func squadF1Tokens(pred, truth []string) float64 {
	counts := make(map[string]int, len(truth))
	for _, t := range truth {
		counts[t]++
	}
	same := 0
	for _, t := range pred {
		if counts[t] > 0 {
			counts[t]--
			same++
		}
	}
	if same == 0 {
		return 0
	}
	p := 1.0 * float64(same) / float64(len(pred))
	r := 1.0 * float64(same) / float64(len(truth))
	return (2 * p * r) / (p + r)
}

// SQuADScore is metric_max_over_ground_truths for both metrics: exact match (0 or 1) and F1
// (in [0, 1]) of prediction against its best ground truth. With no ground truths both are 0
// (the official script would fail).
func SQuADScore(prediction string, groundTruths []string) (exactMatch, f1 float64) {
	pn := SQuADNormalize(prediction)
	pt := pyFields(pn)
	for _, g := range groundTruths {
		gn := SQuADNormalize(g)
		if pn == gn {
			exactMatch = 1
		}
		f1 = max(f1, squadF1Tokens(pt, pyFields(gn)))
	}
	return exactMatch, f1
}

// SQuADQuestion is one question of a SQuAD v1.1 dataset: its id and ground-truth answer texts.
type SQuADQuestion struct {
	ID      string
	Answers []string
}

// SQuADResult is the official script's output (exact_match and f1 in percent) with counts.
type SQuADResult struct {
	// ExactMatch and F1 are in percent, averaged over all Total questions; an unanswered
	// question scores 0.
	ExactMatch, F1 float64
	// Total is the number of questions, Unanswered those without a prediction.
	Total, Unanswered int
}

// SQuADEvaluate is evaluate() of evaluate-v1.1.py: questions in dataset order, predictions by
// question id. Predictions for ids not in the dataset are ignored; a question without a
// prediction scores 0. It fails on an empty dataset and on a question without answers (where
// the official script crashes).
func SQuADEvaluate(questions []SQuADQuestion, predictions map[string]string) (SQuADResult, error) {
	var r SQuADResult
	if len(questions) == 0 {
		return r, fmt.Errorf("metrics: SQuAD dataset has no questions")
	}
	em, f1 := 0.0, 0.0
	for _, q := range questions {
		if len(q.Answers) == 0 {
			return r, fmt.Errorf("metrics: SQuAD question %q has no ground-truth answers", q.ID)
		}
		r.Total++
		pred, ok := predictions[q.ID]
		if !ok {
			r.Unanswered++
			continue
		}
		e, f := SQuADScore(pred, q.Answers)
		em += e
		f1 += f
	}
	r.ExactMatch = 100.0 * em / float64(r.Total)
	r.F1 = 100.0 * f1 / float64(r.Total)
	return r, nil
}

// maxSQuADBytes bounds what ReadSQuADDataset reads (the official dev set is 4.6 MiB).
const maxSQuADBytes = 1 << 30

// ReadSQuADDataset reads a SQuAD v1.1 JSON file ({"data": [{"paragraphs": [{"qas": [{"id",
// "answers": [{"text"}]}]}]}]}) and returns its questions in file order.
func ReadSQuADDataset(r io.Reader) ([]SQuADQuestion, error) {
	var f struct {
		Data []struct {
			Paragraphs []struct {
				QAs []struct {
					ID      *string `json:"id"`
					Answers []struct {
						Text *string `json:"text"`
					} `json:"answers"`
				} `json:"qas"`
			} `json:"paragraphs"`
		} `json:"data"`
	}
	dec := json.NewDecoder(io.LimitReader(r, maxSQuADBytes))
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("metrics: SQuAD dataset: %w", err)
	}
	if f.Data == nil {
		return nil, fmt.Errorf("metrics: SQuAD dataset: no \"data\" list")
	}
	var qs []SQuADQuestion
	for ai, a := range f.Data {
		for pi, p := range a.Paragraphs {
			for qi, qa := range p.QAs {
				if qa.ID == nil {
					return nil, fmt.Errorf("metrics: SQuAD dataset: article %d paragraph %d question %d has no id", ai, pi, qi)
				}
				q := SQuADQuestion{ID: *qa.ID, Answers: make([]string, 0, len(qa.Answers))}
				for ti, t := range qa.Answers {
					if t.Text == nil {
						return nil, fmt.Errorf("metrics: SQuAD dataset: question %q answer %d has no text", q.ID, ti)
					}
					q.Answers = append(q.Answers, *t.Text)
				}
				qs = append(qs, q)
			}
		}
	}
	return qs, nil
}

// ReadSQuADPredictions reads a SQuAD prediction file: a JSON object mapping question ids to
// answer strings.
func ReadSQuADPredictions(r io.Reader) (map[string]string, error) {
	var m map[string]string
	if err := json.NewDecoder(io.LimitReader(r, maxSQuADBytes)).Decode(&m); err != nil {
		return nil, fmt.Errorf("metrics: SQuAD predictions: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("metrics: SQuAD predictions: not a JSON object")
	}
	return m, nil
}
