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

// Stopping after some steps and resuming ends exactly where one uninterrupted run ends, the
// weights' moving average included.
func TestResumeIsExact(t *testing.T) {
	for _, ema := range []float64{0, 0.9} {
		run := func(dir string, steps int) (raw, best []float32) {
			m, cfg, task := setup(t)
			tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: dir,
				Config: train.Config{MaxSteps: steps, LR: 1e-3, Schedule: "constant", CheckpointEvery: 3, Seed: 2, EMADecay: ema}}
			if _, err := tr.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			return weights(m), loadWeights(t, tr.BestDir(), cfg)
		}
		a, abest := run(t.TempDir(), 20)
		dir := t.TempDir()
		run(dir, 9)
		b, bbest := run(dir, 20)
		same(t, "raw", a, b)
		same(t, "best", abest, bbest)
		if d := maxDiff(a, abest); (ema == 0) != (d == 0) {
			t.Fatalf("EMA %v: saved weights differ from the raw ones by %v", ema, d)
		}
	}
}

// With EMADecay, evaluations and the best model see the averaged weights, and training goes
// on with the raw ones.
func TestEMAEvaluatesAverage(t *testing.T) {
	m, cfg, task := setup(t)
	var seen [][]float32
	tr := &train.Trainer{Model: m, ModelCfg: cfg, Params: m.Params(), Data: task, Dir: t.TempDir(),
		Config: train.Config{MaxSteps: 12, LR: 3e-3, Schedule: "constant", EvalEvery: 4, Seed: 5, EMADecay: 0.8},
		Eval: func() (float64, map[string]float64, error) {
			seen = append(seen, weights(m))
			return float64(len(seen)), nil, nil // each evaluation better than the last
		}}
	if _, err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 3 {
		t.Fatalf("%d evaluations", len(seen))
	}
	last := seen[len(seen)-1]
	same(t, "best", last, loadWeights(t, tr.BestDir(), cfg))
	if maxDiff(last, weights(m)) == 0 {
		t.Fatal("the evaluation saw the raw weights")
	}
	// The same run without the average evaluates the raw weights.
	m2, _, task2 := setup(t)
	var raw []float32
	tr2 := &train.Trainer{Model: m2, ModelCfg: cfg, Params: m2.Params(), Data: task2, Dir: t.TempDir(),
		Config: train.Config{MaxSteps: 12, LR: 3e-3, Schedule: "constant", EvalEvery: 12, Seed: 5},
		Eval:   func() (float64, map[string]float64, error) { raw = weights(m2); return 0, nil, nil }}
	if _, err := tr2.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	same(t, "raw training", weights(m), raw)
	if _, err := (&train.Trainer{Model: m2, ModelCfg: cfg, Params: m2.Params(), Data: task2, Dir: t.TempDir(),
		Config: train.Config{MaxSteps: 1, LR: 1e-3, EMADecay: 1.5}}).Run(context.Background()); err == nil {
		t.Fatal("EMA decay 1.5 accepted")
	}
}

func loadWeights(t *testing.T, dir string, cfg transformer.Config) []float32 {
	t.Helper()
	m, err := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(9, 9)))
	if err != nil {
		t.Fatal(err)
	}
	if err := ckpt.LoadWeights(dir, m, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	return weights(m)
}

func same(t *testing.T, what string, a, b []float32) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%s: %d vs %d weights", what, len(a), len(b))
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("%s: weight %d: %v vs %v", what, i, a[i], b[i])
		}
	}
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
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
