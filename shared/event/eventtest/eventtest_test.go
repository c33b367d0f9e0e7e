package eventtest_test

import (
	"context"
	"testing"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/event/eventtest"
)

func TestRecorderKeepsEventsInOrder(t *testing.T) {
	var r eventtest.Recorder
	if err := r.Publish(context.Background(), event.Event{DetailType: "a"}, event.Event{DetailType: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish(context.Background(), event.Event{DetailType: "c"}); err != nil {
		t.Fatal(err)
	}
	got := r.Events()
	if len(got) != 3 || got[0].DetailType != "a" || got[2].DetailType != "c" {
		t.Fatalf("events %+v", got)
	}
	got[0].DetailType = "changed"
	if r.Events()[0].DetailType != "a" {
		t.Fatal("Events shares the recorder's slice")
	}
}
