package xgboost

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// roundTrip compiles m and loads the result.
func roundTrip(t testing.TB, m *Model) (*Model, []byte) {
	t.Helper()
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCompiled(data)
	if err != nil {
		t.Fatalf("ParseCompiled of MarshalBinary's bytes: %v", err)
	}
	again, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatal("the loaded model compiles to other bytes")
	}
	return c, data
}

// sameOutputs checks that b predicts and explains rows bit for bit as a does.
func sameOutputs(t *testing.T, a, b *Model, rows [][]float32) {
	t.Helper()
	if diff := modelDiff(a, b); diff != "" {
		t.Fatalf("the compiled model differs: %s", diff)
	}
	k := a.NumOutputs()
	pa, pb := make([]float32, len(rows)*k), make([]float32, len(rows)*k)
	for i, r := range rows {
		if err := a.Predict(r, pa[i*k:(i+1)*k]); err != nil {
			t.Fatal(err)
		}
	}
	checkSameOutputs(t, "compiled", b, rows, pa)
	if err := b.PredictBatch(rows, pb); err != nil {
		t.Fatal(err)
	}
	if a.shap == nil {
		return
	}
	ea, err := a.NewExplainer()
	if err != nil {
		t.Fatal(err)
	}
	eb, err := b.NewExplainer()
	if err != nil {
		t.Fatal(err)
	}
	ca, cb := make([]float32, a.NumContributions()), make([]float32, b.NumContributions())
	// TreeSHAP costs thousands of times a prediction: 200 rows are enough to
	// walk every tree's paths many times over.
	for i, r := range rows[:min(len(rows), 200)] {
		if err := ea.Contributions(r, ca); err != nil {
			t.Fatal(err)
		}
		if err := eb.Contributions(r, cb); err != nil {
			t.Fatal(err)
		}
		for j := range ca {
			if math.Float32bits(ca[j]) != math.Float32bits(cb[j]) {
				t.Fatalf("row %d contribution %d: %v parsed, %v compiled", i, j, ca[j], cb[j])
			}
		}
	}
}

// TestCompiledMatchesParse checks that a model loaded from its compiled form
// is the one parsed from model.json, and predicts and explains bit for bit
// alike, on the fixtures and on the models xgboost trains for the tests
// ("big" is bench's 200 trees of depth 8), in both layouts.
func TestCompiledMatchesParse(t *testing.T) {
	dir := models.For(t)
	paths := map[string]string{}
	for _, name := range []string{"small_binary", "small_regression", "small_multi", "small_deep"} {
		paths[name] = filepath.Join("testdata/fixtures", name)
	}
	for _, name := range []string{"binary", "binary_exact_gamma", "regression", "multi", "forest", "big"} {
		paths[name] = filepath.Join(dir, name)
	}
	for name, p := range paths {
		t.Run(name, func(t *testing.T) {
			rows, _, _ := loadCases(t, p+".cases.json")
			m := loadModelFile(t, p+".model.json")
			if m.blocked == nil || m.shap == nil {
				t.Fatal("expected a blocked model with covers")
			}
			c, _ := roundTrip(t, m)
			sameOutputs(t, m, c, rows)
			g := loadGeneric(t, p+".model.json")
			cg, _ := roundTrip(t, g)
			if cg.generic == nil || cg.blocked != nil {
				t.Fatal("the generic layout did not survive compilation")
			}
			sameOutputs(t, g, cg, rows)
		})
	}
}

// TestCompiledRandomForests covers shapes the trained models do not: random
// trees of depths 0 to 12 (several outputs, partial groups), and no covers.
func TestCompiledRandomForests(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for c := range 12 {
		numClass := []int{0, 3}[c%2]
		data := randomModel(rng, 1+rng.IntN(30), 1+rng.IntN(40), numClass, func(int) int { return rng.IntN(13) }, 0.7)
		for _, blocked := range []bool{true, false} {
			m := parseLayout(t, data, blocked)
			if m.shap != nil {
				t.Fatal("random trees have no covers")
			}
			rows := randomRows(rng, 50, m.NumFeatures())
			cm, data := roundTrip(t, m)
			sameOutputs(t, m, cm, rows)
			// Misaligned bytes are copied rather than used in place.
			shifted := append(make([]byte, 1, len(data)+1), data...)[1:]
			cs, err := ParseCompiled(shifted)
			if err != nil {
				t.Fatal(err)
			}
			sameOutputs(t, m, cs, rows)
			if n := cs.trees.nodes; len(n) > 0 && inside(unsafe.Pointer(&n[0]), shifted) {
				t.Fatal("misaligned nodes were used in place")
			}
		}
	}
}

// inside says whether p points into b.
func inside(p unsafe.Pointer, b []byte) bool {
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return uintptr(p) >= start && uintptr(p) < start+uintptr(len(b))
}

// TestCompiledErrors checks that damage is refused with an error that says
// where, never a panic: every truncation of a compiled model, and values a
// hostile writer could choose.
func TestCompiledErrors(t *testing.T) {
	m := loadModelFile(t, "testdata/fixtures/small_multi.model.json")
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(data) {
		if _, err := ParseCompiled(data[:n]); !errors.Is(err, ErrCompiled) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrCompiled", n, len(data), err)
		}
	}
	if _, err := ParseCompiled(append(bytes.Clone(data), 0)); err == nil || !strings.Contains(err.Error(), "after the model") {
		t.Fatalf("trailing byte: err = %v", err)
	}
	// Offsets into the fixture's compiled form, found from its layout.
	r := &reader{data: data, off: len(compiledMagic) + 8}
	r.str("")
	r.off += 12
	r.take("", r.count("", 4), 4)
	for range r.count("", 4) {
		r.str("")
	}
	r.take("", m.numOutputs, 4)
	groupAt := r.off
	r.take("", m.numTrees, 4)
	countAt := r.off
	n := r.count("", nodeBytes)
	r.align("")
	nodesAt := r.off
	r.take("", n, nodeBytes)
	r.take("", m.numTrees, 4) // roots
	r.align("")
	coversAt := r.off
	r.take("", n, 4)
	if r.err != nil || r.off != len(data) {
		t.Fatal(r.err)
	}
	// The first split and its children.
	split := -1
	for i, nd := range m.shap.nodes {
		if nd.feature&splitBit != 0 {
			split = i
			break
		}
	}
	put := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	nodeAt := func(i, field int) int { return nodesAt + nodeBytes*i + 4*field }
	for _, tc := range []struct {
		name string
		edit func([]byte)
		want string
	}{
		{"magic", func(b []byte) { b[0] = 'x' }, "bad magic"},
		{"format version", put(len(compiledMagic), 99), "format version 99"},
		{"flags", put(len(compiledMagic)+4, 1<<9), "unknown flags"},
		{"group", put(groupAt, 7), "adds to output 7"},
		{"child out of range", put(nodeAt(split, 2), 1<<20), "not after it"},
		{"child before its parent", put(nodeAt(split, 2), uint32(split)), "not after it"},
		{"feature out of range", put(nodeAt(split, 1), splitBit|9), "split index 9 out of range"},
		{"NaN threshold", put(nodeAt(split, 0), math.Float32bits(float32(math.NaN()))), "split condition is NaN"},
		{"leaf with a feature", put(nodeAt(split+1, 1), 3), "leaf"},
		{"negative cover", put(coversAt, math.Float32bits(-1)), "cover -1"},
		{"huge node count", put(countAt, 1<<30), "nodes at byte"},
		{"padding", func(b []byte) { b[nodesAt-1] = 1 }, "padding is not zeros"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(data)
			tc.edit(b)
			_, err := ParseCompiled(b)
			if !errors.Is(err, ErrCompiled) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestCompiledBlockedMustFit checks that a compiled model flagged for the
// blocked layout, whose trees do not fit it (here: more features than a row's
// keys can hold), is refused rather than loaded with the other layout, which
// would compile to other bytes.
func TestCompiledBlockedMustFit(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := parseLayout(t, randomModel(rng, 200, 300, 0, func(int) int { return 4 }, 1), true)
	if m.blocked != nil {
		t.Fatal("the model fits the blocked layout")
	}
	data, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	off := len(compiledMagic) + 4
	binary.LittleEndian.PutUint32(data[off:], binary.LittleEndian.Uint32(data[off:])|flagBlocked)
	if _, err := ParseCompiled(data); !errors.Is(err, ErrCompiled) || !strings.Contains(err.Error(), "do not fit") {
		t.Fatalf("err = %v, want the trees not fitting the blocked layout", err)
	}
}

// FuzzParseCompiled checks that ParseCompiled never panics, and that a model
// it accepts compiles back to the same bytes and can be evaluated and
// explained on a row of NaNs and a row of zeros. Seeds: the fixtures'
// compiled forms (both layouts) and testdata/fuzz/FuzzParseCompiled.
func FuzzParseCompiled(f *testing.F) {
	for _, name := range []string{"small_binary", "small_regression", "small_multi", "small_deep"} {
		p := "testdata/fixtures/" + name + ".model.json"
		for _, m := range []*Model{loadModelFile(f, p), loadGeneric(f, p)} {
			data, err := m.MarshalBinary()
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseCompiled(data)
		if err != nil {
			if m != nil {
				t.Fatal("ParseCompiled returned a model and an error")
			}
			return
		}
		again, err := m.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("an accepted model compiles to other bytes (err %v)", err)
		}
		if m.NumFeatures() > 1<<20 {
			return
		}
		row := make([]float32, m.NumFeatures())
		for i := range row {
			row[i] = float32(math.NaN())
		}
		out := make([]float32, m.NumOutputs())
		explain := m.shap != nil && m.shap.maxDepth < 64 && m.NumContributions() <= 1<<20
		var contribs []float32
		if explain {
			contribs = make([]float32, m.NumContributions())
		}
		for range 2 {
			if err := m.Predict(row, out); err != nil {
				t.Fatal(err)
			}
			if err := m.PredictBatch([][]float32{row, row}, make([]float32, 2*m.NumOutputs())); err != nil {
				t.Fatal(err)
			}
			if explain {
				if err := m.Contributions(row, contribs); err != nil {
					t.Fatal(err)
				}
			}
			clear(row)
		}
	})
}

// BenchmarkLoadCompiled loads each bench model from its compiled form, to
// set beside BenchmarkLoad's parse of its JSON.
func BenchmarkLoadCompiled(b *testing.B) {
	for _, name := range benchNames {
		b.Run(name, func(b *testing.B) {
			raw, err := os.ReadFile(benchModelPath(b, name))
			if err != nil {
				b.Fatal(err)
			}
			m, err := Parse(raw)
			if err != nil {
				b.Fatal(err)
			}
			data, err := m.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseCompiled(data); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(raw)), "json-B")
		})
	}
}
