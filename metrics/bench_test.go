package metrics

import "testing"

func loadMulti30k(b *testing.B) multi30kFile {
	var f multi30kFile
	readJSONGz(b, "multi30k-val-en-de.json.gz", &f)
	return f
}

// BenchmarkCorpusBLEU scores the 1,014-line Multi30k validation set (one system, one
// reference stream), as sacreBLEU's BLEU().corpus_score does.
func BenchmarkCorpusBLEU(b *testing.B) {
	f := loadMulti30k(b)
	hyps, refs := f.Systems["sysB_shuffle_swap"].Hypotheses, [][]string{f.References}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CorpusBLEU(hyps, refs, BLEUOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(hyps)*b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkCorpusBLEUMultiRef uses two reference streams.
func BenchmarkCorpusBLEUMultiRef(b *testing.B) {
	f := loadMulti30k(b)
	hyps := f.Systems["sysB_shuffle_swap"].Hypotheses
	refs := [][]string{f.References, f.Systems["sysA_drop"].Hypotheses}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CorpusBLEU(hyps, refs, BLEUOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCorpusCHRF(b *testing.B) {
	f := loadMulti30k(b)
	hyps, refs := f.Systems["sysB_shuffle_swap"].Hypotheses, [][]string{f.References}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CorpusCHRF(hyps, refs, CHRFOptions{WordOrder: 2}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTokenize13a(b *testing.B) {
	f := loadMulti30k(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range f.References {
			Tokenize13a(s)
		}
	}
}

func BenchmarkROUGEScoreMulti(b *testing.B) {
	s, _ := NewROUGEScorer([]string{"rouge1", "rouge2", "rougeL", "rougeLsum"}, true)
	f := loadMulti30k(b)
	srcs := f.Sources
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i+2 < 200; i += 3 {
			if _, err := s.ScoreMulti(srcs[i:i+2], srcs[i+2]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
