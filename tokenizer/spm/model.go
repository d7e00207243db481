// Package spm loads SentencePiece models (.model / .spm files, a serialized ModelProto)
// and encodes and decodes text exactly as SentencePiece 0.1.97's
// SentencePieceProcessor.encode(text) and decode(ids) do with their defaults (no
// sampling, no BOS/EOS, no extra options):
//
//   - normalization: the precompiled charsmap (package tokenizer/charsmap), user-defined
//     symbols passed through unnormalized, remove_extra_whitespaces, add_dummy_prefix
//     (a suffix with treat_whitespace_as_suffix) and spaces escaped as U+2581, keeping the
//     byte alignment with the input;
//   - UNIGRAM: the optimized Viterbi of unigram_model.cc (EncodeOptimized) with its float
//     arithmetic, tie-breaking, unknown-character nodes and user-defined bonus;
//   - BPE: bpe_model.cc's merge loop (highest score first, leftmost on ties) with UNUSED
//     pieces re-split; WORD and CHAR models too;
//   - unknown pieces merged into one token, or split into <0xXX> byte pieces with
//     byte_fallback;
//   - offsets: SentencePiece's begin/end in the original text, as UTF-8 byte offsets
//     (CharOffsets converts them to code points as the Python immutable proto does);
//   - decode: control pieces dropped, the first piece's dummy-prefix space removed,
//     byte pieces reassembled (invalid UTF-8 becomes U+FFFD), the unknown surface
//     " ⁇ " and the denormalizer.
//
// Loaders treat files as hostile: sizes are bounded, every protobuf length is checked,
// errors start with "spm: ", and nothing panics. Where SentencePiece would read outside
// its buffers for a corrupt file, this package returns an error instead; so it does for
// the rare text a corrupt model cannot encode (SentencePiece's Python encode returns []
// there), and it refuses NORMAL/USER_DEFINED/UNUSED pieces with a NUL byte or longer
// than MaxPieceLen.
//
// Not supported: sampling (subword regularization, n-best, BPE-dropout), the extra
// options (bos:eos:reverse:unk), vocabulary restriction (SetVocabulary), and training.
//
// LoadMarian wraps a model as Hugging Face's MarianTokenizer (see Marian).
package spm

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/optiformer/optiformer/tokenizer"
	"github.com/optiformer/optiformer/tokenizer/charsmap"
)

// Limits for hostile files.
const (
	// MaxModelSize bounds the size of a model file (real ones are under 50 MB).
	MaxModelSize = 256 << 20
	// MaxPieceLen bounds the length in bytes of one vocabulary entry.
	MaxPieceLen = 1 << 16
)

// Model is a loaded SentencePiece model. It implements tokenizer.Tokenizer and
// tokenizer.Truncator and is safe for concurrent use.
type Model struct {
	pieces   []Piece
	trainer  TrainerSpec
	normSpec NormalizerSpec

	// pieceIDs maps NORMAL, USER_DEFINED and UNUSED pieces (SentencePiece's pieces_),
	// reserved the CONTROL, UNKNOWN and BYTE pieces (reserved_id_map_).
	pieceIDs map[string]int
	reserved map[string]int
	trie     *trie // pieceIDs as a trie (unigram)
	unkID    int

	minScore, maxScore float32 // over NORMAL pieces, as unigram::Model computes them
	byteIDs            [256]int

	norm   *normalizer
	denorm *normalizer // nil without a denormalizer charsmap
	user   *trie       // user-defined symbols, nil for none
}

var _ tokenizer.Tokenizer = (*Model)(nil)
var _ tokenizer.Truncator = (*Model)(nil)

// Load reads a SentencePiece model file.
func Load(path string) (*Model, error) {
	data, err := readFileLimited(path, MaxModelSize)
	if err != nil {
		return nil, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	return m, nil
}

// readFileLimited reads a whole file of at most limit bytes.
func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spm: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, fmt.Errorf("spm: %s is %d bytes, more than the limit of %d", path, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("spm: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("spm: %s is more than the limit of %d bytes", path, limit)
	}
	return data, nil
}

// Parse reads a serialized ModelProto and checks it as SentencePieceProcessor::Load
// does (and a little more, where SentencePiece would misbehave on a corrupt model).
func Parse(data []byte) (*Model, error) {
	if len(data) > MaxModelSize {
		return nil, fmt.Errorf("spm: model of %d bytes exceeds the limit of %d", len(data), MaxModelSize)
	}
	mp, err := parseModelProto(data)
	if err != nil {
		return nil, fmt.Errorf("spm: %w", err)
	}
	m := &Model{pieces: mp.pieces, trainer: mp.trainer, normSpec: mp.normalizer}
	if err := m.initPieces(); err != nil {
		return nil, fmt.Errorf("spm: %w", err)
	}
	m.norm = &normalizer{spec: mp.normalizer, suffix: mp.trainer.TreatWhitespaceAsSuffix, user: m.user}
	if len(mp.normalizer.PrecompiledCharsmap) > 0 {
		if m.norm.cm, err = charsmap.Parse(mp.normalizer.PrecompiledCharsmap); err != nil {
			return nil, fmt.Errorf("spm: normalizer_spec: %w", err)
		}
	}
	if mp.hasDenorm && len(mp.denormalizer.PrecompiledCharsmap) > 0 {
		m.denorm = &normalizer{spec: mp.denormalizer}
		if m.denorm.cm, err = charsmap.Parse(mp.denormalizer.PrecompiledCharsmap); err != nil {
			return nil, fmt.Errorf("spm: denormalizer_spec: %w", err)
		}
	}
	// SentencePiece runs the model's self-test samples when it loads a model.
	for i, s := range mp.selfTestInput {
		pieces, err := m.encodePieces(s.input)
		if err != nil {
			return nil, fmt.Errorf("spm: self-test sample %d: %w", i, err)
		}
		words := make([]string, len(pieces))
		for j, p := range pieces {
			words[j] = p.piece
		}
		if got := strings.Join(words, " "); got != s.expected {
			return nil, fmt.Errorf("spm: self-test sample %d fails: %q gives %q, the model expects %q", i, s.input, got, s.expected)
		}
	}
	return m, nil
}

// initPieces is ModelInterface::InitializePieces plus the model-specific set-up.
func (m *Model) initPieces() error {
	// model_type is always one of the four: parseTrainerSpec ignores other values, as the
	// C++ runtime keeps unknown enum values out of the field.
	if len(m.pieces) == 0 {
		return errors.New("the model has no pieces")
	}
	if len(m.pieces) > math.MaxInt32 {
		return errors.New("too many pieces")
	}
	m.pieceIDs = make(map[string]int, len(m.pieces))
	m.reserved = map[string]int{}
	m.unkID = -1
	for i := range m.byteIDs {
		m.byteIDs[i] = -1
	}
	var userKeys []string
	var userVals []int32
	m.minScore, m.maxScore = math.MaxFloat32, 0x1p-126 // FLT_MAX, FLT_MIN
	for i, p := range m.pieces {
		if p.Text == "" {
			return fmt.Errorf("piece %d is empty", i)
		}
		if len(p.Text) > MaxPieceLen {
			return fmt.Errorf("piece %d is %d bytes long, more than the limit of %d", i, len(p.Text), MaxPieceLen)
		}
		normal := p.Type == Normal || p.Type == UserDefined || p.Type == Unused
		if normal && strings.IndexByte(p.Text, 0) >= 0 {
			return fmt.Errorf("piece %d (%q) contains a NUL byte", i, p.Text)
		}
		dst := m.reserved
		if normal {
			dst = m.pieceIDs
		}
		if _, dup := dst[p.Text]; dup {
			return fmt.Errorf("piece %d: %q is already defined", i, p.Text)
		}
		dst[p.Text] = i
		switch p.Type {
		case UserDefined:
			userKeys = append(userKeys, p.Text)
			userVals = append(userVals, int32(i))
		case Unknown:
			if m.unkID >= 0 {
				return fmt.Errorf("piece %d: unk is already defined (piece %d)", i, m.unkID)
			}
			m.unkID = i
		case Byte:
			if !m.trainer.ByteFallback {
				return fmt.Errorf("byte piece %q is found although byte_fallback is false", p.Text)
			}
			b := pieceToByte(p.Text)
			if b < 0 {
				return fmt.Errorf("byte piece %q is invalid", p.Text)
			}
			m.byteIDs[b] = i
		case Normal:
			m.minScore = min(m.minScore, p.Score)
			m.maxScore = max(m.maxScore, p.Score)
		}
	}
	if m.unkID < 0 {
		return errors.New("unk is not defined")
	}
	if m.trainer.ByteFallback {
		for b, id := range m.byteIDs {
			if id < 0 {
				return fmt.Errorf("there are not 256 byte pieces although byte_fallback is true (<0x%02X> is missing)", b)
			}
		}
	}
	if len(userKeys) > 0 {
		m.user = newTrie(userKeys, userVals)
	}
	if m.trainer.ModelType == Unigram {
		if len(m.pieceIDs) == 0 {
			return errors.New("no pieces are loaded")
		}
		keys := make([]string, 0, len(m.pieceIDs))
		vals := make([]int32, 0, len(m.pieceIDs))
		for k, v := range m.pieceIDs {
			keys = append(keys, k)
			vals = append(vals, int32(v))
		}
		m.trie = newTrie(keys, vals)
	}
	return nil
}

// pieceToByte parses "<0xXX>" (two upper-case hex digits) as SentencePiece's PieceToByte.
func pieceToByte(s string) int {
	if len(s) != 6 || s[:3] != "<0x" || s[5] != '>' {
		return -1
	}
	hex := func(c byte) int {
		switch {
		case c >= '0' && c <= '9':
			return int(c - '0')
		case c >= 'A' && c <= 'F':
			return int(c-'A') + 10
		}
		return -1
	}
	hi, lo := hex(s[3]), hex(s[4])
	if hi < 0 || lo < 0 {
		return -1
	}
	return hi<<4 | lo
}

// pieceToID is ModelInterface::PieceToId: reserved pieces first, then the others, else
// the unknown id.
func (m *Model) pieceToID(s string) int {
	if id, ok := m.reserved[s]; ok {
		return id
	}
	if id, ok := m.pieceIDs[s]; ok {
		return id
	}
	return m.unkID
}

func (m *Model) typeOf(id int) PieceType { return m.pieces[id].Type }

// specialID is SentencePieceProcessor::{bos,eos,pad}_id: the id of the piece if it is a
// control symbol (unk: an unknown symbol), else -1.
func (m *Model) specialID(piece string, want PieceType) int {
	id := m.pieceToID(piece)
	if m.typeOf(id) == want {
		return id
	}
	return -1
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// UnkID is the id of the unknown piece.
func (m *Model) UnkID() int { return m.specialID(orDefault(m.trainer.UnkPiece, "<unk>"), Unknown) }

// BosID is the id of the BOS piece (TrainerSpec.bos_piece, a control symbol), -1 when
// the model has none.
func (m *Model) BosID() int { return m.specialID(orDefault(m.trainer.BosPiece, "<s>"), Control) }

// EosID is the id of the EOS piece, -1 when the model has none.
func (m *Model) EosID() int { return m.specialID(orDefault(m.trainer.EosPiece, "</s>"), Control) }

// PadID is the id of the padding piece, -1 when the model has none.
func (m *Model) PadID() int { return m.specialID(orDefault(m.trainer.PadPiece, "<pad>"), Control) }

// Type is the model type (TrainerSpec.model_type).
func (m *Model) Type() ModelType { return m.trainer.ModelType }

// TrainerSpec returns the trainer settings the model was loaded with.
func (m *Model) TrainerSpec() TrainerSpec { return m.trainer }

// NormalizerSpec returns the normalizer settings (PrecompiledCharsmap is not included).
func (m *Model) NormalizerSpec() NormalizerSpec {
	s := m.normSpec
	s.PrecompiledCharsmap = nil
	return s
}

// Piece returns the vocabulary entry of id.
func (m *Model) Piece(id int) (Piece, bool) {
	if id < 0 || id >= len(m.pieces) {
		return Piece{}, false
	}
	return m.pieces[id], true
}

// VocabSize is the number of pieces.
func (m *Model) VocabSize() int { return len(m.pieces) }

// TokenToID looks a piece up as SentencePiece's PieceToId does, but reports ok false
// instead of returning the unknown id for a string that is not a piece.
func (m *Model) TokenToID(token string) (int, bool) {
	if id, ok := m.reserved[token]; ok {
		return id, true
	}
	id, ok := m.pieceIDs[token]
	return id, ok
}

// IDToToken returns the piece of id.
func (m *Model) IDToToken(id int) (string, bool) {
	if id < 0 || id >= len(m.pieces) {
		return "", false
	}
	return m.pieces[id].Text, true
}

// Normalize returns SentencePiece's normalization of text (what spm_normalize prints,
// with spaces escaped as U+2581 when the model escapes them).
func (m *Model) Normalize(text string) string {
	s, _ := m.norm.normalize(text, nil)
	return s
}
