package spm

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Decode turns ids back into text as SentencePiece's decode(ids). With skipSpecial,
// control and unknown ids are left out first (control pieces decode to nothing anyway;
// an unknown piece otherwise decodes to TrainerSpec.unk_surface, " ⁇ " by default). An id
// outside the vocabulary is an error, as in SentencePiece.
func (m *Model) Decode(ids []int, skipSpecial bool) (string, error) {
	pieces := make([]string, 0, len(ids))
	for _, id := range ids {
		if id < 0 || id >= len(m.pieces) {
			return "", fmt.Errorf("spm: id %d out of range [0, %d)", id, len(m.pieces))
		}
		if skipSpecial {
			if t := m.pieces[id].Type; t == Control || t == Unknown {
				continue
			}
		}
		pieces = append(pieces, m.pieces[id].Text)
	}
	return m.DecodePieces(pieces)
}

// DecodePieces is SentencePiece's decode_pieces: each piece is looked up again
// (PieceToId, so a string that is not a piece is an unknown piece decoded as itself).
func (m *Model) DecodePieces(pieces []string) (string, error) {
	ids := make([]int, len(pieces))
	for i, p := range pieces {
		ids[i] = m.pieceToID(p)
	}
	var text strings.Builder
	// decodePiece is DecodeSentencePiece: the decoded text and whether it consumed the
	// leading space of the first piece.
	decodePiece := func(piece string, id int, isBosWS bool) (string, bool) {
		switch m.pieces[id].Type {
		case Control:
			return "", false
		case Unknown:
			if m.pieces[id].Text == piece {
				return m.trainer.UnkSurface, false
			}
			return piece, false
		}
		hasBosWS := false
		if isBosWS && (m.normSpec.AddDummyPrefix || m.normSpec.RemoveExtraWhitespaces) {
			if strings.HasPrefix(piece, spaceSymbol) {
				piece = piece[len(spaceSymbol):]
				hasBosWS = true
			}
			if m.normSpec.RemoveExtraWhitespaces {
				hasBosWS = false
			}
		}
		return strings.ReplaceAll(piece, spaceSymbol, " "), hasBosWS
	}
	// flushBytes reassembles a run of byte pieces, one character at a time; an invalid
	// byte becomes U+FFFD.
	var bytes []byte
	flushBytes := func() {
		for len(bytes) > 0 {
			r, n := utf8.DecodeRune(bytes)
			if r == utf8.RuneError && n == 1 {
				text.WriteString("\uFFFD")
			} else {
				text.Write(bytes[:n])
			}
			bytes = bytes[n:]
		}
		bytes = bytes[:0]
	}
	isBosWS, bosWSSeen := true, false
	for i, id := range ids {
		if m.pieces[id].Type == Byte {
			bytes = append(bytes, byte(pieceToByte(pieces[i])))
			continue
		}
		flushBytes()
		if bosWSSeen || text.Len() > 0 {
			isBosWS = false
		}
		var s string
		s, bosWSSeen = decodePiece(pieces[i], id, isBosWS)
		text.WriteString(s)
	}
	flushBytes()
	if m.denorm != nil {
		s, _ := m.denorm.normalize(text.String(), nil)
		return s, nil
	}
	return text.String(), nil
}
