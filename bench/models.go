package bench

import (
	_ "embed"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/optiformer/optiformer/models/transformer"
)

//go:embed infer_torch.py
var inferTorch string

//go:embed infer_ort.js
var inferORT string

//go:embed train_torch.py
var trainTorch string

// ModelOptions configure Infer and Train.
type ModelOptions struct {
	Threads []int         // thread counts (default 1 and 2)
	Samples int           // samples per figure (default 7 for infer, 5 for train)
	Steps   int           // training steps per sample (default 3)
	NoPeer  bool          // skip the peers
	Log     io.Writer     // progress and peer problems
	Timeout time.Duration // unused for now; workers answer within minutes
}

func (o *ModelOptions) defaults(samples int) {
	if len(o.Threads) == 0 {
		o.Threads = []int{1, 2}
	}
	if o.Samples <= 0 {
		o.Samples = samples
	}
	if o.Steps <= 0 {
		o.Steps = 3
	}
}

func (o *ModelOptions) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, a...)
	}
}

// BERTBase is the configuration of the BERT-base-shaped encoder `bench infer` runs: 12
// post-LN layers, 768 wide, 12 heads, FFN 3072, GELU, learned positions.
func BERTBase() transformer.Config {
	c := transformer.Defaults()
	c.Arch = transformer.EncoderOnly
	c.VocabSize, c.DModel, c.Heads, c.FFN, c.EncoderLayers, c.DecoderLayers = 30522, 768, 12, 3072, 12, 0
	c.MaxPositions, c.Positions, c.Activation = 512, "learned", "gelu"
	c.LayerNormEps, c.ScaleEmbedding, c.TieEmbeddings, c.Dropout = 1e-12, false, false, 0
	return c
}

// Seq2SeqD256 is the encoder-decoder `bench train` trains: d_model 256, 3+3 layers, 4 heads,
// FFN 1024, shared vocabulary of 8000, post-LN, ReLU, dropout 0.1 (torch.nn.Transformer's
// defaults at these sizes).
func Seq2SeqD256() transformer.Config {
	c := transformer.Defaults()
	c.VocabSize, c.DModel, c.Heads, c.FFN, c.EncoderLayers, c.DecoderLayers = 8000, 256, 4, 1024, 3, 3
	return c
}

func randomIDs(rng *rand.Rand, b, t, v int) [][]int32 {
	ids := make([][]int32, b)
	for i := range ids {
		ids[i] = make([]int32, t)
		for j := range ids[i] {
			ids[i][j] = int32(3 + rng.IntN(v-3))
		}
	}
	return ids
}

// torchEnv runs PyTorch with OpenBLAS's OpenMP build: with the default pthread build, its
// pool and torch's OpenMP pool fight over two threads (PEERS.md).
func torchEnv(threads int) []string {
	env := []string{fmt.Sprintf("OMP_NUM_THREADS=%d", threads)}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/openblas-openmp"); err == nil {
		env = append(env, "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp")
	}
	return env
}

// impl is one implementation under measurement in a worker process.
type impl struct {
	name string // "optiformer" or the peer's name
	p    *Peer
	vals []float64
	rss  float64
}

// measure asks every live implementation for a figure, samples times, in turn; key names the
// field of the answer. A peer that fails is dropped (and logged); optiformer failing is an error.
func measure(o *ModelOptions, impls []*impl, samples int, req map[string]any, key string) error {
	for s := 0; s < samples; s++ {
		for _, im := range impls {
			if im.p == nil {
				continue
			}
			var resp map[string]float64
			if err := im.p.Call(req, &resp); err != nil {
				if im.name == "optiformer" {
					return err
				}
				o.logf("%v\n", err)
				im.p.Close()
				im.p = nil
				im.vals = nil
				continue
			}
			im.vals = append(im.vals, resp[key])
		}
	}
	for _, im := range impls {
		if im.p == nil {
			continue
		}
		var resp map[string]float64
		if err := im.p.Call(map[string]any{"op": "rss"}, &resp); err == nil {
			im.rss = resp["rss_mib"]
		}
		im.p.Close()
	}
	return nil
}

// results turns the measurements into lines: the figure (one line per peer, or one with a null
// peer) and the peak RSS.
func results(name string, threads int, impls []*impl, unit string, higher bool, note string) []Result {
	ours := impls[0]
	var rs []Result
	base := Result{Name: name, Threads: threads, Value: Median(ours.vals), Unit: unit, HigherIsBetter: higher, Samples: len(ours.vals), Note: note}
	rss := Result{Name: name + "/rss", Threads: threads, Value: ours.rss, Unit: "MiB", Samples: 1,
		Note: "…/rss: peak resident set size of the process that ran the work (getrusage ru_maxrss)"}
	peers := 0
	for _, im := range impls[1:] {
		if len(im.vals) == 0 {
			continue
		}
		r := base
		r.SetPeerPaired(im.name, ours.vals, im.vals)
		rs = append(rs, r)
		peers++
	}
	if peers == 0 {
		rs = append(rs, base)
	}
	for _, im := range impls[1:] {
		if len(im.vals) == 0 {
			continue
		}
		r := rss
		r.SetPeer(im.name, im.rss)
		rs = append(rs, r)
	}
	if peers == 0 {
		rs = append(rs, rss)
	}
	return rs
}

// Infer measures the forward pass of the BERT-base-shaped encoder over batch × 128 tokens for
// batch 1 and 8: milliseconds (median) and peak RSS, beside PyTorch and ONNX Runtime running
// the same architecture in their own processes, samples taken in turn.
func Infer(o ModelOptions) ([]Result, error) {
	o.defaults(7)
	cfg := BERTBase()
	dir, err := os.MkdirTemp("", "optiformer-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	onnxPath := filepath.Join(dir, "bert-base.onnx")
	haveONNX := false
	type withONNX struct {
		WorkerInit
		ONNX string `json:"onnx"`
	}
	if !o.NoPeer {
		p, err := StartPython("pytorch-export", inferTorch, withONNX{WorkerInit{Task: "export", Threads: 1, Model: cfg,
			IDs: randomIDs(rand.New(rand.NewPCG(5, 5)), 1, 128, cfg.VocabSize)}, onnxPath}, torchEnv(1)...)
		if err != nil {
			o.logf("%v\n", err)
		} else {
			p.Close()
			_, err := os.Stat(onnxPath)
			haveONNX = err == nil
		}
	}
	var rs []Result
	for _, threads := range o.Threads {
		for _, batch := range []int{1, 8} {
			ids := randomIDs(rand.New(rand.NewPCG(7, uint64(batch))), batch, 128, cfg.VocabSize)
			init := WorkerInit{Task: "infer", Threads: threads, Model: cfg, IDs: ids}
			o.logf("infer batch %d × 128, %d thread(s)\n", batch, threads)
			ours, err := StartSelf("optiformer", init)
			if err != nil {
				return nil, err
			}
			impls := []*impl{{name: "optiformer", p: ours}}
			if !o.NoPeer {
				if p, err := StartPython("pytorch", inferTorch, init, torchEnv(threads)...); err != nil {
					o.logf("%v\n", err)
				} else {
					impls = append(impls, &impl{name: "pytorch", p: p})
				}
				if haveONNX {
					if p, err := StartNode("onnxruntime", inferORT, withONNX{init, onnxPath}); err != nil {
						o.logf("%v\n", err)
					} else {
						impls = append(impls, &impl{name: "onnxruntime", p: p})
					}
				}
			}
			if err := measure(&o, impls, o.Samples, map[string]any{"op": "run"}, "ms"); err != nil {
				return nil, err
			}
			rs = append(rs, results(fmt.Sprintf("infer/bert-base-b%d", batch), threads, impls, "ms", false,
				"infer/…: forward pass of a BERT-base-shaped encoder (12 layers, 768 wide, 12 heads, FFN 3072, GELU) over batch × 128 tokens, fp32, milliseconds")...)
		}
	}
	return rs, nil
}

// trainBatches makes n batches of 64 sentence pairs of 25–35 tokens (random ids, deterministic).
func trainBatches(n, vocab int) []TrainBatch {
	rng := rand.New(rand.NewPCG(11, 12))
	sentence := func() []int32 {
		s := make([]int32, 25+rng.IntN(11))
		for i := range s {
			s[i] = int32(3 + rng.IntN(vocab-3))
		}
		return s
	}
	pad := func(rows [][]int32) [][]int32 {
		w := 0
		for _, r := range rows {
			w = max(w, len(r))
		}
		for i, r := range rows {
			rows[i] = append(r, make([]int32, w-len(r))...)
		}
		return rows
	}
	var bs []TrainBatch
	for range n {
		var b TrainBatch
		for range 64 {
			src, tgt := sentence(), sentence()
			b.Src = append(b.Src, src)
			b.TgtIn = append(b.TgtIn, append([]int32{1}, tgt...))
			b.Labels = append(b.Labels, append(append([]int32{}, tgt...), 2))
		}
		b.Src, b.TgtIn, b.Labels = pad(b.Src), pad(b.TgtIn), pad(b.Labels)
		bs = append(bs, b)
	}
	return bs
}

// Train measures training of the d256 3+3-layer encoder-decoder on batches of 64 sentence
// pairs of about 30 tokens with AdamW: target tokens per second (median) and peak RSS, beside
// PyTorch training the same model on the same batches in its own process.
func Train(o ModelOptions) ([]Result, error) {
	o.defaults(5)
	cfg := Seq2SeqD256()
	batches := trainBatches(4, cfg.VocabSize)
	var rs []Result
	for _, threads := range o.Threads {
		init := WorkerInit{Task: "train", Threads: threads, Model: cfg, Batches: batches, LR: 1e-4, WeightDecay: 0.01, Smoothing: 0.1}
		o.logf("train d256 3+3, %d thread(s)\n", threads)
		ours, err := StartSelf("optiformer", init)
		if err != nil {
			return nil, err
		}
		impls := []*impl{{name: "optiformer", p: ours}}
		if !o.NoPeer {
			if p, err := StartPython("pytorch", trainTorch, init, torchEnv(threads)...); err != nil {
				o.logf("%v\n", err)
			} else {
				impls = append(impls, &impl{name: "pytorch", p: p})
			}
		}
		if err := measure(&o, impls, o.Samples, map[string]any{"op": "run", "steps": o.Steps}, "tokens_per_s"); err != nil {
			return nil, err
		}
		rs = append(rs, results("train/seq2seq-d256", threads, impls, "tokens/s", true,
			"train/…: encoder-decoder d_model 256, 3+3 layers, 4 heads, FFN 1024, vocabulary 8000, batches of 64 pairs of ~30 tokens, AdamW; target tokens per second")...)
	}
	return rs, nil
}
