package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tasks/translation"
)

func newQuantize() *cobra.Command {
	var model, out, scheme, layers, src, ref, calib, calibMethod, acts string
	var group, sentences, speed, threads int
	var maxDrop, percentile float64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "quantize",
		Short: "Quantize a translation model's weights and report size, speed and BLEU before and after",
		Long: `Quantize a translation model (--model DIR) and write it to -o DIR. Schemes:
  int8-dynamic  int8 weights per output channel, activations quantized per token at run time
  int8-static   the same weights, activations quantized with scales calibrated beforehand on
                --calib sentences (--calib-method minmax, percentile or entropy)
  w8, w4        weight-only int8 / int4 in groups of 32 (ggml Q8_0 / Q4_0 blocks)
  f16, bf16     16-bit storage, float32 arithmetic
The report compares the float32 model and the quantized one: file size, encoder forward and
decoder step latency at batch 1, greedy tokens/s at batch 1, BLEU and chrF on the evaluation
set (--src/--ref; default: the bundled Multi30k validation set). Every command that takes
--model loads the quantized directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := quant.ParseScheme(scheme)
			if err != nil {
				return err
			}
			if threads > 0 {
				kernels.SetThreads(threads)
			}
			var srcS, refS []string
			switch {
			case src == "" && ref == "":
				if srcS, refS, err = translation.BuiltinValidation(); err != nil {
					return err
				}
				fmt.Fprintln(cmd.ErrOrStderr(), "evaluation set: the bundled Multi30k validation set (pass --src and --ref for another)")
			case src == "" || ref == "":
				return fmt.Errorf("quantize: --src and --ref go together")
			default:
				if srcS, err = translation.ReadSentences(src, nil); err != nil {
					return err
				}
				if refS, err = translation.ReadSentences(ref, nil); err != nil {
					return err
				}
			}
			if sentences > 0 && sentences < len(srcS) && len(srcS) == len(refS) {
				srcS, refS = srcS[:sentences], refS[:sentences]
			}
			if acts != "token" && acts != "tensor" {
				return fmt.Errorf("quantize: --activations %q: want token or tensor", acts)
			}
			if acts == "tensor" && s != quant.Int8Dynamic {
				return fmt.Errorf("quantize: --activations tensor applies to int8-dynamic")
			}
			o := translation.QuantizeOptions{
				Quant: quant.Options{Scheme: s, Group: group, Layers: strings.Split(layers, ","), PerTensor: acts == "tensor"},
				Src:   srcS, Ref: refS, SpeedSentences: speed, MaxDrop: maxDrop, Log: cmd.ErrOrStderr(),
				CalibMethod: quant.CalibOptions{Method: calibMethod, Percentile: percentile},
			}
			if calib != "" {
				if o.Calib, err = translation.ReadSentences(calib, nil); err != nil {
					return err
				}
			} else if s == quant.Int8Static {
				return fmt.Errorf("quantize: int8-static needs --calib FILE (source sentences like the ones the model will see)")
			}
			r, err := translation.Quantize(model, out, o)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(r)
			}
			fmt.Fprint(cmd.OutOrStdout(), r.String())
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "float model directory")
	f.StringVarP(&out, "output", "o", "", "directory for the quantized model")
	f.StringVar(&scheme, "scheme", "int8-dynamic", "int8-dynamic, int8-static, w8, w4, f16 or bf16")
	f.StringVar(&calib, "calib", "", "int8-static: calibration source sentences (one a line)")
	f.StringVar(&calibMethod, "calib-method", "minmax", "int8-static: minmax, percentile or entropy")
	f.Float64Var(&percentile, "percentile", 99.99, "int8-static with --calib-method percentile: the percentile of |activation| kept")
	f.IntVar(&group, "group", 32, "group size of w8/w4: 32 (ggml's Q8_0/Q4_0 blocks), 64 or 128")
	f.StringVar(&acts, "activations", "token", "int8-dynamic: quantize each input row (token) or the whole input (tensor) with one scale")
	f.StringVar(&layers, "layers", "all", "what to quantize: attention, ffn, head (output projection / tied embeddings) or all, comma-separated")
	f.StringVar(&src, "src", "", "evaluation sources (one sentence a line)")
	f.StringVar(&ref, "ref", "", "evaluation references")
	f.IntVar(&sentences, "sentences", 0, "use only the first N evaluation sentences (0: all)")
	f.IntVar(&speed, "speed-sentences", 100, "sentences timed at batch 1 for the speed figures")
	f.Float64Var(&maxDrop, "max-drop", -1, "keep the most sensitive weights in float until BLEU drops by at most this much (negative: off)")
	f.IntVar(&threads, "threads", 1, "threads (0: all); speed figures are per this many threads")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("output")
	return cmd
}
