package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/local/lambdatest"
)

// The real reconcile bootstrap, on the scheduled event, ingests an upload whose
// S3 event was lost (grace set to zero for the test).
func TestBootstrapIngestsStrayUpload(t *testing.T) {
	bin, st, eb, env := lambdatest.Bootstrap(t, ".")
	lambdatest.UploadCredit(t, st, "lost-event.csv")
	fn := lambdatest.Start(t, bin, "reconcile", append(env,
		"RECONCILE_PENDING_GRACE=0s", "RECONCILE_INCOMING_GRACE=0s"))
	ictx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := fn.Invoke(ictx, events.Sample("schedule.json")); err != nil {
		t.Fatalf("invoke: %v\nlogs:\n%s", err, fn.Logs())
	}
	entries := eb.Entries()
	if len(entries) != 1 || entries[0].DetailType != "Dataset Versioned" || !strings.Contains(entries[0].Detail, "lost-event.csv") {
		t.Fatalf("published %+v\nlogs:\n%s", entries, fn.Logs())
	}
	// A second pass finds nothing left to do.
	if _, err := fn.Invoke(ictx, events.Sample("schedule.json")); err != nil {
		t.Fatal(err)
	}
	if n := len(eb.Entries()); n != 1 {
		t.Fatalf("second pass published again: %d", n)
	}
}
