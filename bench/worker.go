package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tensor"
)

// WorkerInit is the first line every benchmark worker (ours and the peers' scripts) reads.
type WorkerInit struct {
	Task    string             `json:"task"` // "infer" or "train"
	Threads int                `json:"threads"`
	Model   transformer.Config `json:"model"`
	// infer: token ids of one batch (B × T), the same for every implementation.
	IDs [][]int32 `json:"ids,omitempty"`
	// Quant is the quantization scheme of the linear layers ("": float32).
	Quant string `json:"quant,omitempty"`
	// train: the batches to cycle through, and the optimizer settings.
	Batches     []TrainBatch `json:"batches,omitempty"`
	LR          float64      `json:"lr,omitempty"`
	WeightDecay float64      `json:"weight_decay,omitempty"`
	Smoothing   float64      `json:"label_smoothing,omitempty"`
}

// TrainBatch is one padded batch of sentence pairs: the decoder reads TgtIn (bos + target)
// and predicts Labels (target + eos); pad is 0.
type TrainBatch struct {
	Src    [][]int32 `json:"src"`
	TgtIn  [][]int32 `json:"tgt_in"`
	Labels [][]int32 `json:"labels"`
}

// RunWorker is `optiformer bench worker`: it reads a WorkerInit, builds the model, answers
// ready, then serves {"op": "run"} (one measurement) and {"op": "rss"} (peak resident set
// size) until its input closes.
func RunWorker(in io.Reader, out io.Writer) error {
	r := bufio.NewReader(in)
	enc := json.NewEncoder(out)
	line, err := r.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("bench: worker: %w", err)
	}
	var init WorkerInit
	if err := json.Unmarshal(line, &init); err != nil {
		return enc.Encode(map[string]string{"error": fmt.Sprintf("bad init: %v", err)})
	}
	kernels.SetThreads(max(1, init.Threads))
	SetGC()
	var run func(req map[string]any) (any, error)
	switch init.Task {
	case "infer":
		run, err = inferWorker(init)
	case "train":
		run, err = trainWorker(init)
	default:
		err = fmt.Errorf("unknown task %q", init.Task)
	}
	if err != nil {
		return enc.Encode(map[string]string{"error": err.Error()})
	}
	if err := enc.Encode(map[string]any{"ready": true, "threads": kernels.Threads()}); err != nil {
		return err
	}
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var req map[string]any
		if err := json.Unmarshal(line, &req); err != nil {
			return enc.Encode(map[string]string{"error": fmt.Sprintf("bad request: %v", err)})
		}
		var resp any
		switch req["op"] {
		case "rss":
			resp = map[string]float64{"rss_mib": peakRSSMiB()}
		case "run":
			resp, err = run(req)
			if err != nil {
				resp = map[string]string{"error": err.Error()}
			}
		default:
			resp = map[string]string{"error": fmt.Sprintf("unknown op %v", req["op"])}
		}
		if err := enc.Encode(resp); err != nil {
			return err
		}
	}
}

// SetGC sets the collector for tensor work unless GOGC is set: tensors hold no pointers, so a
// collection costs little, while the default (collect at 100% growth) lets dead activations
// pile up to the size of everything live, weights included. At 20% the peak heap stays near
// the live set. Commands that run models call it at start-up.
func SetGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(20)
	}
}

// peakRSSMiB is this process's peak resident set size.
func peakRSSMiB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // kilobytes on Linux
}

func idsTensor(rows [][]int32) (*tensor.Tensor, error) {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return nil, fmt.Errorf("empty batch")
	}
	var flat []int32
	for _, r := range rows {
		if len(r) != len(rows[0]) {
			return nil, fmt.Errorf("ragged batch")
		}
		flat = append(flat, r...)
	}
	return tensor.FromI32(flat, len(rows), len(rows[0])), nil
}

// inferWorker times the encoder's forward pass over the given batch: milliseconds per call.
func inferWorker(init WorkerInit) (func(map[string]any) (any, error), error) {
	m, err := transformer.New(init.Model, tensor.F32, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		return nil, err
	}
	ids, err := idsTensor(init.IDs)
	if err != nil {
		return nil, err
	}
	if init.Quant != "" {
		s, err := quant.ParseScheme(init.Quant)
		if err != nil {
			return nil, err
		}
		if _, _, err := quant.Quantize(m, false, quant.Options{Scheme: s, Layers: []string{quant.Attention, quant.FFN}}); err != nil {
			return nil, err
		}
	}
	forward := func() error {
		_, err := m.Encode(nn.Inference(), ids)
		return err
	}
	if err := forward(); err != nil { // packs the weights, warms the caches
		return nil, err
	}
	return func(map[string]any) (any, error) {
		t0 := time.Now()
		if err := forward(); err != nil {
			return nil, err
		}
		return map[string]float64{"ms": float64(time.Since(t0).Microseconds()) / 1000}, nil
	}, nil
}

// trainWorker runs training steps (forward, backward, AdamW) over the batches in turn and
// reports target tokens per second.
func trainWorker(init WorkerInit) (func(map[string]any) (any, error), error) {
	rng := rand.New(rand.NewPCG(3, 4))
	m, err := transformer.New(init.Model, tensor.F32, rng)
	if err != nil {
		return nil, err
	}
	type batch struct {
		src, tgtIn, labels *tensor.Tensor
	}
	var batches []batch
	for _, b := range init.Batches {
		s, err1 := idsTensor(b.Src)
		ti, err2 := idsTensor(b.TgtIn)
		l, err3 := idsTensor(b.Labels)
		if err1 != nil || err2 != nil || err3 != nil {
			return nil, fmt.Errorf("bad batch")
		}
		batches = append(batches, batch{s, ti, l})
	}
	if len(batches) == 0 {
		return nil, fmt.Errorf("no batches")
	}
	opt := optim.NewAdamW(m.Params(), init.WeightDecay, optim.DecayPolicy{})
	next := 0
	step := func() (int, error) {
		b := batches[next%len(batches)]
		next++
		var tape ag.Tape
		c := &nn.Ctx{Tape: &tape, Train: true, RNG: rng}
		loss, n, err := m.Seq2SeqLoss(c, b.src, b.tgtIn, b.labels, init.Smoothing)
		if err != nil {
			return 0, err
		}
		opt.ZeroGrad()
		tape.Backward(loss)
		opt.Step(init.LR)
		return n, nil
	}
	if _, err := step(); err != nil { // first step allocates the optimizer state
		return nil, err
	}
	return func(req map[string]any) (any, error) {
		steps := 1
		if s, ok := req["steps"].(float64); ok && s >= 1 {
			steps = int(s)
		}
		t0 := time.Now()
		tokens := 0
		for i := 0; i < steps; i++ {
			n, err := step()
			if err != nil {
				return nil, err
			}
			tokens += n
		}
		sec := time.Since(t0).Seconds()
		return map[string]float64{"tokens_per_s": float64(tokens) / sec, "seconds": sec, "tokens": float64(tokens)}, nil
	}, nil
}
