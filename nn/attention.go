package nn

import (
	"fmt"
	"math"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
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

	// The q, k and v weights stacked and packed for self-attention's single product, and the
	// versions of the weights it was built from.
	stacked    *kernels.PackedB
	stackedVer [3]uint64
}

// StackedQKV returns [Wq; Wk; Wv] packed as ops.LinearCat takes it (float32 only), rebuilt
// when a weight has changed since.
func (m *MultiHeadAttention) StackedQKV() *kernels.PackedB {
	ws := [3]*ag.Param{m.QProj.Weight, m.KProj.Weight, m.VProj.Weight}
	ver := [3]uint64{ws[0].Version(), ws[1].Version(), ws[2].Version()}
	if ws[0].Value.DType() != tensor.F32 {
		return nil
	}
	if m.stacked != nil && ver == m.stackedVer {
		return m.stacked
	}
	c, in := ws[0].Value.Dim(0), ws[0].Value.Dim(1)
	all := make([]float32, 0, 3*c*in)
	for _, w := range ws {
		all = append(all, w.Value.Contiguous().F32()...)
	}
	if m.stacked == nil || m.stacked.K() != in || m.stacked.N() != 3*c {
		m.stacked = kernels.PackB(true, in, 3*c, all, in)
	} else {
		m.stacked.Repack(true, all, in)
	}
	m.stackedVer = ver
	return m.stacked
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
	var o *ag.Var
	if q == kv && (cache == nil || !cache.Static) {
		o = m.selfAttention(c, q, mask, cache, scale)
	} else {
		o = m.crossAttention(c, q, kv, mask, cache, scale)
	}
	y := m.OutProj.Forward(c, o)
	c.Done(o)
	return y
}

// selfAttention projects q, k and v in one product and attends; with a cache the new keys and
// values are appended and the queries attend to all cached positions, read in place.
func (m *MultiHeadAttention) selfAttention(c *Ctx, x *ag.Var, mask ops.AttnMask, cache *KVCache, scale float64) *ag.Var {
	qkv := ag.LinearCat(c.Tape, x, []*ag.Param{m.QProj.Weight, m.KProj.Weight, m.VProj.Weight},
		[]*ag.Param{biasOf(m.QProj), biasOf(m.KProj), biasOf(m.VProj)}, m.StackedQKV())
	if cache == nil {
		o := ag.AttentionQKV(c.Tape, qkv, m.Heads, mask, scale, c.dropP(m.Dropout), c.RNG)
		c.Done(qkv)
		return o
	}
	b, t, c3 := qkv.Value.Dim(0), qkv.Value.Dim(1), qkv.Value.Dim(2)
	cd := c3 / 3
	cache.appendFrom(qkv.Value, cd, 2*cd, cd)
	capacity := cache.K.Dim(1)
	o, _ := ops.AttentionMats(ops.Mat{T: qkv.Value, BStride: t * c3, LD: c3},
		ops.Mat{T: cache.K, BStride: capacity * cd, LD: cd}, ops.Mat{T: cache.V, BStride: capacity * cd, LD: cd},
		b, t, cache.Len, cd, m.Heads, mask, scale, 0, nil, false)
	c.Done(qkv)
	return ag.NewVar(o)
}

func (m *MultiHeadAttention) crossAttention(c *Ctx, q, kv *ag.Var, mask ops.AttnMask, cache *KVCache, scale float64) *ag.Var {
	qp := m.QProj.Forward(c, q)
	var k, v *ag.Var
	switch {
	case cache != nil && cache.K != nil:
		k, v = ag.NewVar(cache.K), ag.NewVar(cache.V)
	case cache != nil:
		k, v = m.KProj.Forward(c, kv), m.VProj.Forward(c, kv)
		cache.K, cache.V, cache.Len = k.Value, v.Value, k.Value.Dim(1)
	default:
		k, v = m.KProj.Forward(c, kv), m.VProj.Forward(c, kv)
	}
	o := ag.Attention(c.Tape, qp, k, v, m.Heads, mask, scale, c.dropP(m.Dropout), c.RNG)
	c.Done(qp)
	if cache == nil { // cached keys and values live on in the cache
		c.Done(k, v)
	}
	return o
}

func biasOf(l *Linear) *ag.Param { return l.Bias }

// appendFrom adds the keys and values of new positions after the cached ones, growing the
// buffers: src is (B, T, W) and holds the keys at column koff and the values at voff, c wide.
func (kc *KVCache) appendFrom(src *tensor.Tensor, koff, voff, c int) {
	b, t, w := src.Dim(0), src.Dim(1), src.Dim(2)
	if kc.K == nil || kc.K.Dim(1) < kc.Len+t {
		capacity := max(2*(kc.Len+t), 16)
		nk, nv := tensor.New(src.DType(), b, capacity, c), tensor.New(src.DType(), b, capacity, c)
		if kc.K != nil {
			copyBlock(nk, kc.K, kc.Len, c)
			copyBlock(nv, kc.V, kc.Len, c)
		}
		kc.K, kc.V = nk, nv
	}
	src = src.Contiguous()
	for r := 0; r < t; r++ {
		copyPos(kc.K, kc.Len+r, src, r, w, koff, c)
		copyPos(kc.V, kc.Len+r, src, r, w, voff, c)
	}
	kc.Len += t
}

// copyBlock copies positions [0, n) of src (B, ·, c) into dst (B, ·, c).
func copyBlock(dst, src *tensor.Tensor, n, c int) {
	for p := 0; p < n; p++ {
		copyPos(dst, p, src, p, c, 0, c)
	}
}

// copyPos copies, for every batch row, c values at column off of position sp of src (rows w
// wide) into position dp of dst (rows c wide).
func copyPos(dst *tensor.Tensor, dp int, src *tensor.Tensor, sp, w, off, c int) {
	b := dst.Dim(0)
	dcap, scap := dst.Dim(1), src.Dim(1)
	switch dst.DType() {
	case tensor.F32:
		d, s := dst.F32(), src.F32()
		for i := 0; i < b; i++ {
			copy(d[(i*dcap+dp)*c:(i*dcap+dp+1)*c], s[(i*scap+sp)*w+off:(i*scap+sp)*w+off+c])
		}
	default:
		d, s := dst.F64(), src.F64()
		for i := 0; i < b; i++ {
			copy(d[(i*dcap+dp)*c:(i*dcap+dp+1)*c], s[(i*scap+sp)*w+off:(i*scap+sp)*w+off+c])
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
