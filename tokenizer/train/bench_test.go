package train

import (
	"slices"
	"testing"
)

// The benchmarks train 4,000-token vocabularies on the 2,000-line sample, on one thread.

func BenchmarkByteLevelBPE(b *testing.B) {
	c := sampleCorpus(b)
	for b.Loop() {
		if _, err := ByteLevelBPE(slices.Values(c), ByteLevelOptions{VocabSize: 4000, Threads: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCharBPE(b *testing.B) {
	c := sampleCorpus(b)
	for b.Loop() {
		if _, err := CharBPE(slices.Values(c), CharBPEOptions{VocabSize: 4000, Threads: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnigram(b *testing.B) {
	c := sampleCorpus(b)
	for b.Loop() {
		if _, err := Unigram(slices.Values(c), UnigramOptions{VocabSize: 4000, Threads: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
