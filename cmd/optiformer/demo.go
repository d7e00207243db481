package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/tasks/translation"
)

func newDemo() *cobra.Command {
	var out string
	var budget time.Duration
	var threads, samples int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Train an English→German translation model on the built-in Multi30k data in about 10 minutes, then score it",
		Long: `Trains a translation model (English→German, transformer d_model 256, 3+3 layers) on the
Multi30k data built into the binary, for --budget of training (8 minutes by default; on two
cores the whole demo takes about 10), then translates the 1,014 validation sentences, prints
their BLEU and chrF (sacreBLEU's definitions) and a few translations beside the references.
With -o the model directory is kept (use it with 'optiformer translate --model DIR');
running again on the same -o resumes from its last checkpoint.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			dir := out
			if dir == "" {
				d, err := os.MkdirTemp("", "optiformer-demo-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				dir = d
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "optiformer demo: English→German on Multi30k (29,000 training pairs), %v of training on %d thread(s)\n",
				budget, kernels.Threads())
			start := time.Now()
			r, err := translation.Demo(ctx, translation.DemoOptions{Dir: dir, Budget: budget, Samples: samples, Log: cmd.ErrOrStderr()})
			if err != nil {
				return err
			}
			fmt.Fprintf(w, "\ntrained %d steps (%d epochs, %.0f target tokens/s, %s), %d parameters, vocabulary %d\n",
				r.Train.Steps, r.Train.Epochs, r.Train.TokensPerSecond(), r.Train.Stopped, r.Params, r.VocabSize)
			fmt.Fprintf(w, "validation (1,014 sentences, greedy): %s\n", r.Final.BLEU.String())
			fmt.Fprintf(w, "                                      %s\n", r.Final.CHRF.String())
			fmt.Fprintf(w, "decoding: %.0f tokens/s\n\n", r.Final.TokensSec)
			for _, s := range r.Samples {
				fmt.Fprintf(w, "  source     %s\n  reference  %s\n  optiformer %s\n\n", s.Source, s.Reference, s.Translation)
			}
			if out != "" {
				fmt.Fprintf(w, "model in %s (optiformer translate --model %s)\n", out, out)
			}
			fmt.Fprintf(w, "total %v\n", time.Since(start).Round(time.Second))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "out", "o", "", "keep the run and model in this directory (default: a temporary one, removed)")
	cmd.Flags().DurationVar(&budget, "budget", 8*time.Minute, "training time, evaluations included")
	cmd.Flags().IntVar(&threads, "threads", 0, "threads (default: all)")
	cmd.Flags().IntVar(&samples, "samples", 5, "sample translations to print")
	return cmd
}
