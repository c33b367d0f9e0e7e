package xgboost

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	"github.com/openmlops/mlops/shared/pythontest"
)

// synthetic is the shape of bench/predict's synthetic model.
var synthetic = &pythontest.Generated{Script: "testdata/gen_models.py", Args: []string{"synthetic"}, Prefix: "xgboost-bench-"}

// benchModelPath returns the path of a model trained by
// testdata/gen_models.py: "big" (200 trees of depth 8, 30 features, trained
// with the tests' models) or "synthetic" (1000 trees of depth 8, 30 features:
// the shape of bench/predict's synthetic model; trained on first use, about
// 20 s). Its held-out rows are beside it, in name.cases.json.
func benchModelPath(b *testing.B, name string) string {
	dir := models.For(b)
	if name == "synthetic" {
		var err error
		if dir, err = synthetic.Dir(); err != nil {
			b.Fatal(err)
		}
	}
	return filepath.Join(dir, name+".model.json")
}

// benchModel returns a bench model (see benchModelPath) and its held-out rows.
func benchModel(b *testing.B, name string) (*Model, [][]float32) {
	path := benchModelPath(b, name)
	m := loadModelFile(b, path)
	rows, _, _ := loadCases(b, strings.TrimSuffix(path, ".model.json")+".cases.json")
	return m, rows
}

var benchNames = []string{"big", "synthetic"}

func BenchmarkPredictSingle(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
			out := make([]float32, m.NumOutputs())
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				if err := m.Predict(rows[i], out); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(rows) {
					i = 0
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
		})
	}
}

func BenchmarkPredictBatch(b *testing.B) {
	benchPerRow(b, func(m *Model, rows [][]float32) func() error {
		out := make([]float32, len(rows)*m.NumOutputs())
		return func() error { return m.PredictBatch(rows, out) }
	})
}

func BenchmarkPredictFlat(b *testing.B) {
	benchPerRow(b, func(m *Model, rows [][]float32) func() error {
		flat := make([]float32, 0, len(rows)*m.NumFeatures())
		for _, r := range rows {
			flat = append(flat, r...)
		}
		out := make([]float32, len(rows)*m.NumOutputs())
		return func() error { return m.PredictFlat(flat, out) }
	})
}

// benchPerRow runs, for each bench model, what predict makes of it and its
// rows (all the rows at once) in the loop, and reports the time per row.
func benchPerRow(b *testing.B, predict func(m *Model, rows [][]float32) func() error) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			m, rows := benchModel(b, name)
			all := predict(m, rows)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if err := all(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
		})
	}
}

// BenchmarkLoad parses each bench model from memory (Parse, Load without the
// read), with the decoder and with the reference one (encoding/json,
// reference_test.go) for comparison. model-B is the size of what the model
// keeps: B/op over model-B is how many times its own size a load allocates.
func BenchmarkLoad(b *testing.B) {
	for _, name := range benchNames {
		for _, dec := range []struct {
			name  string
			parse func([]byte) (*Model, error)
		}{{"decoder", Parse}, {"reference", parseReference}} {
			b.Run(name+"/"+dec.name, func(b *testing.B) {
				data, err := os.ReadFile(benchModelPath(b, name))
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
				b.ReportAllocs()
				var m *Model
				for b.Loop() {
					if m, err = dec.parse(data); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(modelBytes(m)), "model-B")
			})
		}
	}
}

// modelBytes is the size of the slices m keeps (its capacity, as allocated).
func modelBytes(m *Model) int {
	n := 4*(cap(m.group)+cap(m.base)) + int(unsafe.Sizeof(*m))
	for _, s := range m.featureNames {
		n += len(s) + int(unsafe.Sizeof(s))
	}
	nodes := 0 // shared by the generic layout and the SHAP forest
	if g := m.generic; g != nil {
		nodes = cap(g.nodes)
		n += 4 * (cap(g.roots) + cap(g.depth) + cap(g.quadDepth))
	}
	if s := m.shap; s != nil {
		nodes = max(nodes, cap(s.nodes))
		n += 4 * (cap(s.covers) + cap(s.roots) + cap(s.means))
	}
	n += nodes * int(unsafe.Sizeof(node{}))
	if bl := m.blocked; bl != nil {
		n += cap(bl.slots)*int(unsafe.Sizeof(slot{})) + 4*(cap(bl.roots)+cap(bl.out)+cap(bl.keyFeatures)) +
			cap(bl.shapes)*int(unsafe.Sizeof(treeShape{}))
	}
	return n
}
