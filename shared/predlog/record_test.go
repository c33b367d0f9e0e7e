package predlog_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/predlog"
)

func TestValidateNamesTheField(t *testing.T) {
	good := func() predlog.Record {
		r := record("req-1", 0, day0, map[string]any{"Age": 30.0, "Home": "rent", "Income": nil, "Student": true})
		r.Schema = predlog.RecordSchema
		r.Flags = []string{"Age: above max 120"}
		r.Shadow = &predlog.Shadow{Version: 4, BundleSHA256: bundleSHA, Outputs: map[string]any{"p_bad": 0.2, "label": "good"}}
		return r
	}
	if r := good(); r.Validate() != nil {
		t.Fatal(r.Validate())
	}
	for _, tc := range []struct {
		want   string
		breaks func(*predlog.Record)
	}{
		{"schema", func(r *predlog.Record) { r.Schema = "" }},
		{"schema", func(r *predlog.Record) { r.Schema = "mlops.prediction/x" }},
		{"requestId", func(r *predlog.Record) { r.RequestID = "" }},
		{"requestId", func(r *predlog.Record) { r.RequestID = strings.Repeat("r", 257) }},
		{"index", func(r *predlog.Record) { r.Index = -1 }},
		{"time", func(r *predlog.Record) { r.Time = time.Time{} }},
		{"model", func(r *predlog.Record) { r.Model = "../credit" }},
		{"version", func(r *predlog.Record) { r.Version = 0 }},
		{"bundleSha256", func(r *predlog.Record) { r.BundleSHA256 = "abc" }},
		{"features", func(r *predlog.Record) { r.Features = nil }},
		{"features.Age", func(r *predlog.Record) { r.Features["Age"] = math.NaN() }},
		{"features.Home", func(r *predlog.Record) { r.Features["Home"] = []any{"rent"} }},
		{"outputs", func(r *predlog.Record) { r.Outputs = nil }},
		{"outputs.label", func(r *predlog.Record) { r.Outputs["label"] = map[string]any{} }},
		{"latencyMs", func(r *predlog.Record) { r.LatencyMs = -1 }},
		{"flags[0]", func(r *predlog.Record) { r.Flags[0] = "" }},
		{"shadow.version", func(r *predlog.Record) { r.Shadow.Version = 0 }},
		{"shadow.bundleSha256", func(r *predlog.Record) { r.Shadow.BundleSHA256 = "" }},
		{"shadow: neither", func(r *predlog.Record) { r.Shadow.Outputs = nil }},
	} {
		r := good()
		tc.breaks(&r)
		if err := r.Validate(); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.want, err)
		}
	}
	r := good()
	r.Shadow.Outputs, r.Shadow.Error = nil, "candidate failed: timeout"
	if err := r.Validate(); err != nil {
		t.Errorf("a shadow that failed: %v", err)
	}
}

// What a writer writes, a reader reads back equal, with the time in UTC.
func TestDecodeRecordRoundTrip(t *testing.T) {
	in := record("req-1", 2, time.Date(2026, 3, 14, 4, 26, 53, 5, time.FixedZone("EST", -5*3600)),
		map[string]any{"Age": 30.0, "Home": "rent", "Income": nil})
	in.Flags = []string{"Age: above max 120"}
	in.Shadow = &predlog.Shadow{Version: 4, BundleSHA256: bundleSHA, Error: "timeout"}
	var out calls
	if err := predlog.NewLines(&out).Write(t.Context(), []predlog.Record{in}); err != nil {
		t.Fatal(err)
	}
	got, err := predlog.DecodeRecord(out.calls[0])
	if err != nil {
		t.Fatal(err)
	}
	want := in
	want.Schema, want.Time = predlog.RecordSchema, in.Time.UTC()
	if !reflect.DeepEqual(got, want) || got.Time.Location() != time.UTC {
		t.Errorf("read back\n%+v\nwant\n%+v", got, want)
	}
}

// Unknown fields are what later /1 writers add: ignored. Another major
// version is refused with a *VersionError, even when its fields changed type.
func TestDecodeRecordVersions(t *testing.T) {
	const base = `"requestId":"r","index":0,"time":"2026-03-14T09:26:53Z","model":"credit","version":3,` +
		`"bundleSha256":"` + bundleSHA + `","features":{"Age":30},"outputs":{"label":"good"},"latencyMs":1`
	if r, err := predlog.DecodeRecord([]byte(`{"schema":"mlops.prediction/1",` + base + `,"region":"eu-west-1"}`)); err != nil || r.Model != "credit" {
		t.Errorf("a /1 record with an added field: %v", err)
	}
	for _, line := range []string{
		`{"schema":"mlops.prediction/2",` + base + `}`,
		`{"schema":"mlops.prediction/2","requestId":"r","index":"zero","version":"3.1"}`,
		`{"index":{},"schema":"mlops.prediction/17"}`,
	} {
		_, err := predlog.DecodeRecord([]byte(line))
		var verr *predlog.VersionError
		if !errors.As(err, &verr) || !strings.Contains(err.Error(), "upgrade") {
			t.Errorf("%s: %v", line, err)
		}
	}
	for _, tc := range []struct{ line, want string }{
		{`{"schema":"mlops.prediction/1",` + base + `} {}`, "data after the object"},
		{`{"schema":"mlops.prediction/1",` + base + `}x`, "data after the object"},
		{`{"schema":"mlops.prediction/1",` + base, "not a JSON record"},
		{`[1,2]`, "not a JSON record"},
		{`null`, "schema"},
		{`{"schema":"other/1"}`, "schema"},
		{`{"schema":"mlops.prediction/1","index":1e400}`, "not a JSON record"},
	} {
		if _, err := predlog.DecodeRecord([]byte(tc.line)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: %v, want %q", tc.line, err, tc.want)
		}
	}
}
