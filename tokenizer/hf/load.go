package hf

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/charsmap"
)

// Limits on what a tokenizer.json may declare.
const (
	// MaxFileSize bounds the files Load reads.
	MaxFileSize = 1 << 30
	// MaxVocab bounds the number of vocabulary entries, merges and ids (ids are in
	// [0, MaxVocab)).
	MaxVocab = 1 << 24
	// MaxAddedTokens bounds added_tokens.
	MaxAddedTokens = 1 << 20
	// maxDepth bounds the nesting of Sequence components.
	maxDepth = 64
	// maxTemplate bounds template pieces and special tokens.
	maxTemplate = 1 << 12
	// maxCharsmap bounds the decoded precompiled_charsmap (real ones are about 300 KB).
	maxCharsmap = 64 << 20
)

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("hf: %s: file exceeds the limit of %d bytes", path, MaxFileSize)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// loadErr is an error about one field of the file.
func loadErr(path, format string, args ...any) error {
	return fmt.Errorf("hf: %s: %s", path, fmt.Sprintf(format, args...))
}

type jobj map[string]json.RawMessage

func isNull(r json.RawMessage) bool {
	r = bytes.TrimSpace(r)
	return len(r) == 0 || string(r) == "null"
}

func parseObj(r json.RawMessage, path string) (jobj, error) {
	var m jobj
	if err := json.Unmarshal(r, &m); err != nil || m == nil {
		return nil, loadErr(path, "expected a JSON object")
	}
	return m, nil
}

func (m jobj) str(key, path string, def string) (string, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return "", loadErr(path+"."+key, "expected a string")
	}
	return s, nil
}

// optStr returns the string, or has false for a missing or null value.
func (m jobj) optStr(key, path string) (string, bool, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return "", false, loadErr(path+"."+key, "expected a string or null")
	}
	return s, true, nil
}

func (m jobj) boolean(key, path string, def bool) (bool, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return def, nil
	}
	var b bool
	if err := json.Unmarshal(r, &b); err != nil {
		return false, loadErr(path+"."+key, "expected true or false")
	}
	return b, nil
}

// integer reads a non-negative integer no larger than limit.
func (m jobj) integer(key, path string, def, limit int) (int, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return def, nil
	}
	return parseInt(r, path+"."+key, limit)
}

func parseInt(r json.RawMessage, path string, limit int) (int, error) {
	s := string(bytes.TrimSpace(r))
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, loadErr(path, "expected an integer, got %.40s", s)
		}
		if f < 0 || f > float64(limit) {
			return 0, loadErr(path, "%s is out of range [0, %d]", s, limit)
		}
		v = int64(f)
	}
	if v < 0 || v > int64(limit) {
		return 0, loadErr(path, "%d is out of range [0, %d]", v, limit)
	}
	return int(v), nil
}

// oneRune reads a string of exactly one char (a Rust char field).
func (m jobj) oneRune(key, path string, def rune) (rune, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return 0, loadErr(path+"."+key, "expected a string of one char")
	}
	c, sz := utf8.DecodeRuneInString(s)
	if sz == 0 || sz != len(s) {
		return 0, loadErr(path+"."+key, "expected one char, got %q", s)
	}
	return c, nil
}

func typeOf(m jobj, path string) (string, error) {
	t, ok, err := m.optStr("type", path)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", loadErr(path, "missing \"type\"")
	}
	return t, nil
}

func parseArray(r json.RawMessage, path string, limit int) ([]json.RawMessage, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(r, &a); err != nil {
		return nil, loadErr(path, "expected an array")
	}
	if len(a) > limit {
		return nil, loadErr(path, "%d entries exceed the limit of %d", len(a), limit)
	}
	return a, nil
}

// Parse parses tokenizer.json data.
func Parse(data []byte) (*Tokenizer, error) {
	var top jobj
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("hf: tokenizer.json: %v", err)
	}
	if top == nil {
		return nil, errors.New("hf: tokenizer.json: expected a JSON object")
	}
	if v, ok, err := top.optStr("version", "tokenizer"); err != nil {
		return nil, err
	} else if ok && v != "1.0" {
		return nil, loadErr("version", "unknown tokenizer version %q", v)
	}
	t := &Tokenizer{added: newAddedVocab()}
	raw, ok := top["model"]
	if !ok || isNull(raw) {
		return nil, loadErr("model", "missing")
	}
	var err error
	if t.model, err = parseModel(raw, "model"); err != nil {
		return nil, err
	}
	if r, ok := top["normalizer"]; ok && !isNull(r) {
		if t.normalizer, err = parseNormalizer(r, "normalizer", 0); err != nil {
			return nil, err
		}
	}
	if r, ok := top["pre_tokenizer"]; ok && !isNull(r) {
		if t.preTokenizer, err = parsePreTokenizer(r, "pre_tokenizer", 0); err != nil {
			return nil, err
		}
	}
	if r, ok := top["post_processor"]; ok && !isNull(r) {
		if t.post, err = parsePost(r, "post_processor", 0); err != nil {
			return nil, err
		}
	}
	if r, ok := top["decoder"]; ok && !isNull(r) {
		if t.decoder, err = parseDecoder(r, "decoder", 0); err != nil {
			return nil, err
		}
	}
	if r, ok := top["truncation"]; ok && !isNull(r) {
		if t.Truncation, err = parseTruncation(r); err != nil {
			return nil, err
		}
	}
	if r, ok := top["padding"]; ok && !isNull(r) {
		if t.Padding, err = parsePadding(r); err != nil {
			return nil, err
		}
	}
	if r, ok := top["added_tokens"]; ok && !isNull(r) {
		if err := t.parseAdded(r); err != nil {
			return nil, err
		}
	}
	normalize := func(s string) (string, error) {
		if t.normalizer == nil {
			return s, nil
		}
		n := newNstr(s)
		if err := t.normalizer.normalize(n); err != nil {
			return "", err
		}
		return n.norm, nil
	}
	if err := t.added.refresh(normalize); err != nil {
		return nil, fmt.Errorf("hf: added_tokens: %w", err)
	}
	return t, nil
}

func (t *Tokenizer) parseAdded(r json.RawMessage) error {
	arr, err := parseArray(r, "added_tokens", MaxAddedTokens)
	if err != nil {
		return err
	}
	for i, x := range arr {
		path := fmt.Sprintf("added_tokens[%d]", i)
		m, err := parseObj(x, path)
		if err != nil {
			return err
		}
		var a addedToken
		if a.content, err = m.str("content", path, ""); err != nil {
			return err
		}
		if _, ok := m["content"]; !ok {
			return loadErr(path, "missing \"content\"")
		}
		if a.id, err = m.integer("id", path, 0, MaxVocab-1); err != nil {
			return err
		}
		if a.singleWord, err = m.boolean("single_word", path, false); err != nil {
			return err
		}
		if a.lstrip, err = m.boolean("lstrip", path, false); err != nil {
			return err
		}
		if a.rstrip, err = m.boolean("rstrip", path, false); err != nil {
			return err
		}
		if a.special, err = m.boolean("special", path, false); err != nil {
			return err
		}
		if a.normalized, err = m.boolean("normalized", path, !a.special); err != nil {
			return err
		}
		t.added.add(a, t.model)
	}
	return nil
}

func parseTruncation(r json.RawMessage) (*TruncationParams, error) {
	const path = "truncation"
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	p := &TruncationParams{}
	if p.MaxLength, err = m.integer("max_length", path, 512, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.Stride, err = m.integer("stride", path, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	s, err := m.str("strategy", path, "LongestFirst")
	if err != nil {
		return nil, err
	}
	switch s {
	case "LongestFirst":
		p.Strategy = tokenizer.LongestFirst
	case "OnlyFirst":
		p.Strategy = tokenizer.OnlyFirst
	case "OnlySecond":
		p.Strategy = tokenizer.OnlySecond
	default:
		return nil, loadErr(path+".strategy", "unknown strategy %q", s)
	}
	if p.Direction, err = m.str("direction", path, "Right"); err != nil {
		return nil, err
	}
	if p.Direction != "Right" && p.Direction != "Left" {
		return nil, loadErr(path+".direction", "unknown direction %q", p.Direction)
	}
	return p, nil
}

func parsePadding(r json.RawMessage) (*PaddingParams, error) {
	const path = "padding"
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	p := &PaddingParams{Strategy: "BatchLongest"}
	if s, ok := m["strategy"]; ok && !isNull(s) {
		var name string
		if json.Unmarshal(s, &name) == nil {
			if name != "BatchLongest" {
				return nil, loadErr(path+".strategy", "unknown strategy %q", name)
			}
		} else {
			fm, err := parseObj(s, path+".strategy")
			if err != nil {
				return nil, err
			}
			fixed, ok := fm["Fixed"]
			if !ok {
				return nil, loadErr(path+".strategy", "expected \"BatchLongest\" or {\"Fixed\": n}")
			}
			if p.Length, err = parseInt(fixed, path+".strategy.Fixed", math.MaxInt32); err != nil {
				return nil, err
			}
			p.Strategy = "Fixed"
		}
	}
	if p.Direction, err = m.str("direction", path, "Right"); err != nil {
		return nil, err
	}
	if p.Direction != "Right" && p.Direction != "Left" {
		return nil, loadErr(path+".direction", "unknown direction %q", p.Direction)
	}
	if p.PadToMultipleOf, err = m.integer("pad_to_multiple_of", path, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.PadID, err = m.integer("pad_id", path, 0, MaxVocab-1); err != nil {
		return nil, err
	}
	if p.PadTypeID, err = m.integer("pad_type_id", path, 0, math.MaxInt32); err != nil {
		return nil, err
	}
	if p.PadToken, err = m.str("pad_token", path, "[PAD]"); err != nil {
		return nil, err
	}
	return p, nil
}

// ---- models ----

// parseVocabMap reads a {token: id} object.
func parseVocabMap(r json.RawMessage, path string) (map[string]int, error) {
	var raw map[string]json.Number
	d := json.NewDecoder(bytes.NewReader(r))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil || raw == nil {
		return nil, loadErr(path, "expected an object of token ids")
	}
	if len(raw) > MaxVocab {
		return nil, loadErr(path, "%d entries exceed the limit of %d", len(raw), MaxVocab)
	}
	out := make(map[string]int, len(raw))
	for tok, n := range raw {
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			return nil, loadErr(path, "id %s of token %q is not an integer", n, tok)
		}
		if v < 0 || v >= MaxVocab {
			return nil, loadErr(path, "id %d of token %q is out of range [0, %d)", v, tok, MaxVocab)
		}
		out[tok] = int(v)
	}
	return out, nil
}

func parseModel(r json.RawMessage, path string) (model, error) {
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	typ, _, err := m.optStr("type", path)
	if err != nil {
		return nil, err
	}
	if typ == "" {
		// Files without "type": Rust tries BPE, WordPiece, WordLevel then Unigram.
		_, hasMerges := m["merges"]
		v := bytes.TrimSpace(m["vocab"])
		switch {
		case hasMerges:
			typ = "BPE"
		case len(v) > 0 && v[0] == '[':
			typ = "Unigram"
		case m["continuing_subword_prefix"] != nil && m["max_input_chars_per_word"] != nil:
			typ = "WordPiece"
		case m["unk_token"] != nil:
			typ = "WordLevel"
		default:
			return nil, loadErr(path, "cannot tell the model type (no \"type\")")
		}
	}
	if _, ok := m["vocab"]; !ok {
		return nil, loadErr(path+".vocab", "missing")
	}
	switch typ {
	case "BPE":
		return parseBPE(m, path)
	case "WordPiece":
		ids, err := parseVocabMap(m["vocab"], path+".vocab")
		if err != nil {
			return nil, err
		}
		w := &wordPiece{vocab: newVocab(ids)}
		if w.unk, err = m.str("unk_token", path, "[UNK]"); err != nil {
			return nil, err
		}
		if w.prefix, err = m.str("continuing_subword_prefix", path, "##"); err != nil {
			return nil, err
		}
		if w.maxChars, err = m.integer("max_input_chars_per_word", path, 100, math.MaxInt64); err != nil {
			return nil, err
		}
		w.unkID, w.hasUnk = ids[w.unk]
		for tok := range ids {
			w.maxLen = max(w.maxLen, len(tok))
		}
		return w, nil
	case "WordLevel":
		ids, err := parseVocabMap(m["vocab"], path+".vocab")
		if err != nil {
			return nil, err
		}
		w := &wordLevel{vocab: newVocab(ids)}
		if w.unk, err = m.str("unk_token", path, "<unk>"); err != nil {
			return nil, err
		}
		return w, nil
	case "Unigram":
		return parseUnigram(m, path)
	}
	return nil, loadErr(path+".type", "unknown model type %q", typ)
}

func parseBPE(m jobj, path string) (model, error) {
	ids, err := parseVocabMap(m["vocab"], path+".vocab")
	if err != nil {
		return nil, err
	}
	b := &bpe{vocab: newVocab(ids)}
	if r, ok := m["dropout"]; ok && !isNull(r) {
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(r)), 64)
		if err != nil {
			return nil, loadErr(path+".dropout", "expected a number or null")
		}
		if f < 0 || f > 1 {
			return nil, loadErr(path+".dropout", "%v is not in [0, 1]", f)
		}
		if f > 0 {
			return nil, loadErr(path+".dropout", "BPE dropout %v (random merges) is not supported", f)
		}
	}
	if b.unk, b.hasUnk, err = m.optStr("unk_token", path); err != nil {
		return nil, err
	}
	if b.prefix, b.hasPrefix, err = m.optStr("continuing_subword_prefix", path); err != nil {
		return nil, err
	}
	if b.suffix, b.hasSuffix, err = m.optStr("end_of_word_suffix", path); err != nil {
		return nil, err
	}
	if b.fuseUnk, err = m.boolean("fuse_unk", path, false); err != nil {
		return nil, err
	}
	if b.byteFallback, err = m.boolean("byte_fallback", path, false); err != nil {
		return nil, err
	}
	if b.ignoreMerges, err = m.boolean("ignore_merges", path, false); err != nil {
		return nil, err
	}
	mr, ok := m["merges"]
	if !ok || isNull(mr) {
		return nil, loadErr(path+".merges", "missing")
	}
	arr, err := parseArray(mr, path+".merges", MaxVocab)
	if err != nil {
		return nil, err
	}
	b.merges = make(map[uint64]mergeVal, len(arr))
	prefixLen := len(b.prefix)
	rank := 0
	for i, x := range arr {
		mpath := fmt.Sprintf("%s.merges[%d]", path, i)
		var a, c string
		var s string
		if json.Unmarshal(x, &s) == nil {
			if strings.HasPrefix(s, "#version") {
				continue
			}
			parts := strings.Split(s, " ")
			if len(parts) != 2 {
				return nil, loadErr(mpath, "expected \"a b\", got %q", s)
			}
			a, c = parts[0], parts[1]
		} else {
			var pair []string
			if err := json.Unmarshal(x, &pair); err != nil || len(pair) != 2 {
				return nil, loadErr(mpath, "expected a string \"a b\" or a pair [a, b]")
			}
			a, c = pair[0], pair[1]
		}
		aID, ok := ids[a]
		if !ok {
			return nil, loadErr(mpath, "token %q is not in the vocabulary", a)
		}
		cID, ok := ids[c]
		if !ok {
			return nil, loadErr(mpath, "token %q is not in the vocabulary", c)
		}
		if len(c) < prefixLen {
			return nil, loadErr(mpath, "token %q is shorter than the continuing_subword_prefix", c)
		}
		newTok := a + c[prefixLen:]
		nID, ok := ids[newTok]
		if !ok {
			return nil, loadErr(mpath, "merged token %q is not in the vocabulary", newTok)
		}
		b.merges[pairKey(int32(aID), int32(cID))] = mergeVal{int32(rank), int32(nID)}
		rank++
	}
	b.init()
	return b, nil
}

func parseUnigram(m jobj, path string) (model, error) {
	arr, err := parseArray(m["vocab"], path+".vocab", MaxVocab)
	if err != nil {
		return nil, err
	}
	u := &unigram{pieces: make([]string, len(arr)), scores: make([]float64, len(arr)), ids: make(map[string]int, len(arr)), unkID: -1}
	u.minScore = math.Inf(1)
	for i, x := range arr {
		var e []json.RawMessage
		if err := json.Unmarshal(x, &e); err != nil || len(e) != 2 {
			return nil, loadErr(fmt.Sprintf("%s.vocab[%d]", path, i), "expected [piece, score]")
		}
		if err := json.Unmarshal(e[0], &u.pieces[i]); err != nil {
			return nil, loadErr(fmt.Sprintf("%s.vocab[%d][0]", path, i), "expected a string")
		}
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(e[1])), 64)
		if err != nil || math.IsNaN(f) {
			return nil, loadErr(fmt.Sprintf("%s.vocab[%d][1]", path, i), "expected a number")
		}
		u.scores[i] = f
		u.ids[u.pieces[i]] = i
		u.minScore = math.Min(u.minScore, f)
	}
	if r, ok := m["unk_id"]; ok && !isNull(r) {
		if u.unkID, err = parseInt(r, path+".unk_id", MaxVocab); err != nil {
			return nil, err
		}
		if len(arr) == 0 {
			return nil, loadErr(path+".vocab", "empty, but unk_id needs at least <unk>")
		}
		if u.unkID >= len(arr) {
			return nil, loadErr(path+".unk_id", "%d is not in the vocabulary of %d pieces", u.unkID, len(arr))
		}
	}
	if u.byteFallback, err = m.boolean("byte_fallback", path, false); err != nil {
		return nil, err
	}
	u.init()
	return u, nil
}

// ---- components ----

func parsePattern(m jobj, path string, literalAsRegex bool) (pattern, error) {
	r, ok := m["pattern"]
	if !ok || isNull(r) {
		return nil, loadErr(path+".pattern", "missing")
	}
	pm, err := parseObj(r, path+".pattern")
	if err != nil {
		return nil, err
	}
	if s, ok, err := pm.optStr("String", path+".pattern"); err != nil {
		return nil, err
	} else if ok {
		if s != "" || !literalAsRegex {
			return strPattern(s), nil
		}
		re, err := compileRegex("")
		if err != nil {
			return nil, loadErr(path+".pattern.String", "%v", err)
		}
		return regexPattern{re}, nil
	}
	if s, ok, err := pm.optStr("Regex", path+".pattern"); err != nil {
		return nil, err
	} else if ok {
		re, err := compileRegex(s)
		if err != nil {
			return nil, loadErr(path+".pattern.Regex", "invalid regex %q: %v", truncate(s, 80), err)
		}
		return regexPattern{re}, nil
	}
	return nil, loadErr(path+".pattern", "expected {\"String\": ...} or {\"Regex\": ...}")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func parseNormalizer(r json.RawMessage, path string, depth int) (normalizer, error) {
	if depth > maxDepth {
		return nil, loadErr(path, "nesting deeper than %d", maxDepth)
	}
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	typ, err := typeOf(m, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		arr, err := parseArray(m["normalizers"], path+".normalizers", 1<<10)
		if err != nil {
			return nil, err
		}
		var seq normSeq
		for i, x := range arr {
			n, err := parseNormalizer(x, fmt.Sprintf("%s.normalizers[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			seq = append(seq, n)
		}
		return seq, nil
	case "BertNormalizer":
		b := &bertNormalizer{}
		if b.cleanText, err = m.boolean("clean_text", path, true); err != nil {
			return nil, err
		}
		if b.handleChinese, err = m.boolean("handle_chinese_chars", path, true); err != nil {
			return nil, err
		}
		if b.lowercase, err = m.boolean("lowercase", path, true); err != nil {
			return nil, err
		}
		if b.stripAccents, err = m.boolean("strip_accents", path, b.lowercase); err != nil {
			return nil, err
		}
		return b, nil
	case "NFC":
		return formNFC, nil
	case "NFD":
		return formNFD, nil
	case "NFKC":
		return formNFKC, nil
	case "NFKD":
		return formNFKD, nil
	case "Lowercase":
		return lowercaseNorm{}, nil
	case "StripAccents":
		return stripAccentsNorm{}, nil
	case "Nmt":
		return nmtNorm{}, nil
	case "ByteLevel":
		return byteLevelNorm{}, nil
	case "Strip":
		var s stripNorm
		if s.left, err = m.boolean("strip_left", path, true); err != nil {
			return nil, err
		}
		if s.right, err = m.boolean("strip_right", path, true); err != nil {
			return nil, err
		}
		return s, nil
	case "Prepend":
		s, ok, err := m.optStr("prepend", path)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, loadErr(path+".prepend", "missing")
		}
		return prependNorm{s}, nil
	case "Replace":
		p, err := parsePattern(m, path, true)
		if err != nil {
			return nil, err
		}
		c, err := m.str("content", path, "")
		if err != nil {
			return nil, err
		}
		return &replaceNorm{pat: p, content: c}, nil
	case "Precompiled":
		s, ok, err := m.optStr("precompiled_charsmap", path)
		if err != nil {
			return nil, err
		}
		if !ok || s == "" {
			return &precompiledNorm{}, nil
		}
		if len(s) > maxCharsmap/3*4+4 {
			return nil, loadErr(path+".precompiled_charsmap", "%d bytes exceed the limit", len(s))
		}
		blob, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, loadErr(path+".precompiled_charsmap", "invalid base64: %v", err)
		}
		cm, err := charsmap.Parse(blob)
		if err != nil {
			return nil, loadErr(path+".precompiled_charsmap", "%v", err)
		}
		return &precompiledNorm{m: newShortestMap(cm)}, nil
	}
	return nil, loadErr(path+".type", "unknown normalizer type %q", typ)
}

func parseBehavior(m jobj, path string, def splitBehavior) (splitBehavior, error) {
	s, ok, err := m.optStr("behavior", path)
	if err != nil || !ok {
		return def, err
	}
	switch s {
	case "Removed":
		return splitRemoved, nil
	case "Isolated":
		return splitIsolated, nil
	case "MergedWithPrevious":
		return splitMergedWithPrevious, nil
	case "MergedWithNext":
		return splitMergedWithNext, nil
	case "Contiguous":
		return splitContiguous, nil
	}
	return 0, loadErr(path+".behavior", "unknown behavior %q", s)
}

func parseMetaspace(m jobj, path string) (*metaspace, error) {
	ms := &metaspace{}
	var err error
	if ms.replacement, err = m.oneRune("replacement", path, '▁'); err != nil {
		return nil, err
	}
	ms.repl = string(ms.replacement)
	ms.scheme = prependAlways
	s, hasScheme, err := m.optStr("prepend_scheme", path)
	if err != nil {
		return nil, err
	}
	if hasScheme {
		switch s {
		case "always":
			ms.scheme = prependAlways
		case "never":
			ms.scheme = prependNever
		case "first":
			ms.scheme = prependFirst
		default:
			return nil, loadErr(path+".prepend_scheme", "unknown scheme %q", s)
		}
	}
	if r, ok := m["add_prefix_space"]; ok && !isNull(r) {
		aps, err := m.boolean("add_prefix_space", path, true)
		if err != nil {
			return nil, err
		}
		if !aps {
			if hasScheme && ms.scheme != prependNever {
				return nil, loadErr(path+".add_prefix_space", "false does not match prepend_scheme %q", s)
			}
			ms.scheme = prependNever
		}
	}
	if ms.split, err = m.boolean("split", path, true); err != nil {
		return nil, err
	}
	return ms, nil
}

func parsePreTokenizer(r json.RawMessage, path string, depth int) (preTokenizer, error) {
	if depth > maxDepth {
		return nil, loadErr(path, "nesting deeper than %d", maxDepth)
	}
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	typ, err := typeOf(m, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		arr, err := parseArray(m["pretokenizers"], path+".pretokenizers", 1<<10)
		if err != nil {
			return nil, err
		}
		var seq preSeq
		for i, x := range arr {
			p, err := parsePreTokenizer(x, fmt.Sprintf("%s.pretokenizers[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	case "BertPreTokenizer":
		return bertPre{}, nil
	case "Whitespace":
		return whitespacePre{}, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre{}, nil
	case "ByteLevel":
		b := &byteLevelPre{}
		if b.addPrefixSpace, err = m.boolean("add_prefix_space", path, true); err != nil {
			return nil, err
		}
		if b.trimOffsets, err = m.boolean("trim_offsets", path, true); err != nil {
			return nil, err
		}
		if b.useRegex, err = m.boolean("use_regex", path, true); err != nil {
			return nil, err
		}
		return b, nil
	case "Metaspace":
		return parseMetaspace(m, path)
	case "Punctuation":
		b, err := parseBehavior(m, path, splitIsolated)
		return punctuationPre{b}, err
	case "Digits":
		d, err := m.boolean("individual_digits", path, false)
		return digitsPre{d}, err
	case "CharDelimiterSplit":
		c, err := m.oneRune("delimiter", path, 0)
		if err != nil {
			return nil, err
		}
		if _, ok := m["delimiter"]; !ok {
			return nil, loadErr(path+".delimiter", "missing")
		}
		return charDelimiterPre{c}, nil
	case "Split":
		p, err := parsePattern(m, path, true)
		if err != nil {
			return nil, err
		}
		s := &splitPre{pat: p}
		if _, ok := m["behavior"]; !ok {
			return nil, loadErr(path+".behavior", "missing")
		}
		if s.behavior, err = parseBehavior(m, path, splitIsolated); err != nil {
			return nil, err
		}
		if s.invert, err = m.boolean("invert", path, false); err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, loadErr(path+".type", "unknown pre-tokenizer type %q", typ)
}

// tokenPair reads a [token, id] pair (BertProcessing / RobertaProcessing cls and sep).
func tokenPair(m jobj, key, path, defTok string, defID int) (string, int, error) {
	r, ok := m[key]
	if !ok || isNull(r) {
		return defTok, defID, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(r, &a); err != nil || len(a) != 2 {
		return "", 0, loadErr(path+"."+key, "expected [token, id]")
	}
	var tok string
	if err := json.Unmarshal(a[0], &tok); err != nil {
		return "", 0, loadErr(path+"."+key+"[0]", "expected a string")
	}
	id, err := parseInt(a[1], path+"."+key+"[1]", MaxVocab-1)
	return tok, id, err
}

func parseTemplate(r json.RawMessage, path string) ([]piece, error) {
	if isNull(r) {
		return nil, loadErr(path, "missing")
	}
	var str string
	if json.Unmarshal(r, &str) == nil {
		var out []piece
		for _, s := range strings.Split(str, " ") {
			p, err := pieceFromString(s)
			if err != nil {
				return nil, loadErr(path, "%v", err)
			}
			out = append(out, p)
		}
		return out, nil
	}
	arr, err := parseArray(r, path, maxTemplate)
	if err != nil {
		return nil, err
	}
	out := make([]piece, 0, len(arr))
	for i, x := range arr {
		ppath := fmt.Sprintf("%s[%d]", path, i)
		var s string
		if json.Unmarshal(x, &s) == nil {
			p, err := pieceFromString(s)
			if err != nil {
				return nil, loadErr(ppath, "%v", err)
			}
			out = append(out, p)
			continue
		}
		pm, err := parseObj(x, ppath)
		if err != nil {
			return nil, err
		}
		if len(pm) != 1 {
			return nil, loadErr(ppath, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
		}
		if sr, ok := pm["Sequence"]; ok {
			sm, err := parseObj(sr, ppath+".Sequence")
			if err != nil {
				return nil, err
			}
			id, err := sm.str("id", ppath+".Sequence", "")
			if err != nil {
				return nil, err
			}
			p := piece{isSeq: true}
			switch id {
			case "A":
			case "B":
				p.seq = 1
			default:
				return nil, loadErr(ppath+".Sequence.id", "expected \"A\" or \"B\", got %q", id)
			}
			if p.typeID, err = sm.integer("type_id", ppath+".Sequence", 0, math.MaxInt32); err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		if sr, ok := pm["SpecialToken"]; ok {
			sm, err := parseObj(sr, ppath+".SpecialToken")
			if err != nil {
				return nil, err
			}
			p := piece{}
			if p.special, err = sm.str("id", ppath+".SpecialToken", ""); err != nil {
				return nil, err
			}
			if p.typeID, err = sm.integer("type_id", ppath+".SpecialToken", 0, math.MaxInt32); err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		return nil, loadErr(ppath, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}")
	}
	return out, nil
}

// pieceFromString parses the string forms "$A", "$B:1", "[CLS]:0" of template pieces.
func pieceFromString(s string) (piece, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 2 {
		return piece{}, fmt.Errorf("cannot build a piece from %q", s)
	}
	p := piece{}
	id := parts[0]
	if strings.HasPrefix(id, "$") {
		p.isSeq = true
		switch rest := id[1:]; rest {
		case "", "A", "a":
		case "B", "b":
			p.seq = 1
		default:
			v, err := strconv.ParseUint(rest, 10, 31)
			if err != nil {
				return piece{}, fmt.Errorf("cannot build a piece from %q", s)
			}
			p.typeID = int(v)
		}
	} else {
		p.special = id
	}
	if len(parts) == 2 {
		v, err := strconv.ParseUint(parts[1], 10, 31)
		if err != nil {
			return piece{}, fmt.Errorf("cannot build a piece from %q", s)
		}
		p.typeID = int(v)
	}
	return p, nil
}

func parsePost(r json.RawMessage, path string, depth int) (postProcessor, error) {
	if depth > maxDepth {
		return nil, loadErr(path, "nesting deeper than %d", maxDepth)
	}
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	typ, err := typeOf(m, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		arr, err := parseArray(m["processors"], path+".processors", 1<<10)
		if err != nil {
			return nil, err
		}
		var seq postSeq
		for i, x := range arr {
			p, err := parsePost(x, fmt.Sprintf("%s.processors[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			seq = append(seq, p)
		}
		return seq, nil
	case "ByteLevel":
		b := byteLevelPost{}
		if b.addPrefixSpace, err = m.boolean("add_prefix_space", path, true); err != nil {
			return nil, err
		}
		if b.trimOffsets, err = m.boolean("trim_offsets", path, true); err != nil {
			return nil, err
		}
		return b, nil
	case "BertProcessing":
		b := bertPost{}
		if b.sepTok, b.sepID, err = tokenPair(m, "sep", path, "[SEP]", 102); err != nil {
			return nil, err
		}
		if b.clsTok, b.clsID, err = tokenPair(m, "cls", path, "[CLS]", 101); err != nil {
			return nil, err
		}
		return b, nil
	case "RobertaProcessing":
		b := robertaPost{}
		if b.sepTok, b.sepID, err = tokenPair(m, "sep", path, "</s>", 2); err != nil {
			return nil, err
		}
		if b.clsTok, b.clsID, err = tokenPair(m, "cls", path, "<s>", 0); err != nil {
			return nil, err
		}
		if b.trimOffsets, err = m.boolean("trim_offsets", path, true); err != nil {
			return nil, err
		}
		if b.addPrefixSpace, err = m.boolean("add_prefix_space", path, true); err != nil {
			return nil, err
		}
		return b, nil
	case "TemplateProcessing":
		t := &templatePost{specials: map[string]specialToks{}}
		if t.single, err = parseTemplate(m["single"], path+".single"); err != nil {
			return nil, err
		}
		if t.pair, err = parseTemplate(m["pair"], path+".pair"); err != nil {
			return nil, err
		}
		if st, ok := m["special_tokens"]; ok && !isNull(st) {
			sm, err := parseObj(st, path+".special_tokens")
			if err != nil {
				return nil, err
			}
			if len(sm) > maxTemplate {
				return nil, loadErr(path+".special_tokens", "%d entries exceed the limit of %d", len(sm), maxTemplate)
			}
			for key, x := range sm {
				spath := path + ".special_tokens." + key
				tm, err := parseObj(x, spath)
				if err != nil {
					return nil, err
				}
				id, err := tm.str("id", spath, key)
				if err != nil {
					return nil, err
				}
				var s specialToks
				ids, err := parseArray(tm["ids"], spath+".ids", maxTemplate)
				if err != nil {
					return nil, err
				}
				for i, v := range ids {
					n, err := parseInt(v, fmt.Sprintf("%s.ids[%d]", spath, i), MaxVocab-1)
					if err != nil {
						return nil, err
					}
					s.ids = append(s.ids, n)
				}
				if err := json.Unmarshal(tm["tokens"], &s.toks); err != nil {
					return nil, loadErr(spath+".tokens", "expected an array of strings")
				}
				if len(s.ids) != len(s.toks) {
					return nil, loadErr(spath, "ids and tokens must be of the same length")
				}
				t.specials[id] = s
			}
		}
		hasA, hasB := false, false
		for _, p := range t.pair {
			if p.isSeq {
				hasA = hasA || p.seq == 0
				hasB = hasB || p.seq == 1
			}
		}
		if !hasA || !hasB {
			return nil, loadErr(path+".pair", "the template for a pair must use both sequences")
		}
		for _, tpl := range [][]piece{t.single, t.pair} {
			for _, p := range tpl {
				if !p.isSeq {
					if _, ok := t.specials[p.special]; !ok {
						return nil, loadErr(path+".special_tokens", "missing special token %q used by the template", p.special)
					}
				}
			}
		}
		return t, nil
	}
	return nil, loadErr(path+".type", "unknown post-processor type %q", typ)
}

func parseDecoder(r json.RawMessage, path string, depth int) (decoder, error) {
	if depth > maxDepth {
		return nil, loadErr(path, "nesting deeper than %d", maxDepth)
	}
	m, err := parseObj(r, path)
	if err != nil {
		return nil, err
	}
	typ, err := typeOf(m, path)
	if err != nil {
		return nil, err
	}
	switch typ {
	case "Sequence":
		arr, err := parseArray(m["decoders"], path+".decoders", 1<<10)
		if err != nil {
			return nil, err
		}
		var seq decSeq
		for i, x := range arr {
			d, err := parseDecoder(x, fmt.Sprintf("%s.decoders[%d]", path, i), depth+1)
			if err != nil {
				return nil, err
			}
			seq = append(seq, d)
		}
		return seq, nil
	case "ByteLevel":
		return byteLevelDecoder{}, nil
	case "WordPiece":
		w := wordPieceDecoder{}
		if w.prefix, err = m.str("prefix", path, "##"); err != nil {
			return nil, err
		}
		if w.cleanup, err = m.boolean("cleanup", path, true); err != nil {
			return nil, err
		}
		return w, nil
	case "Metaspace":
		return parseMetaspace(m, path)
	case "BPEDecoder":
		s, err := m.str("suffix", path, "</w>")
		return bpeDecoder{s}, err
	case "ByteFallback":
		return byteFallbackDecoder{}, nil
	case "Fuse":
		return fuseDecoder{}, nil
	case "Strip":
		s := stripDecoder{}
		if s.content, err = m.oneRune("content", path, ' '); err != nil {
			return nil, err
		}
		if s.start, err = m.integer("start", path, 0, math.MaxInt32); err != nil {
			return nil, err
		}
		if s.stop, err = m.integer("stop", path, 0, math.MaxInt32); err != nil {
			return nil, err
		}
		return s, nil
	case "Replace":
		p, err := parsePattern(m, path, true)
		if err != nil {
			return nil, err
		}
		c, err := m.str("content", path, "")
		return replaceDecoder{p, c}, err
	case "CTC":
		c := ctcDecoder{}
		if c.pad, err = m.str("pad_token", path, "<pad>"); err != nil {
			return nil, err
		}
		if c.delim, err = m.str("word_delimiter_token", path, "|"); err != nil {
			return nil, err
		}
		if c.cleanup, err = m.boolean("cleanup", path, true); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, loadErr(path+".type", "unknown decoder type %q", typ)
}

// shortestMap adapts charsmap.Map to the shortest-prefix lookups of the Rust Precompiled
// normalizer (spm_precompiled's transform takes the first, i.e. shortest, match).
type shortestMap struct {
	m     *charsmap.Map
	ascii [128]struct {
		repl string
		ok   bool
	}
}

func newShortestMap(m *charsmap.Map) *shortestMap {
	s := &shortestMap{m: m}
	for c := 0; c < 128; c++ {
		r, n, ok := m.Transform(string(rune(c)))
		s.ascii[c].repl, s.ascii[c].ok = r, ok && n == 1
	}
	return s
}

func (s *shortestMap) shortest(str string) (string, bool) {
	if str == "" {
		return "", false
	}
	if c := str[0]; c < 0x80 {
		a := s.ascii[c]
		if a.ok || len(str) == 1 {
			return a.repl, a.ok
		}
	}
	for k := 1; k <= len(str); k++ {
		if r, n, ok := s.m.Transform(str[:k]); ok && n == k {
			return r, true
		}
	}
	return "", false
}
