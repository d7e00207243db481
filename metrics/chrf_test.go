package metrics

import (
	"strings"
	"testing"
)

// Cases from sacreBLEU's own test suite (test/test_chrf.py); its tolerance is 1e-4.
func TestCHRFSacreBLEUSuite(t *testing.T) {
	eps := CHRFOptions{Beta: 3, EpsSmoothing: true}
	eff := CHRFOptions{Beta: 3}
	ws := CHRFOptions{Beta: 3, Whitespace: true}
	for _, tc := range []struct {
		hyps, refs []string
		opts       CHRFOptions
		want       float64
	}{
		{[]string{"abcdefg"}, []string{"hijklmnop"}, eps, 0},
		{[]string{"a"}, []string{"b"}, eps, 0},
		{[]string{""}, []string{"b"}, eps, 0},
		{[]string{""}, []string{"ref"}, eps, 0},
		{[]string{""}, []string{"reference"}, eps, 0},
		{[]string{"aa"}, []string{"ab"}, eps, 8.3333},
		{[]string{"a", "b"}, []string{"a", "c"}, eps, 8.3333},
		{[]string{"a"}, []string{"a"}, eps, 16.6667},
		{[]string{"a b c"}, []string{"a b c"}, eps, 50},
		{[]string{"a b c"}, []string{"abc"}, eps, 50},
		{[]string{" risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, eps, 63.361730},
		{[]string{" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. "},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, eps, 64.1302698},
		{[]string{"Niemand hat die Absicht, eine Mauer zu errichten"}, []string{"Niemand hat die Absicht, eine Mauer zu errichten"}, eps, 100},
		{[]string{"a"}, []string{"a"}, eff, 100},
		{[]string{""}, []string{"reference"}, eff, 0},
		{[]string{"a b c"}, []string{"a b c"}, eff, 100},
		{[]string{"a b c"}, []string{"abc"}, eff, 100},
		{[]string{""}, []string{"c"}, eff, 0},
		{[]string{"a", "b"}, []string{"a", "c"}, eff, 50},
		{[]string{"aa"}, []string{"ab"}, eff, 25},
		{[]string{"Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich."},
			[]string{"Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich."}, ws, 67.3481606},
		{[]string{"risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists ."},
			[]string{"risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists ."}, ws, 65.2414427},
	} {
		got, err := CorpusCHRF(tc.hyps, [][]string{tc.refs}, tc.opts)
		if err != nil {
			t.Fatal(err)
		}
		near(t, "chrF "+strings.Join(tc.hyps, "|"), got.Score, tc.want, 1e-4)
	}
	for _, tc := range []struct {
		hyp, ref string
		want     float64
	}{
		{"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
			"Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.", 39.14078509},
		{"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
			"A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
		{"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
			"Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, připomněli.", 57.15704367},
	} {
		got, err := SentenceCHRF(tc.hyp, []string{tc.ref}, CHRFOptions{EpsSmoothing: true})
		if err != nil {
			t.Fatal(err)
		}
		near(t, "sentence chrF "+tc.hyp, got.Score, tc.want, 1e-4)
		if got.Signature != "nrefs:1|case:mixed|eff:no|nc:6|nw:0|space:no|version:2.6.0" {
			t.Errorf("signature %q", got.Signature)
		}
	}
}

func TestCHRFEdgeCases(t *testing.T) {
	for _, opts := range []CHRFOptions{{}, {WordOrder: 2}, {Lowercase: true}, {Whitespace: true}, {EpsSmoothing: true}} {
		for _, s := range []string{"a", "Ein Hund.", "naïve café — ok", "日本語"} {
			got, err := SentenceCHRF(s, []string{s}, opts)
			if err != nil {
				t.Fatal(err)
			}
			if opts.EpsSmoothing && len([]rune(s)) < 6 {
				continue // missing orders are smoothed with 1e-16, not skipped
			}
			near(t, "identical "+s, got.Score, 100, 1e-9)
		}
	}
	// Empty hypothesis, empty reference, both empty.
	for _, tc := range [][2]string{{"", "ref"}, {"hyp", ""}, {"", ""}} {
		got, err := SentenceCHRF(tc[0], []string{tc[1]}, CHRFOptions{WordOrder: 2})
		if err != nil || got.Score != 0 {
			t.Errorf("%q vs %q: %v %v", tc[0], tc[1], got.Score, err)
		}
	}
	// The best reference wins.
	one, _ := SentenceCHRF("the cat", []string{"a dog"}, CHRFOptions{})
	two, _ := SentenceCHRF("the cat", []string{"a dog", "the cat"}, CHRFOptions{})
	if one.Score >= two.Score || two.Score != 100 || two.Signature[:7] != "nrefs:2" {
		t.Errorf("multi-reference: %v %v %q", one.Score, two.Score, two.Signature)
	}
	if s := (CHRFScore{Score: 67.646, Beta: 2, WordOrder: 2}).String(); s != "chrF2++ = 67.65" {
		t.Errorf("format %q", s)
	}
	if got := chrfWords("(hi) there, x! ?"); strings.Join(got, "|") != "(hi|)|there|,|x|!|?" {
		t.Errorf("chrfWords: %q", got)
	}
	if _, err := CorpusCHRF([]string{"a"}, [][]string{{"a", "b"}}, CHRFOptions{}); err == nil {
		t.Error("count mismatch: no error")
	}
	if _, err := CorpusCHRF([]string{"a"}, [][]string{{"a"}}, CHRFOptions{CharOrder: -1}); err == nil {
		t.Error("negative order: no error")
	}
	if _, err := SentenceCHRF("a", nil, CHRFOptions{}); err == nil {
		t.Error("no references: no error")
	}
}
