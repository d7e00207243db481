package ckpt_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/ckpt"
	"github.com/optiformer/optiformer/kernels"
	"github.com/optiformer/optiformer/models/transformer"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/tensor"
)

func tinyConfig() transformer.Config {
	c := transformer.Defaults()
	c.VocabSize, c.DModel, c.Heads, c.FFN, c.EncoderLayers, c.DecoderLayers = 50, 16, 2, 32, 1, 1
	c.Dropout = 0.2 // exercises the random state
	return c
}

func batchOf(step int) (src, tgt *tensor.Tensor) {
	r := rand.New(rand.NewPCG(uint64(step), 7))
	mk := func() *tensor.Tensor {
		v := make([]int32, 4*6)
		for i := range v {
			v[i] = int32(3 + r.IntN(47))
		}
		return tensor.FromI32(v, 4, 6)
	}
	return mk(), mk()
}

// trainRun trains for total steps from the latest checkpoint under root (or from scratch),
// saving every 2 steps, and writes the final weights to out. It prints "step N" after each.
func trainRun(root, out string, total int) error {
	kernels.SetThreads(1)
	cfg := tinyConfig()
	pcg := rand.NewPCG(1, 2)
	m, err := transformer.New(cfg, tensor.F32, rand.New(pcg))
	if err != nil {
		return err
	}
	opt := optim.NewAdamW(m.Params(), 0.01, optim.DecayPolicy{})
	start := 0
	if dir, ok, err := ckpt.Latest(root); err != nil {
		return err
	} else if ok {
		st, err := ckpt.LoadCheckpoint(dir, m, opt)
		if err != nil {
			return err
		}
		if err := pcg.UnmarshalBinary(st.RNG); err != nil {
			return err
		}
		start = st.Step
	}
	rng := rand.New(pcg)
	for step := start; step < total; step++ {
		src, tgt := batchOf(step)
		var tape ag.Tape
		loss, _, err := m.Seq2SeqLoss(&nn.Ctx{Tape: &tape, Train: true, RNG: rng}, src, tgt, tgt, 0.1)
		if err != nil {
			return err
		}
		opt.ZeroGrad()
		tape.Backward(loss)
		opt.Step(1e-2)
		if (step+1)%2 == 0 {
			rs, _ := pcg.MarshalBinary()
			if _, err := ckpt.SaveCheckpoint(root, ckpt.TrainState{Step: step + 1, RNG: rs}, cfg, m.Params(), opt.State(), 2); err != nil {
				return err
			}
		}
		fmt.Printf("step %d\n", step+1)
	}
	return ckpt.SaveModel(out, cfg, m.Params(), nil)
}

// TestMain lets the test binary act as the training process of TestResumeAfterSIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("CKPT_CHILD") != "" {
		total, _ := strconv.Atoi(os.Getenv("CKPT_TOTAL"))
		if err := trainRun(os.Getenv("CKPT_ROOT"), os.Getenv("CKPT_OUT"), total); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(t *testing.T, root, out string, total int) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "CKPT_CHILD=1", "CKPT_ROOT="+root, "CKPT_OUT="+out, "CKPT_TOTAL="+strconv.Itoa(total))
	cmd.Stderr = os.Stderr
	return cmd
}

func weights(t *testing.T, dir string) map[string][]float32 {
	t.Helper()
	w, err := ckpt.OpenWeights(filepath.Join(dir, ckpt.WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	out := map[string][]float32{}
	for _, n := range w.Names() {
		v, err := w.Tensor(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = v.F32()
	}
	return out
}

// A run killed with SIGKILL and resumed from its last checkpoint ends with exactly the weights
// of a run that was never interrupted.
func TestResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("trains in child processes")
	}
	const total = 12
	base := t.TempDir()
	if err := child(t, filepath.Join(base, "a"), filepath.Join(base, "a-out"), total).Run(); err != nil {
		t.Fatal(err)
	}
	// Run b is killed after step 7 (its checkpoint at step 6 is complete; step 8's may be
	// half written), then resumed.
	cmd := child(t, filepath.Join(base, "b"), filepath.Join(base, "b-out"), total)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if sc.Text() == "step 7" {
			cmd.Process.Signal(syscall.SIGKILL)
			break
		}
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(base, "b-out")); err == nil {
		t.Fatal("the killed run finished anyway")
	}
	dir, ok, err := ckpt.Latest(filepath.Join(base, "b"))
	if err != nil || !ok {
		t.Fatalf("no checkpoint survived: %v", err)
	}
	var st ckpt.TrainState
	b, _ := os.ReadFile(filepath.Join(dir, ckpt.StateFile))
	json.Unmarshal(b, &st)
	if st.Step < 6 || st.Step > 8 {
		t.Fatalf("latest checkpoint at step %d", st.Step)
	}
	if err := child(t, filepath.Join(base, "b"), filepath.Join(base, "b-out"), total).Run(); err != nil {
		t.Fatal(err)
	}
	wa, wb := weights(t, filepath.Join(base, "a-out")), weights(t, filepath.Join(base, "b-out"))
	if len(wa) == 0 || len(wa) != len(wb) {
		t.Fatalf("%d and %d tensors", len(wa), len(wb))
	}
	for n, va := range wa {
		for i := range va {
			if math.Float32bits(va[i]) != math.Float32bits(wb[n][i]) {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", n, i, va[i], wb[n][i])
			}
		}
	}
	// Only the newest two checkpoints are kept, and no temporaries are left.
	entries, _ := os.ReadDir(filepath.Join(base, "b"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 || strings.HasPrefix(names[0], ".") {
		t.Fatalf("checkpoint directory holds %v", names)
	}
}

func TestModelDirRoundTripAndErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	cfg := tinyConfig()
	m, _ := transformer.New(cfg, tensor.F32, rand.New(rand.NewPCG(3, 3)))
	if err := ckpt.SaveModel(dir, cfg, m.Params(), map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	// Saving again replaces the directory whole.
	if err := ckpt.SaveModel(dir, cfg, m.Params(), nil); err != nil {
		t.Fatal(err)
	}
	b, err := ckpt.ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg2, err := transformer.ParseConfig(strings.NewReader(string(b)))
	if err != nil || cfg2 != cfg {
		t.Fatalf("config round trip: %v %+v", err, cfg2)
	}
	m2, _ := transformer.New(cfg2, tensor.F32, rand.New(rand.NewPCG(4, 4)))
	if err := ckpt.LoadWeights(dir, m2, nn.LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	p1, p2 := m.Params(), m2.Params()
	for i := range p1 {
		a, b := p1[i].Param.Value.F32(), p2[i].Param.Value.F32()
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("%s differs after the round trip", p1[i].Name)
			}
		}
	}
	// A corrupt weights file is an error, not a panic.
	os.WriteFile(filepath.Join(dir, ckpt.WeightsFile), []byte("garbage that is not safetensors"), 0o644)
	if err := ckpt.LoadWeights(dir, m2, nn.LoadOptions{}); err == nil {
		t.Fatal("corrupt weights loaded")
	}
	if _, err := ckpt.ReadConfig(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing config read")
	}
	// A different model shape is reported.
	cfg3 := cfg
	cfg3.DModel, cfg3.Heads = 8, 2
	m3, _ := transformer.New(cfg3, tensor.F32, rand.New(rand.NewPCG(4, 4)))
	if err := ckpt.SaveModel(dir, cfg, m.Params(), nil); err != nil {
		t.Fatal(err)
	}
	if err := ckpt.LoadWeights(dir, m3, nn.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "wrong shape") {
		t.Fatalf("shape mismatch: %v", err)
	}
}
