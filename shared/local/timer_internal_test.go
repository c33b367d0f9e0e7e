package local

import (
	"testing"
	"time"
)

func TestNextDriftTime(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for now, want := range map[string]string{
		"2026-12-04T00:10:00Z":      "2026-12-04T01:30:00Z",
		"2026-12-04T01:30:00Z":      "2026-12-05T01:30:00Z",
		"2026-12-04T23:59:00Z":      "2026-12-05T01:30:00Z",
		"2026-12-04T02:00:00+02:00": "2026-12-04T01:30:00Z", // 00:00 UTC: the same day's
	} {
		if got := nextDriftTime(at(now)); !got.Equal(at(want)) {
			t.Errorf("%s: %s, want %s", now, got, want)
		}
	}
}
