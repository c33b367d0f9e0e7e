package table

import (
	"strings"
	"testing"
)

func BenchmarkRead(b *testing.B) {
	in := strings.Repeat("\"good\",9,\"rent\",60,30,\"married\",\"no\",\"freelance\",73,129,0,0,800,846\n", 100000)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(strings.NewReader(in), Dialect{}, false)
		for {
			if _, err := r.Read(); err != nil {
				break
			}
		}
	}
}
