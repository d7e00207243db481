// Package charsmap reads SentencePiece's precompiled character map: the
// precompiled_charsmap bytes of a NormalizerSpec (nmt_nfkc, nfkc_cf, identity with
// rules, …), also found base64-encoded in Hugging Face tokenizer.json "Precompiled"
// normalizers.
//
// The blob is
//
//	<trie size: uint32 little endian><double-array trie (darts-clone units)><replacements>
//
// The trie maps byte strings to offsets into the replacement area, which holds
// NUL-terminated UTF-8 strings. A lookup walks the trie from the start of the input and
// keeps the longest key that ends at a leaf, as SentencePiece's
// normalizer::Normalizer::NormalizePrefix and darts-clone's commonPrefixSearch do
// (sentencepiece/src/normalizer.cc, third_party/darts_clone/darts.h).
//
// The blob is treated as hostile: every trie index is bounds-checked, and a leaf whose
// value does not point at a NUL-terminated string inside the replacement area is ignored
// (SentencePiece would read outside the blob there).
package charsmap

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// maxBlobSize bounds the blobs Parse accepts (real ones are about 240 KB).
const maxBlobSize = 64 << 20

// Map is a parsed precompiled charsmap. It is immutable and safe for concurrent use.
type Map struct {
	units      []uint32 // darts-clone double-array units
	normalized string   // replacement strings, NUL-terminated
}

// Parse reads a precompiled charsmap blob. The Map keeps its own copy of the data.
func Parse(blob []byte) (*Map, error) {
	if len(blob) > maxBlobSize {
		return nil, fmt.Errorf("charsmap: blob of %d bytes exceeds the limit of %d", len(blob), maxBlobSize)
	}
	if len(blob) <= 4 {
		return nil, fmt.Errorf("charsmap: blob of %d bytes is too short", len(blob))
	}
	trieSize := binary.LittleEndian.Uint32(blob)
	if uint64(trieSize) > uint64(len(blob)-4) {
		return nil, fmt.Errorf("charsmap: trie size %d exceeds the blob (%d bytes after the size)", trieSize, len(blob)-4)
	}
	if trieSize < 4 {
		return nil, fmt.Errorf("charsmap: trie of %d bytes has no unit", trieSize)
	}
	trie := blob[4 : 4+trieSize]
	// Like SentencePiece, ignore a partial unit at the end of the trie.
	units := make([]uint32, len(trie)/4)
	for i := range units {
		units[i] = binary.LittleEndian.Uint32(trie[4*i:])
	}
	return &Map{units: units, normalized: string(blob[4+trieSize:])}, nil
}

// darts-clone unit fields (DoubleArrayUnit in darts.h).
func hasLeaf(u uint32) bool  { return (u>>8)&1 == 1 }
func value(u uint32) uint32  { return u & (1<<31 - 1) }
func label(u uint32) uint32  { return u & (1<<31 | 0xFF) }
func offset(u uint32) uint32 { return (u >> 10) << ((u & (1 << 9)) >> 6) }

// Transform finds the longest key of the map that is a prefix of s. It returns the
// replacement, the number of bytes of s the key covers, and ok false when no key
// matches (then replacement is "" and consumed 0). A replacement may be empty (the
// character is removed).
func (m *Map) Transform(s string) (replacement string, consumed int, ok bool) {
	units := m.units
	n := uint64(len(units))
	if n == 0 {
		return "", 0, false
	}
	node := uint64(offset(units[0]))
	for i := 0; i < len(s); i++ {
		c := uint32(s[i])
		node ^= uint64(c)
		if node >= n {
			break
		}
		u := units[node]
		if label(u) != c {
			break
		}
		node ^= uint64(offset(u))
		if hasLeaf(u) && node < n {
			if r, valid := m.replacement(value(units[node])); valid {
				replacement, consumed, ok = r, i+1, true
			}
		}
	}
	return replacement, consumed, ok
}

// replacement returns the NUL-terminated string at offset v of the replacement area.
func (m *Map) replacement(v uint32) (string, bool) {
	if uint64(v) >= uint64(len(m.normalized)) {
		return "", false
	}
	rest := m.normalized[v:]
	end := strings.IndexByte(rest, 0)
	if end < 0 {
		return "", false
	}
	return rest[:end], true
}
