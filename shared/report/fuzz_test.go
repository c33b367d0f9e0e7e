package report_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/report"
)

// Route reads whatever a rule or a person sends: it never panics, and what
// it accepts names something to publish.
func FuzzRoute(f *testing.F) {
	for _, s := range []string{
		`{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`,
		`{"source":"mlops","detail-type":"Model Promoted","detail":{"model":"credit"}}`,
		`{"source":"mlops","detail-type":"Training Succeeded","detail":{"model":"credit","dataset":"credit"}}`,
		`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"mlops-monitoring"},"object":{"key":"drift/credit/2026-12-03.json"}}}`,
		`{"source":"aws.s3","detail-type":"Object Created","detail":{"bucket":{"name":"mlops-platform"},"object":{"key":"datasheets/credit/current"}}}`,
		`{"full": true}`, `{"models": ["credit"], "datasets": ["credit"]}`, `{"detail-type":"Model Promoted","detail":7}`,
	} {
		f.Add([]byte(s))
	}
	svc, err := report.New(nil, nil, report.Config{PlatformBucket: "mlops-platform", MonitoringBucket: "mlops-monitoring", SiteBucket: "mlops-site"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, ok, err := svc.Route(json.RawMessage(payload))
		if err != nil && ok {
			t.Fatalf("accepted and refused at once: %v", err)
		}
		if ok && !req.Full && len(req.Models)+len(req.Datasets) == 0 {
			t.Fatalf("accepted %q, which names nothing", payload)
		}
		// What Handle would publish names only folders of the site.
		if ok && req.Check() == nil {
			for _, n := range append(append([]string{}, req.Models...), req.Datasets...) {
				if n == "" || strings.ContainsAny(n, "/.\\") {
					t.Fatalf("%q passed the check, from %q", n, payload)
				}
			}
		}
	})
}
