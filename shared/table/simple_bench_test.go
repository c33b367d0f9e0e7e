package table

import (
	"fmt"
	"testing"
)

func BenchmarkSimpleRows(b *testing.B) {
	var buf []byte
	for i := 0; len(buf) < 2<<20; i++ {
		buf = fmt.Appendf(buf, "\"good\",%d,\"owner\",%d,%d,\"married\",\"no\",\"fixed\",%d,%d,%d,0,%d,%d\n",
			i%40, 12*(1+i%5), 18+i%50, 35+i%100, 50+i%300, i%10000, 100+i%5000, 200+i%9000)
	}
	p := NewParser(Dialect{})
	fields := make([][]byte, 14)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for pos := 0; pos < len(buf); {
			next, ok := p.Simple(buf, pos, fields)
			if !ok {
				b.Fatalf("row at %d is not simple", pos)
			}
			pos = next
		}
	}
}
