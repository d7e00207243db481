package hf

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type decSeq []decoder

func (s decSeq) decodeChain(toks []string) ([]string, error) {
	var err error
	for _, d := range s {
		if toks, err = d.decodeChain(toks); err != nil {
			return nil, err
		}
	}
	return toks, nil
}

var cleanupReplacer = []struct{ old, new string }{
	{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"}, {" n't", "n't"},
	{" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"},
}

// cleanup is the WordPiece decoder's cleanup (replacements applied one after the other).
func cleanup(s string) string {
	if !strings.Contains(s, " ") {
		return s
	}
	for _, r := range cleanupReplacer {
		s = strings.ReplaceAll(s, r.old, r.new)
	}
	return s
}

type wordPieceDecoder struct {
	prefix  string
	cleanup bool
}

func (w wordPieceDecoder) decodeChain(toks []string) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		if i != 0 {
			if strings.HasPrefix(t, w.prefix) {
				t = strings.Replace(t, w.prefix, "", 1)
			} else {
				t = " " + t
			}
		}
		if w.cleanup {
			t = cleanup(t)
		}
		out[i] = t
	}
	return out, nil
}

type bpeDecoder struct{ suffix string }

func (b bpeDecoder) decodeChain(toks []string) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		repl := " "
		if i == len(toks)-1 {
			repl = ""
		}
		if b.suffix == "" {
			// Rust's str::replace with an empty pattern inserts at every char boundary
			var sb strings.Builder
			sb.WriteString(repl)
			for _, r := range t {
				sb.WriteRune(r)
				sb.WriteString(repl)
			}
			out[i] = sb.String()
			continue
		}
		out[i] = strings.ReplaceAll(t, b.suffix, repl)
	}
	return out, nil
}

type byteFallbackDecoder struct{}

func parseByteToken(t string) (byte, bool) {
	if len(t) != 6 || !strings.HasPrefix(t, "<0x") || t[5] != '>' {
		return 0, false
	}
	h := t[3:5]
	if h[0] == '+' {
		h = h[1:]
	}
	v, err := strconv.ParseUint(h, 16, 8)
	if err != nil {
		return 0, false
	}
	return byte(v), true
}

func (byteFallbackDecoder) decodeChain(toks []string) ([]string, error) {
	var out []string
	var pending []byte
	flush := func() {
		if len(pending) == 0 {
			return
		}
		if utf8.Valid(pending) {
			out = append(out, string(pending))
		} else {
			for range pending {
				out = append(out, "\uFFFD")
			}
		}
		pending = pending[:0]
	}
	for _, t := range toks {
		if b, ok := parseByteToken(t); ok {
			pending = append(pending, b)
			continue
		}
		flush()
		out = append(out, t)
	}
	flush()
	return out, nil
}

type fuseDecoder struct{}

func (fuseDecoder) decodeChain(toks []string) ([]string, error) {
	return []string{strings.Join(toks, "")}, nil
}

type stripDecoder struct {
	content     rune
	start, stop int
}

func (s stripDecoder) decodeChain(toks []string) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		rs := []rune(t)
		startCut := 0
		for k := 0; k < s.start && k < len(rs); k++ {
			if rs[k] != s.content {
				break
			}
			startCut = k + 1
		}
		stopCut := len(rs)
		for k := 0; k < s.stop && k < len(rs); k++ {
			idx := len(rs) - k - 1
			if rs[idx] != s.content {
				break
			}
			stopCut = idx
		}
		if startCut > stopCut {
			startCut = stopCut
		}
		out[i] = string(rs[startCut:stopCut])
	}
	return out, nil
}

type replaceDecoder struct {
	pat     pattern
	content string
}

func (r replaceDecoder) decodeChain(toks []string) ([]string, error) {
	out := make([]string, len(toks))
	for i, t := range toks {
		ms, err := r.pat.findMatches(t)
		if err != nil {
			return nil, err
		}
		var b strings.Builder
		for _, m := range ms {
			if m.match {
				b.WriteString(r.content)
			} else {
				b.WriteString(t[m.s:m.e])
			}
		}
		out[i] = b.String()
	}
	return out, nil
}

type ctcDecoder struct {
	pad, delim string
	cleanup    bool
}

func (c ctcDecoder) decodeChain(toks []string) ([]string, error) {
	var out []string
	for i, t := range toks {
		if i > 0 && toks[i-1] == t {
			continue
		}
		if c.pad != "" {
			t = strings.ReplaceAll(t, c.pad, "")
		}
		if c.cleanup {
			t = cleanup(t)
			if c.delim != "" {
				t = strings.ReplaceAll(t, c.delim, " ")
			}
		}
		if t != "" {
			out = append(out, t)
		}
	}
	return out, nil
}
