package translation

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/data"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/quant"
	"github.com/optiformer/optiformer/tensor"
	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/hf"
	tokentrain "github.com/optiformer/optiformer/tokenizer/train"
	"github.com/optiformer/optiformer/train"
)

// The special tokens of tokenizers trained here, in id order; the model config's pad, bos
// and eos ids must be these.
var specials = []string{"<pad>", "<s>", "</s>", "<unk>"}

// TrainOptions configure Train.
type TrainOptions struct {
	Model transformer.Config
	Train train.Config
	// Tokenizer is the path of an existing tokenizer.json; empty trains one on the training
	// data (source and target together) and saves it in the run directory.
	Tokenizer     string
	TokenizerKind string // "unigram" (default) or "bpe" (byte-level BPE)
	VocabSize     int    // of a trained tokenizer (default 8000)
	Lowercase     bool
	// MaxLen drops pairs with more tokens on either side; MaxRatio drops pairs whose lengths
	// differ by more than that factor.
	MaxLen         int
	MaxRatio       float64
	BatchTokens    int // padded tokens per batch (default 4096)
	LabelSmoothing float64
	// EvalSentences is how many validation sentences each evaluation translates (0: all);
	// EvalBeam its beam size (greedy by default).
	EvalSentences int
	EvalBeam      int
	// Init is a float model directory to start from (fine-tuning): its config, tokenizer and
	// weights replace Model, Tokenizer and the random initialisation.
	Init string
	// QAT, when not nil, trains with fake quantization of its scheme (quant.SetQAT);
	// evaluations score the model quantized for real, and the run also writes the quantized
	// model to dir/quantized.
	QAT *quant.Options
	Log io.Writer
}

func (o *TrainOptions) logf(format string, a ...any) {
	if o.Log != nil {
		fmt.Fprintf(o.Log, format, a...)
	}
}

// Result is what Train returns besides the model.
type Result struct {
	Train     train.Result
	Final     Eval // the best model on all validation sentences
	Filter    data.FilterReport
	VocabSize int
	Params    int
	// Quantized is the quantized model's evaluation when training with QAT.
	Quantized *Eval
}

// Train trains a translation model in dir (checkpoints/, best/, and at the end the model
// directory itself: config.json, model.safetensors, tokenizer.json). Run again on the same
// dir, it resumes from the last checkpoint.
func Train(ctx context.Context, trainPairs, validPairs []data.Pair, dir string, o TrainOptions) (*Model, Result, error) {
	var res Result
	if len(trainPairs) == 0 || len(validPairs) == 0 {
		return nil, res, fmt.Errorf("translation: %d training and %d validation pairs: both are needed", len(trainPairs), len(validPairs))
	}
	if o.BatchTokens <= 0 {
		o.BatchTokens = 4096
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, res, fmt.Errorf("translation: %w", err)
	}
	var init *Model
	if o.Init != "" {
		var err error
		if init, err = Load(o.Init); err != nil {
			return nil, res, err
		}
		if len(init.Quant) > 0 {
			return nil, res, fmt.Errorf("translation: %s is quantized; fine-tuning (and QAT) starts from a float model", o.Init)
		}
		if init.tokJSON == nil {
			return nil, res, fmt.Errorf("translation: %s has no tokenizer.json to train with", o.Init)
		}
		if err := writeFileAtomic(filepath.Join(dir, TokenizerFile), init.tokJSON); err != nil {
			return nil, res, err
		}
		o.Model = init.Net.Cfg
		o.logf("starting from %s (its config, tokenizer and weights)\n", o.Init)
	}
	var tokJSON []byte
	var err error
	if init != nil {
		tokJSON = init.tokJSON
	} else if tokJSON, err = o.tokenizer(trainPairs, dir); err != nil {
		return nil, res, err
	}
	tok, err := hf.Parse(tokJSON)
	if err != nil {
		return nil, res, err
	}
	for i, s := range specials[:3] {
		want := []int{o.Model.PadID, o.Model.BOSID, o.Model.EOSID}[i]
		if id, ok := tok.TokenToID(s); !ok || id != want {
			return nil, res, fmt.Errorf("translation: the tokenizer's %s is %d (present %v); the model config wants %d", s, id, ok, want)
		}
	}
	cfg := o.Model
	cfg.VocabSize = tok.VocabSize()
	res.VocabSize = cfg.VocabSize

	o.logf("encoding %d training pairs…\n", len(trainPairs))
	ex, err := encodePairs(tok, trainPairs)
	if err != nil {
		return nil, res, err
	}
	ex, res.Filter = data.Filter(ex, data.FilterOptions{MaxLen: o.MaxLen, MaxRatio: o.MaxRatio})
	o.logf("%v\n", res.Filter)
	batcher, err := data.NewBatcher(ex, o.BatchTokens, data.Special{Pad: cfg.PadID, BOS: cfg.BOSID, EOS: cfg.EOSID})
	if err != nil {
		return nil, res, err
	}
	var net *transformer.Model
	if init != nil {
		net = init.Net
	} else if net, err = transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(o.Train.Seed, 0x6d6f64))); err != nil {
		return nil, res, err
	}
	tied := net.LMHead == nil
	if o.QAT != nil {
		names, err := quant.SetQAT(net, tied, *o.QAT)
		if err != nil {
			return nil, res, err
		}
		o.logf("quantization-aware training (%s): fake quantization on %d weights\n", o.QAT.Scheme, len(names))
	}
	for _, p := range net.Params() {
		res.Params += p.Param.Value.Len()
	}
	o.logf("model: %d parameters, vocabulary %d, %d batches per epoch\n", res.Params, cfg.VocabSize, batcher.Len())
	m := &Model{Net: net, Tok: tok, tokJSON: tokJSON}

	srcV, refV := split(validPairs)
	evalSrc, evalRef := srcV, refV
	if o.EvalSentences > 0 && o.EvalSentences < len(srcV) {
		evalSrc, evalRef = srcV[:o.EvalSentences], refV[:o.EvalSentences]
	}
	evalOpts := DefaultOptions()
	evalOpts.Beam = max(1, o.EvalBeam)
	tr := &train.Trainer{
		Model: net, ModelCfg: cfg, Params: net.Params(), Dir: dir, Config: o.Train, Log: o.Log,
		Data: seq2seqData{net: net, b: batcher, smoothing: o.LabelSmoothing},
		Eval: func() (float64, map[string]float64, error) {
			var e Eval
			err := withQuantized(m, o.QAT, func() error {
				var err error
				e, err = m.Evaluate(evalSrc, evalRef, evalOpts)
				return err
			})
			if err != nil {
				return 0, nil, err
			}
			return e.BLEU.Score, map[string]float64{"bleu": round2(e.BLEU.Score), "chrf": round2(e.CHRF.Score), "sentences": float64(len(evalSrc))}, nil
		},
	}
	tres, err := tr.Run(ctx)
	res.Train = tres
	if err != nil {
		return nil, res, err
	}
	// The best weights become the model directory.
	if err := ckpt.LoadWeights(tr.BestDir(), net, nn.LoadOptions{}); err != nil {
		return nil, res, err
	}
	if res.Final, err = m.Evaluate(srcV, refV, evalOpts); err != nil {
		return nil, res, err
	}
	meta := map[string]string{"task": "translation", "valid_bleu": fmt.Sprintf("%.2f", res.Final.BLEU.Score)}
	if err := m.Save(dir, meta); err != nil {
		return nil, res, err
	}
	if o.QAT != nil {
		qdir := filepath.Join(dir, "quantized")
		err := withQuantized(m, o.QAT, func() error {
			e, err := m.Evaluate(srcV, refV, evalOpts)
			if err != nil {
				return err
			}
			res.Quantized = &e
			return m.Save(qdir, map[string]string{"task": "translation", "valid_bleu": fmt.Sprintf("%.2f", e.BLEU.Score),
				"quantization_scheme": string(o.QAT.Scheme), "qat": "true"})
		})
		if err != nil {
			return nil, res, err
		}
		o.logf("quantized model (%s): validation BLEU %.2f, written to %s\n", o.QAT.Scheme, res.Quantized.BLEU.Score, qdir)
	}
	return m, res, nil
}

// withQuantized runs f with m's weights quantized by qo (nil: f alone) and restores the
// float weights after. int8-static, whose scales need calibration, is evaluated as
// int8-dynamic here.
func withQuantized(m *Model, qo *quant.Options, f func() error) error {
	if qo == nil {
		return f()
	}
	o := *qo
	if o.Scheme == quant.Int8Static {
		o.Scheme = quant.Int8Dynamic
	}
	saved := map[*ag.Param]*tensor.Tensor{}
	for _, p := range m.Net.Params() {
		saved[p.Param] = p.Param.Value
	}
	defer func() {
		for p, v := range saved {
			if p.Value != v {
				p.Value = v
				p.Changed()
			}
			p.SetKernel(nil)
		}
	}()
	if _, _, err := quant.Quantize(m.Net, m.TiedHead(), o); err != nil {
		return err
	}
	return f()
}

func round2(x float64) float64 { return float64(int(x*100+0.5)) / 100 }

// tokenizer returns the tokenizer.json to use: the one given, the one saved in dir by an
// earlier run, or a new one trained on the training data (and saved in dir).
func (o *TrainOptions) tokenizer(pairs []data.Pair, dir string) ([]byte, error) {
	saved := filepath.Join(dir, TokenizerFile)
	if o.Tokenizer != "" {
		b, err := os.ReadFile(o.Tokenizer)
		if err != nil {
			return nil, fmt.Errorf("translation: %w", err)
		}
		return b, writeFileAtomic(saved, b)
	}
	if b, err := os.ReadFile(saved); err == nil {
		o.logf("using the tokenizer of the earlier run (%s)\n", saved)
		return b, nil
	}
	vocab := o.VocabSize
	if vocab <= 0 {
		vocab = 8000
	}
	lines := make([]string, 0, 2*len(pairs))
	for _, p := range pairs {
		lines = append(lines, p.Src, p.Tgt)
	}
	o.logf("training a %s tokenizer of %d tokens on %d sentences…\n", o.kind(), vocab, len(lines))
	var b []byte
	var err error
	switch o.kind() {
	case "unigram":
		b, err = tokentrain.Unigram(slices.Values(lines), tokentrain.UnigramOptions{VocabSize: vocab, SpecialTokens: specials, UnkToken: "<unk>", Lowercase: o.Lowercase})
	case "bpe":
		b, err = tokentrain.ByteLevelBPE(slices.Values(lines), tokentrain.ByteLevelOptions{VocabSize: vocab, SpecialTokens: specials, Lowercase: o.Lowercase})
	default:
		return nil, fmt.Errorf("translation: unknown tokenizer kind %q (want unigram or bpe)", o.TokenizerKind)
	}
	if err != nil {
		return nil, err
	}
	return b, writeFileAtomic(saved, b)
}

func (o *TrainOptions) kind() string {
	if o.TokenizerKind == "" {
		return "unigram"
	}
	return strings.ToLower(o.TokenizerKind)
}

func split(ps []data.Pair) (src, tgt []string) {
	for _, p := range ps {
		src = append(src, p.Src)
		tgt = append(tgt, p.Tgt)
	}
	return src, tgt
}

// encodePairs tokenizes both sides of every pair (no special tokens; batching adds them).
func encodePairs(tok tokenizer.Tokenizer, pairs []data.Pair) ([]data.Example, error) {
	src, tgt := split(pairs)
	es, err := tokenizer.EncodeBatch(tok, src, nil, tokenizer.BatchOptions{})
	if err != nil {
		return nil, err
	}
	et, err := tokenizer.EncodeBatch(tok, tgt, nil, tokenizer.BatchOptions{})
	if err != nil {
		return nil, err
	}
	ex := make([]data.Example, len(pairs))
	for i := range pairs {
		ex[i] = data.Example{Src: es[i].IDs, Tgt: et[i].IDs, Line: pairs[i].Line}
	}
	return ex, nil
}

// seq2seqData is the trainer's view of the batches.
type seq2seqData struct {
	net       *transformer.Model
	b         *data.Batcher
	smoothing float64
}

func (d seq2seqData) Len() int                           { return d.b.Len() }
func (d seq2seqData) Order(seed uint64, epoch int) []int { return d.b.Order(seed, epoch) }
func (d seq2seqData) Loss(c *nn.Ctx, i int) (*ag.Var, int, error) {
	bt := d.b.Batch(i)
	return d.net.Seq2SeqLoss(c, bt.Src, bt.TgtIn, bt.Labels, d.smoothing)
}

// readLines reads one sentence per line from a file, or stdin for "-".
func readLines(path string, stdin io.Reader) ([]string, error) {
	if path != "-" {
		return data.ReadLines(path)
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 1<<30))
	if err != nil {
		return nil, fmt.Errorf("translation: reading stdin: %w", err)
	}
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil, nil
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}
