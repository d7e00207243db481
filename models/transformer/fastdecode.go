package transformer

import (
	"fmt"
	"math"
	"sync"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

// fastSession is incremental decoding for float32 models at inference, written for speed
// rather than through the autograd layers (DecodeSession is its reference: the tests hold
// the two to the same log-probabilities):
//
//   - The self-attention cache is paged: the q/k/v product of step t stays where it was
//     computed, and hist[t][r] says which of its rows is row r's. Beam search's reordering
//     and the dropping of finished rows rewrite these small index tables; no key or value is
//     ever copied, where a contiguous cache copies all of them on every reorder.
//   - Cross-attention keys and values are computed once per source and never copied: rows
//     find theirs through rowSrc.
//   - Every buffer is reused from step to step; residual additions are folded into the
//     products (C = x + h·Wᵀ), and attention for one new position is dot products and axpys
//     over the cached rows.
type fastSession struct {
	m    *Model
	cfg  Config
	c, d int // model width and head width
	rows int
	pos  int // positions decoded so far

	// Cross-attention: per layer, keys and values (nsrc, S, C); srcPad (nsrc·S); rowSrc maps a
	// batch row to its source.
	crossK, crossV [][]float32
	srcPad         []bool
	srcLen         int
	rowSrc         []int

	// Self-attention pages: layer l's (rows_t, 3C) q/k/v product of step t is
	// arena[l][pageOff[l][t]:], and hist[t][r] is the row of page t that belongs to current
	// row r. A layer's pages share one arena so that attention can address all of them from
	// one base (kernels.DotGather); the arena doubles when full.
	arena   [][]float32
	pageOff [][]int
	hist    [][]int32

	fastBuffers
	released bool
	scores   [][]float32 // per worker
}

// fastBuffers are a session's reusable storage: the layers' page arenas and the per-step rows.
// Release returns them to fastPool, and the next session starts with them grown to the size
// the last one needed, where growing them again costs zeroing and copying every arena.
// (Everything a session reads from them it has written first.)
type fastBuffers struct {
	arenas                     [][]float32
	x, h, q, o, f, logits, out []float32
}

var fastPool sync.Pool // of *fastBuffers

// Release hands the session's buffers to the next session (decode.Releaser); the session
// must not be used after.
func (s *fastSession) Release() {
	if s.released {
		return
	}
	s.released = true
	b := s.fastBuffers
	b.arenas = b.arenas[:0]
	for _, a := range s.arena {
		b.arenas = append(b.arenas, a[:0])
	}
	s.arena, s.fastBuffers = nil, fastBuffers{}
	fastPool.Put(&b)
}

// useFast reports whether BeginDecode may use the fast session.
func (m *Model) useFast() bool { return m.dtype == tensor.F32 }

func (m *Model) beginFast(src [][]int) (*fastSession, error) {
	cfg := m.Cfg
	s := &fastSession{m: m, cfg: cfg, c: cfg.DModel, d: cfg.DModel / cfg.Heads, rows: len(src)}
	s.rowSrc = make([]int, len(src))
	for i := range s.rowSrc {
		s.rowSrc[i] = i
	}
	s.arena = make([][]float32, len(m.Decoder.Layers))
	if b, ok := fastPool.Get().(*fastBuffers); ok {
		s.fastBuffers = *b
		copy(s.arena, b.arenas)
		s.arenas = nil
	}
	s.pageOff = make([][]int, len(m.Decoder.Layers))
	if cfg.Arch != EncoderDecoder {
		return s, nil
	}
	width := 1
	for _, x := range src {
		width = max(width, len(x))
	}
	ids := make([]int32, len(src)*width)
	for i, x := range src {
		for j := range width {
			id := cfg.PadID
			if j < len(x) {
				id = x[j]
			}
			if id < 0 || id >= cfg.VocabSize {
				return nil, fmt.Errorf("transformer: source %d holds token id %d outside the vocabulary of %d", i, id, cfg.VocabSize)
			}
			ids[i*width+j] = int32(id)
		}
	}
	t := tensor.FromI32(ids, len(src), width)
	c := nn.Inference()
	enc, err := m.Encode(c, t)
	if err != nil {
		return nil, err
	}
	s.srcPad, s.srcLen = m.PadMask(t), width
	e := enc.Value.Contiguous().F32()
	n := len(src) * width
	if n*s.c > math.MaxInt32 {
		c.Done(enc)
		return nil, fmt.Errorf("transformer: %d sources of %d tokens are too many to decode at once", len(src), width)
	}
	for _, l := range m.Decoder.Layers {
		a := l.CrossAttn
		k, v := make([]float32, n*s.c), make([]float32, n*s.c)
		linearInto(k, e, n, s.c, a.KProj, false)
		linearInto(v, e, n, s.c, a.VProj, false)
		s.crossK, s.crossV = append(s.crossK, k), append(s.crossV, v)
	}
	c.Done(enc)
	return s, nil
}

// linearInto computes y = x·Wᵀ + b for n rows of x (n, in) with the layer's packed weight;
// with accumulate, y = y + x·Wᵀ + b (a residual connection folded into the product).
func linearInto(y, x []float32, n, in int, l *nn.Linear, accumulate bool) {
	out := l.Weight.Value.Dim(0)
	if bk, ok := l.Weight.Kernel().(ag.BiasKernel); ok && !accumulate {
		var b []float32
		if l.Bias != nil {
			b = l.Bias.Value.F32()
		}
		bk.MulTBias(y[:n*out], out, x[:n*in], n, b)
		return
	}
	beta := float32(0)
	if accumulate {
		beta = 1
	}
	if l.Bias != nil {
		b := l.Bias.Value.F32()
		if accumulate {
			for r := 0; r < n; r++ {
				kernels.Axpy(1, b, y[r*out:(r+1)*out])
			}
		} else {
			for r := 0; r < n; r++ {
				copy(y[r*out:(r+1)*out], b)
			}
			beta = 1
		}
	}
	if k := l.Weight.Kernel(); k != nil {
		k.MulT(y[:n*out], out, x[:n*in], n, beta)
		return
	}
	kernels.GemmPacked(false, n, 1, x[:n*in], in, l.Weight.PackedT(), beta, y[:n*out], out)
}

func grow32(b []float32, n int) []float32 {
	if cap(b) >= n {
		return b[:n]
	}
	return make([]float32, n, n+n/2)
}

// Step feeds one token per row and returns rows × vocabulary log-probabilities (reused by the
// next call).
func (s *fastSession) Step(tokens []int) ([]float32, error) {
	if s.released {
		return nil, fmt.Errorf("transformer: Step on a released session")
	}
	if len(tokens) != s.rows {
		return nil, fmt.Errorf("transformer: %d tokens for %d rows", len(tokens), s.rows)
	}
	cfg, m := s.cfg, s.m
	if cfg.Positions == "learned" && s.pos >= cfg.MaxPositions {
		return nil, fmt.Errorf("transformer: target has %d positions, the model has %d", s.pos+1, cfg.MaxPositions)
	}
	R, C := s.rows, s.c
	dec := m.Decoder
	// Embeddings.
	emb := dec.EmbedTokens.Weight.Value.F32()
	s.x = grow32(s.x, R*C)
	var posRow []float32
	if dec.EmbedPositions != nil {
		posRow = dec.EmbedPositions.Weight.Value.F32()[s.pos*C : (s.pos+1)*C]
	} else {
		posRow = ops.Sinusoidal(tensor.F32, 1, C, s.pos).F32()
	}
	scale := float32(1)
	if cfg.ScaleEmbedding {
		scale = float32(math.Sqrt(float64(C)))
	}
	for r, t := range tokens {
		if t < 0 || t >= cfg.VocabSize {
			return nil, fmt.Errorf("transformer: target holds token id %d outside the vocabulary of %d", t, cfg.VocabSize)
		}
		xr, er := s.x[r*C:(r+1)*C], emb[t*C:(t+1)*C]
		for j := range xr {
			xr[j] = er[j]*scale + posRow[j]
		}
	}
	// Attention addresses the caches with int32 offsets (kernels.DotGather).
	if len(s.arena) > 0 && len(s.arena[0])+R*3*C > math.MaxInt32 {
		return nil, fmt.Errorf("transformer: the decoding cache of %d rows × %d positions is too large", R, s.pos+1)
	}
	// This step's page of every layer, and the identity row map for it.
	id := make([]int32, R)
	for i := range id {
		id[i] = int32(i)
	}
	s.hist = append(s.hist, id)
	s.h, s.o, s.q = grow32(s.h, R*C), grow32(s.o, R*C), grow32(s.q, R*C)
	for li, l := range dec.Layers {
		// Self-attention: this step's q/k/v product becomes the layer's new page.
		page := s.newPage(li, R*3*C)
		linearCatInto(page, s.normIn(l.SelfAttnNorm), R, C, l.SelfAttn)
		s.selfAttend(li, page)
		linearInto(s.x, s.o, R, C, l.SelfAttn.OutProj, true)
		s.normOut(l.SelfAttnNorm)
		if l.CrossAttn != nil {
			linearInto(s.q, s.normIn(l.CrossAttnNorm), R, C, l.CrossAttn.QProj, false)
			s.crossAttend(li, s.q)
			linearInto(s.x, s.o, R, C, l.CrossAttn.OutProj, true)
			s.normOut(l.CrossAttnNorm)
		}
		F := l.FFN.FC1.Weight.Value.Dim(0)
		s.f = grow32(s.f, R*F)
		linearInto(s.f, s.normIn(l.FinalNorm), R, C, l.FFN.FC1, false)
		activate(s.f, l.FFN.Act)
		linearInto(s.x, s.f, R, F, l.FFN.FC2, true)
		s.normOut(l.FinalNorm)
	}
	s.pos++
	if dec.LayerNorm != nil {
		s.layerNorm(s.x, s.x, dec.LayerNorm)
	}
	// Logits and log-probabilities.
	head := dec.EmbedTokens.Weight
	if m.LMHead != nil {
		head = m.LMHead.Weight
	}
	V := head.Value.Dim(0)
	s.logits = grow32(s.logits, R*V)
	if k := head.Kernel(); k != nil {
		k.MulT(s.logits, V, s.x[:R*C], R, 0)
	} else {
		kernels.GemmPacked(false, R, 1, s.x, C, head.PackedT(), 0, s.logits, V)
	}
	if m.LMHead != nil && m.LMHead.Bias != nil {
		b := m.LMHead.Bias.Value.F32()
		for r := 0; r < R; r++ {
			kernels.Axpy(1, b, s.logits[r*V:(r+1)*V])
		}
	}
	s.out = grow32(s.out, R*V)
	kernels.ParallelFor(R, max(1, 4096/max(V, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			kernels.LogSoftmax(s.out[r*V:(r+1)*V], s.logits[r*V:(r+1)*V])
		}
	})
	return s.out, nil
}

// normIn is a sub-layer's input: LN(x) before the block when pre-LN, x itself when post-LN.
func (s *fastSession) normIn(n *nn.LayerNorm) []float32 {
	if s.cfg.NormFirst {
		s.layerNorm(s.h, s.x, n)
		return s.h
	}
	return s.x
}

// normOut closes a post-LN sub-layer: x = LN(x + f(x)), the sum already in x.
func (s *fastSession) normOut(n *nn.LayerNorm) {
	if !s.cfg.NormFirst {
		s.layerNorm(s.x, s.x, n)
	}
}

func (s *fastSession) layerNorm(dst, x []float32, n *nn.LayerNorm) {
	C := s.c
	g, b := n.Weight.Value.F32(), n.Bias.Value.F32()
	eps := float32(n.Eps)
	kernels.ParallelFor(s.rows, max(1, 8192/C), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			kernels.LayerNorm(dst[r*C:(r+1)*C], x[r*C:(r+1)*C], g, b, eps)
		}
	})
}

func activate(x []float32, a ops.Activation) {
	kernels.ParallelFor(len(x), 1<<14, func(lo, hi int) {
		v := x[lo:hi]
		switch a {
		case ops.ReLU:
			kernels.ReLU(v, v)
		case ops.GELU:
			kernels.GELU(v, v)
		case ops.GELUTanh:
			kernels.GELUTanh(v, v)
		}
	})
}

// linearCatInto computes the stacked q/k/v projection y = x·[Wq; Wk; Wv]ᵀ + [bq; bk; bv] for n
// rows of x (n, in).
func linearCatInto(y, x []float32, n, in int, a *nn.MultiHeadAttention) {
	ls := []*nn.Linear{a.QProj, a.KProj, a.VProj}
	if ls[0].Weight.Kernel() != nil && ls[1].Weight.Kernel() != nil && ls[2].Weight.Kernel() != nil {
		out := 0
		for _, l := range ls {
			out += l.Weight.Value.Dim(0)
		}
		off := 0
		for _, l := range ls {
			width := l.Weight.Value.Dim(0)
			var b []float32
			if l.Bias != nil {
				b = l.Bias.Value.F32()
			}
			if bk, ok := l.Weight.Kernel().(ag.BiasKernel); ok {
				bk.MulTBias(y[off:n*out], out, x[:n*in], n, b)
				off += width
				continue
			}
			beta := float32(0)
			if b != nil {
				for r := 0; r < n; r++ {
					copy(y[r*out+off:r*out+off+width], b)
				}
				beta = 1
			}
			l.Weight.Kernel().MulT(y[off:n*out], out, x[:n*in], n, beta)
			off += width
		}
		return
	}
	w := a.StackedQKV()
	out := w.N()
	row := y[:out]
	off := 0
	for _, l := range []*nn.Linear{a.QProj, a.KProj, a.VProj} {
		width := l.Weight.Value.Dim(0)
		if l.Bias != nil {
			copy(row[off:off+width], l.Bias.Value.F32())
		} else {
			clear(row[off : off+width])
		}
		off += width
	}
	for r := 1; r < n; r++ {
		copy(y[r*out:(r+1)*out], row)
	}
	kernels.GemmPacked(false, n, 1, x[:n*in], in, w, 1, y[:n*out], out)
}

// newPage appends a page of n floats to layer li's arena and returns it.
func (s *fastSession) newPage(li, n int) []float32 {
	a := s.arena[li]
	off := len(a)
	if off+n > cap(a) {
		b := make([]float32, off, max(2*cap(a), off+n, 4096))
		copy(b, a)
		a = b
	}
	s.arena[li] = a[:off+n]
	s.pageOff[li] = append(s.pageOff[li], off)
	return s.arena[li][off : off+n]
}

// selfAttend writes into s.o the attention of every row's new query (in page, this step's
// q/k/v product) over the row's keys and values of all steps so far.
func (s *fastSession) selfAttend(li int, page []float32) {
	C, d, H := s.c, s.d, s.cfg.Heads
	T := len(s.hist)
	scale := float32(1 / math.Sqrt(float64(d)))
	arena, offs0 := s.arena[li], s.pageOff[li]
	keys, vals := arena[C:], arena[2*C:]
	kernels.ParallelFor(s.rows*H, max(1, 256/max(T, 1)), func(lo, hi int) {
		p := make([]float32, T)
		offs := make([]int32, T)
		for rh := lo; rh < hi; rh++ {
			r, h := rh/H, rh%H
			q := page[r*3*C+h*d : r*3*C+(h+1)*d]
			for t := range offs {
				offs[t] = int32(offs0[t] + int(s.hist[t][r])*3*C + h*d)
			}
			kernels.DotGather(q, keys, offs, p)
			kernels.Scale(scale, p)
			kernels.Softmax(p, p, nil)
			o := s.o[r*C+h*d : r*C+(h+1)*d]
			clear(o)
			kernels.AxpyGather(p, vals, offs, o)
		}
	})
}

// crossAttend writes into s.o the attention of every row's query q over its source's encoder
// keys and values (padding left out).
func (s *fastSession) crossAttend(li int, q []float32) {
	C, d, H, S := s.c, s.d, s.cfg.Heads, s.srcLen
	scale := float32(1 / math.Sqrt(float64(d)))
	K, V := s.crossK[li], s.crossV[li]
	kernels.ParallelFor(s.rows*H, max(1, 256/max(S, 1)), func(lo, hi int) {
		p := make([]float32, S)
		offs := make([]int32, 0, S)
		for rh := lo; rh < hi; rh++ {
			r, h := rh/H, rh%H
			src := s.rowSrc[r]
			pad := s.srcPad[src*S : (src+1)*S]
			offs = offs[:0]
			for j, isPad := range pad {
				if !isPad {
					offs = append(offs, int32((src*S+j)*C+h*d))
				}
			}
			o := s.o[r*C+h*d : r*C+(h+1)*d]
			clear(o)
			if len(offs) == 0 {
				continue // an empty source: nothing to attend to
			}
			ps := p[:len(offs)]
			kernels.DotGather(q[r*C+h*d:r*C+(h+1)*d], K, offs, ps)
			kernels.Scale(scale, ps)
			kernels.Softmax(ps, ps, nil)
			kernels.AxpyGather(ps, V, offs, o)
		}
	})
}

// Keep makes new row i continue old row idx[i]: only the row maps change.
func (s *fastSession) Keep(idx []int) {
	for _, i := range idx {
		if i < 0 || i >= s.rows {
			panic(fmt.Sprintf("transformer: Keep: row %d of %d", i, s.rows))
		}
	}
	rs := make([]int, len(idx))
	for i, j := range idx {
		rs[i] = s.rowSrc[j]
	}
	s.rowSrc = rs
	for t, h := range s.hist {
		nh := make([]int32, len(idx))
		for i, j := range idx {
			nh[i] = h[j]
		}
		s.hist[t] = nh
	}
	s.rows = len(idx)
}
