package xgboost

import (
	"math/rand/v2"
	"testing"
)

// TestBlockedWideFeatures checks the blocked layout when splits use features
// beyond what keyMap indexes in a table (it then searches the used ones).
func TestBlockedWideFeatures(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	numFeature := 4 * maxIndexedFeature
	data := randomModel(rng, 9, numFeature, 3, func(int) int { return 4 }, 0.9) // under 256 features used
	mb, mg := parseLayout(t, data, true), parseLayout(t, data, false)
	if mb.blocked == nil {
		t.Fatal("the blocked layout was not used")
	}
	if k := newKeyMap(mg.generic.nodes); k.index != nil || k.used[len(k.used)-1] < maxIndexedFeature {
		t.Fatalf("the splits' features (largest %d) were indexed in a table", k.used[len(k.used)-1])
	}
	rows := randomRows(rng, 9, numFeature)
	k := mg.NumOutputs()
	want := make([]float32, len(rows)*k)
	for i, r := range rows {
		if err := mg.Predict(r, want[i*k:(i+1)*k]); err != nil {
			t.Fatal(err)
		}
	}
	checkSameOutputs(t, "wide features", mb, rows, want)
}
