package bundle_test

import (
	"math"
	"slices"
	"strconv"
	"strings"
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

// Explain gives each input feature the sum of its model columns' SHAP values
// (a one-hot feature has several), with the bias last; each output's values
// sum to its margin.
func TestScorerExplainSumsColumnsIntoFeatures(t *testing.T) {
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			b, err := bundle.OpenDir(fixtureDir(name))
			if err != nil {
				t.Fatal(err)
			}
			sc, err := b.Scorer(b.Samples.Columns)
			if err != nil {
				t.Fatal(err)
			}
			m := b.Model
			feats, cols := b.Encoder.Features(), b.Encoder.Columns()
			got := make([]float32, sc.NumExplained())
			if len(got) != m.NumOutputs()*(len(feats)+1) {
				t.Fatalf("NumExplained %d, want %d", len(got), m.NumOutputs()*(len(feats)+1))
			}
			x := make([]float32, len(cols))
			byColumn := make([]float32, m.NumContributions())
			margin := make([]float32, m.NumOutputs())
			for i, r := range b.Samples.Rows {
				if err := sc.Encode(r.Values); err != nil {
					t.Fatal(err)
				}
				if err := sc.Explain(got); err != nil {
					t.Fatal(err)
				}
				if err := b.Encoder.Encode(r.Values, x); err != nil {
					t.Fatal(err)
				}
				if err := m.Contributions(x, byColumn); err != nil {
					t.Fatal(err)
				}
				if err := m.PredictMargin(x, margin); err != nil {
					t.Fatal(err)
				}
				nf, nc := len(feats)+1, len(cols)+1
				for g := range m.NumOutputs() {
					want := make([]float64, nf)
					for c, name := range cols {
						f := slices.Index(feats, strings.SplitN(name, "=", 2)[0])
						want[f] += float64(byColumn[g*nc+c])
					}
					want[nf-1] = float64(byColumn[g*nc+nc-1])
					sum := 0.0
					for f, w := range want {
						v := float64(got[g*nf+f])
						sum += v
						if math.Abs(v-w) > 1e-5*math.Max(1, math.Abs(w)) {
							t.Fatalf("sample %d output %d feature %d: %v, columns sum to %v", i, g, f, v, w)
						}
					}
					if math.Abs(sum-float64(margin[g])) > 1e-4*math.Max(1, math.Abs(float64(margin[g]))) {
						t.Fatalf("sample %d output %d: contributions sum to %v, margin %v", i, g, sum, margin[g])
					}
				}
			}
			if err := sc.Explain(got[1:]); err == nil {
				t.Error("a short buffer was accepted")
			}
		})
	}
}
