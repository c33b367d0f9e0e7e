package bundle_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
)

// The scorer finds features by name in any header, reproduces the predictions
// xgboost recorded in the bundle, and names and formats its outputs one way.
func TestScorerReproducesSamplesUnderAnyHeader(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.OpenDir(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			// The features reversed, with a column the model does not use first.
			header := append([]string{"not_a_feature"}, slices.Clone(b.Samples.Columns)...)
			slices.Reverse(header[1:])
			sc, err := b.Scorer(header)
			if err != nil {
				t.Fatal(err)
			}
			cols := sc.Columns()
			classes := b.Encoding.Target.Classes
			var want []string
			switch name {
			case "binary": // the positive class's probability, then the label
				want = []string{"p_" + classes[1], "label"}
			case "multiclass": // each class's probability, then the label
				for _, c := range classes {
					want = append(want, "p_"+c)
				}
				want = append(want, "label")
			default:
				want = []string{"prediction"}
			}
			if !slices.Equal(cols, want) {
				t.Errorf("columns %v, want %v", cols, want)
			}
			if !slices.Equal(cols, b.Encoding.OutputColumns()) {
				t.Errorf("Scorer.Columns %v != Encoding.OutputColumns %v", cols, b.Encoding.OutputColumns())
			}
			cells := make([]string, len(cols))
			record := make([]string, len(header))
			for i, r := range b.Samples.Rows {
				record[0] = "ignored"
				for j, v := range r.Values {
					record[len(header)-1-j] = v
				}
				out, err := sc.Score(record)
				if err != nil {
					t.Fatalf("sample %d: %v", i, err)
				}
				for k, want := range r.Output {
					if !bundle.Agrees(float64(out[k]), want) {
						t.Fatalf("sample %d output %d: %v, xgboost %v", i, k, out[k], want)
					}
				}
				sc.Cells(out, cells)
				if v, err := strconv.ParseFloat(cells[0], 64); err != nil || float32(v) != out[0] {
					t.Fatalf("sample %d: cell %q does not read back as %v", i, cells[0], out[0])
				}
				if cols[len(cols)-1] == "label" && cells[len(cells)-1] != b.Encoding.Label(out) {
					t.Fatalf("sample %d: label cell %q, want %q", i, cells[len(cells)-1], b.Encoding.Label(out))
				}
			}
			// A missing feature is refused up front, naming it.
			if _, err := b.Scorer(header[:len(header)-1]); err == nil {
				t.Error("a header without a feature was accepted")
			}
		})
	}
}
