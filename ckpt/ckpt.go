// Package ckpt reads and writes model directories and training checkpoints.
//
// A model directory is what Hugging Face tools expect: config.json and model.safetensors
// (weights under their checkpoint names). A training checkpoint is a directory
// <root>/step-<n> holding the model files plus optimizer.safetensors (the optimizer's
// moments) and state.json (step, random-number state, data position). Everything is written
// into a temporary directory, synced, and renamed into place, so a process killed at any
// moment (SIGKILL included) leaves only complete checkpoints behind, and resuming from the
// latest continues the run bit for bit.
package ckpt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/optiformer/optiformer/internal/fsutil"
	"github.com/optiformer/optiformer/nn"
	"github.com/optiformer/optiformer/optim"
	"github.com/optiformer/optiformer/safetensors"
	"github.com/optiformer/optiformer/tensor"
)

const (
	ConfigFile    = "config.json"
	WeightsFile   = "model.safetensors"
	OptimizerFile = "optimizer.safetensors"
	StateFile     = "state.json"
	// maxConfig bounds config.json and state.json: they are small, and read from disk.
	maxConfig = 16 << 20
)

// addTensors adds named tensors to a safetensors writer in their own dtype.
func addTensors(w *safetensors.Writer, named map[string]*tensor.Tensor) error {
	for name, t := range named {
		t = t.Contiguous()
		var err error
		switch t.DType() {
		case tensor.F32:
			err = w.AddFloat32s(name, safetensors.F32, t.Shape(), t.F32())
		case tensor.F64:
			err = w.AddFloat64s(name, t.Shape(), t.F64())
		case tensor.I32:
			err = w.AddInt32s(name, t.Shape(), t.I32())
		case tensor.I8:
			err = w.AddInt8s(name, t.Shape(), t.I8())
		default:
			err = fmt.Errorf("ckpt: %s: dtype %v cannot be saved", name, t.DType())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func params(ps []nn.NamedParam) map[string]*tensor.Tensor {
	m := make(map[string]*tensor.Tensor, len(ps))
	for _, p := range ps {
		m[p.Name] = p.Param.Value
	}
	return m
}

// Encoder is a weight's inference kernel (ag.WeightKernel) that is saved in place of the
// float value: a quantized weight. Encode adds its tensors to w under names derived from the
// parameter's and returns its format's name, which the file's metadata records under
// QuantizationKey (a JSON object from parameter names to formats). Package quant reads such
// files back.
type Encoder interface {
	Encode(name string, w *safetensors.Writer) (format string, err error)
}

// QuantizationKey is the safetensors metadata key listing the weights saved by an Encoder.
const QuantizationKey = "optiformer.quantization"

// writeModelFiles writes config.json and model.safetensors into dir.
func writeModelFiles(dir string, cfg any, ps []nn.NamedParam, meta map[string]string) error {
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("ckpt: config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), append(b, '\n'), 0o644); err != nil {
		return err
	}
	w := safetensors.NewWriter()
	float := make([]nn.NamedParam, 0, len(ps))
	formats := map[string]string{}
	for _, p := range ps {
		enc, ok := p.Param.Kernel().(Encoder)
		if !ok {
			float = append(float, p)
			continue
		}
		f, err := enc.Encode(p.Name, w)
		if err != nil {
			return fmt.Errorf("ckpt: %s: %w", p.Name, err)
		}
		formats[p.Name] = f
	}
	if err := addTensors(w, params(float)); err != nil {
		return err
	}
	if len(formats) > 0 {
		b, err := json.Marshal(formats)
		if err != nil {
			return err
		}
		meta = maps.Clone(meta)
		if meta == nil {
			meta = map[string]string{}
		}
		meta[QuantizationKey] = string(b)
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := w.SetMetadata(k, meta[k]); err != nil {
			return err
		}
	}
	return w.Save(filepath.Join(dir, WeightsFile))
}

// SaveModel writes the model directory dir: config.json (cfg as JSON) and model.safetensors
// (the parameters under their names, in their dtype, with meta as safetensors metadata). The
// files are written into a temporary directory and moved into place; an existing dir is
// replaced whole.
func SaveModel(dir string, cfg any, ps []nn.NamedParam, meta map[string]string) error {
	return writeDirAtomic(dir, func(tmp string) error { return writeModelFiles(tmp, cfg, ps, meta) })
}

// SaveModelFiles writes config.json and model.safetensors into dir (made if missing) and
// leaves everything else in dir alone: a training run directory keeps its checkpoints
// beside the model. Each file is written in full beside its final name and renamed into
// place (weights first), so a crash leaves the old file or the new one, never a torn one.
func SaveModelFiles(dir string, cfg any, ps []nn.NamedParam, meta map[string]string) (err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("ckpt: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".model-tmp-")
	if err != nil {
		return fmt.Errorf("ckpt: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := writeModelFiles(tmp, cfg, ps, meta); err != nil {
		return fmt.Errorf("ckpt: write %s: %w", dir, err)
	}
	if err := fsutil.SyncTree(tmp); err != nil {
		return fmt.Errorf("ckpt: write %s: %w", dir, err)
	}
	for _, name := range []string{WeightsFile, ConfigFile} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("ckpt: write %s: %w", dir, err)
		}
	}
	return fsutil.SyncDir(dir)
}

// writeDirAtomic fills a fresh temporary directory beside dir with fill, syncs it and renames
// it to dir (an existing dir is moved aside first and removed after).
func writeDirAtomic(dir string, fill func(tmp string) error) (err error) {
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("ckpt: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("ckpt: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			err = fmt.Errorf("ckpt: write %s: %w", dir, err)
		}
	}()
	if err = os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err = fill(tmp); err != nil {
		return err
	}
	if err = fsutil.SyncTree(tmp); err != nil {
		return err
	}
	var old string
	if _, statErr := os.Stat(dir); statErr == nil {
		old = tmp + ".old"
		if err = os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err = os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return err
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return fsutil.SyncDir(parent)
}

// ReadConfig returns the bytes of dir/config.json for the model package to parse.
func ReadConfig(dir string) ([]byte, error) {
	return readSmall(filepath.Join(dir, ConfigFile))
}

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ckpt: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfig+1))
	if err != nil {
		return nil, fmt.Errorf("ckpt: %s: %w", path, err)
	}
	if len(b) > maxConfig {
		return nil, fmt.Errorf("ckpt: %s is larger than %d bytes", path, maxConfig)
	}
	return b, nil
}

// Weights is an opened safetensors file as an nn.Source.
type Weights struct {
	f *safetensors.File
}

// OpenWeights opens a safetensors file (dir/model.safetensors, or any path).
func OpenWeights(path string) (*Weights, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	return &Weights{f: f}, nil
}

// Close releases the file.
func (w *Weights) Close() error { return w.f.Close() }

// Names lists the tensors.
func (w *Weights) Names() []string { return w.f.Names() }

// Metadata is the file's metadata.
func (w *Weights) Metadata() map[string]string { return w.f.Metadata() }

// Tensor reads one tensor: float types (F16, BF16, F32) as F32, F64 as F64, integer types as
// I32 (I8 as I8).
func (w *Weights) Tensor(name string) (*tensor.Tensor, error) {
	info, ok := w.f.Info(name)
	if !ok {
		return nil, fmt.Errorf("ckpt: no tensor %q", name)
	}
	switch info.DType {
	case safetensors.F64:
		v, err := w.f.Float64s(name)
		if err != nil {
			return nil, err
		}
		return tensor.FromF64(v, info.Shape...), nil
	case safetensors.F32, safetensors.F16, safetensors.BF16:
		v, err := w.f.Float32s(name)
		if err != nil {
			return nil, err
		}
		return tensor.FromF32(v, info.Shape...), nil
	case safetensors.I8:
		v, err := w.f.Int8s(name)
		if err != nil {
			return nil, err
		}
		return tensor.FromI8(v, info.Shape...), nil
	case safetensors.I32, safetensors.I64, safetensors.I16, safetensors.U8, safetensors.U16, safetensors.U32:
		v, err := w.f.Int32s(name)
		if err != nil {
			return nil, err
		}
		return tensor.FromI32(v, info.Shape...), nil
	}
	return nil, fmt.Errorf("ckpt: tensor %q has dtype %v, which models do not use", name, info.DType)
}

// LoadWeights loads dir/model.safetensors into model (see nn.Load).
func LoadWeights(dir string, model any, o nn.LoadOptions) error {
	w, err := OpenWeights(filepath.Join(dir, WeightsFile))
	if err != nil {
		return err
	}
	defer w.Close()
	if _, ok := w.Metadata()[QuantizationKey]; ok {
		return fmt.Errorf("ckpt: %s holds quantized weights; package quant loads them (quant.LoadWeights)", filepath.Join(dir, WeightsFile))
	}
	return nn.Load(model, w, o)
}

// TrainState is what a trainer needs, besides weights and optimizer moments, to continue a
// run exactly where it stopped.
type TrainState struct {
	Step int `json:"step"`
	// RNG is the marshalled state of the random source (dropout masks, shuffling).
	RNG []byte `json:"rng"`
	// Data is the data position, in the trainer's own terms.
	Data json.RawMessage `json:"data,omitempty"`
	// Metrics are figures to carry over (best validation score, …).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// stepDir names the checkpoint of a step.
func stepDir(root string, step int) string {
	return filepath.Join(root, fmt.Sprintf("step-%09d", step))
}

// SaveCheckpoint writes the checkpoint of st.Step under root (the model files, the optimizer
// state and state.json) atomically, then removes all but the newest keep checkpoints
// (keep ≤ 0 keeps all). It returns the checkpoint's directory.
func SaveCheckpoint(root string, st TrainState, cfg any, ps []nn.NamedParam, opt optim.State, keep int) (string, error) {
	dir := stepDir(root, st.Step)
	err := writeDirAtomic(dir, func(tmp string) error {
		if err := writeModelFiles(tmp, cfg, ps, nil); err != nil {
			return err
		}
		w := safetensors.NewWriter()
		if err := addTensors(w, opt.Buffers); err != nil {
			return err
		}
		if err := w.SetMetadata("step", strconv.Itoa(opt.Step)); err != nil {
			return err
		}
		if err := w.Save(filepath.Join(tmp, OptimizerFile)); err != nil {
			return err
		}
		b, err := json.MarshalIndent(st, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(tmp, StateFile), append(b, '\n'), 0o644)
	})
	if err != nil {
		return "", err
	}
	if keep > 0 {
		steps, err := checkpoints(root)
		if err != nil {
			return dir, err
		}
		for i := 0; i+keep < len(steps); i++ {
			os.RemoveAll(stepDir(root, steps[i]))
		}
	}
	removeStaleTemporaries(root)
	return dir, nil
}

// removeStaleTemporaries deletes the half-written checkpoint directories a killed run left
// under root (a run owns its directory, and its own write has finished when this is called).
func removeStaleTemporaries(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".step-") && strings.Contains(e.Name(), ".tmp-") {
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// checkpoints lists the steps of the complete checkpoints under root, oldest first.
func checkpoints(root string) ([]int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("ckpt: %w", err)
	}
	var steps []int
	for _, e := range entries {
		s, ok := strings.CutPrefix(e.Name(), "step-")
		if !ok || !e.IsDir() {
			continue // temporaries start with a dot
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, e.Name(), StateFile)); err == nil {
			steps = append(steps, n)
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// Latest returns the directory of the newest complete checkpoint under root; ok is false when
// there is none.
func Latest(root string) (dir string, ok bool, err error) {
	steps, err := checkpoints(root)
	if err != nil || len(steps) == 0 {
		return "", false, err
	}
	return stepDir(root, steps[len(steps)-1]), true, nil
}

// LoadCheckpoint restores model and optimizer from the checkpoint in dir and returns the
// training state. Weights that do not fit the model, or an optimizer state that does not fit
// the optimizer, are errors; after an error the model and optimizer may be partly restored.
func LoadCheckpoint(dir string, model any, opt optim.Optimizer) (TrainState, error) {
	var st TrainState
	b, err := readSmall(filepath.Join(dir, StateFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("ckpt: %s: %w", filepath.Join(dir, StateFile), err)
	}
	ow, err := OpenWeights(filepath.Join(dir, OptimizerFile))
	if err != nil {
		return st, err
	}
	defer ow.Close()
	ost := optim.State{Buffers: map[string]*tensor.Tensor{}}
	if ost.Step, err = strconv.Atoi(ow.Metadata()["step"]); err != nil {
		return st, fmt.Errorf("ckpt: %s: bad step metadata", filepath.Join(dir, OptimizerFile))
	}
	for _, n := range ow.Names() {
		t, err := ow.Tensor(n)
		if err != nil {
			return st, err
		}
		ost.Buffers[n] = t
	}
	if err := LoadWeights(dir, model, nn.LoadOptions{}); err != nil {
		return st, err
	}
	if err := opt.SetState(ost); err != nil {
		return st, err
	}
	return st, nil
}
