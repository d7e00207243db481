package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/bench"
)

func newBench() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure optiformer beside its peers (OpenBLAS, PyTorch, ONNX Runtime) in the same run",
	}
	cmd.AddCommand(newBenchKernels(), newBenchModel("infer"), newBenchModel("train"), newBenchModel("quant"), newBenchTokenize(), newBenchWorker())
	return cmd
}

func newBenchModel(which string) *cobra.Command {
	var f benchFlags
	var steps int
	short := map[string]string{
		"infer": "BERT-base-shaped encoder forward, batch 1 and 8 × 128 tokens: ms and peak RSS, beside PyTorch and ONNX Runtime",
		"train": "seq2seq d256 3+3 training: target tokens/s and peak RSS, beside PyTorch",
		"quant": "int8 GEMM GOPS, and the BERT-base-shaped encoder with int8-dynamic and w4 linear layers beside our float32, PyTorch quantize_dynamic and ONNX Runtime int8",
	}[which]
	cmd := &cobra.Command{
		Use:   which,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := f.threadList()
			if err != nil {
				return err
			}
			if f.samples < 1 {
				return fmt.Errorf("bench: --samples %d: want at least 1", f.samples)
			}
			o := bench.ModelOptions{Threads: ts, Samples: f.samples, Steps: steps, NoPeer: f.noPeer, Log: os.Stderr}
			run := map[string]func(bench.ModelOptions) ([]bench.Result, error){"infer": bench.Infer, "train": bench.Train, "quant": bench.Quant}[which]
			rs, err := run(o)
			if err != nil {
				return err
			}
			return f.write(rs)
		},
	}
	f.register(cmd)
	cmd.Flags().Lookup("samples").DefValue = "7"
	if which == "train" {
		cmd.Flags().IntVar(&steps, "steps", 3, "training steps per sample")
	}
	return cmd
}

// newBenchWorker is the child process the model benchmarks run their own side in.
func newBenchWorker() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Short:  "serve one benchmark measurement protocol on stdin/stdout (internal)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return bench.RunWorker(os.Stdin, os.Stdout)
		},
	}
}

// benchFlags are the flags every bench subcommand shares.
type benchFlags struct {
	json    bool
	threads int
	samples int
	sample  time.Duration
	noPeer  bool
}

func (f *benchFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.json, "json", false, "print one JSON object per line (name, threads, value, unit, peer, peer_value, ratio)")
	cmd.Flags().IntVar(&f.threads, "threads", 0, "measure with this many threads only (default: 1 and 2)")
	cmd.Flags().IntVar(&f.samples, "samples", 7, "samples per figure; figures are medians")
	cmd.Flags().DurationVar(&f.sample, "sample", 100*time.Millisecond, "length of one sample")
	cmd.Flags().BoolVar(&f.noPeer, "no-peer", false, "do not run the peers")
}

func (f *benchFlags) threadList() ([]int, error) {
	switch {
	case f.threads == 0:
		return []int{1, 2}, nil
	case f.threads < 0 || f.threads > 1024:
		return nil, fmt.Errorf("bench: --threads %d: want 1…1024", f.threads)
	}
	return []int{f.threads}, nil
}

func (f *benchFlags) write(rs []bench.Result) error {
	if f.json {
		return bench.WriteJSON(os.Stdout, rs)
	}
	return bench.WriteTable(os.Stdout, rs)
}

func newBenchKernels() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "kernels",
		Short: "fp32 GEMM GFLOP/s for transformer shapes, beside numpy/OpenBLAS",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := f.threadList()
			if err != nil {
				return err
			}
			if f.samples < 1 {
				return fmt.Errorf("bench: --samples %d: want at least 1", f.samples)
			}
			rs, err := bench.Kernels(bench.KernelOptions{Threads: ts, Samples: f.samples, Sample: f.sample,
				NoPeer: f.noPeer, Log: os.Stderr})
			if err != nil {
				return err
			}
			return f.write(rs)
		},
	}
	f.register(cmd)
	return cmd
}

func newBenchTokenize() *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   "tokenize",
		Short: "tokenizer encoding MB/s (BERT WordPiece, GPT-2 byte-level BPE, T5 Unigram) on news text, beside Hugging Face's Rust tokenizers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ts, err := f.threadList()
			if err != nil {
				return err
			}
			if f.samples < 1 {
				return fmt.Errorf("bench: --samples %d: want at least 1", f.samples)
			}
			rs, err := bench.Tokenize(bench.TokenizeOptions{Threads: ts, Samples: f.samples, Sample: f.sample, NoPeer: f.noPeer, Log: os.Stderr})
			if err != nil {
				return err
			}
			return f.write(rs)
		},
	}
	f.register(cmd)
	cmd.Flags().Lookup("sample").DefValue = "200ms"
	f.sample = 200 * time.Millisecond
	return cmd
}
