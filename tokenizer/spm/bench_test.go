package spm

import "testing"

// BenchmarkEncode encodes the 334 reference inputs (one Encode call each) with every
// test model; MB/s counts input bytes.
func BenchmarkEncode(b *testing.B) {
	for _, tm := range testModels {
		b.Run(tm.name, func(b *testing.B) {
			m := loadTestModel(b, tm.file)
			var texts []string
			n := 0
			for _, r := range readRefvec(b, tm.refvec) {
				texts = append(texts, r.Text)
				n += len(r.Text)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, s := range texts {
					if _, err := m.Encode(s, false); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkDecode decodes the reference ids of every test model.
func BenchmarkDecode(b *testing.B) {
	for _, tm := range testModels {
		b.Run(tm.name, func(b *testing.B) {
			m := loadTestModel(b, tm.file)
			var ids [][]int
			n := 0
			for _, r := range readRefvec(b, tm.refvec) {
				ids = append(ids, r.IDs)
				n += len(r.Decoded)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, x := range ids {
					if _, err := m.Decode(x, false); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkLoad parses the largest test model.
func BenchmarkLoad(b *testing.B) {
	data := readGz(b, "testdata/models/opus-mt-en-mg.source.spm.gz")
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
