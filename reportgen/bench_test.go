package reportgen_test

import (
	"testing"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/reportgen/reportgentest"
)

// BenchmarkBuild renders the whole site of 20 models × 10 versions (about
// 440 pages); bench/report compares the full 200 × 10 with Hugo.
func BenchmarkBuild(b *testing.B) {
	site := reportgentest.Generate(20, 10, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reportgen.Build(site, reportgen.Scope{All: true}); err != nil {
			b.Fatal(err)
		}
	}
}
