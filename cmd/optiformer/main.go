// Command optiformer builds, trains, tunes, distills, quantizes, measures and serves
// transformer models. This file only parses the command line; the work lives in packages.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/internal/cpu"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "optiformer:", err)
		os.Exit(1)
	}
}

func newRoot() *cobra.Command {
	var cpuProfile string
	var profFile *os.File
	root := &cobra.Command{
		Use:           "optiformer",
		Short:         "Make transformer models small, fast and good, in one Go program",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// A mistyped OPTIFORMER_CPU must not silently run another variant.
			if err := cpu.EnvError(); err != nil {
				return err
			}
			if cpuProfile == "" {
				return nil
			}
			f, err := os.Create(cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpuprofile: %w", err)
			}
			profFile = f
			return nil
		},
		PersistentPostRunE: func(cmd *cobra.Command, args []string) error {
			if profFile == nil {
				return nil
			}
			pprof.StopCPUProfile()
			return profFile.Close()
		},
	}
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a Go CPU profile of the command to this file (go tool pprof)")
	root.AddCommand(newDemo(), newBench(), newTrain(), newTranslate(), newEval(), newScore(), newTokenize(), newTokenizerCmd(), newQuantize())
	return root
}
