// Package train runs training loops: batches in a seeded order, gradient accumulation over
// micro-batches, clipping, learning-rate schedules, evaluation every N steps with the best
// model kept and early stopping, checkpoints that a run killed at any moment resumes from
// exactly, and a progress bar.
package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/optim/schedule"
)

// Data is what the trainer needs from a task: batches in a plan, and the loss of one.
type Data interface {
	// Len is the number of batches in an epoch.
	Len() int
	// Order is the order of the batches of an epoch, a function of seed and epoch only.
	Order(seed uint64, epoch int) []int
	// Loss builds the loss of batch i on c (which records on its tape) and returns it with
	// the number of target tokens it covers (for tokens/s and weighting).
	Loss(c *nn.Ctx, i int) (loss *ag.Var, tokens int, err error)
}

// Config controls a run.
type Config struct {
	Epochs   int // passes over the data (0: until MaxSteps)
	MaxSteps int // optimizer steps (0: Epochs decide)
	// Accumulate is the number of micro-batches summed into one optimizer step (≥ 1).
	Accumulate  int
	LR          float64
	Schedule    string // constant, linear, cosine, inverse_sqrt
	Warmup      int
	WeightDecay float64
	// Beta2 is the default AdamW's second-moment decay (0: 0.999; transformers often use 0.98).
	Beta2    float64
	Decay    optim.DecayPolicy
	ClipNorm float64 // 0: no clipping
	// EvalEvery runs Eval every that many optimizer steps (0: at the end of each epoch).
	EvalEvery int
	// Patience stops the run after that many evaluations without improvement (0: never).
	Patience int
	// CheckpointEvery saves a resumable checkpoint every that many steps (0: at evaluations).
	CheckpointEvery int
	Keep            int // checkpoints kept (default 2)
	Seed            uint64
	// TimeBudget stops the run when it is spent (0: no limit), after saving.
	TimeBudget time.Duration
	// EMADecay, when in (0, 1), keeps an exponential moving average of the weights
	// (optim.EMA): evaluations, the best model and the final model use the averaged weights,
	// training goes on with the raw ones. 0: off.
	EMADecay float64
}

// Eval scores the current model: a higher score is better (BLEU, say); metrics are printed
// and kept in the state.
type Eval func() (score float64, metrics map[string]float64, err error)

// Trainer runs one training.
type Trainer struct {
	Model     any               // the model (for checkpoints: nn.Load/nn.Params)
	ModelCfg  any               // the model's config.json content
	Params    []nn.NamedParam   // what the optimizer updates
	Data      Data              // the batches
	Eval      Eval              // may be nil
	Dir       string            // run directory: checkpoints/ and best/ go there
	Config    Config            //
	Log       io.Writer         // progress bar and messages (nil: silent)
	Optimizer optim.Optimizer   // default AdamW(WeightDecay, Decay)
	Extra     map[string]string // written into the best model's safetensors metadata
}

// Result summarises a finished run.
type Result struct {
	Steps     int
	Epochs    int
	BestScore float64
	BestStep  int
	Tokens    int64         // target tokens trained on, earlier runs of a resumed one included
	Elapsed   time.Duration // of this run
	// EvalTime is the part of Elapsed spent evaluating; TrainTokens the tokens of this run.
	// TrainTokens / (Elapsed − EvalTime) is the training speed.
	EvalTime    time.Duration
	TrainTokens int64
	Stopped     string // why the run ended
	Resumed     bool
}

// position is the data position saved in checkpoints.
type position struct {
	Epoch     int     `json:"epoch"`
	Batch     int     `json:"batch"`      // index in the epoch's order of the next batch
	BestScore float64 `json:"best_score"` // meaningful when HasBest
	HasBest   bool    `json:"has_best"`
	BestStep  int     `json:"best_step"`
	BadEvals  int     `json:"bad_evals"`
	EvalStep  int     `json:"eval_step"` // the step of the last evaluation
	Tokens    int64   `json:"tokens"`
}

// BestDir is where the best model goes: Dir/best (config.json + model.safetensors).
func (t *Trainer) BestDir() string { return filepath.Join(t.Dir, "best") }

func (t *Trainer) ckptRoot() string { return filepath.Join(t.Dir, "checkpoints") }

func (t *Trainer) logf(format string, a ...any) {
	if t.Log != nil {
		fmt.Fprintf(t.Log, format, a...)
	}
}

// Run trains until the epochs or steps are done, patience runs out, the time budget is spent
// or ctx is cancelled, resuming from the newest checkpoint in Dir when there is one.
func (t *Trainer) Run(ctx context.Context) (Result, error) {
	cfg := t.Config
	if cfg.Accumulate < 1 {
		cfg.Accumulate = 1
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 2
	}
	if cfg.Epochs <= 0 && cfg.MaxSteps <= 0 {
		return Result{}, errors.New("train: set Epochs or MaxSteps")
	}
	n := t.Data.Len()
	if n == 0 {
		return Result{}, errors.New("train: no batches")
	}
	total := cfg.MaxSteps
	if total <= 0 {
		total = cfg.Epochs * n / cfg.Accumulate
	}
	sched, err := schedule.Parse(cfg.Schedule, cfg.LR, cfg.Warmup, total)
	if err != nil {
		return Result{}, fmt.Errorf("train: %w", err)
	}
	opt := t.Optimizer
	if opt == nil {
		a := optim.NewAdamW(t.Params, cfg.WeightDecay, cfg.Decay)
		if cfg.Beta2 != 0 {
			if !(cfg.Beta2 > 0 && cfg.Beta2 < 1) {
				return Result{}, fmt.Errorf("train: Adam beta2 %v must lie in (0, 1)", cfg.Beta2)
			}
			a.Beta2 = cfg.Beta2
		}
		opt = a
	}
	// withWeights runs f with the weights that evaluations and saved models use.
	withWeights := func(f func() error) error { return f() }
	if cfg.EMADecay != 0 {
		e, err := optim.NewEMA(opt, cfg.EMADecay)
		if err != nil {
			return Result{}, fmt.Errorf("train: %w", err)
		}
		opt, withWeights = e, e.WithAverage
	}
	if err := os.MkdirAll(t.Dir, 0o755); err != nil {
		return Result{}, fmt.Errorf("train: %w", err)
	}
	// Tensors hold no pointers: collecting often keeps the peak heap near the live set.
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(25))
	}

	pcg := rand.NewPCG(cfg.Seed, 0x6f7074)
	rng := rand.New(pcg)
	var pos position
	step := 0
	res := Result{}
	if dir, ok, err := ckpt.Latest(t.ckptRoot()); err != nil {
		return res, err
	} else if ok {
		st, err := ckpt.LoadCheckpoint(dir, t.Model, opt)
		if err != nil {
			return res, fmt.Errorf("train: resuming from %s: %w", dir, err)
		}
		if err := pcg.UnmarshalBinary(st.RNG); err != nil {
			return res, fmt.Errorf("train: resuming from %s: random state: %w", dir, err)
		}
		if err := json.Unmarshal(st.Data, &pos); err != nil {
			return res, fmt.Errorf("train: resuming from %s: data position: %w", dir, err)
		}
		step = st.Step
		res.Resumed = true
		t.logf("resuming from %s (step %d, epoch %d, batch %d)\n", dir, step, pos.Epoch+1, pos.Batch)
	} else {
		t.logf("%s\n", cfg.Decay.Describe(t.Params))
	}

	save := func() error {
		rs, err := pcg.MarshalBinary()
		if err != nil {
			return err
		}
		data, err := json.Marshal(pos)
		if err != nil {
			return fmt.Errorf("train: saving the data position: %w", err)
		}
		_, err = ckpt.SaveCheckpoint(t.ckptRoot(), ckpt.TrainState{Step: step, RNG: rs, Data: data}, t.ModelCfg, t.Params, opt.State(), cfg.Keep)
		return err
	}
	var evalTime time.Duration // spent evaluating and saving the best model
	evaluate := func() (stop bool, err error) {
		if t.Eval == nil {
			return false, nil
		}
		t0 := time.Now()
		defer func() { evalTime += time.Since(t0) }()
		var score float64
		var metrics map[string]float64
		mark := ""
		err = withWeights(func() error {
			var err error
			score, metrics, err = t.Eval()
			if err != nil {
				return err
			}
			pos.EvalStep = step
			if math.IsNaN(score) || math.IsInf(score, 0) {
				return fmt.Errorf("train: evaluation at step %d gave %v", step, score)
			}
			if pos.HasBest && score <= pos.BestScore {
				pos.BadEvals++
				return nil
			}
			pos.BestScore, pos.BestStep, pos.BadEvals, pos.HasBest = score, step, 0, true
			meta := map[string]string{"step": fmt.Sprint(step), "score": fmt.Sprint(score)}
			if cfg.EMADecay != 0 {
				meta["ema_decay"] = fmt.Sprint(cfg.EMADecay)
			}
			for k, v := range t.Extra {
				meta[k] = v
			}
			mark = " (best so far, saved)"
			return ckpt.SaveModel(t.BestDir(), t.ModelCfg, t.Params, meta)
		})
		if err != nil {
			return false, err
		}
		t.logf("\nstep %d: score %.2f%s %v\n", step, score, mark, fmtMetrics(metrics))
		return cfg.Patience > 0 && pos.BadEvals >= cfg.Patience, nil
	}

	bar := newBar(t.Log, total, step)
	start := time.Now()
	tokensAtStart := pos.Tokens
	for {
		epochs := cfg.Epochs
		if epochs > 0 && pos.Epoch >= epochs {
			// Steps after the last evaluation must count for the best model too.
			if cfg.EvalEvery > 0 && pos.EvalStep != step {
				if _, err := evaluate(); err != nil {
					return res, err
				}
				if err := save(); err != nil {
					return res, err
				}
			}
			res.Stopped = "epochs done"
			break
		}
		order := t.Data.Order(cfg.Seed, pos.Epoch)
		stop := ""
		for pos.Batch < len(order) {
			if err := ctx.Err(); err != nil {
				stop = "interrupted"
				break
			}
			// One optimizer step over Accumulate micro-batches.
			opt.ZeroGrad()
			var lossSum float64
			var tokens int
			for a := 0; a < cfg.Accumulate && pos.Batch < len(order); a++ {
				var tape ag.Tape
				c := &nn.Ctx{Tape: &tape, Train: true, RNG: rng}
				loss, ntok, err := t.Data.Loss(c, order[pos.Batch])
				if err != nil {
					return res, err
				}
				pos.Batch++
				if math.IsNaN(loss.Value.At()) || math.IsInf(loss.Value.At(), 0) {
					return res, fmt.Errorf("train: step %d: the loss is %v (learning rate too high?)", step, loss.Value.At())
				}
				// Micro-batch losses are means; weight them by tokens so the step's gradient
				// is the mean over all its tokens.
				tape.BackwardFrom(loss, scalarLike(loss, float64(ntok)))
				lossSum += loss.Value.At() * float64(ntok)
				tokens += ntok
			}
			if tokens == 0 {
				continue
			}
			scaleGrads(t.Params, 1/float64(tokens))
			if cfg.ClipNorm > 0 {
				optim.ClipGradNorm(t.Params, cfg.ClipNorm)
			}
			lr := sched.LR(step)
			opt.Step(lr)
			step++
			pos.Tokens += int64(tokens)
			el := time.Since(start)
			left := time.Duration(-1)
			if cfg.TimeBudget > 0 {
				left = max(0, cfg.TimeBudget-el)
			}
			bar.update(step, lossSum/float64(tokens), float64(pos.Tokens-tokensAtStart)/(el-evalTime).Seconds(), lr, left)

			if cfg.EvalEvery > 0 && step%cfg.EvalEvery == 0 {
				s, err := evaluate()
				if err != nil {
					return res, err
				}
				if err := save(); err != nil {
					return res, err
				}
				if s {
					stop = "no improvement (patience)"
					break
				}
			} else if cfg.CheckpointEvery > 0 && step%cfg.CheckpointEvery == 0 {
				if err := save(); err != nil {
					return res, err
				}
			}
			if cfg.MaxSteps > 0 && step >= cfg.MaxSteps {
				stop = "steps done"
				break
			}
			if cfg.TimeBudget > 0 && time.Since(start) >= cfg.TimeBudget {
				stop = "time budget spent"
				break
			}
		}
		if stop == "" { // the epoch ended
			pos.Epoch++
			pos.Batch = 0
			if cfg.EvalEvery == 0 {
				s, err := evaluate()
				if err != nil {
					return res, err
				}
				if s {
					stop = "no improvement (patience)"
				}
			}
			if err := save(); err != nil {
				return res, err
			}
		}
		if stop != "" {
			// Stopped between evaluations (steps, time or a signal): evaluate once more, so
			// the best model reflects the last steps too.
			if stop != "no improvement (patience)" && pos.EvalStep != step {
				if _, err := evaluate(); err != nil {
					return res, err
				}
			}
			if err := save(); err != nil {
				return res, err
			}
			res.Stopped = stop
			break
		}
	}
	bar.done()
	// A run that never evaluated keeps its final weights as the best.
	if t.Eval == nil {
		if err := withWeights(func() error { return ckpt.SaveModel(t.BestDir(), t.ModelCfg, t.Params, t.Extra) }); err != nil {
			return res, err
		}
	}
	res.Steps, res.Epochs = step, pos.Epoch
	res.BestScore, res.BestStep = pos.BestScore, pos.BestStep
	if !pos.HasBest {
		res.BestScore = math.NaN()
	}
	res.Tokens = pos.Tokens
	res.Elapsed = time.Since(start)
	res.EvalTime = evalTime
	res.TrainTokens = pos.Tokens - tokensAtStart
	t.logf("stopped: %s after %d steps (%d epochs)\n", res.Stopped, step, pos.Epoch)
	return res, nil
}

// TokensPerSecond is the training speed of the run: its tokens over its time outside
// evaluations.
func (r Result) TokensPerSecond() float64 {
	return float64(r.TrainTokens) / max(1e-9, (r.Elapsed-r.EvalTime).Seconds())
}

func fmtMetrics(m map[string]float64) string {
	if len(m) == 0 {
		return ""
	}
	b, _ := json.Marshal(m)
	return string(b)
}
