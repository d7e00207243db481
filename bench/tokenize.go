package bench

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/optiformer/optiformer/internal/assets"
	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/hf"
)

//go:embed tokenize_hf.js
var tokenizeHF string

// TokenizeCases are the tokenizers `bench tokenize` measures: figure name and embedded file.
var TokenizeCases = []struct{ Name, File, Model string }{
	{"tokenize/bert", "bert-base-uncased.tokenizer.json", "BERT WordPiece (bert-base-uncased)"},
	{"tokenize/gpt2", "gpt2-constructed.tokenizer.json", "GPT-2 byte-level BPE"},
	{"tokenize/t5", "t5-small.tokenizer.json", "T5 Unigram (t5-small)"},
}

// tokenizeText is the real text encoded: the first 1,850 lines of WMT newstest2012.en.
const tokenizeText = "newstest2012.en.head1850.txt"

// TokenizeOptions configure Tokenize.
type TokenizeOptions struct {
	Threads []int         // 1: line by line on one thread; more: EncodeBatch over that many
	Samples int           // samples per figure (default 7)
	Sample  time.Duration // length of one sample (default 200ms)
	NoPeer  bool
	Log     io.Writer
}

// Tokenize measures encoding throughput (MB of input text per second, special tokens added)
// of the BERT, GPT-2 and T5 tokenizers on real news text, beside Hugging Face's Rust
// tokenizers (npm package) with the same thread count, samples taken in turn.
func Tokenize(o TokenizeOptions) ([]Result, error) {
	if len(o.Threads) == 0 {
		o.Threads = []int{1, 2}
	}
	if o.Samples <= 0 {
		o.Samples = 7
	}
	if o.Sample <= 0 {
		o.Sample = 200 * time.Millisecond
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, a...)
		}
	}
	lines, err := assets.Lines(tokenizeText)
	if err != nil {
		return nil, err
	}
	nbytes := 0
	for _, l := range lines {
		nbytes += len(l)
	}
	dir, err := os.MkdirTemp("", "optiformer-tokenize-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var rs []Result
	for _, c := range TokenizeCases {
		logf("%s: %s\n", c.Name, c.Model)
		raw, err := assets.Read(c.File)
		if err != nil {
			return nil, err
		}
		tk, err := hf.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", c.File, err)
		}
		ours, err := countIDs(tk, lines) // also warms the word caches, as the peer's are
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, c.File)
		if !o.NoPeer {
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				return nil, err
			}
		}
		for _, t := range o.Threads {
			var peer *Peer
			if !o.NoPeer {
				env := []string{fmt.Sprintf("RAYON_NUM_THREADS=%d", t), fmt.Sprintf("RAYON_RS_NUM_CPUS=%d", t)}
				if t == 1 {
					env = append(env, "TOKENIZERS_PARALLELISM=false")
				}
				peer, err = StartNode("hf-tokenizers", tokenizeHF, map[string]any{"tokenizer": path, "lines": lines}, env...)
				if err != nil {
					logf("%v\n", err)
				} else if logf("peer: tokenizers %v, %d thread(s)\n", peer.Info["tokenizers"], t); false {
				} else if n, _ := peer.Info["ids"].(float64); int(n) != ours {
					// Not the same work: a ratio would compare different things.
					logf("bench: %s: the peer produced %d ids, optiformer %d; no ratio\n", c.Name, int(n), ours)
					peer.Close()
					peer = nil
				}
			}
			encode := func() {
				if t == 1 {
					for _, l := range lines {
						tk.Encode(l, true)
					}
					return
				}
				tokenizer.EncodeBatch(tk, lines, nil, tokenizer.BatchOptions{AddSpecial: true, Threads: t})
			}
			var mine, theirs []float64
			for range o.Samples {
				mine = append(mine, Rate(o.Sample, encode)*float64(nbytes)/1e6)
				if peer != nil {
					var resp struct{ Mbps float64 }
					if err := peer.Call(map[string]any{"op": "run", "seconds": o.Sample.Seconds()}, &resp); err != nil {
						logf("%v\n", err)
						peer.Close()
						peer = nil
						theirs = nil
						continue
					}
					theirs = append(theirs, resp.Mbps)
				}
			}
			how := "one thread, line by line (the peer: encodeBatch on one thread)"
			if t > 1 {
				how = fmt.Sprintf("EncodeBatch over %d threads (the peer: encodeBatch, %d rayon threads)", t, t)
			}
			r := Result{Name: c.Name, Threads: t, Value: Median(mine), Unit: "MB/s", HigherIsBetter: true, Samples: len(mine),
				Note: fmt.Sprintf("%s: %d lines of WMT newstest2012.en (%d bytes, %d ids), special tokens added; %s", c.Model, len(lines), nbytes, ours, how)}
			if peer != nil && len(theirs) == len(mine) {
				r.SetPeerPaired("hf-tokenizers", mine, theirs)
			}
			peer.Close()
			rs = append(rs, r)
		}
	}
	return rs, nil
}

// countIDs encodes every line and returns the total number of ids.
func countIDs(tk tokenizer.Tokenizer, lines []string) (int, error) {
	n := 0
	for i, l := range lines {
		e, err := tk.Encode(l, true)
		if err != nil {
			return 0, fmt.Errorf("bench: line %d: %w", i+1, err)
		}
		n += e.Len()
	}
	return n, nil
}
