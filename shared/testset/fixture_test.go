package testset_test

import (
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/metrics"
	"github.com/openmlops/mlops/shared/testset"
)

// fixture opens one of shared/bundle's fixture bundles (made by xgboost, with
// samples.json holding xgboost's outputs): ScoreOn without Python.
func fixture(t *testing.T, name string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.OpenDir(filepath.Join("..", "bundle", "testdata", "bundles", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sampleRows makes rows of b's samples: the target column first (its value
// from target(i)), then an unrelated column, then the features in reverse order.
func sampleRows(b *bundle.Bundle, target func(i int) string) *testset.Rows {
	s := b.Samples
	r := &testset.Rows{Header: []string{b.Encoding.Target.Column, "unrelated"}}
	for j := len(s.Columns) - 1; j >= 0; j-- {
		r.Header = append(r.Header, s.Columns[j])
	}
	for i, row := range s.Rows {
		rec := []string{target(i), "x"}
		for j := len(row.Values) - 1; j >= 0; j-- {
			rec = append(rec, row.Values[j])
		}
		r.Numbers = append(r.Numbers, int64(i))
		r.Records = append(r.Records, rec)
	}
	return r
}

func TestScoreOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(i int) string
		labels func(i int) float64
	}{
		{"binary", func(i int) string { return []string{"bad", "good"}[i%2] }, func(i int) float64 { return float64(i % 2) }},
		{"multiclass", func(i int) string { return []string{"low", "mid", "high"}[i%3] }, func(i int) float64 { return float64(i % 3) }},
		{"regression", func(i int) string { return fmt.Sprint(1000 + 37*i) }, func(i int) float64 { return float64(1000 + 37*i) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fixture(t, tc.name)
			res, err := testset.ScoreOn(b, sampleRows(b, tc.target))
			if err != nil {
				t.Fatal(err)
			}
			k := b.Model.NumOutputs()
			var y []int
			for i, s := range b.Samples.Rows {
				if res.Labels[i] != tc.labels(i) {
					t.Fatalf("row %d: label %v, want %v", i, res.Labels[i], tc.labels(i))
				}
				y = append(y, int(res.Labels[i]))
				for j, want := range s.Output {
					if got := res.Outputs[i*k+j]; !bundle.Agrees(got, want) {
						t.Fatalf("row %d output %d: %v, xgboost %v", i, j, got, want)
					}
				}
			}
			var want map[string]float64
			switch tc.name {
			case "binary":
				want = metrics.Binary(res.Labels, res.Outputs, b.Encoding.Threshold)
				if len(res.Calibration) != 10 {
					t.Errorf("%d calibration bins", len(res.Calibration))
				}
			case "regression":
				want = metrics.Regression(res.Labels, res.Outputs)
			case "multiclass":
				want = metrics.Multiclass(y, res.Outputs, k)
			}
			if !maps.Equal(res.Metrics, want) || len(want) == 0 {
				t.Errorf("metrics %v, want %v", res.Metrics, want)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	b := fixture(t, "binary")
	for _, tc := range []struct {
		value string
		ok    bool
	}{{"good", true}, {"bad", true}, {"GOOD", false}, {"", false}, {"other", false}} {
		_, err := testset.ScoreOn(b, sampleRows(b, func(int) string { return tc.value }))
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, testset.ErrIncomparable)) {
			t.Errorf("target %q: %v", tc.value, err)
		}
	}
	// A boolean target is read in any spelling, as the trainer does.
	b.Encoding.Target.Classes = []string{"false", "true"}
	b.Encoding.Target.PositiveClass = "true"
	for _, v := range []string{"TRUE", "1", "yes", "true"} {
		res, err := testset.ScoreOn(b, sampleRows(b, func(int) string { return v }))
		if err != nil || res.Labels[0] != 1 {
			t.Errorf("boolean target %q: %v", v, err)
		}
	}
	res, err := testset.ScoreOn(b, sampleRows(b, func(int) string { return "No" }))
	if err != nil || res.Labels[0] != 0 {
		t.Errorf("boolean target No: %v", err)
	}

	r := fixture(t, "regression")
	for _, v := range []string{"0x10", "inf", "NaN", "1_000", "abc"} {
		if _, err := testset.ScoreOn(r, sampleRows(r, func(int) string { return v })); !errors.Is(err, testset.ErrIncomparable) {
			t.Errorf("regression target %q: %v", v, err)
		}
	}
	m := fixture(t, "multiclass")
	if _, err := testset.ScoreOn(m, sampleRows(m, func(int) string { return "top" })); !errors.Is(err, testset.ErrIncomparable) {
		t.Errorf("unknown class: %v", err)
	}
	if _, err := testset.ScoreOn(m, &testset.Rows{Header: []string{"grade"}}); err == nil {
		t.Error("no rows scores")
	}
	if !slices.Equal(m.Encoding.Target.Classes, []string{"low", "mid", "high"}) {
		t.Fatal("fixture changed")
	}
}
