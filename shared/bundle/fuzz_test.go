package bundle_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/openmlops/mlops/shared/bundle"
)

// FuzzOpen feeds Open a fuzzed manifest.json and encoding.json beside the
// binary fixture's other files, twice: once as given (the manifest's own
// checks), and once under the fixture's manifest updated to the fuzzed
// encoding's hash and size, so that the encoding gets past verification into
// decoding and the consistency checks. Open must never panic, must return
// either a bundle or an *Error, and a bundle it returns must be usable:
// samples encode and evaluate without panicking. Seeds: testdata/fuzz/FuzzOpen
// and the fixture itself.
func FuzzOpen(f *testing.F) {
	base := fixtureFS(f, "binary")
	var manifest bundle.Manifest
	if err := json.Unmarshal(base[bundle.ManifestFile].Data, &manifest); err != nil {
		f.Fatal(err)
	}
	f.Add(base[bundle.ManifestFile].Data, base[bundle.EncodingFile].Data)
	f.Fuzz(func(t *testing.T, manifestJSON, encodingJSON []byte) {
		fsys := maps.Clone(base)
		fsys[bundle.ManifestFile] = &fstest.MapFile{Data: manifestJSON}
		fsys[bundle.EncodingFile] = &fstest.MapFile{Data: encodingJSON}
		check(t, fsys)

		m := manifest
		m.Files = append([]bundle.File(nil), manifest.Files...)
		for i := range m.Files {
			if m.Files[i].Path == bundle.EncodingFile {
				sum := sha256.Sum256(encodingJSON)
				m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(sum[:]), int64(len(encodingJSON))
			}
		}
		data, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		fsys[bundle.ManifestFile] = &fstest.MapFile{Data: data}
		check(t, fsys)
	})
}

func check(t *testing.T, fsys fstest.MapFS) {
	t.Helper()
	b, err := bundle.Open(fsys)
	if err != nil {
		var be *bundle.Error
		if b != nil || !errors.As(err, &be) || !errors.Is(err, bundle.ErrInvalid) {
			t.Fatalf("Open: bundle %v, error %v (%T)", b, err, err)
		}
		return
	}
	if len(b.Encoder.Columns()) != b.Model.NumFeatures() || len(b.Encoding.Columns) != b.Model.NumFeatures() {
		t.Fatalf("accepted %d columns for %d features", len(b.Encoder.Columns()), b.Model.NumFeatures())
	}
	_ = b.CheckSamples() // may disagree (the encoding changed); must not panic
	out := make([]float32, b.Model.NumOutputs())
	_ = b.Encoding.Label(out)
}

// FuzzEncode encodes one value per kind (numeric, boolean, date, RFC 3339
// timestamp, one-hot), directly and through a shuffled header, and checks
// what an accepted number may be: plain decimal text that strconv reads as a
// finite float64 and whose float32 rounding we wrote. Seeds:
// testdata/fuzz/FuzzEncode.
func FuzzEncode(f *testing.F) {
	e := newEncoder(f, allKinds)
	h, err := e.ForHeader([]string{"c", "extra", "t", "d", "b", "n"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("1.5", "yes", "2024-01-31", "2024-01-31T09:30:00Z", "y")
	f.Fuzz(func(t *testing.T, n, b, d, ts, c string) {
		out := make([]float32, 7)
		err := e.Encode([]string{n, b, d, ts, c}, out)
		out2 := make([]float32, 7)
		err2 := h.Encode([]string{c, "ignored", ts, d, b, n}, out2)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("Encode: %v; through the header: %v", err, err2)
		}
		if err != nil {
			var ve *bundle.ValueError
			if !errors.As(err, &ve) || ve.Value == "" || ve.Column != allKinds.Features[ve.Feature].Name {
				t.Fatalf("error %v (%T) is not a ValueError about a value", err, err)
			}
			return
		}
		if !same(out, out2) {
			t.Fatalf("Encode %v; through the header %v", out, out2)
		}
		if n != "" {
			f, perr := strconv.ParseFloat(n, 64)
			if perr != nil || math.IsInf(float64(out[0]), 0) || math.IsNaN(float64(out[0])) || out[0] != float32(f) ||
				strings.ContainsAny(n, "_xXpPiInN \t") {
				t.Fatalf("accepted %q as %v (strconv: %v, %v)", n, out[0], f, perr)
			}
		}
		if c != "" {
			ones := 0
			for _, v := range out[4:] {
				if v == 1 {
					ones++
				}
			}
			if known := c == "x" || c == "y" || c == "z"; known != (ones == 1) {
				t.Fatalf("one-hot %q: %v", c, out[4:])
			}
		}
	})
}
