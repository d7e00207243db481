package nn

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/optiformer/optiformer/ag"
	"github.com/optiformer/optiformer/tensor"
)

// NamedParam is a parameter with its checkpoint name.
type NamedParam struct {
	Name  string
	Param *ag.Param
}

// Params walks m (a pointer to a layer or model struct) and returns its parameters with their
// checkpoint names, in field order. Names join the `ckpt` tags of the fields on the way with
// dots ("encoder.layers.0.self_attn.q_proj.weight"); slice elements add their index; a field
// tagged `ckpt:",inline"` adds no name of its own; `ckpt:"-"` and untagged fields are
// skipped; the option `optional` documents a field that may be nil (a Linear without bias, the
// encoder of a decoder-only model): a nil field has no parameters, a present one is required
// in checkpoints like any other. A parameter reached twice (tied weights) is listed once,
// under the first name.
func Params(m any) []NamedParam {
	var out []NamedParam
	seen := map[*ag.Param]bool{}
	walk(reflect.ValueOf(m), "", seen, &out)
	return out
}

var paramType = reflect.TypeOf((*ag.Param)(nil))

func walk(v reflect.Value, prefix string, seen map[*ag.Param]bool, out *[]NamedParam) {
	if !v.IsValid() {
		return
	}
	if v.Type() == paramType {
		p := v.Interface().(*ag.Param)
		if p != nil && !seen[p] {
			seen[p] = true
			*out = append(*out, NamedParam{Name: prefix, Param: p})
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walk(v.Elem(), prefix, seen, out)
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walk(v.Index(i), join(prefix, strconv.Itoa(i)), seen, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag, ok := f.Tag.Lookup("ckpt")
			if !ok || tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if strings.Contains(opts, "inline") {
				walk(v.Field(i), prefix, seen, out)
				continue
			}
			walk(v.Field(i), join(prefix, name), seen, out)
		}
	}
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// Source gives named tensors: a checkpoint being loaded. Implementations report problems
// reading a tensor as errors.
type Source interface {
	Names() []string
	Tensor(name string) (*tensor.Tensor, error)
}

// LoadError lists everything that did not fit between a model and a checkpoint.
type LoadError struct {
	Missing  []string // parameters the checkpoint lacks
	Unused   []string // checkpoint tensors no parameter took
	Mismatch []string // "name: checkpoint [a b], model [c d]"
	Other    []string // read errors
}

func (e *LoadError) Error() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			const maxShown = 8
			shown := names
			more := ""
			if len(shown) > maxShown {
				shown, more = shown[:maxShown], fmt.Sprintf(" (and %d more)", len(names)-maxShown)
			}
			parts = append(parts, fmt.Sprintf("%d %s: %s%s", len(names), what, strings.Join(shown, ", "), more))
		}
	}
	add("missing", e.Missing)
	add("unused", e.Unused)
	add("with the wrong shape", e.Mismatch)
	add("unreadable", e.Other)
	return "nn: checkpoint does not fit the model: " + strings.Join(parts, "; ")
}

// LoadOptions adjust Load.
type LoadOptions struct {
	// Ignore lists checkpoint names (exact, or a prefix ending in ".") that are expected and
	// not used, such as buffers.
	Ignore []string
	// Rename maps checkpoint names to model names before matching.
	Rename func(string) string
}

// Load copies the tensors of src into the parameters of m by name, converting dtypes to the
// parameter's. It checks everything before changing anything and reports every missing,
// unused or mis-shaped tensor at once; on error m is unchanged.
func Load(m any, src Source, o LoadOptions) error {
	params := Params(m)
	byName := map[string]NamedParam{}
	for _, p := range params {
		byName[p.Name] = p
	}
	var e LoadError
	found := map[string]*tensor.Tensor{}
	names := src.Names()
	sort.Strings(names)
	for _, n := range names {
		mn := n
		if o.Rename != nil {
			mn = o.Rename(n)
		}
		p, ok := byName[mn]
		if !ok {
			if !ignored(n, o.Ignore) {
				e.Unused = append(e.Unused, n)
			}
			continue
		}
		t, err := src.Tensor(n)
		if err != nil {
			e.Other = append(e.Other, fmt.Sprintf("%s: %v", n, err))
			continue
		}
		if ts, ps := t.Shape(), p.Param.Value.Shape(); !slices.Equal(ts, ps) {
			e.Mismatch = append(e.Mismatch, fmt.Sprintf("%s: checkpoint %v, model %v", n, ts, ps))
			continue
		}
		found[mn] = t
	}
	for _, p := range params {
		if _, ok := found[p.Name]; !ok && !containsPrefix(e.Mismatch, p.Name+":") {
			e.Missing = append(e.Missing, p.Name)
		}
	}
	if len(e.Missing)+len(e.Unused)+len(e.Mismatch)+len(e.Other) > 0 {
		return &e
	}
	for name, t := range found {
		p := byName[name].Param
		p.Value = t.To(p.Value.DType())
		p.Changed()
	}
	return nil
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

func ignored(name string, patterns []string) bool {
	for _, p := range patterns {
		if name == p || strings.HasSuffix(p, ".") && strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// StateDict returns the parameters of m by checkpoint name (the values, not copies).
func StateDict(m any) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, p := range Params(m) {
		out[p.Name] = p.Param.Value
	}
	return out
}

// MapSource is a Source over a map, for tests and conversions.
type MapSource map[string]*tensor.Tensor

// Names lists the tensors.
func (m MapSource) Names() []string {
	var n []string
	for k := range m {
		n = append(n, k)
	}
	return n
}

// Tensor returns one tensor.
func (m MapSource) Tensor(name string) (*tensor.Tensor, error) {
	t, ok := m[name]
	if !ok {
		return nil, fmt.Errorf("nn: no tensor %q", name)
	}
	return t, nil
}
