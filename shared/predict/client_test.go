package predict_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/predict"
)

// rawAnswer is the body of a route's 200 answer.
func rawAnswer(t *testing.T, srv interface{ Client() *http.Client }, req *http.Request) []byte {
	t.Helper()
	req.Header.Set("X-Test-Principal", "local:alice")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b.Bytes())
	}
	return b.Bytes()
}

// sameJSON fails unless v, encoded again, is the route's answer raw, the
// request id aside (two requests have two).
func sameJSON(t *testing.T, what string, raw []byte, v any) {
	t.Helper()
	again, err := json.Marshal(v) // compact, as the prediction API answers
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`"requestId":"[0-9a-f]+"`)
	if a, b := id.ReplaceAllString(string(again)+"\n", "-"), id.ReplaceAllString(string(raw), "-"); a != b {
		t.Fatalf("%s does not survive a round trip through its type:\nroute:  %s\nclient: %s", what, b, a)
	}
}

// The client's answers are the routes' answers: every field, in order, with
// explanations of a binary and of a multiclass model.
func TestClientRoundTrips(t *testing.T) {
	srv := server(t, newFakeService(t), nil)
	c := predict.NewClient(srv.URL+"/", srv.Client(), func(r *http.Request) error {
		r.Header.Set("X-Test-Principal", "local:alice")
		return nil
	})
	ctx := context.Background()
	two := mustRequest(t, `{"instances": [`+
		`{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846.5},`+
		`{"Seniority": "0", "Home": null, "Time": "48", "Age": "37", "Marital": "single", "Records": "no", "Expenses": "35", "Amount": "1500", "Price": "1850"}]}`)
	for _, model := range []string{"credit", "multi"} {
		for _, explain := range []bool{false, true} {
			req := &predict.Request{Instances: two.Instances, Explain: explain}
			resp, err := c.Predict(ctx, model, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Model != model || resp.ModelVersion != 3 || len(resp.Predictions) != 2 || resp.RequestID == "" {
				t.Fatalf("%+v", resp)
			}
			if (resp.Predictions[1].Explanation != nil) != explain {
				t.Fatalf("%s explain %v: %+v", model, explain, resp.Predictions[1])
			}
			body, _ := json.Marshal(req)
			hr, _ := http.NewRequest(http.MethodPost, srv.URL+predict.PredictPath(model), bytes.NewReader(body))
			sameJSON(t, model+" predictions", rawAnswer(t, srv, hr), resp)
			if explain && model == "credit" {
				p := resp.Predictions[0]
				if e := p.Explanation; len(e.Outputs) != 1 || e.Outputs[0].Class != "" || e.Outputs[0].Bias != -1.25 ||
					e.Outputs[0].Features[0] != (predict.Contribution{Feature: "Seniority", Value: -0.6}) || len(e.Outputs[0].Features) != 13 ||
					!reflect.DeepEqual(e.Reasons, []predict.Reason{{Feature: "Price", Value: 846.5, Contribution: 0.6}, {Feature: "Home", Value: "rent", Contribution: -0.5}}) {
					t.Fatalf("%+v", e)
				}
				if l, ok := p.Label(); !ok || l != "good" {
					t.Fatalf("label %q %v", l, ok)
				}
				if x, ok := resp.Predictions[1].Number("p_bad"); !ok || x != 0.125 {
					t.Fatalf("p_bad %v %v", x, ok)
				}
				if _, ok := p.Number("prediction"); ok {
					t.Fatal("a classifier has a prediction output")
				}
			}
			if explain && model == "multi" {
				e := resp.Predictions[0].Explanation
				if len(e.Outputs) != 3 || e.Outputs[1].Class != "bad" || e.Outputs[1].Bias != 2.5 || e.Outputs[2].Features[1].Value != -5e-10 {
					t.Fatalf("%+v", e)
				}
			}
		}
	}
	m, err := c.Metadata(ctx, "credit")
	if err != nil || m.ModelSpec != (predict.ModelSpec{Name: "credit", Version: 3}) || m.Metadata.ModelCard != "models/credit/v3/index.html" {
		t.Fatalf("%+v %v", m, err)
	}
	hr, _ := http.NewRequest(http.MethodGet, srv.URL+predict.MetadataPath("credit"), nil)
	sameJSON(t, "metadata", rawAnswer(t, srv, hr), m)

	// Refusals are *apierror.Errors with their codes, and the contract's details.
	_, err = c.Predict(ctx, "nosuch", two)
	if !apierror.IsCode(err, apierror.CodeNotFound) {
		t.Fatalf("%v", err)
	}
	_, err = c.Metadata(ctx, "retired")
	if !apierror.IsCode(err, apierror.CodeUnavailable) || !strings.Contains(err.Error(), "has no champion") {
		t.Fatalf("%v", err)
	}
	bad := mustRequest(t, `{"instances": [{"Age": 300}, {"Age": "x"}]}`)
	_, err = c.Predict(ctx, "credit", bad)
	var e *apierror.Error
	if !errors.As(err, &e) || e.Code != apierror.CodeBadRequest || len(e.Details) != 2*7 || e.Details[0].Field != "instances[0].Age" ||
		e.Details[0].Rule != "max" || !strings.HasPrefix(e.Message, "14 problems in the instances: instances[0].Age: 300 is above the maximum 120; ") {
		t.Fatalf("%#v", e)
	}
	if _, err := c.Predict(ctx, "credit", &predict.Request{}); err == nil || !strings.Contains(err.Error(), "no instances") {
		t.Fatalf("%v", err)
	}
}

// A prediction is one ordered JSON object; a value JSON cannot carry is refused.
func TestPredictionJSON(t *testing.T) {
	outs, err := predict.ScorerOutputs([]string{"p_a", "p_b", "label"}, []string{"0.1", "1e-07", "a \"quoted\" class"})
	if err != nil {
		t.Fatal(err)
	}
	p := predict.Prediction{Outputs: outs, Flags: []string{"Age: 130 is above the maximum 120"}, Explanation: &predict.Explanation{
		Outputs: []predict.Contributions{{Features: []predict.Contribution{{"z", 1}, {"a", -2.5e-8}}, Bias: 3}}}}
	b, err := json.Marshal(p)
	want := `{"p_a":0.1,"p_b":1e-7,"label":"a \"quoted\" class","flags":["Age: 130 is above the maximum 120"],"contributions":{"z":1,"a":-2.5e-8},"bias":3,"reasons":[]}`
	if err != nil || string(b) != want {
		t.Fatalf("%s %v\nwant %s", b, err, want)
	}
	var back predict.Prediction
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(back)
	if string(again) != want {
		t.Fatalf("%s", again)
	}
	if b, _ := json.Marshal(predict.Prediction{Outputs: outs[:1]}); string(b) != `{"p_a":0.1}` {
		t.Fatalf("%s", b)
	}
	p.Explanation.Outputs[0].Bias = math.NaN()
	if _, err := json.Marshal(p); err == nil || !strings.Contains(err.Error(), "bias is NaN") {
		t.Fatalf("%v", err)
	}
	for _, cells := range [][]string{{"NaN", "x"}, {"abc", "x"}, {"0.5"}} {
		if _, err := predict.ScorerOutputs([]string{"p_a", "label"}, cells); err == nil {
			t.Errorf("%q: accepted", cells)
		}
	}
	if err := json.Unmarshal([]byte(`{"p_a": [1]}`), &back); err == nil {
		t.Fatal("an output that is no scalar was read")
	}
}

// The CLI's inputs: a CSV with a header, a request body or a bare array.
func TestRequestsFromFiles(t *testing.T) {
	req, err := predict.RequestFromCSV(strings.NewReader("\ufeffAge,Home,Note\n35,,\"a, b\"\n40,rent,\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(req)
	if string(b) != `{"instances":[{"Age":"35","Home":null,"Note":"a, b"},{"Age":"40","Home":"rent","Note":null}]}` {
		t.Fatalf("%s", b)
	}
	for _, tc := range []struct{ csv, msg string }{
		{"", "CSV: empty: expected a header row"},
		{"Age,Home\n", "CSV: no rows after the header"},
		{"Age,Age\n1,2\n", `CSV: header: "Age" names columns 1 and 2`},
		{"Age,\n1,2\n", "CSV: header: column 2 has no name"},
		{"Age,Home\n1,2\n3\n", "CSV: record on line 3: wrong number of fields"},
	} {
		if _, err := predict.RequestFromCSV(strings.NewReader(tc.csv)); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q: %v, want %q", tc.csv, err, tc.msg)
		}
	}
	for _, body := range []string{`[{"Age": 35}, {"Age": 40}]`, ` {"instances": [{"Age": 35}, {"Age": 40}], "explain": true}`} {
		req, err := predict.RequestFromJSON(strings.NewReader(body))
		if err != nil || len(req.Instances) != 2 || req.Explain != strings.Contains(body, "explain") {
			t.Fatalf("%s: %+v %v", body, req, err)
		}
	}
	_, err = predict.RequestFromJSON(strings.NewReader(`[{"Age": [35]}]`))
	var e *apierror.Error
	if err == nil || errors.As(err, &e) || err.Error() != "instances[0].Age: expected a number, string, boolean or null, got an array" {
		t.Fatalf("%v", err)
	}
	// More instances than a request takes: split.
	many := &predict.Request{Explain: true}
	for range 2500 {
		many.Instances = append(many.Instances, req.Instances[0])
	}
	parts := many.Split(0)
	if len(parts) != 3 || len(parts[0].Instances) != 1000 || len(parts[2].Instances) != 500 || !parts[2].Explain {
		t.Fatalf("%d parts", len(parts))
	}
	if len(many.Split(2500)) != 1 || len(many.Split(1)) != 2500 {
		t.Fatal("split")
	}
}
