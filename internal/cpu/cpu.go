// Package cpu detects the SIMD features of the processor and keeps the registry of kernel
// variants, so that every kernel family picks its fastest implementation at run time and tests
// can force each one in turn.
//
// The environment variable OPTIFORMER_CPU=generic|avx2|avx512 caps the variant for the whole
// process (for debugging and benchmarks); Cap does the same for tests.
package cpu

import (
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/cpu"
)

// Level is an instruction-set level a kernel variant needs. Levels are ordered: a machine that
// runs one level runs every lower one.
type Level int32

const (
	// Generic is portable Go, always available.
	Generic Level = iota
	// AVX2 means AVX2, FMA3 and BMI2 (Haswell, Zen 1 and later).
	AVX2
	// AVX512 means AVX-512 F, BW, DQ and VL (Skylake-SP, Zen 4 and later).
	AVX512
)

var levelNames = [...]string{Generic: "generic", AVX2: "avx2", AVX512: "avx512"}

func (l Level) String() string {
	if l >= 0 && int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("Level(%d)", int32(l))
}

// ParseLevel parses "generic", "avx2" or "avx512" (case-insensitive).
func ParseLevel(s string) (Level, error) {
	for l, name := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), name) {
			return Level(l), nil
		}
	}
	return Generic, fmt.Errorf("cpu: unknown level %q (want generic, avx2 or avx512)", s)
}

// Features are the processor features the kernels care about.
type Features struct {
	AVX2, FMA, BMI2                       bool
	AVX512F, AVX512BW, AVX512DQ, AVX512VL bool
	VNNI                                  bool // AVX512_VNNI: VPDPBUSD on zmm
	AVXVNNI                               bool // VEX-encoded VPDPBUSD on ymm
}

var (
	features Features
	detected Level
	envLevel = Level(-1) // cap from OPTIFORMER_CPU, -1 when unset
	envErr   error
	current  atomic.Int32
)

func init() {
	features = Features{
		AVX2:     cpu.X86.HasAVX2,
		FMA:      cpu.X86.HasFMA,
		BMI2:     cpu.X86.HasBMI2,
		AVX512F:  cpu.X86.HasAVX512F,
		AVX512BW: cpu.X86.HasAVX512BW,
		AVX512DQ: cpu.X86.HasAVX512DQ,
		AVX512VL: cpu.X86.HasAVX512VL,
		VNNI:     cpu.X86.HasAVX512VNNI,
		AVXVNNI:  cpu.X86.HasAVXVNNI,
	}
	detected = levelOf(features)
	if !asm {
		detected = Generic
	}
	cur := detected
	if s, ok := os.LookupEnv("OPTIFORMER_CPU"); ok && s != "" {
		l, err := ParseLevel(s)
		if err != nil {
			envErr = fmt.Errorf("cpu: OPTIFORMER_CPU=%q: want generic, avx2 or avx512", s)
		} else {
			envLevel = l
			cur = min(cur, l)
		}
	}
	current.Store(int32(cur))
}

func levelOf(f Features) Level {
	switch {
	case f.AVX2 && f.FMA && f.BMI2 && f.AVX512F && f.AVX512BW && f.AVX512DQ && f.AVX512VL:
		return AVX512
	case f.AVX2 && f.FMA && f.BMI2:
		return AVX2
	}
	return Generic
}

// Detect returns the features of this processor (as the operating system enables them).
func Detect() Features { return features }

// Detected is the highest level this processor supports and this build has kernels for
// (Generic under -tags purego).
func Detected() Level { return detected }

// Current is the level kernels dispatch to: Detected, lowered by OPTIFORMER_CPU and Cap.
func Current() Level { return Level(current.Load()) }

// EnvError reports an OPTIFORMER_CPU value that could not be parsed (it is then ignored).
// Commands check it at start-up so a typo does not pass silently.
func EnvError() error { return envErr }

// Cap lowers the dispatch level to at most l (never above what the processor and
// OPTIFORMER_CPU allow) and returns a function that restores the previous level.
// It is meant for tests and benchmarks; it is not safe to call while kernels run elsewhere
// and expect them all to see the same level.
func Cap(l Level) (restore func()) {
	prev := current.Load()
	lim := detected
	if envLevel >= 0 {
		lim = min(lim, envLevel)
	}
	current.Store(int32(min(l, lim)))
	return func() { current.Store(prev) }
}

// Supported lists every level up to Current, lowest first: the variants a test should run.
func Supported() []Level {
	var ls []Level
	for l := Generic; l <= Current(); l++ {
		ls = append(ls, l)
	}
	return ls
}
