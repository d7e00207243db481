package hf

import (
	"strings"
	"testing"
)

// benchLines are the first 1,850 lines of WMT newstest2012.en (testdata/PROVENANCE.md).
func benchLines(b *testing.B) ([]string, int) {
	text := string(readGz(b, "newstest2012.en.head1850.txt.gz"))
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	n := 0
	for _, l := range lines {
		n += len(l)
	}
	return lines, n
}

func benchEncode(b *testing.B, name string) {
	tk := loadTest(b, name)
	lines, n := benchLines(b)
	// warm the word caches as a long-running tokenizer would have them
	for _, l := range lines {
		if _, err := tk.Encode(l, true); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			if _, err := tk.Encode(l, true); err != nil {
				b.Fatal(err)
			}
		}
	}
	// MB/s by process CPU time (GC included): steadier than wall time on a busy machine.
	if c := cpuTime() - c0; c > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/c.Seconds(), "cpu-MB/s")
	}
}

// BenchmarkEncode encodes real English news text line by line, single-threaded; the MB/s
// column is input text per second.
func BenchmarkEncode(b *testing.B) {
	for _, c := range []struct{ label, name string }{
		{"bert-base-uncased-WordPiece", "bert-base-uncased"},
		{"gpt2-ByteLevelBPE", "gpt2-constructed"},
		{"t5-small-Unigram", "t5-small"},
		{"roberta-base-ByteLevelBPE", "roberta-base"},
		{"marian-Unigram-Precompiled", "marian-nmt-ortx-test"},
	} {
		b.Run(c.label, func(b *testing.B) { benchEncode(b, c.name) })
	}
}
