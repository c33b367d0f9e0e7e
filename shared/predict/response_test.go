package predict_test

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/predict"
)

// The route's answer, written by hand (Response.AppendJSON, indented by
// apierror.WriteJSON), is byte for byte what encoding/json writes of it
// through WriteJSON's encoder: every kind of prediction, names and values
// that HTML escaping touches, and no predictions at all.
func TestResponseBytesMatchEncodingJSON(t *testing.T) {
	out := func(cols []string, cells ...string) []predict.Field {
		f, err := predict.ScorerOutputs(cols, cells)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	binary := []string{"p_bad", "label"}
	explained := &predict.Explanation{
		Outputs: []predict.Contributions{{Features: []predict.Contribution{{Feature: "Income", Value: -0.41}, {Feature: "Home<&>", Value: 1e-7}}, Bias: -1.25}},
		Reasons: []predict.Reason{{Feature: "Income", Value: 80.0, Contribution: -0.41}, {Feature: "Home<&>", Value: "rent & <own>", Contribution: 1e-7}, {Feature: "Job", Value: nil}},
	}
	multiclass := &predict.Explanation{
		Outputs: []predict.Contributions{
			{Class: "a", Features: []predict.Contribution{{Feature: "x", Value: 1}}, Bias: 0.5},
			{Class: "b\u2028", Features: []predict.Contribution{{Feature: "x", Value: -1}}, Bias: -0.5},
		},
		Reasons: []predict.Reason{{Feature: "x", Value: true, Contribution: 1}},
	}
	empty := &predict.Explanation{Outputs: []predict.Contributions{{Features: []predict.Contribution{}}}}
	var many []predict.Prediction
	for i := range 32 {
		many = append(many, predict.Prediction{Outputs: out(binary, strconv.FormatFloat(float64(i)/31, 'g', -1, 32), "good")})
	}
	for _, resp := range []*predict.Response{
		{Predictions: []predict.Prediction{{Outputs: out(binary, "0.17340626", "good")}}, Model: "credit", ModelVersion: 3, RequestID: "3f0c1e2a"},
		{Predictions: many, Model: "credit", ModelVersion: 12, RequestID: "r"},
		{Predictions: []predict.Prediction{
			{Outputs: out(binary, "0.9", "bad <&> \u2029"), Flags: []string{"Age: 130 is above the maximum 120", "<&>"}, Explanation: explained},
			{Outputs: out([]string{"p_a", "p_b\u2028", "label"}, "0.25", "0.75", "b\u2028"), Explanation: multiclass},
			{Outputs: out([]string{"prediction"}, "-1e-7"), Explanation: empty},
			{Outputs: out([]string{"prediction"}, "1e21")},
		}, Model: "m", ModelVersion: 1, RequestID: "<script>&</script>"},
		{Predictions: []predict.Prediction{
			{Outputs: out([]string{"p_<a>", "label"}, "0.25", "<a>")},
			{},
			{Outputs: out(binary, "0.5", "good")},
			{Outputs: out([]string{"p_<a>", "p_b", "label"}, "0.25", "1e-7", "b")},
			{Outputs: out(binary, "0", "bad"), Flags: []string{"x"}},
			{Outputs: out(binary, "1", "good")},
		}, Model: "a&b", ModelVersion: 2, RequestID: "r"},
		{Model: "credit", ModelVersion: 1, RequestID: "none"},
		{Predictions: []predict.Prediction{}, Model: "credit", ModelVersion: 1},
	} {
		// Indented, as WriteJSON writes any answer, and compact, as the
		// prediction API writes its own (WriteCompactJSON).
		for _, indent := range []string{"  ", ""} {
			got := httptest.NewRecorder()
			if indent == "" {
				apierror.WriteCompactJSON(got, 200, resp)
			} else {
				apierror.WriteJSON(got, 200, resp)
			}
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", indent)
			if err := enc.Encode(*resp); err != nil { // the value: no AppendJSON
				t.Fatal(err)
			}
			if !bytes.Equal(got.Body.Bytes(), want.Bytes()) {
				t.Errorf("indent %q: wrote\n%s\nencoding/json writes\n%s", indent, got.Body.Bytes(), want.Bytes())
			}
			if cl := got.Header().Get("Content-Length"); cl != strconv.Itoa(want.Len()) {
				t.Errorf("indent %q: Content-Length %q for %d bytes", indent, cl, want.Len())
			}
		}
	}

	// A value JSON cannot carry fails both ways alike: nothing is written.
	bad := &predict.Response{Predictions: []predict.Prediction{{Outputs: out(binary, "0.5", "good"),
		Explanation: &predict.Explanation{Outputs: []predict.Contributions{{Bias: math.NaN()}}}}}}
	got := httptest.NewRecorder()
	apierror.WriteJSON(got, 200, bad)
	if got.Body.Len() != 0 {
		t.Errorf("a NaN bias written: %s", got.Body.Bytes())
	}
}

// AppendOutputs, which the endpoint uses, writes each output as ScorerOutputs
// writes the scorer's cells for it (bundle.FormatOutput's text), in one
// buffer however it grows, and refuses a value JSON cannot carry.
func TestAppendOutputsMatchesScorerOutputs(t *testing.T) {
	values := []float32{0, float32(math.Copysign(0, -1)), 1e-7, 1.0 / 3, 0.5, 1, math.SmallestNonzeroFloat32, math.MaxFloat32, -2.5e-12}
	for _, tc := range []struct {
		cols  []string
		n     int
		label string
	}{
		{[]string{"p_bad", "label"}, 1, "bad"},
		{[]string{"p_a", "p_b\u2028", "p_c", "label"}, 3, "b \"quoted\" <&>"},
		{[]string{"prediction"}, 1, ""},
	} {
		var buf []byte // grows as it goes: earlier fields keep their text
		for i := range values {
			out := make([]float32, tc.n)
			cells := make([]string, len(tc.cols))
			for k := range out {
				out[k] = values[(i+k)%len(values)]
				cells[k] = bundle.FormatOutput(out[k])
			}
			if tc.n < len(tc.cols) {
				cells[tc.n] = tc.label
			}
			want, err := predict.ScorerOutputs(tc.cols, cells)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]predict.Field, len(tc.cols))
			if buf, err = predict.AppendOutputs(buf, got, tc.cols, out, tc.label); err != nil {
				t.Fatal(err)
			}
			for k := range got {
				if got[k].Name != want[k].Name || !bytes.Equal(got[k].Value, want[k].Value) {
					t.Errorf("%v: %s=%s, ScorerOutputs writes %s=%s", out, got[k].Name, got[k].Value, want[k].Name, want[k].Value)
				}
			}
		}
	}
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		if _, err := predict.AppendOutputs(nil, make([]predict.Field, 2), []string{"p_bad", "label"}, []float32{v}, "bad"); err == nil {
			t.Errorf("%v written", v)
		}
	}
	if _, err := predict.AppendOutputs(nil, make([]predict.Field, 1), []string{"p_bad", "label"}, []float32{0.5}, "bad"); err == nil {
		t.Error("two outputs into one field")
	}
}

// An answer's release runs once, however many copies of it are released.
func TestResponseReleaseOnce(t *testing.T) {
	n := 0
	r := &predict.Response{}
	r.OnRelease(func() { n++ })
	c := *r
	r.Release()
	c.Release()
	r.Release()
	if n != 1 {
		t.Fatalf("released %d times", n)
	}
	(&predict.Response{}).Release() // nothing to release: nothing happens
}
