package metrics

import (
	"encoding/json"
	"fmt"
	"sort"
	"testing"
)

var rougeTypes = []string{"rouge1", "rouge2", "rougeL", "rougeLsum"}

type rougeItem struct {
	I          int      `json:"i"`
	ID         string   `json:"id"`
	References []string `json:"references"`
	Systems    map[string]struct {
		Prediction string `json:"prediction"`
		// scores[stemming][mode][type] = [precision, recall, fmeasure]
		Scores map[string]map[string]map[string][3]float64 `json:"scores"`
	} `json:"systems"`
}

type rougeSummary struct {
	Meta struct {
		NItems int `json:"n_items"`
	} `json:"meta"`
	// corpus_mean[system][stemming][mode][type] = {precision, recall, fmeasure}
	CorpusMean map[string]map[string]map[string]map[string]struct {
		Precision float64 `json:"precision"`
		Recall    float64 `json:"recall"`
		FMeasure  float64 `json:"fmeasure"`
	} `json:"corpus_mean"`
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// testROUGEParity scores every item of a rouge-score reference set (every system, stemmed and
// not, max over references and first reference, every type) and the corpus means.
func testROUGEParity(t *testing.T, set string, parts []string) {
	p := &parity{t: t, file: set + ".items.jsonl + .summary.json"}
	scorers := map[string]*ROUGEScorer{}
	for _, st := range []string{"no_stem", "stem"} {
		s, err := NewROUGEScorer(rougeTypes, st == "stem")
		if err != nil {
			t.Fatal(err)
		}
		scorers[st] = s
	}
	// sums[system/stemming/mode/type] = P, R, F sums for the corpus means.
	sums := map[string]*[3]float64{}
	items := 0
	for _, part := range parts {
		readJSONLinesGz(t, part, func(line []byte) error {
			var it rougeItem
			if err := json.Unmarshal(line, &it); err != nil {
				return err
			}
			if it.I != items {
				return fmt.Errorf("item index %d, want %d", it.I, items)
			}
			items++
			for _, sys := range sortedKeys(it.Systems) {
				pred := it.Systems[sys].Prediction
				for _, st := range sortedKeys(it.Systems[sys].Scores) {
					sc := scorers[st]
					if sc == nil {
						return fmt.Errorf("unknown stemming key %q", st)
					}
					multi, err := sc.ScoreMulti(it.References, pred)
					if err != nil {
						return err
					}
					got := map[string]map[string]ROUGEScore{
						"max_over_refs": multi,
						"first_ref":     sc.Score(it.References[0], pred),
					}
					for _, mode := range sortedKeys(it.Systems[sys].Scores[st]) {
						if got[mode] == nil {
							return fmt.Errorf("unknown mode %q", mode)
						}
						want := it.Systems[sys].Scores[st][mode]
						if len(want) != len(rougeTypes) {
							return fmt.Errorf("item %d: %d ROUGE types, want %d", it.I, len(want), len(rougeTypes))
						}
						for _, typ := range rougeTypes {
							g, w := got[mode][typ], want[typ]
							where := fmt.Sprintf("item %d (%s) %s %s %s %s", it.I, it.ID, sys, st, mode, typ)
							p.float(where+" precision", g.Precision, w[0])
							p.float(where+" recall", g.Recall, w[1])
							p.float(where+" fmeasure", g.FMeasure, w[2])
							key := sys + "/" + st + "/" + mode + "/" + typ
							if sums[key] == nil {
								sums[key] = &[3]float64{}
							}
							sums[key][0] += g.Precision
							sums[key][1] += g.Recall
							sums[key][2] += g.FMeasure
						}
					}
				}
			}
			return nil
		})
	}
	var sum rougeSummary
	readJSONGz(t, set+".summary.json.gz", &sum)
	p.int("summary n_items", items, sum.Meta.NItems)
	for _, sys := range sortedKeys(sum.CorpusMean) {
		for _, st := range sortedKeys(sum.CorpusMean[sys]) {
			for _, mode := range sortedKeys(sum.CorpusMean[sys][st]) {
				for _, typ := range sortedKeys(sum.CorpusMean[sys][st][mode]) {
					w := sum.CorpusMean[sys][st][mode][typ]
					g := sums[sys+"/"+st+"/"+mode+"/"+typ]
					where := fmt.Sprintf("corpus mean %s %s %s %s", sys, st, mode, typ)
					if g == nil {
						p.fail(where + ": not computed")
						continue
					}
					n := float64(items)
					p.float(where+" precision", g[0]/n, w.Precision)
					p.float(where+" recall", g[1]/n, w.Recall)
					p.float(where+" fmeasure", g[2]/n, w.FMeasure)
				}
			}
		}
	}
	p.done()
}

func TestROUGEParityAESLC(t *testing.T) {
	testROUGEParity(t, "aeslc-dev-first200", []string{"aeslc-dev-first200.items.jsonl.gz"})
}

func TestROUGEParitySciTLDR(t *testing.T) {
	testROUGEParity(t, "scitldr-a-dev", []string{"scitldr-a-dev.items.part1.jsonl.gz", "scitldr-a-dev.items.part2.jsonl.gz"})
}
