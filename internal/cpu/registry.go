package cpu

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Impl is one implementation of a kernel family.
type Impl[F any] struct {
	Name  string // e.g. "avx512"
	Level Level  // the level it needs
	Fn    F
}

// Family is the registry of the implementations of one kernel (GEMM micro-kernel, softmax row,
// ...). Get returns the best one for the current level; tests walk Impls.
type Family[F any] struct {
	name  string
	impls []Impl[F] // sorted by Level, at most one per level
}

var (
	familiesMu sync.Mutex
	families   = map[string]func() []string{}
)

// NewFamily makes a family whose generic implementation is fn. Generic must always exist:
// it is what -tags purego and other architectures run.
func NewFamily[F any](name string, generic F) *Family[F] {
	f := &Family[F]{name: name, impls: []Impl[F]{{Name: Generic.String(), Level: Generic, Fn: generic}}}
	familiesMu.Lock()
	defer familiesMu.Unlock()
	if _, dup := families[name]; dup {
		panic(fmt.Sprintf("cpu: kernel family %q registered twice", name))
	}
	families[name] = f.names
	return f
}

// Add registers an implementation for level l. Implementations above what the processor
// supports are dropped, so Get never returns one that would fault.
func (f *Family[F]) Add(l Level, fn F) {
	if l > detected {
		return
	}
	for _, im := range f.impls {
		if im.Level == l {
			panic(fmt.Sprintf("cpu: %s: two implementations for %s", f.name, l))
		}
	}
	f.impls = append(f.impls, Impl[F]{Name: l.String(), Level: l, Fn: fn})
	sort.Slice(f.impls, func(i, j int) bool { return f.impls[i].Level < f.impls[j].Level })
}

// Get returns the implementation with the highest level not above Current.
func (f *Family[F]) Get() F { return f.Best().Fn }

// Best is Get with the implementation's name and level.
func (f *Family[F]) Best() Impl[F] {
	cur := Current()
	for i := len(f.impls) - 1; i > 0; i-- {
		if f.impls[i].Level <= cur {
			return f.impls[i]
		}
	}
	return f.impls[0]
}

// Impls lists the implementations this processor can run, lowest level first.
func (f *Family[F]) Impls() []Impl[F] { return slices.Clone(f.impls) }

// Name is the family's name.
func (f *Family[F]) Name() string { return f.name }

func (f *Family[F]) names() []string {
	var s []string
	for _, im := range f.impls {
		s = append(s, im.Name)
	}
	return s
}

// Families lists every registered family and the implementations this processor can run,
// for `optiformer bench` and debugging output.
func Families() map[string][]string {
	familiesMu.Lock()
	defer familiesMu.Unlock()
	out := make(map[string][]string, len(families))
	for name, fn := range families {
		out[name] = fn()
	}
	return out
}
