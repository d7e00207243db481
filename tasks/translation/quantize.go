package translation

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tensor"
)

// QuantizeOptions control Quantize.
type QuantizeOptions struct {
	Quant quant.Options
	// Src and Ref are the evaluation set: BLEU and chrF (greedy, batches of 32) before and
	// after quantization.
	Src, Ref []string
	// SpeedSentences is how many of Src the speed figures use (0: 100): latencies and
	// greedy tokens/s at batch 1.
	SpeedSentences int
	// MaxDrop, when ≥ 0, keeps the most sensitive weights in float until the BLEU drop on
	// the evaluation set is at most MaxDrop (or nothing is left quantized).
	MaxDrop float64
	// Calib are the source sentences int8-static calibrates its activation scales on
	// (translated greedily with the float model), with CalibMethod.
	Calib       []string
	CalibMethod quant.CalibOptions
	Log         io.Writer
}

// Measure is a model's size, speed and quality.
type Measure struct {
	Bytes      int64   `json:"bytes"`        // model.safetensors
	EncoderMs  float64 `json:"encoder_ms"`   // median encoder forward, one sentence
	StepMs     float64 `json:"step_ms"`      // median greedy decoder step, batch 1
	TokensPerS float64 `json:"tokens_per_s"` // greedy decoding at batch 1
	BLEU       float64 `json:"bleu"`
	CHRF       float64 `json:"chrf"`
}

// QuantizeReport is what Quantize did and measured.
type QuantizeReport struct {
	Scheme    quant.Scheme  `json:"scheme"`
	Weights   []quant.Entry `json:"weights"`
	Skipped   []string      `json:"skipped,omitempty"`    // not quantizable with the scheme
	KeptFloat []string      `json:"kept_float,omitempty"` // left in float by MaxDrop
	Float     Measure       `json:"float"`
	Quantized Measure       `json:"quantized"`
	Slower    bool          `json:"slower"` // greedy batch-1 decoding is slower than float
}

// Quantize loads the float model in dir, measures it, quantizes it with o.Quant, measures
// the result, and writes it (with the tokenizer) to out.
func Quantize(dir, out string, o QuantizeOptions) (QuantizeReport, error) {
	var r QuantizeReport
	if len(o.Src) == 0 || len(o.Src) != len(o.Ref) {
		return r, fmt.Errorf("translation: quantize needs an evaluation set: %d sources, %d references", len(o.Src), len(o.Ref))
	}
	if filepath.Clean(dir) == filepath.Clean(out) {
		return r, errors.New("translation: quantize writes a new model directory; -o must differ from --model")
	}
	m, err := Load(dir)
	if err != nil {
		return r, err
	}
	if len(m.Quant) > 0 {
		return r, fmt.Errorf("translation: %s is already quantized (%s)", dir, quant.Describe(m.Quant))
	}
	logf := func(format string, a ...any) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, format, a...)
		}
	}
	speed := o.SpeedSentences
	if speed <= 0 {
		speed = 100
	}
	speedSrc := o.Src[:min(speed, len(o.Src))]
	// timeIt measures mod's speed figures.
	timeIt := func(mod *Model) (ms Measure, err error) {
		enc, step, err := mod.Latency(speedSrc)
		if err != nil {
			return ms, err
		}
		ms.EncoderMs, ms.StepMs = msOf(enc), msOf(step)
		b1 := DefaultOptions()
		b1.BatchSize = 1
		_, st, err := mod.Translate(speedSrc, b1)
		if err != nil {
			return ms, err
		}
		ms.TokensPerS = st.TokensPerSecond()
		return ms, nil
	}
	measure := func(what string) (Measure, error) {
		var ms Measure
		e, err := m.Evaluate(o.Src, o.Ref, DefaultOptions())
		if err != nil {
			return ms, err
		}
		ms.BLEU, ms.CHRF = e.BLEU.Score, e.CHRF.Score
		logf("%s: BLEU %.2f, chrF %.2f\n", what, ms.BLEU, ms.CHRF)
		return ms, nil
	}
	if r.Float, err = measure("float32"); err != nil {
		return r, err
	}
	if fi, err := os.Stat(filepath.Join(dir, ckpt.WeightsFile)); err == nil {
		r.Float.Bytes = fi.Size()
	}

	// The float values, for the weights MaxDrop leaves in float: Quantize gives a weight a
	// new value tensor and leaves the old one as it was.
	orig := map[string]*tensor.Tensor{}
	byName := map[string]nn.NamedParam{}
	for _, p := range m.Net.Params() {
		byName[p.Name] = p
		orig[p.Name] = p.Param.Value
	}
	if o.Quant.Scheme == quant.Int8Static {
		if len(o.Calib) == 0 {
			return r, errors.New("translation: int8-static needs calibration sentences (--calib FILE)")
		}
		t0 := time.Now()
		o.Quant.ActScales, err = quant.Calibrate(m.Net, m.TiedHead(), o.Quant, o.CalibMethod, func() error {
			_, _, err := m.Translate(o.Calib, DefaultOptions())
			return err
		})
		if err != nil {
			return r, err
		}
		method := o.CalibMethod.Method
		if method == "" {
			method = quant.MinMax
		}
		logf("calibrated %d activation scales (%s) on %d sentences in %v\n", len(o.Quant.ActScales), method, len(o.Calib), time.Since(t0).Round(time.Millisecond))
	}
	entries, skipped, err := quant.Quantize(m.Net, m.TiedHead(), o.Quant)
	if err != nil {
		return r, err
	}
	if len(entries) == 0 {
		return r, errors.New("translation: no weight was quantized (check --layers)")
	}
	r.Scheme, r.Skipped = o.Quant.Scheme, skipped
	logf("quantized %s\n", quant.Describe(entries))
	if r.Quantized, err = measure(string(o.Quant.Scheme)); err != nil {
		return r, err
	}

	if o.MaxDrop >= 0 && r.Float.BLEU-r.Quantized.BLEU > o.MaxDrop {
		entries, err = r.fallBack(m, o, entries, byName, orig, measure, logf)
		if err != nil {
			return r, err
		}
		// Some weights went back to float: the final model's quality is measured anew.
		if r.Quantized, err = measure(string(o.Quant.Scheme) + " (final)"); err != nil {
			return r, err
		}
	}
	r.Weights = entries

	// Speed: the float model (loaded again) and the quantized one take turns, speedRounds
	// rounds, and each figure is the median of its rounds. Timed one after the other, the two
	// would meet different hosts: on a shared machine the float model's batch-1 decoding,
	// bound by reading its weights, wanders by 30% and more from minute to minute.
	fm, err := Load(dir)
	if err != nil {
		return r, err
	}
	var fl, ql []Measure
	for round := 1; round <= speedRounds; round++ {
		for _, t := range []struct {
			what string
			mod  *Model
			ms   *[]Measure
		}{{"float32", fm, &fl}, {string(o.Quant.Scheme), m, &ql}} {
			ms, err := timeIt(t.mod)
			if err != nil {
				return r, err
			}
			*t.ms = append(*t.ms, ms)
			logf("%s (round %d of %d): encoder %.2f ms, decoder step %.3f ms, greedy batch 1 %.0f tokens/s\n",
				t.what, round, speedRounds, ms.EncoderMs, ms.StepMs, ms.TokensPerS)
		}
	}
	medianSpeed(&r.Float, fl)
	medianSpeed(&r.Quantized, ql)
	r.Slower = r.Quantized.TokensPerS < r.Float.TokensPerS

	meta := map[string]string{"task": "translation", "quantization_scheme": string(o.Quant.Scheme),
		"valid_bleu": fmt.Sprintf("%.2f", r.Quantized.BLEU)}
	if err := m.Save(out, meta); err != nil {
		return r, err
	}
	if fi, err := os.Stat(filepath.Join(out, ckpt.WeightsFile)); err == nil {
		r.Quantized.Bytes = fi.Size()
	}
	return r, nil
}

// fallBack measures, for each quantized weight, the BLEU regained by keeping it alone in
// float, then restores weights in that order until the drop is within o.MaxDrop.
func (r *QuantizeReport) fallBack(m *Model, o QuantizeOptions, entries []quant.Entry, byName map[string]nn.NamedParam,
	orig map[string]*tensor.Tensor, measure func(string) (Measure, error), logf func(string, ...any)) ([]quant.Entry, error) {
	type saved struct {
		value  *tensor.Tensor
		kernel ag.WeightKernel
	}
	q := map[string]saved{}
	for _, e := range entries {
		p := byName[e.Name].Param
		q[e.Name] = saved{p.Value, p.Kernel()}
	}
	toFloat := func(name string) {
		p := byName[name].Param
		p.Value = orig[name]
		p.Changed()
	}
	toQuant := func(name string) {
		p := byName[name].Param
		p.Value = q[name].value
		p.Changed()
		p.SetKernel(q[name].kernel)
	}
	logf("BLEU drop %.2f > %.2f: measuring each weight's sensitivity (%d weights)\n", r.Float.BLEU-r.Quantized.BLEU, o.MaxDrop, len(entries))
	gain := map[string]float64{}
	for _, e := range entries {
		toFloat(e.Name)
		ms, err := measure("  " + e.Name + " in float")
		toQuant(e.Name)
		if err != nil {
			return nil, err
		}
		gain[e.Name] = ms.BLEU - r.Quantized.BLEU
	}
	order := append([]quant.Entry(nil), entries...)
	sort.SliceStable(order, func(i, j int) bool { return gain[order[i].Name] > gain[order[j].Name] })
	kept := map[string]bool{}
	for _, e := range order {
		toFloat(e.Name)
		kept[e.Name] = true
		r.KeptFloat = append(r.KeptFloat, e.Name)
		ms, err := measure(fmt.Sprintf("  %d weights in float", len(kept)))
		if err != nil {
			return nil, err
		}
		if r.Float.BLEU-ms.BLEU <= o.MaxDrop {
			break
		}
	}
	var left []quant.Entry
	for _, e := range entries {
		if !kept[e.Name] {
			left = append(left, e)
		}
	}
	return left, nil
}

func msOf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// String prints the report as a table.
func (r QuantizeReport) String() string {
	f, q := r.Float, r.Quantized
	ratio := func(a, b float64) string {
		if b == 0 || math.IsNaN(a) {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	s := fmt.Sprintf("%-28s %14s %14s %10s\n", "", "float32", string(r.Scheme), "change")
	s += fmt.Sprintf("%-28s %14d %14d %9.1f%%\n", "model.safetensors (bytes)", f.Bytes, q.Bytes, 100*float64(q.Bytes)/float64(max(f.Bytes, 1)))
	s += fmt.Sprintf("%-28s %14.2f %14.2f %10s\n", "encoder forward (ms, b1)", f.EncoderMs, q.EncoderMs, ratio(f.EncoderMs, q.EncoderMs))
	s += fmt.Sprintf("%-28s %14.3f %14.3f %10s\n", "decoder step (ms, b1)", f.StepMs, q.StepMs, ratio(f.StepMs, q.StepMs))
	s += fmt.Sprintf("%-28s %14.0f %14.0f %10s\n", "greedy tokens/s (b1)", f.TokensPerS, q.TokensPerS, ratio(q.TokensPerS, f.TokensPerS))
	s += fmt.Sprintf("%-28s %14.2f %14.2f %+10.2f\n", "BLEU", f.BLEU, q.BLEU, q.BLEU-f.BLEU)
	s += fmt.Sprintf("%-28s %14.2f %14.2f %+10.2f\n", "chrF", f.CHRF, q.CHRF, q.CHRF-f.CHRF)
	if len(r.Weights) == 0 {
		s += "quantized: nothing (every weight kept in float)\n"
	} else {
		s += fmt.Sprintf("quantized: %s\n", quant.Describe(r.Weights))
	}
	if len(r.KeptFloat) > 0 {
		s += fmt.Sprintf("kept in float for --max-drop: %v\n", r.KeptFloat)
	}
	if len(r.Skipped) > 0 {
		s += fmt.Sprintf("not quantizable with %s (left in float): %v\n", r.Scheme, r.Skipped)
	}
	if r.Slower {
		s += fmt.Sprintf("\nWARNING: the %s model decodes SLOWER than the float32 one (%.0f vs %.0f tokens/s at batch 1).\n"+
			"WARNING: it is smaller, not faster; keep the float32 model where speed matters.\n", r.Scheme, q.TokensPerS, f.TokensPerS)
	}
	return s
}

// speedRounds is how many times Quantize times the float and the quantized model, in turn.
const speedRounds = 3

// medianSpeed sets ms's speed figures to the medians of the rounds', each figure on its own.
func medianSpeed(ms *Measure, rounds []Measure) {
	med := func(get func(Measure) float64) float64 {
		v := make([]float64, len(rounds))
		for i, r := range rounds {
			v[i] = get(r)
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	ms.EncoderMs = med(func(m Measure) float64 { return m.EncoderMs })
	ms.StepMs = med(func(m Measure) float64 { return m.StepMs })
	ms.TokensPerS = med(func(m Measure) float64 { return m.TokensPerS })
}
