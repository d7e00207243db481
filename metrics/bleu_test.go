package metrics

import (
	"math"
	"strings"
	"testing"
)

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol || math.IsNaN(got) {
		t.Errorf("%s = %.12g, want %.12g", what, got, want)
	}
}

// Cases from sacreBLEU's own test suite (test/test_bleu.py), README example.
var readmeRefs = [][]string{
	{"The dog bit the man.", "It was not unexpected.", "The man bit him first."},
	{"The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."},
}
var readmeHyps = []string{"The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."}

func TestCorpusBLEUSacreBLEUSuite(t *testing.T) {
	for _, tc := range []struct {
		hyps []string
		opts BLEUOptions
		want float64
	}{
		{readmeHyps, BLEUOptions{}, 48.530827},
		{[]string{"", "", ""}, BLEUOptions{}, 0},
		{readmeHyps, BLEUOptions{Tokenize: "none"}, 49.1919566},
		{readmeHyps, BLEUOptions{Tokenize: "13a"}, 48.530827},
		{readmeHyps, BLEUOptions{Tokenize: "intl"}, 43.91623493},
		{readmeHyps, BLEUOptions{Smooth: "none"}, 48.530827},
	} {
		got, err := CorpusBLEU(tc.hyps, readmeRefs, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "BLEU "+strings.Join(tc.hyps, "|")+" "+tc.opts.Tokenize+tc.opts.Smooth, got.Score, tc.want, 1e-6)
	}
}

// raw is sacreBLEU's old raw_corpus_bleu: floor smoothing, no tokenization, effective order.
func raw(hyp, ref string, floor float64) (BLEUScore, error) {
	return CorpusBLEU([]string{hyp}, [][]string{{ref}}, BLEUOptions{Tokenize: "none", Smooth: "floor", SmoothValue: floor, EffectiveOrder: true})
}

func TestBLEUSacreBLEUSuiteRaw(t *testing.T) {
	for _, tc := range []struct {
		hyp, ref string
		want     float64
	}{
		{"this is a test", "this is a test", 1},
		{"this is a fest", "this is a test", 0.223606797749979},
		{"test", "a test", 0.3678794411714425},
		{"a test", "a test", 1},
		{"a little test", "a test", 0.03218297948685433},
	} {
		got, err := raw(tc.hyp, tc.ref, 0.01)
		if err != nil {
			t.Fatal(err)
		}
		near(t, tc.hyp+" vs "+tc.ref, got.Score/100, tc.want, 1e-8)
	}
	// #141: no match at all gives 0, whatever the smoothing.
	got, err := CorpusBLEU([]string{"this is a test", "another test"}, [][]string{{"ref1", "ref2"}},
		BLEUOptions{Tokenize: "none", Smooth: "floor", SmoothValue: 0.01, EffectiveOrder: true})
	if err != nil || got.Score != 0 {
		t.Errorf("no matches: %v, %v", got.Score, err)
	}
	// Statistics and the default floor value 0.1.
	got, err = raw("am I am a character sequence", "I am a symbol string sequence a a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(got.Counts, []int{4, 2, 1, 0}) || !equalInts(got.Totals, []int{6, 5, 4, 3}) {
		t.Errorf("counts %v totals %v", got.Counts, got.Totals)
	}
	near(t, "floor 0.1", got.Score/100, 0.1555722182, 1e-8)
	if got.Signature != "nrefs:1|case:mixed|eff:yes|tok:none|smooth:floor[0.10]|version:2.6.0" {
		t.Errorf("signature %q", got.Signature)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestComputeBLEUSacreBLEUSuite(t *testing.T) {
	c, _ := BLEUOptions{Smooth: "none"}.config()
	s := c.compute(bleuStats{sysLen: 11, refLen: 11, correct: []int{9, 7, 5, 3}, total: []int{10, 8, 6, 4}})
	near(t, "compute_bleu", s.Score/100, 0.8375922397, 1e-8)
	// Degenerate statistics with floor smoothing score exactly 0.
	for _, tc := range []struct {
		correct, total []int
		sysLen, refLen int
		floor          float64
	}{
		{[]int{0, 0, 0, 0}, []int{4, 4, 2, 1}, 0, 1, 0.1},
		{[]int{0, 0, 0, 0}, []int{10, 11, 12, 0}, 14, 10, 0.1},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 0, 0, 0.1},
		{[]int{0, 0, 0, 0}, []int{0, 0, 0, 0}, 1, 5, 0.01},
	} {
		c, _ := BLEUOptions{Smooth: "floor", SmoothValue: tc.floor}.config()
		if s := c.compute(bleuStats{sysLen: tc.sysLen, refLen: tc.refLen, correct: tc.correct, total: tc.total}); s.Score != 0 {
			t.Errorf("degenerate %v/%v: score %v", tc.correct, tc.total, s.Score)
		}
	}
}

func TestBLEUSmoothingMethods(t *testing.T) {
	hyp, ref := "the cat sat on a mat", "the cat is on the mat"
	// counts [4 1 0 0], totals [6 5 4 3], equal lengths (BP 1).
	for _, tc := range []struct {
		smooth string
		value  float64
		want   float64
		sig    string
	}{
		{"none", 0, 0, "none"},
		{"exp", 0, 100 * math.Pow(4.0/6*1.0/5*1.0/(2*4)*1.0/(4*3), 0.25), "exp"},
		{"floor", 0, 100 * math.Pow(4.0/6*1.0/5*0.1/4*0.1/3, 0.25), "floor[0.10]"},
		{"floor", 0.5, 100 * math.Pow(4.0/6*1.0/5*0.5/4*0.5/3, 0.25), "floor[0.50]"},
		{"add-k", 0, 100 * math.Pow(4.0/6*2.0/6*1.0/5*1.0/4, 0.25), "add-k[1.00]"},
		{"add-k", 2, 100 * math.Pow(4.0/6*3.0/7*2.0/6*2.0/5, 0.25), "add-k[2.00]"},
	} {
		got, err := SentenceBLEU(hyp, []string{ref}, BLEUOptions{Smooth: tc.smooth, SmoothValue: tc.value})
		if err != nil {
			t.Fatal(err)
		}
		near(t, tc.smooth, got.Score, tc.want, 1e-9)
		if want := "nrefs:1|case:mixed|eff:no|tok:13a|smooth:" + tc.sig + "|version:2.6.0"; got.Signature != want {
			t.Errorf("signature %q, want %q", got.Signature, want)
		}
		if !equalInts(got.Counts, []int{4, 1, 0, 0}) {
			t.Errorf("%s counts %v", tc.smooth, got.Counts)
		}
	}
}

func TestBLEUEdgeCases(t *testing.T) {
	// Identical texts score 100 whatever the order and length.
	for _, s := range []string{"a", "a b", "Ein Hund läuft.", "  spaced\tout  ", "日本語のテキスト。"} {
		got, err := SentenceBLEU(s, []string{s}, BLEUOptions{EffectiveOrder: true})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "identical "+s, got.Score, 100, 1e-9)
	}
	// Empty hypothesis: score 0, BP 0.
	got, err := SentenceBLEU("", []string{"a reference"}, BLEUOptions{EffectiveOrder: true})
	if err != nil || got.Score != 0 || got.BP != 0 || got.SysLen != 0 || got.RefLen != 2 {
		t.Errorf("empty hypothesis: %+v %v", got, err)
	}
	if got.String() != "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 0.000 ratio = 0.000 hyp_len = 0 ref_len = 2)" {
		t.Errorf("format %q", got.String())
	}
	// All references empty: they count, with length 0 (sacreBLEU ≥ 2.? keeps "" references).
	got, err = CorpusBLEU([]string{"a b c", "d"}, [][]string{{"", ""}, {"", ""}}, BLEUOptions{})
	if err != nil || got.Score != 0 || got.RefLen != 0 || got.BP != 1 || got.SysLen != 4 {
		t.Errorf("empty references: %+v %v", got, err)
	}
	if got.Signature != "nrefs:2|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0" {
		t.Errorf("signature %q", got.Signature)
	}
	// Closest reference length, the shorter one on ties: hyp 3 tokens, refs of 2 and 4.
	got, _ = CorpusBLEU([]string{"a b c"}, [][]string{{"a b c d"}, {"a b"}}, BLEUOptions{})
	if got.RefLen != 2 {
		t.Errorf("tie rule: ref_len %d, want 2", got.RefLen)
	}
	// Max-over-references clipping: "the the the" against two references.
	got, _ = CorpusBLEU([]string{"the the the"}, [][]string{{"the cat"}, {"the the dog"}}, BLEUOptions{})
	if got.Counts[0] != 2 {
		t.Errorf("clipping: counts %v", got.Counts)
	}
	// Lowercase.
	lc, _ := SentenceBLEU("THE CAT", []string{"the cat"}, BLEUOptions{Lowercase: true, EffectiveOrder: true})
	mc, _ := SentenceBLEU("THE CAT", []string{"the cat"}, BLEUOptions{EffectiveOrder: true})
	if math.Abs(lc.Score-100) > 1e-9 || mc.Score != 0 || !strings.Contains(lc.Signature, "case:lc") {
		t.Errorf("lowercase %v mixed %v %q", lc.Score, mc.Score, lc.Signature)
	}
}

func TestBLEUErrors(t *testing.T) {
	for _, tc := range []struct {
		hyps []string
		refs [][]string
		opts BLEUOptions
	}{
		{nil, [][]string{{}}, BLEUOptions{}},
		{[]string{"a"}, nil, BLEUOptions{}},
		{[]string{"a", "b"}, [][]string{{"a"}}, BLEUOptions{}},
		{[]string{"a"}, [][]string{{"a"}, {"a", "b"}}, BLEUOptions{}},
		{[]string{"a"}, [][]string{{"a"}}, BLEUOptions{Tokenize: "zh"}},
		{[]string{"a"}, [][]string{{"a"}}, BLEUOptions{Smooth: "laplace"}},
		{[]string{"a"}, [][]string{{"a"}}, BLEUOptions{MaxNgramOrder: -1}},
		{[]string{"a"}, [][]string{{"a"}}, BLEUOptions{Smooth: "floor", SmoothValue: math.NaN()}},
	} {
		if _, err := CorpusBLEU(tc.hyps, tc.refs, tc.opts); err == nil || !strings.HasPrefix(err.Error(), "metrics: ") {
			t.Errorf("CorpusBLEU(%q, %q, %+v): error %v", tc.hyps, tc.refs, tc.opts, err)
		}
	}
	if _, err := SentenceBLEU("a", nil, BLEUOptions{}); err == nil {
		t.Error("SentenceBLEU without references: no error")
	}
}

func TestTokenize13a(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"Hello, world!", "Hello , world !"},
		{"It costs $1,000.50 in 2019-2020.", "It costs $ 1,000.50 in 2019 - 2020 ."},
		{"e.g. U.S.A.", "e . g . U . S . A ."},
		{"&quot;Hi&quot; &amp; &lt;b&gt;", `" Hi " & < b >`},
		{"<skipped>one two-\nthree\nfour", "one twothree four"},
		{"don't (sic) [x] {y}", "don't ( sic ) [ x ] { y }"},
		{"a/b@c#d", "a / b @ c # d"},
		{"Grüße, Straße.", "Grüße , Straße ."},
		{"x-y 3-x", "x-y 3 - x"},
		{"\u3000wide\u00a0space\x1c", "wide space"},
	} {
		if got := Tokenize13a(tc.in); got != tc.want {
			t.Errorf("Tokenize13a(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTokenizeIntl(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello, world!", "Hello , world !"},
		{"1,000.5 and 3.", "1,000.5 and 3."},
		{"«Bonjour», dit-il…", "« Bonjour » , dit - il …"},
		{"€5 + 3 = 8", "€ 5 + 3 = 8"},
	} {
		if got := TokenizeIntl(tc.in); got != tc.want {
			t.Errorf("TokenizeIntl(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
