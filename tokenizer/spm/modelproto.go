package spm

import "fmt"

// PieceType is the type of a vocabulary entry (ModelProto.SentencePiece.Type).
type PieceType int

// Piece types, numbered as in sentencepiece_model.proto.
const (
	Normal      PieceType = 1
	Unknown     PieceType = 2
	Control     PieceType = 3
	UserDefined PieceType = 4
	Unused      PieceType = 5
	Byte        PieceType = 6
)

func (t PieceType) String() string {
	switch t {
	case Normal:
		return "NORMAL"
	case Unknown:
		return "UNKNOWN"
	case Control:
		return "CONTROL"
	case UserDefined:
		return "USER_DEFINED"
	case Unused:
		return "UNUSED"
	case Byte:
		return "BYTE"
	}
	return fmt.Sprintf("PieceType(%d)", int(t))
}

// ModelType is TrainerSpec.model_type.
type ModelType int

// Model types, numbered as in sentencepiece_model.proto.
const (
	Unigram ModelType = 1
	BPE     ModelType = 2
	Word    ModelType = 3
	Char    ModelType = 4
)

func (t ModelType) String() string {
	switch t {
	case Unigram:
		return "UNIGRAM"
	case BPE:
		return "BPE"
	case Word:
		return "WORD"
	case Char:
		return "CHAR"
	}
	return fmt.Sprintf("ModelType(%d)", int(t))
}

// Piece is one vocabulary entry.
type Piece struct {
	Text  string
	Score float32
	Type  PieceType
}

// TrainerSpec holds the fields of TrainerSpec that encoding and decoding use, with the
// proto defaults.
type TrainerSpec struct {
	ModelType               ModelType
	VocabSize               int32
	TreatWhitespaceAsSuffix bool
	AllowWhitespaceOnly     bool
	SplitDigits             bool
	ByteFallback            bool
	ControlSymbols          []string
	UserDefinedSymbols      []string
	UnkID, BosID, EosID     int32
	PadID                   int32
	UnkPiece, BosPiece      string
	EosPiece, PadPiece      string
	UnkSurface              string
}

// NormalizerSpec holds NormalizerSpec, with the proto defaults.
type NormalizerSpec struct {
	Name                   string
	PrecompiledCharsmap    []byte
	AddDummyPrefix         bool
	RemoveExtraWhitespaces bool
	EscapeWhitespaces      bool
	NormalizationRuleTSV   string
}

type selfTestSample struct{ input, expected string }

// modelProto is the parsed ModelProto.
type modelProto struct {
	pieces        []Piece
	trainer       TrainerSpec
	normalizer    NormalizerSpec
	hasDenorm     bool
	denormalizer  NormalizerSpec
	selfTestInput []selfTestSample
}

func defaultTrainerSpec() TrainerSpec {
	return TrainerSpec{
		ModelType: Unigram, VocabSize: 8000,
		UnkID: 0, BosID: 1, EosID: 2, PadID: -1,
		UnkPiece: "<unk>", BosPiece: "<s>", EosPiece: "</s>", PadPiece: "<pad>",
		UnkSurface: " \u2047 ",
	}
}

func defaultNormalizerSpec() NormalizerSpec {
	return NormalizerSpec{AddDummyPrefix: true, RemoveExtraWhitespaces: true, EscapeWhitespaces: true}
}

// parseModelProto decodes a serialized ModelProto.
func parseModelProto(b []byte) (*modelProto, error) {
	mp := &modelProto{trainer: defaultTrainerSpec(), normalizer: defaultNormalizerSpec(), denormalizer: defaultNormalizerSpec()}
	r := reader{b: b}
	for !r.done() {
		f, err := r.next()
		if err != nil {
			return nil, fmt.Errorf("ModelProto: %w", err)
		}
		data, ok := f.message()
		if !ok {
			continue
		}
		switch f.num {
		case 1:
			p := Piece{Type: Normal}
			if err := parsePiece(data, &p); err != nil {
				return nil, fmt.Errorf("ModelProto.pieces[%d]: %w", len(mp.pieces), err)
			}
			mp.pieces = append(mp.pieces, p)
		case 2:
			if err := parseTrainerSpec(data, &mp.trainer); err != nil {
				return nil, fmt.Errorf("ModelProto.trainer_spec: %w", err)
			}
		case 3:
			if err := parseNormalizerSpec(data, &mp.normalizer); err != nil {
				return nil, fmt.Errorf("ModelProto.normalizer_spec: %w", err)
			}
		case 4:
			if err := parseSelfTest(data, &mp.selfTestInput); err != nil {
				return nil, fmt.Errorf("ModelProto.self_test_data: %w", err)
			}
		case 5:
			mp.hasDenorm = true
			if err := parseNormalizerSpec(data, &mp.denormalizer); err != nil {
				return nil, fmt.Errorf("ModelProto.denormalizer_spec: %w", err)
			}
		}
	}
	return mp, nil
}

func parsePiece(b []byte, p *Piece) error {
	r := reader{b: b}
	for !r.done() {
		f, err := r.next()
		if err != nil {
			return err
		}
		switch f.num {
		case 1:
			if s, ok := f.str(); ok {
				p.Text = s
			}
		case 2:
			if v, ok := f.float32(); ok {
				p.Score = v
			}
		case 3:
			if v, ok := f.int32(); ok && v >= int32(Normal) && v <= int32(Byte) {
				p.Type = PieceType(v)
			}
		}
	}
	return nil
}

func parseTrainerSpec(b []byte, t *TrainerSpec) error {
	r := reader{b: b}
	for !r.done() {
		f, err := r.next()
		if err != nil {
			return err
		}
		setBool := func(dst *bool) {
			if v, ok := f.boolean(); ok {
				*dst = v
			}
		}
		setInt := func(dst *int32) {
			if v, ok := f.int32(); ok {
				*dst = v
			}
		}
		setStr := func(dst *string) {
			if v, ok := f.str(); ok {
				*dst = v
			}
		}
		switch f.num {
		case 3:
			if v, ok := f.int32(); ok && v >= int32(Unigram) && v <= int32(Char) {
				t.ModelType = ModelType(v)
			}
		case 4:
			setInt(&t.VocabSize)
		case 24:
			setBool(&t.TreatWhitespaceAsSuffix)
		case 26:
			setBool(&t.AllowWhitespaceOnly)
		case 25:
			setBool(&t.SplitDigits)
		case 35:
			setBool(&t.ByteFallback)
		case 30:
			if s, ok := f.str(); ok {
				t.ControlSymbols = append(t.ControlSymbols, s)
			}
		case 31:
			if s, ok := f.str(); ok {
				t.UserDefinedSymbols = append(t.UserDefinedSymbols, s)
			}
		case 40:
			setInt(&t.UnkID)
		case 41:
			setInt(&t.BosID)
		case 42:
			setInt(&t.EosID)
		case 43:
			setInt(&t.PadID)
		case 45:
			setStr(&t.UnkPiece)
		case 46:
			setStr(&t.BosPiece)
		case 47:
			setStr(&t.EosPiece)
		case 48:
			setStr(&t.PadPiece)
		case 44:
			setStr(&t.UnkSurface)
		}
	}
	return nil
}

func parseNormalizerSpec(b []byte, n *NormalizerSpec) error {
	r := reader{b: b}
	for !r.done() {
		f, err := r.next()
		if err != nil {
			return err
		}
		switch f.num {
		case 1:
			if s, ok := f.str(); ok {
				n.Name = s
			}
		case 2:
			if v, ok := f.bytes(); ok {
				n.PrecompiledCharsmap = v
			}
		case 3:
			if v, ok := f.boolean(); ok {
				n.AddDummyPrefix = v
			}
		case 4:
			if v, ok := f.boolean(); ok {
				n.RemoveExtraWhitespaces = v
			}
		case 5:
			if v, ok := f.boolean(); ok {
				n.EscapeWhitespaces = v
			}
		case 6:
			if s, ok := f.str(); ok {
				n.NormalizationRuleTSV = s
			}
		}
	}
	return nil
}

func parseSelfTest(b []byte, out *[]selfTestSample) error {
	r := reader{b: b}
	for !r.done() {
		f, err := r.next()
		if err != nil {
			return err
		}
		data, ok := f.message()
		if f.num != 1 || !ok {
			continue
		}
		var s selfTestSample
		sr := reader{b: data}
		for !sr.done() {
			g, err := sr.next()
			if err != nil {
				return fmt.Errorf("samples[%d]: %w", len(*out), err)
			}
			switch g.num {
			case 1:
				if v, ok := g.str(); ok {
					s.input = v
				}
			case 2:
				if v, ok := g.str(); ok {
					s.expected = v
				}
			}
		}
		*out = append(*out, s)
	}
	return nil
}
