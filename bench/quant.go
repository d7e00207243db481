package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/kernels/q8"
)

// QGemmShapes are the int8 products `bench quant` measures (M×K×N).
var QGemmShapes = [][3]int{{128, 768, 3072}, {128, 3072, 768}, {1, 768, 3072}}

// Quant measures quantized inference: the int8 GEMM (GOPS, in this process) for QGemmShapes,
// and the BERT-base-shaped encoder's forward pass over batch 1 and 8 × 128 tokens with
// int8-dynamic linear layers (beside our own float32, PyTorch 1.13 quantize_dynamic and ONNX
// Runtime's int8 graph of the same architecture) and with w4 (beside our float32).
func Quant(o ModelOptions) ([]Result, error) {
	o.defaults(7)
	var rs []Result
	rs = append(rs, qgemm(o)...)

	cfg := BERTBase()
	dir, err := os.MkdirTemp("", "optiformer-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	onnx8 := filepath.Join(dir, "bert-base-int8.onnx")
	haveONNX := false
	type withONNX struct {
		WorkerInit
		ONNX     string `json:"onnx"`
		ONNXInt8 string `json:"onnx_int8,omitempty"`
	}
	if !o.NoPeer {
		o.logf("exporting the int8 ONNX graph\n")
		p, err := StartPython("pytorch-export", inferTorch, withONNX{WorkerInit{Task: "export", Threads: 1, Model: cfg,
			IDs: randomIDs(rand.New(rand.NewPCG(5, 5)), 1, 128, cfg.VocabSize)}, filepath.Join(dir, "bert-base.onnx"), onnx8}, torchEnv(1)...)
		if err != nil {
			o.logf("%v\n", err)
		} else {
			if e, ok := p.Info["int8_error"]; ok {
				o.logf("onnxruntime-int8 peer: %v\n", e)
			}
			p.Close()
			_, err := os.Stat(onnx8)
			haveONNX = err == nil
		}
	}
	for _, threads := range o.Threads {
		for _, batch := range []int{1, 8} {
			ids := randomIDs(rand.New(rand.NewPCG(7, uint64(batch))), batch, 128, cfg.VocabSize)
			for _, scheme := range []string{"int8-dynamic", "w4"} {
				init := WorkerInit{Task: "infer", Threads: threads, Model: cfg, IDs: ids, Quant: scheme}
				o.logf("infer %s batch %d × 128, %d thread(s)\n", scheme, batch, threads)
				ours, err := StartSelf("optiformer", init)
				if err != nil {
					return nil, err
				}
				impls := []*impl{{name: "optiformer", p: ours}}
				fp := init
				fp.Quant = ""
				if p, err := StartSelf("optiformer-fp32", fp); err != nil {
					o.logf("%v\n", err)
				} else {
					impls = append(impls, &impl{name: "optiformer-fp32", p: p})
				}
				if !o.NoPeer && scheme == "int8-dynamic" {
					if p, err := StartPython("pytorch-int8", inferTorch, init, torchEnv(threads)...); err != nil {
						o.logf("%v\n", err)
					} else {
						impls = append(impls, &impl{name: "pytorch-int8", p: p})
					}
					if haveONNX {
						if p, err := StartNode("onnxruntime-int8", inferORT, withONNX{init, onnx8, ""}); err != nil {
							o.logf("%v\n", err)
						} else {
							impls = append(impls, &impl{name: "onnxruntime-int8", p: p})
						}
					}
				}
				if err := measure(&o, impls, o.Samples, map[string]any{"op": "run"}, "ms"); err != nil {
					return nil, err
				}
				prefix := map[string]string{"int8-dynamic": "infer-int8", "w4": "infer-w4"}[scheme]
				rs = append(rs, results(fmt.Sprintf("%s/bert-base-b%d", prefix, batch), threads, impls, "ms", false,
					prefix+"/…: forward pass of the BERT-base-shaped encoder over batch × 128 tokens with "+scheme+
						" linear layers (attention and FFN), milliseconds; peers: our float32 model, PyTorch 1.13 quantize_dynamic (onednn), ONNX Runtime's DynamicQuantizeLinear+MatMulInteger graph")...)
			}
		}
	}
	return rs, nil
}

// qgemm times q8.Gemm (int8 A times a packed int8 B into int32) for QGemmShapes.
func qgemm(o ModelOptions) []Result {
	prev := kernels.SetThreads(1)
	defer kernels.SetThreads(prev)
	rng := rand.New(rand.NewPCG(3, 3))
	var rs []Result
	for _, sh := range QGemmShapes {
		m, k, n := sh[0], sh[1], sh[2]
		a := make([]int8, m*k)
		b := make([]int8, n*k)
		for i := range a {
			a[i] = int8(rng.IntN(255) - 127)
		}
		for i := range b {
			b[i] = int8(rng.IntN(255) - 127)
		}
		pb := q8.Pack(b, n, k, k)
		c := make([]int32, m*n)
		for _, threads := range o.Threads {
			kernels.SetThreads(threads)
			var vals []float64
			for s := 0; s < o.Samples; s++ {
				calls := Rate(100*time.Millisecond, func() { q8.Gemm(m, a, k, pb, c, n) })
				vals = append(vals, calls*2*float64(m*n*k)/1e9)
			}
			rs = append(rs, Result{Name: fmt.Sprintf("qgemm/%dx%dx%d", m, k, n), Threads: threads, Value: Median(vals), Unit: "GOPS",
				HigherIsBetter: true, Samples: len(vals),
				Note: "qgemm/M×K×N: int8×int8→int32 product with B prepacked (kernels/q8.Gemm), 2·M·N·K operations per call"})
		}
	}
	return rs
}
