package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/data"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/metrics"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tasks/translation"
	"github.com/optiformer/optiformer/train"
)

// trainFile is the optional --config file of `optiformer train`: the model config plus the
// training settings, every field optional.
type trainFile struct {
	Model     json.RawMessage `json:"model"`
	Training  trainSettings   `json:"training"`
	Tokenizer struct {
		Kind      string `json:"kind"`
		VocabSize int    `json:"vocab_size"`
		Lowercase bool   `json:"lowercase"`
	} `json:"tokenizer"`
}

type trainSettings struct {
	Epochs          int     `json:"epochs"`
	MaxSteps        int     `json:"max_steps"`
	BatchTokens     int     `json:"batch_tokens"`
	Accumulate      int     `json:"accumulate"`
	LR              float64 `json:"lr"`
	Schedule        string  `json:"schedule"`
	Warmup          int     `json:"warmup"`
	WeightDecay     float64 `json:"weight_decay"`
	AdamBeta2       float64 `json:"adam_beta2"`
	DecayEmbeddings bool    `json:"decay_embeddings"`
	ClipNorm        float64 `json:"clip_norm"`
	LabelSmoothing  float64 `json:"label_smoothing"`
	EvalEvery       int     `json:"eval_every"`
	EvalSentences   int     `json:"eval_sentences"`
	EvalBeam        int     `json:"eval_beam"`
	Patience        int     `json:"patience"`
	CheckpointEvery int     `json:"checkpoint_every"`
	MaxLen          int     `json:"max_len"`
	MaxRatio        float64 `json:"max_ratio"`
	Seed            uint64  `json:"seed"`
	TimeBudget      string  `json:"time_budget"`
	EMADecay        float64 `json:"ema_decay"`
}

func defaultTrainFile() trainFile {
	var f trainFile
	f.Training = trainSettings{Epochs: 20, BatchTokens: 4096, Accumulate: 1, LR: 7e-4, Schedule: "inverse_sqrt", Warmup: 800,
		WeightDecay: 0.0001, ClipNorm: 1, LabelSmoothing: 0.1, EvalSentences: 300, Patience: 5, CheckpointEvery: 200,
		MaxLen: 128, MaxRatio: 3, Seed: 1}
	f.Tokenizer.Kind, f.Tokenizer.VocabSize = "unigram", 8000
	return f
}

func loadTrainFile(path string) (trainFile, transformer.Config, error) {
	f := defaultTrainFile()
	cfg := transformer.Defaults()
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return f, cfg, err
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			return f, cfg, fmt.Errorf("%s: %w", path, err)
		}
	}
	if len(f.Model) > 0 {
		c, err := transformer.ParseConfig(strings.NewReader(string(f.Model)))
		if err != nil {
			return f, cfg, fmt.Errorf("%s: model: %w", path, err)
		}
		cfg = c
	}
	return f, cfg, nil
}

// readPairs reads parallel data: "SRC,TGT" (two aligned files), a .tsv file (source TAB
// target) or a .jsonl file (objects with the two keys); any of them may be gzipped.
func readPairs(flag, spec, srcKey, tgtKey string) ([]data.Pair, error) {
	if strings.Contains(spec, ",") {
		s, t, err := splitPair(flag, spec)
		if err != nil {
			return nil, err
		}
		return data.ReadParallel(s, t)
	}
	base := strings.TrimSuffix(strings.ToLower(spec), ".gz")
	switch {
	case strings.HasSuffix(base, ".tsv"):
		return data.ReadTSV(spec)
	case strings.HasSuffix(base, ".jsonl"):
		return data.ReadJSONL(spec, srcKey, tgtKey)
	}
	return nil, fmt.Errorf("--%s %q: want SOURCE,TARGET (two files), a .tsv or a .jsonl file", flag, spec)
}

// splitPair parses "SRC,TGT" into two paths.
func splitPair(flag, v string) (string, string, error) {
	a, b, ok := strings.Cut(v, ",")
	if !ok || a == "" || b == "" || strings.Contains(b, ",") {
		return "", "", fmt.Errorf("--%s %q: want SOURCE,TARGET (two files)", flag, v)
	}
	return a, b, nil
}

func newTrain() *cobra.Command {
	var task, config, trainPaths, validPaths, out, tok, srcKey, tgtKey, init, qat, qatLayers string
	var threads int
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model (--task translation) on parallel text; resumes when run again on the same -o",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if task != "translation" {
				return fmt.Errorf("train: --task %q: only translation is supported so far", task)
			}
			if out == "" {
				return fmt.Errorf("train: -o DIR is required")
			}
			f, cfg, err := loadTrainFile(config)
			if err != nil {
				return fmt.Errorf("train: %w", err)
			}
			trainPairs, err := readPairs("train", trainPaths, srcKey, tgtKey)
			if err != nil {
				return err
			}
			validPairs, err := readPairs("valid", validPaths, srcKey, tgtKey)
			if err != nil {
				return err
			}
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			budget, err := parseBudget(f.Training.TimeBudget)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			t := f.Training
			o := translation.TrainOptions{
				Model: cfg, Tokenizer: tok, TokenizerKind: f.Tokenizer.Kind, VocabSize: f.Tokenizer.VocabSize,
				Lowercase: f.Tokenizer.Lowercase, MaxLen: t.MaxLen, MaxRatio: t.MaxRatio, BatchTokens: t.BatchTokens,
				LabelSmoothing: t.LabelSmoothing, EvalSentences: t.EvalSentences, EvalBeam: t.EvalBeam, Log: os.Stderr,
				Train: train.Config{Epochs: t.Epochs, MaxSteps: t.MaxSteps, Accumulate: t.Accumulate, LR: t.LR,
					Schedule: t.Schedule, Warmup: t.Warmup, WeightDecay: t.WeightDecay, Beta2: t.AdamBeta2, ClipNorm: t.ClipNorm,
					EvalEvery: t.EvalEvery, Patience: t.Patience, CheckpointEvery: t.CheckpointEvery, Seed: t.Seed,
					TimeBudget: budget, EMADecay: t.EMADecay},
			}
			o.Train.Decay.Embeddings = t.DecayEmbeddings
			o.Init = init
			if qat != "" {
				s, err := quant.ParseScheme(qat)
				if err != nil {
					return err
				}
				o.QAT = &quant.Options{Scheme: s, Layers: strings.Split(qatLayers, ",")}
			}
			_, res, err := translation.Train(ctx, trainPairs, validPairs, out, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "validation BLEU %.2f, chrF %.2f (%s)\n", res.Final.BLEU.Score, res.Final.CHRF.Score, res.Final.BLEU.Signature)
			fmt.Fprintf(w, "%d steps, %d epochs, %.0f target tokens/s, stopped: %s; model in %s\n", res.Train.Steps, res.Train.Epochs,
				res.Train.TokensPerSecond(), res.Train.Stopped, out)
			if q := res.Quantized; q != nil {
				fmt.Fprintf(w, "quantized (%s, after quantization-aware training): validation BLEU %.2f, chrF %.2f; model in %s\n",
					qat, q.BLEU.Score, q.CHRF.Score, filepath.Join(out, "quantized"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "translation", "the task: translation")
	cmd.Flags().StringVar(&config, "config", "", "JSON file with \"model\" (config.json fields), \"training\" and \"tokenizer\" settings")
	cmd.Flags().StringVar(&trainPaths, "train", "", "training data: SOURCE,TARGET files, or one .tsv or .jsonl file (each plain or .gz)")
	cmd.Flags().StringVar(&validPaths, "valid", "", "validation data, as --train")
	cmd.Flags().StringVar(&srcKey, "src-key", "src", "JSONL: the source field")
	cmd.Flags().StringVar(&tgtKey, "tgt-key", "tgt", "JSONL: the target field")
	cmd.Flags().StringVarP(&out, "out", "o", "", "run and model directory")
	cmd.Flags().StringVar(&tok, "tokenizer", "", "an existing tokenizer.json (default: train one)")
	cmd.Flags().StringVar(&init, "init", "", "start from this float model directory (fine-tuning): its config, tokenizer and weights")
	cmd.Flags().StringVar(&qat, "qat", "", "quantization-aware training for this scheme (int8-dynamic, int8-static, w8, w4, f16, bf16); usually with --init")
	cmd.Flags().StringVar(&qatLayers, "qat-layers", "all", "with --qat: attention, ffn, head or all")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads (default: all)")
	cmd.MarkFlagRequired("train")
	cmd.MarkFlagRequired("valid")
	return cmd
}

func parseBudget(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("train: time_budget %q: want a duration like 55m", s)
	}
	return d, nil
}

func translateFlags(cmd *cobra.Command, o *translation.Options) {
	*o = translation.DefaultOptions()
	cmd.Flags().IntVar(&o.Beam, "beam", 1, "beam size (1: greedy)")
	cmd.Flags().Float64Var(&o.LengthPenalty, "length-penalty", 1, "beam search length normalisation α")
	cmd.Flags().IntVar(&o.BatchSize, "batch", 32, "sentences decoded together")
	cmd.Flags().IntVar(&o.NoRepeatNgram, "no-repeat-ngram", 0, "forbid repeating n-grams of this size")
}

func newTranslate() *cobra.Command {
	var model, in, out string
	var threads int
	var o translation.Options
	cmd := &cobra.Command{
		Use:   "translate",
		Short: "Translate sentences (stdin or --input, one per line) with a trained model",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			m, err := translation.Load(model)
			if err != nil {
				return err
			}
			src, err := translation.ReadSentences(in, cmd.InOrStdin())
			if err != nil {
				return err
			}
			hyps, _, err := m.Translate(src, o)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if out != "" && out != "-" {
				f, err := os.Create(out)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			}
			bw := bufio.NewWriter(w)
			for _, h := range hyps {
				fmt.Fprintln(bw, h)
			}
			return bw.Flush()
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model directory")
	cmd.Flags().StringVar(&in, "input", "-", "input file (- for stdin)")
	cmd.Flags().StringVar(&out, "output", "-", "output file (- for stdout)")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads (default: all)")
	translateFlags(cmd, &o)
	cmd.MarkFlagRequired("model")
	return cmd
}

func newEval() *cobra.Command {
	var task, model, src, ref string
	var asJSON bool
	var threads int
	var o translation.Options
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate a model (--task translation): BLEU, chrF, tokens/s, latency",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if task != "translation" {
				return fmt.Errorf("eval: --task %q: only translation is supported so far", task)
			}
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			m, err := translation.Load(model)
			if err != nil {
				return err
			}
			s, err := translation.ReadSentences(src, cmd.InOrStdin())
			if err != nil {
				return err
			}
			r, err := translation.ReadSentences(ref, nil)
			if err != nil {
				return err
			}
			e, err := m.Evaluate(s, r, o)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{
					"bleu": e.BLEU.Score, "bleu_signature": e.BLEU.Signature, "chrf": e.CHRF.Score, "chrf_signature": e.CHRF.Signature,
					"sentences": e.Stats.Sentences, "tokens": e.Stats.Tokens, "tokens_per_s": e.TokensSec, "beam": o.Beam, "batch": o.BatchSize,
					"latency_ms": map[string]float64{"p50": ms(e.P50), "p90": ms(e.P90), "p99": ms(e.P99)}, "threads": kernels.Threads(),
				})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, e.BLEU.String())
			fmt.Fprintln(out, e.CHRF.String())
			fmt.Fprintf(out, "%d sentences, %d tokens in %v: %.0f tokens/s; batch latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n",
				e.Stats.Sentences, e.Stats.Tokens, e.Stats.Elapsed.Round(time.Millisecond), e.TokensSec, ms(e.P50), ms(e.P90), ms(e.P99))
			return nil
		},
	}
	cmd.Flags().StringVar(&task, "task", "translation", "the task: translation")
	cmd.Flags().StringVar(&model, "model", "", "model directory")
	cmd.Flags().StringVar(&src, "src", "", "source sentences")
	cmd.Flags().StringVar(&ref, "ref", "", "reference translations")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads (default: all)")
	translateFlags(cmd, &o)
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("src")
	cmd.MarkFlagRequired("ref")
	return cmd
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func newScore() *cobra.Command {
	var hyp string
	var refs []string
	var lowercase, asJSON, jsonl bool
	cmd := &cobra.Command{
		Use:       "score bleu|chrf|chrf++",
		Short:     "Score a hypothesis file against references with sacreBLEU-exact BLEU or chrF",
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"bleu", "chrf", "chrf++"},
		RunE: func(cmd *cobra.Command, args []string) error {
			read := func(p string) ([]string, error) {
				if jsonl {
					return readJSONStrings(p)
				}
				return data.ReadLines(p)
			}
			h, err := read(hyp)
			if err != nil {
				return err
			}
			var rs [][]string
			for _, r := range refs {
				lines, err := read(r)
				if err != nil {
					return err
				}
				if len(lines) != len(h) {
					return fmt.Errorf("score: %s has %d lines, %s %d", hyp, len(h), r, len(lines))
				}
				rs = append(rs, lines)
			}
			var score float64
			var sig, text string
			switch args[0] {
			case "bleu":
				s, err := metrics.CorpusBLEU(h, rs, metrics.BLEUOptions{Lowercase: lowercase})
				if err != nil {
					return err
				}
				score, sig, text = s.Score, s.Signature, s.String()
			case "chrf", "chrf++":
				o := metrics.CHRFOptions{Lowercase: lowercase}
				if args[0] == "chrf++" {
					o.WordOrder = 2
				}
				s, err := metrics.CorpusCHRF(h, rs, o)
				if err != nil {
					return err
				}
				score, sig, text = s.Score, s.Signature, s.String()
			default:
				return fmt.Errorf("score: unknown metric %q (want bleu, chrf or chrf++)", args[0])
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"name": args[0], "score": score, "signature": sig, "formatted": text})
			}
			fmt.Fprintln(cmd.OutOrStdout(), text)
			return nil
		},
	}
	cmd.Flags().StringVar(&hyp, "hyp", "", "hypotheses, one per line")
	cmd.Flags().StringArrayVar(&refs, "ref", nil, "references, one per line (repeat for several)")
	cmd.Flags().BoolVar(&lowercase, "lowercase", false, "case-insensitive")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON object")
	cmd.Flags().BoolVar(&jsonl, "jsonl", false, "files hold one JSON string per line")
	cmd.MarkFlagRequired("hyp")
	cmd.MarkFlagRequired("ref")
	return cmd
}

// readJSONStrings reads a file of one JSON string per line.
func readJSONStrings(path string) ([]string, error) {
	lines, err := data.ReadLines(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		if err := json.Unmarshal([]byte(l), &out[i]); err != nil {
			return nil, fmt.Errorf("%s:%d: want a JSON string: %v", path, i+1, err)
		}
	}
	return out, nil
}
