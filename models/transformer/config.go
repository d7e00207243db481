// Package transformer is optiformer's own configurable transformer (Vaswani et al. and its
// common variants): encoder-only with a span-extraction head for extractive QA, decoder-only
// causal language model, and encoder-decoder sequence-to-sequence model, with post-LN or
// pre-LN blocks, sinusoidal or learned positions, ReLU or GELU feed-forward blocks and
// optionally tied embeddings. Parameter names follow BART/Marian (`encoder.layers.0.self_attn.
// q_proj.weight`), so checkpoints read like Hugging Face ones.
package transformer

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/optiformer/optiformer/ops"
)

// Architecture is the shape of the model.
type Architecture string

const (
	EncoderDecoder Architecture = "encoder-decoder" // seq2seq: translation, summarization
	EncoderOnly    Architecture = "encoder"         // with a span head: extractive QA
	DecoderOnly    Architecture = "decoder"         // causal language model
)

// Config is the model's config.json.
type Config struct {
	Arch          Architecture `json:"arch"`
	VocabSize     int          `json:"vocab_size"`
	DModel        int          `json:"d_model"`
	Heads         int          `json:"n_heads"`
	FFN           int          `json:"d_ff"`
	EncoderLayers int          `json:"encoder_layers"`
	DecoderLayers int          `json:"decoder_layers"`
	MaxPositions  int          `json:"max_positions"`
	// Positions is "sinusoidal" or "learned".
	Positions string `json:"positions"`
	// NormFirst selects pre-LN blocks (x + f(LN(x)), with a final LayerNorm after each stack);
	// false is the original post-LN (LN(x + f(x))).
	NormFirst bool `json:"norm_first"`
	// Activation is "relu", "gelu" or "gelu_tanh".
	Activation        string  `json:"activation"`
	Dropout           float64 `json:"dropout"`
	AttentionDropout  float64 `json:"attention_dropout"`
	ActivationDropout float64 `json:"activation_dropout"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	// ScaleEmbedding multiplies token embeddings by √d_model.
	ScaleEmbedding bool `json:"scale_embedding"`
	// TieEmbeddings shares one table between encoder and decoder tokens and the output
	// projection (encoder-decoder), or between tokens and output (decoder-only).
	TieEmbeddings bool `json:"tie_embeddings"`
	PadID         int  `json:"pad_id"`
	BOSID         int  `json:"bos_id"`
	EOSID         int  `json:"eos_id"`
	// SpanHead adds the extractive-QA head (start and end logits) to an encoder-only model.
	SpanHead bool `json:"span_head"`
}

// Defaults are the base configuration of Vaswani et al. scaled down: what a field left out of
// config.json gets.
func Defaults() Config {
	return Config{
		Arch: EncoderDecoder, VocabSize: 8000, DModel: 256, Heads: 4, FFN: 1024,
		EncoderLayers: 3, DecoderLayers: 3, MaxPositions: 512, Positions: "sinusoidal",
		Activation: "relu", Dropout: 0.1, LayerNormEps: 1e-5, ScaleEmbedding: true,
		TieEmbeddings: true, PadID: 0, BOSID: 1, EOSID: 2,
	}
}

// Validate reports the first thing that makes the config unusable.
func (c *Config) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("transformer: config: "+format, a...)
	}
	switch c.Arch {
	case EncoderDecoder, EncoderOnly, DecoderOnly:
	default:
		return bad("arch %q: want encoder-decoder, encoder or decoder", c.Arch)
	}
	const maxDim = 1 << 16
	switch {
	case c.VocabSize < 1 || c.VocabSize > 1<<24:
		return bad("vocab_size %d out of range", c.VocabSize)
	case c.DModel < 1 || c.DModel > maxDim:
		return bad("d_model %d out of range", c.DModel)
	case c.Heads < 1 || c.DModel%c.Heads != 0:
		return bad("n_heads %d does not divide d_model %d", c.Heads, c.DModel)
	case c.FFN < 1 || c.FFN > 4*maxDim:
		return bad("d_ff %d out of range", c.FFN)
	case c.MaxPositions < 1 || c.MaxPositions > 1<<20:
		return bad("max_positions %d out of range", c.MaxPositions)
	case c.Positions != "sinusoidal" && c.Positions != "learned":
		return bad("positions %q: want sinusoidal or learned", c.Positions)
	case c.LayerNormEps <= 0:
		return bad("layer_norm_eps %v must be positive", c.LayerNormEps)
	}
	for name, p := range map[string]float64{"dropout": c.Dropout, "attention_dropout": c.AttentionDropout, "activation_dropout": c.ActivationDropout} {
		if p < 0 || p >= 1 {
			return bad("%s %v: want 0 ≤ p < 1", name, p)
		}
	}
	if _, err := ops.ParseActivation(c.Activation); err != nil {
		return bad("%v", err)
	}
	needEnc := c.Arch != DecoderOnly
	needDec := c.Arch != EncoderOnly
	if needEnc && (c.EncoderLayers < 1 || c.EncoderLayers > 1024) {
		return bad("encoder_layers %d out of range", c.EncoderLayers)
	}
	if needDec && (c.DecoderLayers < 1 || c.DecoderLayers > 1024) {
		return bad("decoder_layers %d out of range", c.DecoderLayers)
	}
	for name, id := range map[string]int{"pad_id": c.PadID, "bos_id": c.BOSID, "eos_id": c.EOSID} {
		if id < 0 || id >= c.VocabSize {
			return bad("%s %d outside the vocabulary of %d", name, id, c.VocabSize)
		}
	}
	if c.SpanHead && c.Arch != EncoderOnly {
		return bad("span_head needs arch encoder")
	}
	return nil
}

// ParseConfig reads a config.json: fields left out take Defaults(), unknown fields are an
// error (a typo must not silently train another model).
func ParseConfig(r io.Reader) (Config, error) {
	c := Defaults()
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("transformer: config: %w", err)
	}
	return c, c.Validate()
}

// LoadConfig reads config.json from path.
func LoadConfig(path string) (Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("transformer: %w", err)
	}
	defer f.Close()
	return ParseConfig(f)
}
