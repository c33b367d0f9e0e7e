package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/localtest"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
)

// The real bootstrap binary runs under a Runtime API server against the
// registry a local platform trained and promoted a model in (its embedded
// S3), and answers API Gateway's requests: a prediction with its reasons,
// named by the champion's version, whose record is on stdout before the
// answer; the health check; a refusal of bad input that leaves it serving;
// and no answer at all without a verified caller.
func TestBootstrapServesPredictions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and trains a model")
	}
	bin := lambdatest.Build(t, ".")
	p := localtest.ServedCredit(t, local.Config{})
	eb := lambdatest.NewEventBridge(t)
	ep := p.Endpoint
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + ep.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.S3.SecretAccessKey,
		"UPLOADS_BUCKET=" + ep.Buckets.Uploads, "PLATFORM_BUCKET=" + ep.Buckets.Platform, "EVENT_BUS_NAME=mlops",
		"MLOPS_S3_ENDPOINT=" + ep.S3.URL, "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + eb.URL}
	fn := lambdatest.Start(t, bin, "predict", env)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	invoke := func(req lambdaevents.APIGatewayV2HTTPRequest) lambdaevents.APIGatewayV2HTTPResponse {
		t.Helper()
		payload, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		out, err := fn.Invoke(ctx, payload)
		if err != nil {
			t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
		}
		var resp lambdaevents.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("answer %s: %v", out, err)
		}
		return resp
	}
	var sample lambdaevents.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(events.Sample("apigw-predict"), &sample); err != nil {
		t.Fatal(err)
	}

	resp := invoke(sample)
	var got predict.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &got) != nil {
		t.Fatalf("predict: %d %s\nlogs:\n%s", resp.StatusCode, resp.Body, fn.Logs())
	}
	if got.ModelVersion != 1 || got.RequestID != sample.RequestContext.RequestID || len(got.Predictions) != 1 ||
		got.Predictions[0].Explanation == nil || len(got.Predictions[0].Explanation.Reasons) == 0 {
		t.Fatalf("predict: %s", resp.Body)
	}
	// The record was written to stdout before the answer; the test reads
	// the process's output through a pipe, which may deliver it a moment
	// after the answer (in Lambda, the service reads it).
	var rec *predlog.Record
	for deadline := time.Now().Add(10 * time.Second); rec == nil && time.Now().Before(deadline); {
		sc := bufio.NewScanner(strings.NewReader(fn.Logs()))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			if r, err := predlog.DecodeRecord(sc.Bytes()); err == nil {
				rec = &r
			}
		}
		if rec == nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if rec == nil || rec.RequestID != sample.RequestContext.RequestID || rec.Version != 1 || rec.Model != "credit" ||
		rec.Features["Income"] != 129.0 || rec.Outputs["label"] == nil {
		t.Fatalf("no prediction record for the request on stdout:\n%s", fn.Logs())
	}

	health := sample
	health.RawPath, health.RequestContext.HTTP.Method, health.RequestContext.HTTP.Path, health.Body = "/healthz", "GET", "/healthz", ""
	health.RequestContext.Authorizer = nil
	if r := invoke(health); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, `"ok"`) {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.Body)
	}

	bad := sample
	bad.Body = `{"instances": [{"Seniority": "nine", "Home": "castle"}]}`
	if r := invoke(bad); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.Body, "instances[0].Seniority") ||
		!strings.Contains(r.Body, "instances[0].Home") || !strings.Contains(r.Body, sample.RequestContext.RequestID) {
		t.Fatalf("bad input: %d %s", r.StatusCode, r.Body)
	}
	anon := sample
	anon.RequestContext.Authorizer = nil
	if r := invoke(anon); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no verified caller: %d %s", r.StatusCode, r.Body)
	}
	// Still serving after the refusals.
	if r := invoke(sample); r.StatusCode != http.StatusOK {
		t.Fatalf("predict after refusals: %d %s", r.StatusCode, r.Body)
	}
}
