package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/ops"
	"github.com/optiformer/optiformer/tensor"
)

type block struct {
	Attn  *nn.MultiHeadAttention `ckpt:"attn"`
	FFN   *nn.FFN                `ckpt:",inline"`
	Norm  *nn.LayerNorm          `ckpt:"norm"`
	Skip  *nn.Linear             `ckpt:"-"`
	Extra *nn.Linear             // untagged: not a checkpoint field
}

type net struct {
	Embed  *nn.Embedding `ckpt:"embed"`
	Blocks []*block      `ckpt:"blocks"`
	Head   *nn.Linear    `ckpt:"head,optional"`
	Tied   *nn.Embedding `ckpt:"tied"` // the same table as Embed
}

func newNet(dt tensor.DType) *net {
	r := rand.New(rand.NewPCG(1, 1))
	e := nn.NewEmbedding(r, dt, 10, 8, 1, 0)
	n := &net{Embed: e, Tied: e}
	for i := 0; i < 2; i++ {
		n.Blocks = append(n.Blocks, &block{
			Attn: &nn.MultiHeadAttention{QProj: nn.NewLinear(r, dt, 8, 8, true), KProj: nn.NewLinear(r, dt, 8, 8, true),
				VProj: nn.NewLinear(r, dt, 8, 8, true), OutProj: nn.NewLinear(r, dt, 8, 8, false), Heads: 2},
			FFN:   &nn.FFN{FC1: nn.NewLinear(r, dt, 8, 16, true), FC2: nn.NewLinear(r, dt, 16, 8, true), Act: ops.GELU},
			Norm:  nn.NewLayerNorm(dt, 8, 1e-5),
			Skip:  nn.NewLinear(r, dt, 8, 8, true),
			Extra: nn.NewLinear(r, dt, 8, 8, true),
		})
	}
	return n
}

func TestParamsWalk(t *testing.T) {
	ps := nn.Params(newNet(tensor.F32))
	var names []string
	roles := map[string]ag.Role{}
	for _, p := range ps {
		names = append(names, p.Name)
		roles[p.Name] = p.Param.Role
	}
	got := strings.Join(names, " ")
	for _, want := range []string{"embed.weight", "blocks.0.attn.q_proj.weight", "blocks.1.attn.out_proj.weight",
		"blocks.0.fc1.weight", "blocks.1.fc2.bias", "blocks.0.norm.weight"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s in %s", want, got)
		}
	}
	for _, bad := range []string{"skip", "Skip", "extra", "Extra", "tied", "head", "out_proj.bias", "ffn"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q should not appear: %s", bad, got)
		}
	}
	if roles["embed.weight"] != ag.RoleEmbedding || roles["blocks.0.norm.bias"] != ag.RoleNorm ||
		roles["blocks.0.fc1.bias"] != ag.RoleBias || roles["blocks.0.fc1.weight"] != ag.RoleWeight {
		t.Errorf("roles: %v", roles)
	}
	if len(ps) != 1+2*(7+4+2) {
		t.Errorf("%d parameters", len(ps))
	}
}

func TestLoadReportsEverything(t *testing.T) {
	n := newNet(tensor.F64)
	src := nn.MapSource{}
	for k, v := range nn.StateDict(n) {
		src[k] = v.To(tensor.F32) // dtypes convert on load
	}
	src["blocks.0.norm.weight"] = tensor.Full(tensor.F32, 2, 8)
	if err := nn.Load(n, src, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	if n.Blocks[0].Norm.Weight.Value.DType() != tensor.F64 || n.Blocks[0].Norm.Weight.Value.At(3) != 2 {
		t.Fatal("value or dtype not loaded")
	}
	delete(src, "blocks.1.fc1.bias")
	src["blocks.0.norm.bias"] = tensor.New(tensor.F32, 9)
	src["buffers.position_ids"] = tensor.New(tensor.F32, 1)
	src["unexpected"] = tensor.New(tensor.F32, 1)
	err := nn.Load(n, src, nn.LoadOptions{Ignore: []string{"buffers."}})
	var le *nn.LoadError
	if !errors.As(err, &le) {
		t.Fatalf("error %v", err)
	}
	if len(le.Missing) != 1 || le.Missing[0] != "blocks.1.fc1.bias" || len(le.Unused) != 1 || le.Unused[0] != "unexpected" ||
		len(le.Mismatch) != 1 || !strings.HasPrefix(le.Mismatch[0], "blocks.0.norm.bias") {
		t.Fatalf("LoadError %+v", le)
	}
	if !strings.Contains(err.Error(), "1 missing: blocks.1.fc1.bias") {
		t.Fatalf("message %q", err)
	}
	renamed := nn.MapSource{}
	for k, v := range nn.StateDict(n) {
		renamed["model."+k] = v
	}
	if err := nn.Load(n, renamed, nn.LoadOptions{Rename: func(s string) string { return strings.TrimPrefix(s, "model.") }}); err != nil {
		t.Fatal(err)
	}
}

// Self-attention over a growing KV cache, one token at a time, equals attention over the
// whole sequence with a causal mask; Reorder swaps the cached batch rows.
func TestKVCache(t *testing.T) {
	n := newNet(tensor.F64)
	m := n.Blocks[0].Attn
	x := tensor.RandNormal(rand.New(rand.NewPCG(2, 2)), tensor.F64, 0, 1, 2, 5, 8)
	c := nn.Inference()
	full := m.Forward(c, ag.NewVar(x), ag.NewVar(x), ops.AttnMask{Causal: true}, nil).Value
	var cache nn.KVCache
	for p := 0; p < 5; p++ {
		xs := ag.NewVar(x.Slice(1, p, p+1).Contiguous())
		y := m.Forward(c, xs, xs, ops.AttnMask{Causal: true, Offset: cache.Len}, &cache).Value
		for b := 0; b < 2; b++ {
			for j := 0; j < 8; j++ {
				if d := math.Abs(y.At(b, 0, j) - full.At(b, p, j)); d > 1e-12 {
					t.Fatalf("position %d: cached %v, full %v", p, y.At(b, 0, j), full.At(b, p, j))
				}
			}
		}
	}
	if cache.Len != 5 || cache.K.Dim(1) < 5 {
		t.Fatalf("cache holds %d of %v", cache.Len, cache.K.Shape())
	}
	k0 := cache.K.Slice(0, 0, 1).Contiguous().F64()
	cache.Reorder([]int{1, 0})
	if got := cache.K.Slice(0, 1, 2).Contiguous().F64(); got[0] != k0[0] || got[len(got)-1] != k0[len(k0)-1] {
		t.Fatal("Reorder did not move the rows")
	}
}

func TestDropoutOnlyWhenTraining(t *testing.T) {
	x := ag.NewVar(tensor.Full(tensor.F32, 1, 1000))
	if y := nn.Inference().Dropout(x, 0.5); y != x {
		t.Fatal("inference applied dropout")
	}
	c := &nn.Ctx{Train: true, RNG: rand.New(rand.NewPCG(3, 3))}
	y := c.Dropout(x, 0.5).Value.F32()
	zeros := 0
	for _, v := range y {
		if v == 0 {
			zeros++
		} else if v != 2 {
			t.Fatalf("kept value %v, want 2", v)
		}
	}
	if zeros < 400 || zeros > 600 {
		t.Fatalf("%d of 1000 dropped at p=0.5", zeros)
	}
}
