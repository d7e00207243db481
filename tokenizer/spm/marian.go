package spm

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/optiformer/optiformer/tokenizer"
)

// Limits for the JSON files of a Marian directory.
const (
	MaxVocabFileSize  = 64 << 20
	MaxConfigFileSize = 1 << 20
)

// Marian is Hugging Face's MarianTokenizer (the slow, SentencePiece-based one) for one
// side of a translation pair, as transformers 4.44 (the 4.3x–4.4x series) implements it in
// models/marian/tokenization_marian.py and tokenization_utils.py:
//
//   - Encode: the text is split on the special tokens (</s>, <unk>, <pad> and
//     additional_special_tokens, leftmost longest, no whitespace stripping); each other
//     chunk loses its language codes (the regular expression ">>.+<<": a code at the start
//     of the chunk becomes a token, every match is removed from the text), is segmented by
//     the side's SentencePiece model (source.spm or target.spm), and each piece is looked up
//     in vocab.json; a piece missing from vocab.json becomes <unk>'s id. With addSpecial,
//     </s> is appended (build_inputs_with_special_tokens; a pair is a + b + </s>).
//     Tokens are what tokenize() returns (pieces, codes, special tokens); offsets are
//     SentencePiece's, mapped back through the removed codes; SpecialTokensMask marks
//     every special id but <unk>'s, as get_special_tokens_mask does.
//   - Decode: ids map back through vocab.json (unknown ids become "<unk>"); skipSpecial
//     drops the ids of all special tokens (<unk> included); the rest is decoded with the
//     side's SentencePiece model (decode_pieces), each special token written verbatim
//     followed by a space, the result stripped of surrounding whitespace
//     (convert_tokens_to_string), then clean_up_tokenization when tokenizer_config.json's
//     clean_up_tokenization_spaces is true or absent (the 4.44 default).
//
// Differences from transformers worth knowing: transformers decodes with the target
// SentencePiece model unless asked for the source one (use_source_tokenizer); here each
// side decodes with its own model, and with separate_vocabs the target side uses
// target_vocab.json both ways. transformers 5 changed the language-code rule, maps pieces
// missing from vocab.json through SentencePiece's own ids, replaces "▁" by spaces when
// decoding and does not clean up spaces by default.
type Marian struct {
	spm     *Model
	side    string
	vocab   map[string]int
	decoder map[int]string
	size    int

	unkTok, eosTok, padTok string
	unkID, eosID, padID    int
	specials               []string     // all_special_tokens, in order
	specialIDs             map[int]bool // all_special_ids
	maskIDs                map[int]bool // special ids marked in SpecialTokensMask (not <unk>)
	cleanUp                bool
}

var _ tokenizer.Tokenizer = (*Marian)(nil)
var _ tokenizer.Truncator = (*Marian)(nil)

// LoadMarian loads a Hugging Face MarianTokenizer directory (source.spm, target.spm,
// vocab.json, optionally target_vocab.json and tokenizer_config.json) for side "source"
// or "target".
func LoadMarian(dir, side string) (*Marian, error) {
	if side != "source" && side != "target" {
		return nil, fmt.Errorf("spm: Marian side %q is neither \"source\" nor \"target\"", side)
	}
	cfg, err := readMarianConfig(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	model, err := Load(filepath.Join(dir, side+".spm"))
	if err != nil {
		return nil, err
	}
	vocabFile := "vocab.json"
	if side == "target" && cfg.separateVocabs {
		vocabFile = cfg.targetVocabFile
	}
	data, err := readFileLimited(filepath.Join(dir, vocabFile), MaxVocabFileSize)
	if err != nil {
		return nil, err
	}
	keys, ids, err := parseVocabJSON(data)
	if err != nil {
		return nil, fmt.Errorf("spm: %s: %w", vocabFile, err)
	}
	return newMarian(model, side, keys, ids, cfg)
}

type marianConfig struct {
	unk, eos, pad   string
	additional      []string
	separateVocabs  bool
	targetVocabFile string
	cleanUp         bool
}

// readMarianConfig reads tokenizer_config.json; a missing file gives the defaults.
func readMarianConfig(path string) (marianConfig, error) {
	cfg := marianConfig{unk: "<unk>", eos: "</s>", pad: "<pad>", targetVocabFile: "target_vocab.json", cleanUp: true}
	data, err := readFileLimited(path, MaxConfigFileSize)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return cfg, nil
		}
		return cfg, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return cfg, fmt.Errorf("spm: %s: %w", path, err)
	}
	token := func(key string, dst *string) error {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		s, err := addedToken(v)
		if err != nil {
			return fmt.Errorf("spm: %s: %s: %w", path, key, err)
		}
		*dst = s
		return nil
	}
	for key, dst := range map[string]*string{"unk_token": &cfg.unk, "eos_token": &cfg.eos, "pad_token": &cfg.pad} {
		if err := token(key, dst); err != nil {
			return cfg, err
		}
	}
	if v, ok := raw["additional_special_tokens"]; ok && string(v) != "null" {
		var list []json.RawMessage
		if err := json.Unmarshal(v, &list); err != nil {
			return cfg, fmt.Errorf("spm: %s: additional_special_tokens: %w", path, err)
		}
		for _, item := range list {
			s, err := addedToken(item)
			if err != nil {
				return cfg, fmt.Errorf("spm: %s: additional_special_tokens: %w", path, err)
			}
			cfg.additional = append(cfg.additional, s)
		}
	}
	for key, dst := range map[string]*bool{"separate_vocabs": &cfg.separateVocabs, "clean_up_tokenization_spaces": &cfg.cleanUp} {
		if v, ok := raw[key]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, dst); err != nil {
				return cfg, fmt.Errorf("spm: %s: %s: %w", path, key, err)
			}
		}
	}
	if v, ok := raw["target_vocab_file"]; ok && string(v) != "null" {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return cfg, fmt.Errorf("spm: %s: target_vocab_file: %w", path, err)
		}
		// Only a file name inside the directory.
		if s != "" {
			cfg.targetVocabFile = filepath.Base(s)
		}
	}
	return cfg, nil
}

// addedToken reads a token given as a string or as an AddedToken object.
func addedToken(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(v, &obj); err != nil || obj.Content == nil {
		return "", errors.New("neither a string nor an object with a content")
	}
	return *obj.Content, nil
}

// parseVocabJSON reads a JSON object of token → id, keeping the file order (Python's
// {v: k} inversion keeps the last token of a repeated id).
func parseVocabJSON(data []byte) ([]string, []int, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil, nil, errors.New("not a JSON object")
	}
	var keys []string
	var ids []int
	for dec.More() {
		tk, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		key, ok := tk.(string)
		if !ok {
			return nil, nil, errors.New("key is not a string")
		}
		var id int
		if err := dec.Decode(&id); err != nil {
			return nil, nil, fmt.Errorf("id of %q: %w", key, err)
		}
		keys = append(keys, key)
		ids = append(ids, id)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, nil, errors.New("data after the object")
	}
	return keys, ids, nil
}

func newMarian(model *Model, side string, keys []string, ids []int, cfg marianConfig) (*Marian, error) {
	t := &Marian{spm: model, side: side, vocab: make(map[string]int, len(keys)), decoder: make(map[int]string, len(keys)),
		unkTok: cfg.unk, eosTok: cfg.eos, padTok: cfg.pad, cleanUp: cfg.cleanUp}
	for i, k := range keys {
		t.vocab[k] = ids[i]
		t.decoder[ids[i]] = k
	}
	t.size = len(t.vocab)
	var ok bool
	if t.unkID, ok = t.vocab[cfg.unk]; !ok {
		return nil, fmt.Errorf("spm: the unknown token %q is not in the Marian vocabulary", cfg.unk)
	}
	t.eosID, t.padID = t.convert(cfg.eos), t.convert(cfg.pad)
	t.specialIDs, t.maskIDs = map[int]bool{}, map[int]bool{}
	seen := map[string]bool{}
	for _, s := range append([]string{cfg.eos, cfg.unk, cfg.pad}, cfg.additional...) {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		t.specials = append(t.specials, s)
		t.specialIDs[t.convert(s)] = true
	}
	for id := range t.specialIDs {
		if id != t.unkID {
			t.maskIDs[id] = true
		}
	}
	return t, nil
}

// convert is _convert_token_to_id: the vocabulary id, else <unk>'s.
func (t *Marian) convert(tok string) int {
	if id, ok := t.vocab[tok]; ok {
		return id
	}
	return t.unkID
}

// SPM is the side's SentencePiece model.
func (t *Marian) SPM() *Model { return t.spm }

// EosID, UnkID and PadID are the ids of </s>, <unk> and <pad> in vocab.json.
func (t *Marian) EosID() int { return t.eosID }
func (t *Marian) UnkID() int { return t.unkID }
func (t *Marian) PadID() int { return t.padID }

// VocabSize is the number of entries of vocab.json (MarianTokenizer.vocab_size).
func (t *Marian) VocabSize() int { return t.size }

// TokenToID looks a token up in vocab.json.
func (t *Marian) TokenToID(token string) (int, bool) {
	id, ok := t.vocab[token]
	return id, ok
}

// IDToToken looks an id up in vocab.json.
func (t *Marian) IDToToken(id int) (string, bool) {
	tok, ok := t.decoder[id]
	return tok, ok
}

// marianToken is one token of a text before ids and special tokens are added.
type marianToken struct {
	tok        string
	id         int
	begin, end int
	word       int
}

// tokens runs MarianTokenizer.tokenize on text and converts the tokens to ids.
func (t *Marian) tokens(text string) ([]marianToken, error) {
	var out []marianToken
	word := -1
	for _, ch := range t.splitSpecial(text) {
		chunk := text[ch.begin:ch.end]
		if ch.special {
			out = append(out, marianToken{tok: chunk, id: t.convert(chunk), begin: ch.begin, end: ch.end, word: -1})
			continue
		}
		code, codeEnd, stripped, origOf := removeLanguageCodes(chunk)
		if code {
			word++
			c := chunk[:codeEnd]
			out = append(out, marianToken{tok: c, id: t.convert(c), begin: ch.begin, end: ch.begin + codeEnd, word: word})
		}
		pieces, err := t.spm.encodePieces(stripped)
		if err != nil {
			return nil, err
		}
		first := true
		for _, p := range pieces {
			if p.newWord || first {
				word++
			}
			first = false
			b, e := origOf[p.begin], origOf[p.begin]
			if p.end > p.begin {
				e = origOf[p.end-1] + 1
			}
			out = append(out, marianToken{tok: p.piece, id: t.convert(p.piece), begin: ch.begin + b, end: ch.begin + e, word: word})
		}
	}
	return out, nil
}

type chunk struct {
	begin, end int
	special    bool
}

// splitSpecial splits text around the special tokens (leftmost, longest first), dropping
// empty chunks.
func (t *Marian) splitSpecial(text string) []chunk {
	var out []chunk
	start := 0
	for pos := 0; pos < len(text); {
		best := ""
		for _, s := range t.specials {
			if len(s) > len(best) && strings.HasPrefix(text[pos:], s) {
				best = s
			}
		}
		if best == "" {
			pos++
			continue
		}
		if pos > start {
			out = append(out, chunk{start, pos, false})
		}
		out = append(out, chunk{pos, pos + len(best), true})
		pos += len(best)
		start = pos
	}
	if start < len(text) {
		out = append(out, chunk{start, len(text), false})
	}
	return out
}

// removeLanguageCodes applies MarianTokenizer.remove_language_code: with the Python
// regular expression ">>.+<<" ("." is any character but "\n", greedy), code reports a
// match at the start of s (s[:codeEnd] is the code) and stripped is s with every match
// removed; origOf maps each byte of stripped (and its end) back to s.
func removeLanguageCodes(s string) (code bool, codeEnd int, stripped string, origOf []int) {
	var b strings.Builder
	origOf = make([]int, 0, len(s)+1)
	for i := 0; i < len(s); {
		if end := codeMatch(s, i); end > 0 {
			if i == 0 {
				code, codeEnd = true, end
			}
			i = end
			continue
		}
		b.WriteByte(s[i])
		origOf = append(origOf, i)
		i++
	}
	origOf = append(origOf, len(s))
	return code, codeEnd, b.String(), origOf
}

// codeMatch returns the end of a ">>.+<<" match starting at i, or 0.
func codeMatch(s string, i int) int {
	if !strings.HasPrefix(s[i:], ">>") {
		return 0
	}
	line := s[i+2:]
	if nl := strings.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	j := strings.LastIndex(line, "<<")
	if j < 1 { // ".+" needs at least one character
		return 0
	}
	return i + 2 + j + 2
}

// Encode tokenizes text as MarianTokenizer(text) does; with addSpecial </s> is appended.
// Offsets are UTF-8 byte offsets into text (transformers' slow tokenizer has none).
func (t *Marian) Encode(text string, addSpecial bool) (*tokenizer.Encoding, error) {
	return t.EncodeTruncated(text, nil, addSpecial, 0, tokenizer.NoTruncation)
}

// EncodePair encodes a + b (+ </s>), as build_inputs_with_special_tokens does.
func (t *Marian) EncodePair(a, b string, addSpecial bool) (*tokenizer.Encoding, error) {
	return t.EncodeTruncated(a, &b, addSpecial, 0, tokenizer.NoTruncation)
}

// EncodeTruncated implements tokenizer.Truncator with the rules of
// PreTrainedTokenizerBase.truncate_sequences (see Model.EncodeTruncated); </s> stays.
func (t *Marian) EncodeTruncated(a string, b *string, addSpecial bool, maxLength int, strategy tokenizer.Truncation) (*tokenizer.Encoding, error) {
	ta, err := t.tokens(a)
	if err != nil {
		return nil, err
	}
	var tb []marianToken
	if b != nil {
		if tb, err = t.tokens(*b); err != nil {
			return nil, err
		}
	}
	extra := 0
	if addSpecial {
		extra = 1
	}
	la, lb, err := truncateLengths(len(ta), len(tb), b != nil, extra, maxLength, strategy)
	if err != nil {
		return nil, err
	}
	e := &tokenizer.Encoding{}
	add := func(tokens []marianToken, typeID int) {
		for _, tk := range tokens {
			mask := 0
			if t.maskIDs[tk.id] {
				mask = 1
			}
			e.IDs = append(e.IDs, tk.id)
			e.Tokens = append(e.Tokens, tk.tok)
			e.Offsets = append(e.Offsets, [2]int{tk.begin, tk.end})
			e.TypeIDs = append(e.TypeIDs, typeID)
			e.SpecialTokensMask = append(e.SpecialTokensMask, mask)
			e.WordIDs = append(e.WordIDs, tk.word)
			e.AttentionMask = append(e.AttentionMask, 1)
			e.SequenceIDs = append(e.SequenceIDs, typeID)
		}
	}
	add(ta[:la], 0)
	last := 0
	if b != nil {
		add(tb[:lb], 1)
		last = 1
	}
	if addSpecial {
		e.IDs = append(e.IDs, t.eosID)
		e.Tokens = append(e.Tokens, t.eosTok)
		e.Offsets = append(e.Offsets, [2]int{0, 0})
		e.TypeIDs = append(e.TypeIDs, last)
		e.SpecialTokensMask = append(e.SpecialTokensMask, 1)
		e.WordIDs = append(e.WordIDs, -1)
		e.AttentionMask = append(e.AttentionMask, 1)
		e.SequenceIDs = append(e.SequenceIDs, -1)
	}
	return e, nil
}

// Decode is MarianTokenizer.decode(ids, skip_special_tokens=skipSpecial).
func (t *Marian) Decode(ids []int, skipSpecial bool) (string, error) {
	isSpecial := map[string]bool{}
	for _, s := range t.specials {
		isSpecial[s] = true
	}
	var out strings.Builder
	var sub []string
	for _, id := range ids {
		if skipSpecial && t.specialIDs[id] {
			continue
		}
		tok, ok := t.decoder[id]
		if !ok {
			tok = t.unkTok
		}
		if isSpecial[tok] {
			s, err := t.spm.DecodePieces(sub)
			if err != nil {
				return "", err
			}
			out.WriteString(s)
			out.WriteString(tok)
			out.WriteByte(' ')
			sub = sub[:0]
			continue
		}
		sub = append(sub, tok)
	}
	s, err := t.spm.DecodePieces(sub)
	if err != nil {
		return "", err
	}
	out.WriteString(s)
	text := strings.TrimFunc(out.String(), pyIsSpace)
	if t.cleanUp {
		text = cleanUpTokenization(text)
	}
	return text, nil
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(r rune) bool { return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f) }

// cleanUpTokenization is PreTrainedTokenizerBase.clean_up_tokenization: these
// replacements, one after the other.
func cleanUpTokenization(s string) string {
	for _, r := range [...][2]string{{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
		{" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}
