// Package train learns tokenizers from a text corpus and writes them as Hugging Face
// tokenizer.json files, which both package tokenizer/hf and Hugging Face's own tokenizers
// library (Rust, 0.23) load and encode identically.
//
// Three trainers, each a function taking the corpus (one text per element, a sentence or a
// line; slices.Values(lines) for a slice) and its options and returning the tokenizer.json
// bytes, ready for hf.Parse or a file:
//
//   - ByteLevelBPE: GPT-2 / RoBERTa byte-level BPE (HF's ByteLevelBPETokenizer). Lossless:
//     Decode(Encode(s)) == s.
//   - CharBPE: character BPE with the end-of-word suffix "</w>" (HF's CharBPETokenizer).
//   - Unigram: the SentencePiece unigram language model (HF's UnigramTrainer and
//     SentencePieceUnigramTokenizer), with Metaspace ("▁") word boundaries.
//
// Special tokens take the first ids, in the order given; they are added tokens (special,
// not normalized) and entries of the model's vocabulary, as Hugging Face's trainers make
// them. VocabSize counts everything: special tokens, the alphabet and the learned tokens.
//
// Training is deterministic: the same corpus and options give byte-identical output,
// whatever Threads is. Only integer counts are summed across goroutines, and floating-point
// sums (the unigram EM) are always added in corpus order. Nothing is random, so there is no
// seed.
//
// The normalizers and pre-tokenizers of the trainers are Go versions of the components they
// write into tokenizer.json (the hf package implements the same ones for encoding); a test
// checks that both cut the sample corpus into the same words.
package train

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits on options.
const (
	// MaxVocabSize bounds VocabSize.
	MaxVocabSize = 1 << 24
	// maxSpecialLen bounds the byte length of a special token.
	maxSpecialLen = 1 << 10
)

var errEmpty = errors.New("train: empty corpus: no words after normalization and pre-tokenization")

// wordCount is a pre-tokenized word and the number of times it occurs in the corpus.
type wordCount struct {
	word  string
	count int64
}

// threadCount resolves the Threads option (0: GOMAXPROCS).
func threadCount(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// checkCommon validates the options every trainer has.
func checkCommon(vocabSize, threads int, specials []string) error {
	if vocabSize <= 0 {
		return fmt.Errorf("train: vocabulary size %d must be positive", vocabSize)
	}
	if vocabSize > MaxVocabSize {
		return fmt.Errorf("train: vocabulary size %d exceeds the limit of %d", vocabSize, MaxVocabSize)
	}
	if threads < 0 {
		return fmt.Errorf("train: thread count %d is negative", threads)
	}
	seen := make(map[string]bool, len(specials))
	for _, s := range specials {
		switch {
		case s == "":
			return errors.New("train: empty special token")
		case len(s) > maxSpecialLen:
			return fmt.Errorf("train: special token of %d bytes exceeds the limit of %d", len(s), maxSpecialLen)
		case !utf8.ValidString(s):
			return fmt.Errorf("train: special token %q is not valid UTF-8", s)
		case seen[s]:
			return fmt.Errorf("train: special token %q given twice", s)
		}
		seen[s] = true
	}
	return nil
}

// withUnk returns the special tokens with unk appended when it is not among them.
func withUnk(specials []string, unk string) []string {
	if slices.Contains(specials, unk) {
		return slices.Clone(specials)
	}
	return append(slices.Clone(specials), unk)
}

// countWords pre-tokenizes every text of the corpus with split and counts the words, on
// threads goroutines. The result is sorted by word, so it does not depend on the thread
// count or on map order.
func countWords(corpus iter.Seq[string], threads int, split func(text string, emit func(word string))) ([]wordCount, error) {
	if corpus == nil {
		return nil, errors.New("train: nil corpus")
	}
	add := func(m map[string]int64) func(string) {
		return func(w string) {
			if w == "" {
				return
			}
			if c, ok := m[w]; ok {
				m[w] = c + 1
			} else {
				m[strings.Clone(w)] = 1 // do not keep the whole text alive
			}
		}
	}
	var counts map[string]int64
	if threads <= 1 {
		counts = map[string]int64{}
		emit := add(counts)
		for text := range corpus {
			split(text, emit)
		}
	} else {
		const batchSize = 256
		batches := make(chan []string, threads)
		maps := make([]map[string]int64, threads)
		var wg sync.WaitGroup
		for t := range threads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m := map[string]int64{}
				emit := add(m)
				for b := range batches {
					for _, text := range b {
						split(text, emit)
					}
				}
				maps[t] = m
			}()
		}
		batch := make([]string, 0, batchSize)
		for text := range corpus {
			batch = append(batch, text)
			if len(batch) == batchSize {
				batches <- batch
				batch = make([]string, 0, batchSize)
			}
		}
		if len(batch) > 0 {
			batches <- batch
		}
		close(batches)
		wg.Wait()
		counts = maps[0]
		for _, m := range maps[1:] {
			for w, c := range m {
				counts[w] += c
			}
		}
	}
	if len(counts) == 0 {
		return nil, errEmpty
	}
	out := make([]wordCount, 0, len(counts))
	for w, c := range counts {
		out = append(out, wordCount{w, c})
	}
	slices.SortFunc(out, func(a, b wordCount) int { return strings.Compare(a.word, b.word) })
	return out, nil
}

// parallel calls f(i) for i in [0, n) on threads goroutines. Callers make f write only to
// slots of its own index, so results do not depend on scheduling.
func parallel(n, threads int, f func(i int)) {
	if threads <= 1 || n < 2 {
		for i := range n {
			f(i)
		}
		return
	}
	const chunk = 64
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range min(threads, (n+chunk-1)/chunk) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
