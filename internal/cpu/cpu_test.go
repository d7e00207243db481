package cpu

import (
	"strings"
	"testing"
)

func TestParseLevel(t *testing.T) {
	for s, want := range map[string]Level{"generic": Generic, "AVX2": AVX2, " avx512 ": AVX512} {
		got, err := ParseLevel(s)
		if err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"", "sse", "avx-512", "avx5120"} {
		if _, err := ParseLevel(s); err == nil || !strings.HasPrefix(err.Error(), "cpu: ") {
			t.Errorf("ParseLevel(%q): error %v, want a cpu: error", s, err)
		}
	}
	if Level(7).String() != "Level(7)" {
		t.Errorf("unknown level prints %q", Level(7).String())
	}
}

func TestCapAndRestore(t *testing.T) {
	before := Current()
	restore := Cap(Generic)
	if Current() != Generic {
		t.Fatalf("Cap(Generic): Current() = %v", Current())
	}
	if got := Supported(); len(got) != 1 || got[0] != Generic {
		t.Fatalf("Supported() under Cap(Generic) = %v", got)
	}
	inner := Cap(AVX512) // cannot raise above the processor or OPTIFORMER_CPU
	if Current() > Detected() {
		t.Fatalf("Cap(AVX512) raised Current to %v above Detected %v", Current(), Detected())
	}
	inner()
	if Current() != Generic {
		t.Fatalf("inner restore gave %v, want generic", Current())
	}
	restore()
	if Current() != before {
		t.Fatalf("restore gave %v, want %v", Current(), before)
	}
	if asm && Detected() != levelOf(Detect()) || !asm && Detected() != Generic {
		t.Fatalf("Detected %v does not follow the features %+v", Detected(), Detect())
	}
}

func TestLevelOf(t *testing.T) {
	base := Features{AVX2: true, FMA: true, BMI2: true}
	full := base
	full.AVX512F, full.AVX512BW, full.AVX512DQ, full.AVX512VL = true, true, true, true
	noBW := full
	noBW.AVX512BW = false
	noFMA := base
	noFMA.FMA = false
	for _, tc := range []struct {
		f    Features
		want Level
	}{{Features{}, Generic}, {base, AVX2}, {full, AVX512}, {noBW, AVX2}, {noFMA, Generic}} {
		if got := levelOf(tc.f); got != tc.want {
			t.Errorf("levelOf(%+v) = %v, want %v", tc.f, got, tc.want)
		}
	}
}

func TestFamily(t *testing.T) {
	f := NewFamily("test-family", "generic-impl")
	f.Add(AVX2, "avx2-impl")
	f.Add(AVX512, "avx512-impl")
	for _, l := range Supported() {
		restore := Cap(l)
		want := map[Level]string{Generic: "generic-impl", AVX2: "avx2-impl", AVX512: "avx512-impl"}[l]
		if got := f.Get(); got != want {
			t.Errorf("at %v Get() = %q, want %q", l, got, want)
		}
		restore()
	}
	if n := len(f.Impls()); n != int(Detected())+1 {
		t.Errorf("%d implementations kept, want %d (one per level up to %v)", n, Detected()+1, Detected())
	}
	if names := Families()["test-family"]; len(names) != len(f.Impls()) || names[0] != "generic" {
		t.Errorf("Families() lists %v", names)
	}
	mustPanic(t, "cpu: kernel family", func() { NewFamily("test-family", "again") })
	if Detected() >= AVX2 {
		mustPanic(t, "cpu: test-family: two implementations", func() { f.Add(AVX2, "dup") })
	}
}

func mustPanic(t *testing.T, prefix string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if s, _ := r.(string); !strings.HasPrefix(s, prefix) {
			t.Errorf("panic %v, want one starting %q", r, prefix)
		}
	}()
	fn()
}
