package spm

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// pw writes protobuf wire format for hand-built test models.
type pw []byte

func (w pw) varint(num int, v uint64) pw {
	w = binary.AppendUvarint(w, uint64(num)<<3|wireVarint)
	return binary.AppendUvarint(w, v)
}

func (w pw) int(num int, v int) pw { return w.varint(num, uint64(int64(v))) }

func (w pw) boolean(num int, v bool) pw {
	if v {
		return w.varint(num, 1)
	}
	return w.varint(num, 0)
}

func (w pw) bytes(num int, b []byte) pw {
	w = binary.AppendUvarint(w, uint64(num)<<3|wireBytes)
	w = binary.AppendUvarint(w, uint64(len(b)))
	return append(w, b...)
}

func (w pw) str(num int, s string) pw { return w.bytes(num, []byte(s)) }

func (w pw) float(num int, f float32) pw {
	w = binary.AppendUvarint(w, uint64(num)<<3|wireFixed32)
	return binary.LittleEndian.AppendUint32(w, math.Float32bits(f))
}

// tp is a test piece.
type tp struct {
	text  string
	score float32
	typ   PieceType
}

// modelSpec describes a hand-built model.
type modelSpec struct {
	pieces  []tp
	trainer pw // TrainerSpec fields
	norm    pw // NormalizerSpec fields
	denorm  pw // DenormalizerSpec fields (nil: none)
	extra   pw // appended to the ModelProto
}

func (s modelSpec) bytes() []byte {
	var w pw
	for _, p := range s.pieces {
		var pp pw
		pp = pp.str(1, p.text).float(2, p.score)
		if p.typ != 0 {
			pp = pp.int(3, int(p.typ))
		}
		w = w.bytes(1, pp)
	}
	w = w.bytes(2, s.trainer)
	w = w.bytes(3, s.norm)
	if s.denorm != nil {
		w = w.bytes(5, s.denorm)
	}
	return append(w, s.extra...)
}

func specials() []tp {
	return []tp{{"<unk>", 0, Unknown}, {"<s>", 0, Control}, {"</s>", 0, Control}}
}

func mustParse(t *testing.T, data []byte) *Model {
	t.Helper()
	m, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReaderFields(t *testing.T) {
	var w pw
	w = w.int(1, 150).str(2, "hi").float(3, 1.5)
	w = binary.AppendUvarint(w, 4<<3|wireFixed64)
	w = binary.LittleEndian.AppendUint64(w, 7)
	// A group 5 holding a varint and a nested group 6.
	w = binary.AppendUvarint(w, 5<<3|wireStart)
	w = w.int(1, 3)
	w = binary.AppendUvarint(w, 6<<3|wireStart)
	w = binary.AppendUvarint(w, 6<<3|wireEnd)
	w = binary.AppendUvarint(w, 5<<3|wireEnd)
	w = w.int(7, -1)
	r := reader{b: w}
	var got []field
	for !r.done() {
		f, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
	if len(got) != 6 {
		t.Fatalf("%d fields", len(got))
	}
	if v, ok := got[0].int32(); !ok || v != 150 {
		t.Errorf("varint %v %v", v, ok)
	}
	if v, ok := got[1].str(); !ok || v != "hi" {
		t.Errorf("string %q %v", v, ok)
	}
	if v, ok := got[2].float32(); !ok || v != 1.5 {
		t.Errorf("float %v %v", v, ok)
	}
	if got[3].wire != wireFixed64 || got[3].val != 7 {
		t.Errorf("fixed64 %+v", got[3])
	}
	if got[4].wire != wireStart || got[4].num != 5 {
		t.Errorf("group %+v", got[4])
	}
	if v, ok := got[5].int32(); !ok || v != -1 {
		t.Errorf("negative int32 %v %v", v, ok)
	}
	// Wrong wire types are reported as not fitting.
	if _, ok := got[0].str(); ok {
		t.Error("varint read as string")
	}
	if _, ok := got[1].int32(); ok {
		t.Error("string read as varint")
	}
	if _, ok := got[1].float32(); ok {
		t.Error("string read as float")
	}
	if _, ok := got[2].boolean(); ok {
		t.Error("float read as bool")
	}
}

func TestReaderErrors(t *testing.T) {
	key := func(num, wire int) []byte { return binary.AppendUvarint(nil, uint64(num)<<3|uint64(wire)) }
	cat := func(parts ...[]byte) []byte {
		var b []byte
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	deep := []byte{}
	for i := 0; i < maxGroupDepth+2; i++ {
		deep = append(deep, key(1, wireStart)...)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"truncated key", []byte{0x80}, "truncated"},
		{"varint overflow", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "overflows"},
		{"field zero", []byte{0x00}, "field number 0"},
		{"truncated varint", cat(key(1, wireVarint), []byte{0x80}), "truncated"},
		{"truncated fixed64", cat(key(1, wireFixed64), []byte{1, 2, 3}), "truncated"},
		{"truncated fixed32", cat(key(1, wireFixed32), []byte{1, 2, 3}), "truncated"},
		{"truncated length", cat(key(1, wireBytes), []byte{0x80}), "truncated"},
		{"length past end", cat(key(1, wireBytes), []byte{5, 'a'}), "exceeds"},
		{"huge length", cat(key(1, wireBytes), binary.AppendUvarint(nil, math.MaxUint64)), "exceeds"},
		{"wire type 6", key(1, 6), "invalid wire type"},
		{"wire type 7", key(1, 7), "invalid wire type"},
		{"stray end group", key(1, wireEnd), "unexpected end of group"},
		{"unterminated group", key(1, wireStart), "truncated"},
		{"mismatched group", cat(key(1, wireStart), key(2, wireEnd)), "closed by end tag"},
		{"bad field in group", cat(key(1, wireStart), key(2, wireBytes), []byte{9}), "exceeds"},
		{"deep groups", deep, "nested deeper"},
	} {
		r := reader{b: tc.b}
		var err error
		for !r.done() && err == nil {
			_, err = r.next()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want …%s…", tc.name, err, tc.want)
		}
		// The same bytes as a model file give an spm error.
		if _, err := Parse(tc.b); err == nil || !strings.HasPrefix(err.Error(), "spm: ") {
			t.Errorf("%s: Parse error %v", tc.name, err)
		}
	}
}

// TestProtoSemantics checks proto2 rules that matter for odd but valid files.
func TestProtoSemantics(t *testing.T) {
	pieces := append(specials(), tp{"\u2581a", -1, Normal}, tp{"a", -2, 0}, tp{"b", -2, 99})
	var trainer pw
	trainer = trainer.int(3, 2)   // BPE
	trainer = trainer.int(3, 42)  // an unknown enum value is ignored: stays BPE
	trainer = trainer.str(3, "x") // a wrong wire type is ignored
	trainer = trainer.int(99, 5)  // unknown field
	var norm pw
	norm = norm.boolean(3, false).str(1, "first")
	spec := modelSpec{pieces: pieces, trainer: trainer, norm: norm}
	data := spec.bytes()
	// A second normalizer_spec is merged: the name changes, add_dummy_prefix stays false.
	data = pw(data).bytes(3, pw(nil).str(1, "second"))
	// A second trainer_spec is merged too.
	data = pw(data).bytes(2, pw(nil).str(46, "<bos>"))
	m := mustParse(t, data)
	if m.Type() != BPE {
		t.Errorf("model type %v", m.Type())
	}
	ns := m.NormalizerSpec()
	if ns.Name != "second" || ns.AddDummyPrefix || !ns.RemoveExtraWhitespaces || !ns.EscapeWhitespaces {
		t.Errorf("normalizer spec %+v", ns)
	}
	ts := m.TrainerSpec()
	if ts.BosPiece != "<bos>" || ts.EosPiece != "</s>" || ts.UnkSurface != " \u2047 " || ts.PadID != -1 {
		t.Errorf("trainer spec %+v", ts)
	}
	if m.BosID() != -1 || m.EosID() != 2 || m.UnkID() != 0 || m.PadID() != -1 {
		t.Errorf("special ids %d %d %d %d", m.BosID(), m.EosID(), m.UnkID(), m.PadID())
	}
	for id, want := range []PieceType{Unknown, Control, Control, Normal, Normal, Normal} {
		if p, _ := m.Piece(id); p.Type != want {
			t.Errorf("piece %d type %v, want %v", id, p.Type, want)
		}
	}
	if PieceType(99).String() != "PieceType(99)" || Byte.String() != "BYTE" || ModelType(9).String() != "ModelType(9)" || Word.String() != "WORD" {
		t.Error("String methods")
	}
}
