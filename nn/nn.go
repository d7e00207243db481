// Package nn holds the transformer's layers: Linear, Embedding, position encodings,
// MultiHeadAttention (self and cross, padding and causal masks, KV cache), the feed-forward
// block, LayerNorm and dropout, plus the parameter walk that optimizers, checkpoints,
// quantization and distillation share.
//
// A layer is a struct of *ag.Param and sub-layers whose `ckpt` tags name the checkpoint keys
// (PyTorch / Hugging Face names, so checkpoints load without renaming):
//
//	type Linear struct {
//		Weight *ag.Param `ckpt:"weight"`        // (Out, In)
//		Bias   *ag.Param `ckpt:"bias,optional"` // (Out)
//	}
//
// Forward methods take a *Ctx that carries the tape (nil at inference), the training flag
// and the random source: there are no globals.
package nn

import (
	"math/rand/v2"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/tensor"
)

// Ctx is what a forward pass needs besides its inputs.
type Ctx struct {
	Tape  *ag.Tape   // records for Backward; nil at inference
	Train bool       // dropout is active
	RNG   *rand.Rand // dropout masks; required when Train and a dropout rate is > 0
}

// Inference is a Ctx for evaluation: no tape, no dropout.
func Inference() *Ctx { return &Ctx{} }

// Dropout applies dropout with probability p when training, and is the identity otherwise.
func (c *Ctx) Dropout(x *ag.Var, p float64) *ag.Var {
	if !c.Train || p == 0 {
		return x
	}
	return ag.Dropout(c.Tape, x, p, c.RNG)
}

// Done tells the Ctx that the values of vs are dead temporaries: at inference (no tape) their
// storage goes back to the tensor pool for the next layer's outputs, which saves allocating
// and zeroing fresh memory for every layer. When recording it does nothing (the tape may still
// need them). Only pass values nothing else refers to.
func (c *Ctx) Done(vs ...*ag.Var) {
	if c.Tape != nil {
		return
	}
	for _, v := range vs {
		if v != nil {
			tensor.Release(v.Value)
		}
	}
}

// dropP is p when training, else 0.
func (c *Ctx) dropP(p float64) float64 {
	if !c.Train {
		return 0
	}
	return p
}
