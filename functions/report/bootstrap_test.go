package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/localtest"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/store"
)

// The real report bootstrap, under a Runtime API server, over a local
// platform whose credit model is champion: the nightly schedule publishes
// the whole site into the site bucket, a repeat writes nothing, an event
// about the model writes nothing new either, and a payload it cannot read is
// an error.
func TestBootstrapPublishesTheSite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and trains a model")
	}
	bin := lambdatest.Build(t, ".")
	p := localtest.ServedCredit(t, local.Config{DriftEvery: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ep := p.Endpoint

	// What the platform's own report function published goes: the
	// bootstrap starts from nothing.
	var keys []string
	if err := p.Store.List(ctx, ep.Buckets.Site, "", func(o store.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := p.Store.Delete(ctx, ep.Buckets.Site, k, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Store.Delete(ctx, ep.Buckets.Platform, report.StateKey, ""); err != nil {
		t.Fatal(err)
	}

	eb := lambdatest.NewEventBridge(t)
	env := []string{"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=" + ep.S3.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + ep.S3.SecretAccessKey,
		"UPLOADS_BUCKET=" + ep.Buckets.Uploads, "PLATFORM_BUCKET=" + ep.Buckets.Platform, "MONITORING_BUCKET=" + ep.Buckets.Monitoring,
		"SITE_BUCKET=" + ep.Buckets.Site, "EVENT_BUS_NAME=mlops", "MLOPS_S3_ENDPOINT=" + ep.S3.URL, "MLOPS_S3_PATH_STYLE=true",
		"MLOPS_EVENTS_ENDPOINT=" + eb.URL}
	fn := lambdatest.Start(t, bin, "report", env)

	sched, _ := json.Marshal(event.Envelope{Version: "0", ID: "s1", DetailType: event.ScheduledEventType, Source: event.ScheduledSource,
		Time: time.Now().UTC(), Region: "us-east-1", Detail: json.RawMessage("{}")})
	if _, err := fn.Invoke(ctx, sched); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
	}
	for _, k := range []string{reportgen.IndexPath, reportgen.ModelPath("credit"), reportgen.DatasetPath("credit"), "assets/site.css"} {
		rc, info, err := p.Store.Get(ctx, ep.Buckets.Site, k, store.GetOptions{})
		if err != nil {
			t.Fatalf("%s: %v\nlogs:\n%s", k, err, fn.Logs())
		}
		rc.Close()
		if info.ContentType != report.ContentType(k) || info.CacheControl != report.CacheControl(k) {
			t.Errorf("%s: %q, %q", k, info.ContentType, info.CacheControl)
		}
	}
	index, _, err := p.Store.ReadAll(ctx, ep.Buckets.Site, reportgen.IndexPath)
	if err != nil || !strings.Contains(string(index), reportgen.CardPath("credit", 1)) {
		t.Fatalf("the index does not link the champion's card: %v", err)
	}
	_, state, err := p.Store.ReadAll(ctx, ep.Buckets.Platform, report.StateKey)
	if err != nil {
		t.Fatal(err)
	}

	promoted, _ := json.Marshal(event.Envelope{Version: "0", ID: "e1", DetailType: event.ModelPromoted, Source: event.Source,
		Time: time.Now().UTC(), Region: "us-east-1", Detail: json.RawMessage(`{"model": "credit"}`)})
	for _, ev := range [][]byte{sched, promoted} {
		if _, err := fn.Invoke(ctx, ev); err != nil {
			t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
		}
		if _, again, err := p.Store.ReadAll(ctx, ep.Buckets.Platform, report.StateKey); err != nil || again.ETag != state.ETag {
			t.Fatalf("an event that changed nothing rewrote the state: %v", err)
		}
	}
	if _, err := fn.Invoke(ctx, []byte(`{"model": "credit"}`)); err == nil || !strings.Contains(err.Error(), "direct invocation") {
		t.Fatalf("an unknown field: %v", err)
	}
	if n := len(eb.Entries()); n != 0 {
		t.Fatalf("the report function published %d events", n)
	}
}
