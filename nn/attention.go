package nn

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// MultiHeadAttention is attention with separate query, key, value and output projections
// (the layout of BART/Marian's `self_attn` and `encoder_attn`, and of torch's
// nn.MultiheadAttention with its in_proj split in three). Heads sit side by side in the
// channels: C = Heads·D, scale 1/√D.
type MultiHeadAttention struct {
	QProj   *Linear `ckpt:"q_proj"`   // C → C
	KProj   *Linear `ckpt:"k_proj"`   // C → C
	VProj   *Linear `ckpt:"v_proj"`   // C → C
	OutProj *Linear `ckpt:"out_proj"` // C → C
	Heads   int     `ckpt:"-"`
	// Dropout is the dropout on the attention probabilities (attention_dropout).
	Dropout float64 `ckpt:"-"`
}

// KVCache holds the keys and values of positions already decoded, for incremental decoding:
// K and V are (B, capacity, C) and the first Len positions are filled. For cross-attention
// the cache holds the projected encoder output once and Static is set.
type KVCache struct {
	K, V   *tensor.Tensor
	Len    int
	Static bool
}

// Forward attends from q (B, T, C) to kv (B, S, C) (kv = q for self-attention) under mask and
// returns (B, T, C).
//
// With a cache, only the new positions are passed: for self-attention, q = kv = the T new
// tokens, whose keys and values are appended to the cache and which attend to all cached
// positions (mask.Offset should be cache.Len before the call for a causal mask); for
// cross-attention (cache.Static), the keys and values are computed from kv on the first call
// and reused afterwards. Caching is for inference: it does not record on the tape.
func (m *MultiHeadAttention) Forward(c *Ctx, q, kv *ag.Var, mask ops.AttnMask, cache *KVCache) *ag.Var {
	cdim := q.Value.Dim(-1)
	if m.Heads <= 0 || cdim%m.Heads != 0 {
		panic(fmt.Sprintf("nn: MultiHeadAttention: %d channels do not split into %d heads", cdim, m.Heads))
	}
	scale := 1 / math.Sqrt(float64(cdim/m.Heads))
	qp := m.QProj.Forward(c, q)
	var k, v *ag.Var
	switch {
	case cache != nil && cache.Static && cache.K != nil:
		k, v = ag.NewVar(cache.K), ag.NewVar(cache.V)
	case cache != nil && cache.Static:
		k, v = m.KProj.Forward(c, kv), m.VProj.Forward(c, kv)
		cache.K, cache.V, cache.Len = k.Value, v.Value, k.Value.Dim(1)
	case cache != nil:
		nk, nv := m.KProj.Forward(c, kv), m.VProj.Forward(c, kv)
		cache.append(nk.Value, nv.Value)
		k = ag.NewVar(cache.K.Slice(1, 0, cache.Len))
		v = ag.NewVar(cache.V.Slice(1, 0, cache.Len))
	default:
		k, v = m.KProj.Forward(c, kv), m.VProj.Forward(c, kv)
	}
	o := ag.Attention(c.Tape, qp, k, v, m.Heads, mask, scale, c.dropP(m.Dropout), c.RNG)
	c.Done(qp)
	if cache == nil { // cached keys and values live on in the cache
		c.Done(k, v)
	}
	y := m.OutProj.Forward(c, o)
	c.Done(o)
	return y
}

// append adds new keys and values (B, T, C) after the cached ones, growing the buffers.
func (kc *KVCache) append(k, v *tensor.Tensor) {
	b, t, c := k.Dim(0), k.Dim(1), k.Dim(2)
	if kc.K == nil || kc.K.Dim(1) < kc.Len+t {
		capacity := max(2*(kc.Len+t), 16)
		nk, nv := tensor.New(k.DType(), b, capacity, c), tensor.New(k.DType(), b, capacity, c)
		if kc.K != nil {
			copyRowsAt(nk, kc.K.Slice(1, 0, kc.Len), 0)
			copyRowsAt(nv, kc.V.Slice(1, 0, kc.Len), 0)
		}
		kc.K, kc.V = nk, nv
	}
	copyRowsAt(kc.K, k, kc.Len)
	copyRowsAt(kc.V, v, kc.Len)
	kc.Len += t
}

// copyRowsAt writes src (B, T, C) into dst (B, cap, C) at position at.
func copyRowsAt(dst, src *tensor.Tensor, at int) {
	b, t, c := src.Dim(0), src.Dim(1), src.Dim(2)
	capacity := dst.Dim(1)
	src = src.Contiguous()
	switch dst.DType() {
	case tensor.F32:
		d, s := dst.F32(), src.F32()
		for i := 0; i < b; i++ {
			copy(d[(i*capacity+at)*c:(i*capacity+at+t)*c], s[i*t*c:(i+1)*t*c])
		}
	default:
		d, s := dst.F64(), src.F64()
		for i := 0; i < b; i++ {
			copy(d[(i*capacity+at)*c:(i*capacity+at+t)*c], s[i*t*c:(i+1)*t*c])
		}
	}
}

// Reorder keeps the batch rows idx of the cache (in that order), for beam search and for
// dropping finished sentences.
func (kc *KVCache) Reorder(idx []int) {
	if kc.K == nil {
		return
	}
	kc.K, kc.V = GatherRows(kc.K, idx), GatherRows(kc.V, idx)
}

// GatherRows returns the rows idx of x along its first dimension (torch.index_select(x, 0, idx)).
func GatherRows(x *tensor.Tensor, idx []int) *tensor.Tensor {
	per := x.Len() / max(1, x.Dim(0))
	shape := x.Shape()
	shape[0] = len(idx)
	y := tensor.New(x.DType(), shape...)
	x = x.Contiguous()
	switch x.DType() {
	case tensor.F32:
		d, s := y.F32(), x.F32()
		for i, j := range idx {
			copy(d[i*per:(i+1)*per], s[j*per:(j+1)*per])
		}
	default:
		d, s := y.F64(), x.F64()
		for i, j := range idx {
			copy(d[i*per:(i+1)*per], s[j*per:(j+1)*per])
		}
	}
	return y
}
