package metrics

import (
	"crypto/md5"
	"encoding/hex"
	"testing"
)

// TestTestdataProvenance checks that the decompressed fixtures are byte-identical to the
// reference files named in testdata/PROVENANCE.md (md5 of the uncompressed source).
func TestTestdataProvenance(t *testing.T) {
	for _, tc := range []struct {
		files []string // concatenated
		md5   string
	}{
		{[]string{"multi30k-val-en-de.json.gz"}, "8998f0d90b17f30c5b037a71bd876f65"},
		{[]string{"aeslc-dev-first200.items.jsonl.gz"}, "9e7d57fada3d606a0fd1a90b166c4dc9"},
		{[]string{"aeslc-dev-first200.summary.json.gz"}, "9ed40ba8d242470d738655f92221d015"},
		{[]string{"scitldr-a-dev.items.part1.jsonl.gz", "scitldr-a-dev.items.part2.jsonl.gz"}, "06cfc976c063d11dba3b82992997f4d3"},
		{[]string{"scitldr-a-dev.summary.json.gz"}, "c4ea3a47329c225775e25e01e8423af9"},
		{[]string{"squad/dev.json.gz"}, "8cad5c1b6b1e6ecec579f44775cd549d"},
		{[]string{"squad/scores.json.gz"}, "3cb869417348b9b9ef4afdaacf6c0300"},
		{[]string{"squad/per_question.jsonl.gz"}, "38b7301f117860b7b8e473b795e85681"},
		{[]string{"squad/pred_bert_ensemble.json.gz"}, "41132a5376411215ae3cbb4a3cd0d125"},
		{[]string{"squad/pred_logistic_regression_baseline.json.gz"}, "00cf854e60a21d4d0637ca9981e1b6e5"},
		{[]string{"squad/pred_match_lstm_boundary_ensemble.json.gz"}, "e4beaeb173f21a9a887c44cc8e745cbd"},
		{[]string{"squad/pred_rnet_plus_ensemble.json.gz"}, "a9855e311b125986eab7f3bfd7d0de0c"},
		{[]string{"squad/pred_slqa_plus_ensemble.json.gz"}, "1ffbfa0c848fae9190c7bae0aaa71c27"},
		{[]string{"squad/pred_perturbed_gold_variants.json.gz"}, "02acf665c27e351ded0ff9a283f6b161"},
		{[]string{"squad/pred_perturbed_with_missing.json.gz"}, "71c8e310789b552f1b067ac2a3ecdcdf"},
		{[]string{"squad/pred_random_context_span.json.gz"}, "a5959200d9ab008d55f6edf96a62297a"},
		{[]string{"pyref/strings.jsonl.gz"}, "9f2ef3ddfbd38022c373fb3b8418170e"},
		{[]string{"pyref/porter.tsv.gz"}, "c022b8dd78913ffb187556c96f1fd090"},
	} {
		h := md5.New()
		for _, f := range tc.files {
			h.Write(readGz(t, f))
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != tc.md5 {
			t.Errorf("%v: md5 %s, PROVENANCE.md says %s", tc.files, got, tc.md5)
		}
	}
}
