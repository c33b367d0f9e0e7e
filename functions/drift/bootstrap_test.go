package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/localtest"
	"github.com/openmlops/mlops/shared/predict"
)

// The real drift bootstrap, under a Runtime API server, against the logs a
// local platform's endpoint wrote for its champion: the nightly schedule
// writes the previous day's report, a rerun leaves it as it was, and a direct
// invocation names its window; a payload it cannot read is an error.
func TestBootstrapWritesTheNightlyReport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and trains a model")
	}
	bin := lambdatest.Build(t, ".")
	p := localtest.ServedCredit(t, local.Config{DriftEvery: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Every credit applicant through the endpoint, in requests of 1000.
	tlsCfg, err := api.ClientTLS(p.Endpoint.API.CACert)
	if err != nil {
		t.Fatal(err)
	}
	c := predict.NewClient(p.Endpoint.API.URL, &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}},
		apierror.BearerToken(p.Endpoint.API.Token))
	rows, err := csv.NewReader(bytes.NewReader(credit.CSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for lo := 1; lo < len(rows); lo += 1000 {
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write(rows[0][1:])
		for _, r := range rows[lo:min(lo+1000, len(rows))] {
			_ = w.Write(r[1:])
		}
		w.Flush()
		req, err := predict.RequestFromCSV(&buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Predict(ctx, "credit", req); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SettleLog(ctx); err != nil {
		t.Fatal(err)
	}

	eb := lambdatest.NewEventBridge(t)
	ep := p.Endpoint
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + ep.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.S3.SecretAccessKey,
		"UPLOADS_BUCKET=" + ep.Buckets.Uploads, "PLATFORM_BUCKET=" + ep.Buckets.Platform, "MONITORING_BUCKET=" + ep.Buckets.Monitoring,
		"EVENT_BUS_NAME=mlops", "MLOPS_S3_ENDPOINT=" + ep.S3.URL, "MLOPS_S3_PATH_STYLE=true", "MLOPS_EVENTS_ENDPOINT=" + eb.URL}
	fn := lambdatest.Start(t, bin, "drift", env)

	// The schedule fires the next day: the report is of today.
	today := time.Now().UTC()
	sched, _ := json.Marshal(event.Envelope{Version: "0", ID: "s1", DetailType: event.ScheduledEventType, Source: event.ScheduledSource,
		Time: today.Add(24 * time.Hour), Region: "us-east-1", Detail: json.RawMessage("{}")})
	if _, err := fn.Invoke(ctx, sched); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
	}
	key := drift.ReportKey("credit", drift.Day(today))
	b, info, err := p.Store.ReadAll(ctx, ep.Buckets.Monitoring, key)
	if err != nil {
		t.Fatalf("report %s: %v\nlogs:\n%s", key, err, fn.Logs())
	}
	rep, err := drift.ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != int64(len(rows)-1) || !rep.EnoughData || rep.Verdict.Drifted || len(rep.Verdict.DriftedFeatures) != 0 {
		t.Fatalf("report: rows %d, enough %v, verdict %+v", rep.Rows, rep.EnoughData, rep.Verdict)
	}
	if _, err := fn.Invoke(ctx, sched); err != nil {
		t.Fatal(err)
	}
	if _, again, err := p.Store.ReadAll(ctx, ep.Buckets.Monitoring, key); err != nil || again.ETag != info.ETag {
		t.Fatalf("a rerun rewrote the report: %v", err)
	}
	if n := len(eb.Entries()); n != 0 {
		t.Fatalf("no drift, yet %d events", n)
	}

	direct, _ := json.Marshal(drift.Request{Model: "credit", From: today.Format("2006-01-02")})
	if _, err := fn.Invoke(ctx, direct); err != nil {
		t.Fatalf("direct: %v\nlogs:\n%s", err, fn.Logs())
	}
	if _, err := fn.Invoke(ctx, []byte(`{"model": "credit", "days": 3}`)); err == nil || !strings.Contains(err.Error(), "days") {
		t.Fatalf("an unknown field: %v", err)
	}
}
