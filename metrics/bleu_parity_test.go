package metrics

import (
	"fmt"
	"testing"
)

type refBLEU struct {
	Score      float64   `json:"score"`
	Counts     []int     `json:"counts"`
	Totals     []int     `json:"totals"`
	Precisions []float64 `json:"precisions"`
	BP         float64   `json:"bp"`
	SysLen     int       `json:"sys_len"`
	RefLen     int       `json:"ref_len"`
	Formatted  string    `json:"formatted"`
}

type refScore struct {
	Score float64 `json:"score"`
}

type multi30kFile struct {
	Meta struct {
		Version    string            `json:"version"`
		Signatures map[string]string `json:"signatures"`
	} `json:"meta"`
	Sources    []string `json:"sources"`
	References []string `json:"references"`
	Systems    map[string]struct {
		Hypotheses []string `json:"hypotheses"`
		Corpus     struct {
			BLEU   refBLEU  `json:"bleu"`
			BLEULc refBLEU  `json:"bleu_lc"`
			CHRF   refScore `json:"chrf"`
			CHRFpp refScore `json:"chrf++"`
		} `json:"corpus"`
	} `json:"systems"`
	MultiReference struct {
		Hypotheses    string   `json:"hypotheses"`
		References    []string `json:"references"`
		BLEU          refBLEU  `json:"bleu"`
		CHRF          refScore `json:"chrf"`
		SignatureBLEU string   `json:"signature_bleu"`
		SignatureCHRF string   `json:"signature_chrf"`
	} `json:"multi_reference"`
	SentenceLevel []struct {
		Line      int    `json:"line"`
		Reference string `json:"reference"`
		Systems   map[string]struct {
			Hypothesis string  `json:"hypothesis"`
			BLEU       refBLEU `json:"bleu"`
			CHRF       float64 `json:"chrf"`
			CHRFpp     float64 `json:"chrf++"`
		} `json:"systems"`
	} `json:"sentence_level"`
}

func (p *parity) bleu(where string, got BLEUScore, want refBLEU, sig string) {
	p.float(where+".score", got.Score, want.Score)
	p.float(where+".bp", got.BP, want.BP)
	p.int(where+".sys_len", got.SysLen, want.SysLen)
	p.int(where+".ref_len", got.RefLen, want.RefLen)
	p.int(where+".len(counts)", len(got.Counts), len(want.Counts))
	for i := range min(len(got.Counts), len(want.Counts)) {
		p.int(fmt.Sprintf("%s.counts[%d]", where, i), got.Counts[i], want.Counts[i])
		p.int(fmt.Sprintf("%s.totals[%d]", where, i), got.Totals[i], want.Totals[i])
		p.float(fmt.Sprintf("%s.precisions[%d]", where, i), got.Precisions[i], want.Precisions[i])
	}
	p.str(where+".formatted", got.String(), want.Formatted)
	p.str(where+".signature", got.Signature, sig)
}

func TestBLEUCHRFParityMulti30k(t *testing.T) {
	var f multi30kFile
	readJSONGz(t, "multi30k-val-en-de.json.gz", &f)
	if f.Meta.Version != SacreBLEUVersion {
		t.Fatalf("reference vectors are from sacreBLEU %s, package mirrors %s", f.Meta.Version, SacreBLEUVersion)
	}
	p := &parity{t: t, file: "multi30k-val-en-de.json"}
	sigs := f.Meta.Signatures
	refs := [][]string{f.References}
	chrfpp := CHRFOptions{WordOrder: 2}
	if len(f.Systems) != 3 || len(f.SentenceLevel) != 50 {
		t.Fatalf("unexpected reference file shape: %d systems, %d sentence cases", len(f.Systems), len(f.SentenceLevel))
	}
	for name, sys := range f.Systems {
		got, err := CorpusBLEU(sys.Hypotheses, refs, BLEUOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.bleu(name+".corpus.bleu", got, sys.Corpus.BLEU, sigs["bleu"])
		got, err = CorpusBLEU(sys.Hypotheses, refs, BLEUOptions{Lowercase: true})
		if err != nil {
			t.Fatal(err)
		}
		p.bleu(name+".corpus.bleu_lc", got, sys.Corpus.BLEULc, sigs["bleu_lc"])
		c, err := CorpusCHRF(sys.Hypotheses, refs, CHRFOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.float(name+".corpus.chrf", c.Score, sys.Corpus.CHRF.Score)
		p.str(name+".corpus.chrf.signature", c.Signature, sigs["chrf"])
		c, err = CorpusCHRF(sys.Hypotheses, refs, chrfpp)
		if err != nil {
			t.Fatal(err)
		}
		p.float(name+".corpus.chrf++", c.Score, sys.Corpus.CHRFpp.Score)
		p.str(name+".corpus.chrf++.signature", c.Signature, sigs["chrf++"])
	}

	mr := f.MultiReference
	var mrefs [][]string
	for _, r := range mr.References {
		if r == "references" {
			mrefs = append(mrefs, f.References)
		} else {
			mrefs = append(mrefs, f.Systems[r].Hypotheses)
		}
	}
	hyps := f.Systems[mr.Hypotheses].Hypotheses
	got, err := CorpusBLEU(hyps, mrefs, BLEUOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.bleu("multi_reference.bleu", got, mr.BLEU, mr.SignatureBLEU)
	c, err := CorpusCHRF(hyps, mrefs, CHRFOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.float("multi_reference.chrf", c.Score, mr.CHRF.Score)
	p.str("multi_reference.chrf.signature", c.Signature, mr.SignatureCHRF)

	sent := BLEUOptions{EffectiveOrder: true}
	for _, sl := range f.SentenceLevel {
		if sl.Reference != f.References[sl.Line] {
			t.Fatalf("sentence case %d: reference differs from the corpus line", sl.Line)
		}
		for name, sys := range sl.Systems {
			where := fmt.Sprintf("sentence_level[line %d].%s", sl.Line, name)
			got, err := SentenceBLEU(sys.Hypothesis, []string{sl.Reference}, sent)
			if err != nil {
				t.Fatal(err)
			}
			p.bleu(where+".bleu", got, sys.BLEU, sigs["sentence_bleu"])
			c, err := SentenceCHRF(sys.Hypothesis, []string{sl.Reference}, CHRFOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.float(where+".chrf", c.Score, sys.CHRF)
			p.str(where+".chrf.signature", c.Signature, sigs["sentence_chrf"])
			c, err = SentenceCHRF(sys.Hypothesis, []string{sl.Reference}, chrfpp)
			if err != nil {
				t.Fatal(err)
			}
			p.float(where+".chrf++", c.Score, sys.CHRFpp)
			p.str(where+".chrf++.signature", c.Signature, sigs["sentence_chrf++"])
		}
	}
	p.done()
}
