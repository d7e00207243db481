// Command optiformer builds, trains, tunes, distills, quantizes, measures and serves
// transformer models. This file only parses the command line; the work lives in packages.
package main

import (
	"fmt"
	"os"

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
	root := &cobra.Command{
		Use:           "optiformer",
		Short:         "Make transformer models small, fast and good, in one Go program",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			// A mistyped OPTIFORMER_CPU must not silently run another variant.
			return cpu.EnvError()
		},
	}
	root.AddCommand(newDemo(), newBench(), newTrain(), newTranslate(), newEval(), newScore(), newTokenize(), newTokenizerCmd(), newQuantize())
	return root
}
