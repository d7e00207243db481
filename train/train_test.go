package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/data"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/tensor"
	"github.com/optiformer/optiformer/train"
)

// copyTask: the target is the source; a tiny model learns it quickly.
type copyTask struct {
	m *transformer.Model
	b *data.Batcher
}

func (c copyTask) Len() int                       { return c.b.Len() }
func (c copyTask) Order(seed uint64, e int) []int { return c.b.Order(seed, e) }
func (c copyTask) Loss(ctx *nn.Ctx, i int) (*ag.Var, int, error) {
	bt := c.b.Batch(i)
	loss, n, err := c.m.Seq2SeqLoss(ctx, bt.Src, bt.TgtIn, bt.Labels, 0)
	return loss, n, err
}

func setup(t *testing.T) (*transformer.Model, transformer.Config, copyTask) {
	kernels.SetThreads(1)
	cfg := transformer.Defaults()
	cfg.VocabSize, cfg.DModel, cfg.Heads, cfg.FFN, cfg.EncoderLayers, cfg.DecoderLayers = 12, 32, 4, 64, 1, 1
	cfg.Dropout = 0.1
	m, err := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(5, 5)))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(6, 6))
	var ex []data.Example
	for i := 0; i < 64; i++ {
		s := make([]int, 2+r.IntN(4))
		for j := range s {
			s[j] = 3 + r.IntN(9)
		}
		ex = append(ex, data.Example{Src: s, Tgt: s, Line: i + 1})
	}
	b, err := data.NewBatcher(ex, 64, data.Special{Pad: cfg.PadID, BOS: cfg.BOSID, EOS: cfg.EOSID})
	if err != nil {
		t.Fatal(err)
	}
	return m, cfg, copyTask{m, b}
}

func weights(m *transformer.Model) []float32 {
	var w []float32
	for _, p := range m.Params() {
		w = append(w, p.Param.Value.F32()...)
	}
	return w
}

func TestTrainLearnsAndKeepsBest(t *testing.T) {
	m, cfg, task := setup(t)
	dir := t.TempDir()
	evals := 0
	var first, last float64
	tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: dir,
		Config: train.Config{Epochs: 30, LR: 3e-3, Schedule: "linear", Warmup: 10, ClipNorm: 1, Seed: 1, Accumulate: 2},
		Eval: func() (float64, map[string]float64, error) {
			// score: minus the mean loss over all batches
			var sum float64
			for i := 0; i < task.Len(); i++ {
				l, _, err := task.Loss(nn.Inference(), i)
				if err != nil {
					return 0, nil, err
				}
				sum += l.Value.At()
			}
			evals++
			s := -sum / float64(task.Len())
			if evals == 1 {
				first = s
			}
			last = s
			return s, map[string]float64{"loss": -s}, nil
		}}
	res, err := tr.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Epochs != 30 || evals != 30 || last < first+0.5 {
		t.Fatalf("%+v: %d evals, score %v → %v", res, evals, first, last)
	}
	if _, err := os.Stat(filepath.Join(tr.BestDir(), ckpt.WeightsFile)); err != nil {
		t.Fatal("no best model saved")
	}
}

// Stopping after some steps and resuming ends exactly where one uninterrupted run ends.
func TestResumeIsExact(t *testing.T) {
	run := func(dir string, steps int) []float32 {
		m, cfg, task := setup(t)
		tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: dir,
			Config: train.Config{MaxSteps: steps, LR: 1e-3, Schedule: "constant", CheckpointEvery: 3, Seed: 2}}
		if _, err := tr.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		return weights(m)
	}
	a := run(t.TempDir(), 20)
	dir := t.TempDir()
	run(dir, 9)
	b := run(dir, 20)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("weight %d: straight run %v, resumed %v", i, a[i], b[i])
		}
	}
}

func TestPatienceAndErrors(t *testing.T) {
	m, cfg, task := setup(t)
	tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: t.TempDir(),
		Config: train.Config{Epochs: 50, LR: 1e-3, Schedule: "constant", Patience: 2, EvalEvery: 2, Seed: 3},
		Eval:   func() (float64, map[string]float64, error) { return 1, nil, nil }} // never improves after the first
	res, err := tr.Run(context.Background())
	if err != nil || res.Stopped != "no improvement (patience)" || res.Steps != 6 {
		t.Fatalf("%+v %v", res, err)
	}
	tr2 := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: t.TempDir(),
		Config: train.Config{MaxSteps: 3, LR: 1e9, Schedule: "constant", Seed: 3}}
	if _, err := tr2.Run(context.Background()); err == nil {
		t.Fatal("a diverging run did not report its NaN loss")
	}
	if _, err := (&train.Trainer{Data: task, Dir: t.TempDir()}).Run(context.Background()); err == nil {
		t.Fatal("a run without epochs or steps started")
	}
}

// A run that stops between evaluations evaluates once more, so a best model exists.
func TestStopEvaluates(t *testing.T) {
	m, cfg, task := setup(t)
	evals := 0
	tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: t.TempDir(),
		Config: train.Config{MaxSteps: 5, LR: 1e-3, Schedule: "constant", EvalEvery: 100, Seed: 4},
		Eval:   func() (float64, map[string]float64, error) { evals++; return 0, nil, nil }}
	res, err := tr.Run(context.Background())
	if err != nil || evals != 1 || res.BestStep != 5 {
		t.Fatalf("%+v %v, %d evaluations", res, err, evals)
	}
	if _, err := os.Stat(filepath.Join(tr.BestDir(), ckpt.WeightsFile)); err != nil {
		t.Fatal("no best model")
	}
	// Likewise when the epochs run out between evaluations.
	m, cfg, task = setup(t)
	evals = 0
	tr = &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: t.TempDir(),
		Config: train.Config{Epochs: 1, LR: 1e-3, Schedule: "constant", EvalEvery: 1000, Seed: 4},
		Eval:   func() (float64, map[string]float64, error) { evals++; return 0, nil, nil }}
	res, err = tr.Run(context.Background())
	if err != nil || evals != 1 || res.BestStep != task.Len() || res.Stopped != "epochs done" {
		t.Fatalf("epochs done: %+v %v, %d evaluations", res, err, evals)
	}
}
