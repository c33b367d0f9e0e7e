package drift

import (
	"strings"
	"testing"
	"time"
)

func TestWindowsAndKeys(t *testing.T) {
	now := time.Date(2026, 12, 4, 1, 30, 0, 0, time.UTC)
	for _, c := range []struct {
		req  Request
		key  string
		fail string
	}{
		{Request{}, "drift/credit/2026-12-03.json", ""},
		{Request{From: "2026-12-01"}, "drift/credit/2026-12-01.json", ""},
		{Request{To: "2026-12-02"}, "drift/credit/2026-12-02.json", ""},
		{Request{From: "2026-11-27", To: "2026-12-03"}, "drift/credit/2026-11-27_2026-12-03.json", ""},
		{Request{From: "2026-12-03", To: "2026-12-01"}, "", "the end is before the start"},
		{Request{From: "2024-01-01", To: "2026-12-01"}, "", "at most 366"},
		{Request{From: "yesterday"}, "", `day "yesterday": expected YYYY-MM-DD`},
	} {
		w, err := c.req.Window(now)
		if c.fail != "" {
			if err == nil || !strings.Contains(err.Error(), c.fail) {
				t.Errorf("%+v: %v, want %q", c.req, err, c.fail)
			}
			continue
		}
		if err != nil || ReportKey("credit", w) != c.key {
			t.Errorf("%+v: %s %v, want %s", c.req, ReportKey("credit", w), err, c.key)
		}
	}
}

func TestParseRequest(t *testing.T) {
	ok := `{"requestId": "drift-1", "model": "credit", "from": "2026-12-01"}`
	if r, err := ParseRequest(RequestKey("drift-1"), []byte(ok)); err != nil || r.Model != "credit" {
		t.Fatalf("%+v %v", r, err)
	}
	for body, want := range map[string]string{
		`{"requestId": "drift-2"}`:                         "does not match the key",
		`{"requestId": "drift-1", "days": 3}`:              `unknown field "days"`,
		`{"requestId": "../x"}`:                            "requestId",
		`{"requestId": "drift-1", "model": "Not A Model"}`: "not a model name",
		`{"requestId": "drift-1", "from": "2026-13-01"}`:   "expected YYYY-MM-DD",
		`[1, 2]`: "cannot unmarshal",
	} {
		if _, err := ParseRequest(RequestKey("drift-1"), []byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
	}
	if r, err := ParseReport([]byte(`{"schema": "mlops.drift/2"}`)); err == nil || r != nil {
		t.Fatalf("another major schema: %v", err)
	}
}

func TestSchemaMajor(t *testing.T) {
	for s, want := range map[string]bool{"mlops.drift/1": true, "mlops.drift/1.3": true, "mlops.drift/2": false, "other/1": false, "": false} {
		if got := major(s) == major(ReportSchema); got != want {
			t.Errorf("%q: %v", s, got)
		}
	}
}
