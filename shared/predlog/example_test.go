package predlog_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/predlog"
)

// The endpoint's path for one request in Lambda: sample, redact, write a line
// per instance to stdout before answering.
func Example() {
	c := &contract.Contract{Columns: []contract.Column{
		{Name: "Age", Type: contract.Integer, PII: true},
		{Name: "Income", Type: contract.Number},
	}}
	redactor, err := predlog.NewRedactor(c, "", []byte("0123456789abcdef0123456789abcdef")) // a key: hmac
	if err != nil {
		fmt.Println(err)
		return
	}
	sampler, _ := predlog.NewSampler(1)
	sink := predlog.NewLines(os.Stdout)

	const requestID = "7f3c9a1e-0001"
	if sampler.Sampled(requestID) {
		rec := predlog.Record{RequestID: requestID, Index: 0, Time: time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC),
			Model: "credit", Version: 3, BundleSHA256: "9f86d081884c7d659a2feb5a6b2b4e0a4d2b27e33e16d8d1e54b7eaf6a7d2f6b",
			Features: map[string]any{"Age": 30, "Income": nil}, Outputs: map[string]any{"p_bad": 0.25, "label": "good"},
			LatencyMs: 1.5}
		redactor.Apply(&rec)
		if err := sink.Write(context.Background(), []predlog.Record{rec}); err != nil {
			fmt.Println(err)
		}
	}
	// Output:
	// {"schema":"mlops.prediction/1","requestId":"7f3c9a1e-0001","index":0,"time":"2026-03-14T09:26:53Z","model":"credit","version":3,"bundleSha256":"9f86d081884c7d659a2feb5a6b2b4e0a4d2b27e33e16d8d1e54b7eaf6a7d2f6b","features":{"Age":"hmac-sha256:5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07","Income":null},"outputs":{"label":"good","p_bad":0.25},"latencyMs":1.5}
}
