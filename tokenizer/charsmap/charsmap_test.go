package charsmap

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"os"
	"sort"
	"strings"
	"testing"
)

func loadBlob(t testing.TB, name string) []byte {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(g)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func loadMap(t testing.TB, name string) *Map {
	t.Helper()
	m, err := Parse(loadBlob(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type mapping struct {
	in, out  string
	consumed int
	ok       bool
}

func checkMappings(t *testing.T, m *Map, cases []mapping) {
	t.Helper()
	for _, c := range cases {
		out, n, ok := m.Transform(c.in)
		if out != c.out || n != c.consumed || ok != c.ok {
			t.Errorf("Transform(%q) = %q, %d, %v; want %q, %d, %v", c.in, out, n, ok, c.out, c.consumed, c.ok)
		}
	}
}

// TestNmtNfkc checks mappings of SentencePiece's nmt_nfkc rule (the charsmap of
// test_sentencepiece.model, byte-identical to t5-small's tokenizer.json Precompiled
// normalizer). Expected values agree with Unicode NFKC where nmt_nfkc follows it and with
// SentencePiece's extra whitespace/control rules elsewhere.
func TestNmtNfkc(t *testing.T) {
	m := loadMap(t, "nmt_nfkc.bin.gz")
	checkMappings(t, m, []mapping{
		{"Ａ", "A", 3, true},
		{"ＡＢ", "A", 3, true}, // one character at a time
		{"ﬁx", "fi", 3, true},
		{"①", "1", 3, true},
		{"½", "1⁄2", 2, true},
		{"\u00a0", " ", 2, true},
		{"ｶ", "カ", 3, true},
		{"ｶﾞ", "ガ", 6, true}, // a two-character key: the longest match wins
		{"\u3000", " ", 3, true},
		{"\u200b", " ", 3, true},
		{"\u2028", " ", 3, true},
		{"\ufeff", " ", 3, true},
		{"\t", " ", 1, true},
		{"e\u0301", "é", 3, true}, // composition
		{"㍻", "平成", 3, true},
		{"Ⅻ", "XII", 3, true},
		{"a", "", 0, false},
		{"é", "", 0, false},
		{"x\u0301", "", 0, false},
		{"\x00", "", 0, false},
		{"", "", 0, false},
		{"\xff\xfe", "", 0, false},
	})
}

// TestOrtxCaseFactoring checks the case-factoring maps of marian-nmt-ortx-test's
// vocab.joint.spm: the normalizer writes "U" before a lowercased capital, the
// denormalizer undoes it.
func TestOrtxCaseFactoring(t *testing.T) {
	checkMappings(t, loadMap(t, "ortx_identity.bin.gz"), []mapping{
		{"A", "Ua", 1, true},
		{"Ab", "Ua", 1, true},
		{"É", "Ué", 2, true},
		{".", "P.", 1, true},
		{"a", "", 0, false},
	})
	checkMappings(t, loadMap(t, "ortx_denorm.bin.gz"), []mapping{
		{"Ua", "A", 2, true},
		{"U", "", 0, false},
		{" ", "", 0, false},
	})
}

// buildBlob builds a precompiled charsmap blob for rules with a naive double-array
// placement (the layout darts-clone reads; not darts-clone's own builder).
func buildBlob(t testing.TB, rules map[string]string) []byte {
	t.Helper()
	type node struct {
		kids  map[byte]*node
		value int32
	}
	newNode := func() *node { return &node{kids: map[byte]*node{}, value: -1} }
	root := newNode()
	var normalized []byte
	keys := make([]string, 0, len(rules))
	for k := range rules {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "" || strings.IndexByte(k, 0) >= 0 {
			t.Fatalf("bad key %q", k)
		}
		n := root
		for i := 0; i < len(k); i++ {
			c := n.kids[k[i]]
			if c == nil {
				c = newNode()
				n.kids[k[i]] = c
			}
			n = c
		}
		n.value = int32(len(normalized))
		normalized = append(append(normalized, rules[k]...), 0)
	}
	units := []uint32{0}
	used := []bool{true}
	grow := func(i uint32) {
		for uint32(len(units)) <= i {
			units = append(units, 0)
			used = append(used, false)
		}
	}
	type item struct {
		n   *node
		pos uint32
	}
	queue := []item{{root, 0}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		labels := make([]int, 0, len(it.n.kids))
		for c := range it.n.kids {
			labels = append(labels, int(c))
		}
		sort.Ints(labels)
		var base uint32
		for base = 1; ; base++ {
			grow(base | 0xFF)
			free := !used[base] // the label-0 slot is always reserved
			for _, c := range labels {
				if used[base^uint32(c)] {
					free = false
				}
			}
			if free {
				break
			}
		}
		off := it.pos ^ base
		if off >= 1<<21 {
			t.Fatal("offset too large for the test builder")
		}
		units[it.pos] |= off << 10
		used[base] = true
		units[base] = 1 << 31 // never matches a label
		if it.n.value >= 0 {
			units[it.pos] |= 1 << 8
			units[base] = 1<<31 | uint32(it.n.value)
		}
		for _, c := range labels {
			q := base ^ uint32(c)
			used[q] = true
			units[q] = uint32(c)
			queue = append(queue, item{it.n.kids[byte(c)], q})
		}
	}
	blob := binary.LittleEndian.AppendUint32(nil, uint32(4*len(units)))
	for _, u := range units {
		blob = binary.LittleEndian.AppendUint32(blob, u)
	}
	return append(blob, normalized...)
}

func TestBuiltTrie(t *testing.T) {
	m, err := Parse(buildBlob(t, map[string]string{"a": "x", "ab": "yz", "abc": "", "b": "B", "\xff": "?"}))
	if err != nil {
		t.Fatal(err)
	}
	checkMappings(t, m, []mapping{
		{"abcd", "", 3, true},
		{"abd", "yz", 2, true},
		{"a", "x", 1, true},
		{"ac", "x", 1, true},
		{"ba", "B", 1, true},
		{"\xff\xff", "?", 1, true},
		{"c", "", 0, false},
		{"\x00", "", 0, false},
		{"", "", 0, false},
	})
}

func TestParseErrors(t *testing.T) {
	le := func(n uint32, rest ...byte) []byte { return append(binary.LittleEndian.AppendUint32(nil, n), rest...) }
	for _, tc := range []struct {
		name string
		blob []byte
		want string
	}{
		{"nil", nil, "too short"},
		{"size only", le(0), "too short"},
		{"trie larger than blob", le(8, 1, 2, 3, 4), "exceeds the blob"},
		{"trie size huge", le(0xffffffff, 1, 2, 3, 4), "exceeds the blob"},
		{"empty trie", le(0, 'a', 0), "no unit"},
		{"partial unit", le(3, 1, 2, 3, 0), "no unit"},
		{"too large", make([]byte, maxBlobSize+1), "exceeds the limit"},
	} {
		m, err := Parse(tc.blob)
		if err == nil || m != nil {
			t.Errorf("%s: Parse = %v, %v; want an error", tc.name, m, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "charsmap: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q, want charsmap: …%s…", tc.name, err, tc.want)
		}
	}
}

// TestHostileValues corrupts the replacement area and the units: bad leaves are ignored
// and a shorter valid match is kept.
func TestHostileValues(t *testing.T) {
	blob := buildBlob(t, map[string]string{"a": "x", "ab": "y"})
	m, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	// Drop the replacement area: every value now points outside the blob.
	trieSize := binary.LittleEndian.Uint32(blob)
	noRepl, err := Parse(blob[:4+trieSize])
	if err != nil {
		t.Fatal(err)
	}
	checkMappings(t, noRepl, []mapping{{"ab", "", 0, false}})
	// Remove the terminating NULs: "x" is at offset 0 and "y" at 2; cut after "x\x00y".
	cut, err := Parse(blob[:4+trieSize+3])
	if err != nil {
		t.Fatal(err)
	}
	checkMappings(t, cut, []mapping{{"ab", "x", 1, true}})
	checkMappings(t, m, []mapping{{"ab", "y", 2, true}})

	// Every unit set to all ones, zero, or offsets pointing far away: no panic.
	for _, fill := range []uint32{0xffffffff, 0, 1<<31 | 0x1ff, 0x3ff << 10, 0xfffffc00 | 1<<9} {
		b := bytes.Clone(blob)
		for i := 4; i+4 <= 4+int(trieSize); i += 4 {
			binary.LittleEndian.PutUint32(b[i:], fill)
		}
		mm, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"a", "ab", "\x00", "\xff\xff\xff", strings.Repeat("a", 100)} {
			out, n, ok := mm.Transform(s)
			if n < 0 || n > len(s) || ok != (n > 0) || (!ok && out != "") {
				t.Errorf("fill %#x: Transform(%q) = %q, %d, %v", fill, s, out, n, ok)
			}
		}
	}
}

// TestWholeMapNoPanic runs every byte string of length ≤ 2 and every code point through
// the real maps.
func TestWholeMapNoPanic(t *testing.T) {
	for _, name := range []string{"nmt_nfkc.bin.gz", "ortx_identity.bin.gz", "ortx_denorm.bin.gz"} {
		m := loadMap(t, name)
		for a := 0; a < 256; a++ {
			for b := 0; b < 256; b++ {
				s := string([]byte{byte(a), byte(b)})
				if _, n, ok := m.Transform(s); n > len(s) || ok != (n > 0) {
					t.Fatalf("%s: Transform(%q) consumed %d ok %v", name, s, n, ok)
				}
			}
		}
		for r := rune(0); r <= 0x10ffff; r++ {
			s := string(r)
			if _, n, ok := m.Transform(s); n > len(s) || ok != (n > 0) {
				t.Fatalf("%s: Transform(%q) consumed %d ok %v", name, s, n, ok)
			}
		}
	}
}

func checkTransform(t *testing.T, m *Map, s string) {
	out, n, ok := m.Transform(s)
	if n < 0 || n > len(s) || ok != (n > 0) || (!ok && out != "") {
		t.Fatalf("Transform(%q) = %q, %d, %v", s, out, n, ok)
	}
}

// FuzzParse parses arbitrary blobs and transforms text derived from them.
func FuzzParse(f *testing.F) {
	f.Add(buildBlob(f, map[string]string{"a": "x", "ab": "yz", "abc": "", "b": "B"}))
	f.Add(buildBlob(f, map[string]string{"\xef\xbc\xa1": "A", "\xc2\xa0": " "}))
	f.Add([]byte{8, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 'x', 0})
	f.Add(loadBlob(f, "ortx_denorm.bin.gz")[:2048])
	f.Fuzz(func(t *testing.T, blob []byte) {
		m, err := Parse(blob)
		if err != nil {
			if m != nil || !strings.HasPrefix(err.Error(), "charsmap: ") {
				t.Fatalf("Parse = %v, %v", m, err)
			}
			return
		}
		s := string(blob)
		for i := 0; i < len(s) && i < 64; i++ {
			checkTransform(t, m, s[i:])
		}
		for _, s := range []string{"a", "ab", "abc", "\x00", "Ａ", "\xff"} {
			checkTransform(t, m, s)
		}
	})
}

// FuzzTransform runs arbitrary text through the nmt_nfkc map.
func FuzzTransform(f *testing.F) {
	m := loadMap(f, "nmt_nfkc.bin.gz")
	for _, s := range []string{"", "Ａ", "ｶﾞ", "e\u0301", "\xff", "hello world", "㍻①½"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i := 0; i < len(s); i++ {
			checkTransform(t, m, s[i:])
		}
	})
}

func BenchmarkTransform(b *testing.B) {
	m := loadMap(b, "nmt_nfkc.bin.gz")
	text := strings.Repeat("The quick brown fox ｶﾞ①½ jumps over the lazy dog. ", 64)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := 0; j < len(text); {
			_, n, ok := m.Transform(text[j:])
			if !ok {
				n = 1
			}
			j += n
		}
	}
}
