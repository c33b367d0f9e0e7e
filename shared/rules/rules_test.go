package rules

import (
	"encoding/json"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/bus"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/training"
)

// The names the rules spell out are the ones the publishers and consumers use.
func TestNamesPinned(t *testing.T) {
	for _, c := range []struct{ ours, theirs string }{
		{sourcePlatform, event.Source}, {sourceS3, event.S3Source}, {sourceBatch, event.BatchSource},
		{objectCreated, event.S3ObjectCreated}, {batchJobStateChange, event.BatchJobStateChange},
		{datasetVersioned, event.DatasetVersioned}, {retrainRequested, event.RetrainRequested},
		{trainingSucceeded, event.TrainingSucceeded},
		{IncomingPrefix, ingest.IncomingPrefix}, {RequestsPrefix, training.RequestsPrefix},
		{DriftRequests, drift.RequestsPrefix}, {FeedbackPrefix, drift.FeedbackPrefix}, {Drift, "drift"},
		{Report, "report"}, {DriftReports, report.DriftPrefix}, {Datasheets, ingest.DatasheetsPrefix}, {ReportRequests, report.RequestsPrefix},
		{datasetRejected, event.DatasetRejected}, {trainingFailed, event.TrainingFailed}, {modelRegistered, event.ModelRegistered},
		{promotionPending, event.PromotionPending}, {modelPromoted, event.ModelPromoted}, {modelRejected, event.ModelRejected},
		{modelRolledBack, event.ModelRolledBack}, {modelRetired, event.ModelRetired}, {driftDetected, event.DriftDetected},
	} {
		if c.ours != c.theirs {
			t.Errorf("rules has %q, the platform %q", c.ours, c.theirs)
		}
	}
}

// The report rule routes exactly the events the report function maps to pages.
func TestReportEventsPinned(t *testing.T) {
	want := append(append([]string{}, report.ModelEvents...), report.DatasetEvents...)
	got := append([]string{}, ReportEvents...)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("the rule routes %q, the function handles %q", got, want)
	}
}

// The patterns are those the local platform routed by before they moved here.
func TestPatternsUnchanged(t *testing.T) {
	want := map[string]string{
		"ingest-uploads": `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["u"]},"object":{"key":[{"prefix":"incoming/"}]}}}`,
		"train-datasets": `{"source":["mlops"],"detail-type":["Dataset Versioned","Retrain Requested"]}`,
		"train-jobs":     `{"source":["aws.batch"],"detail-type":["Batch Job State Change"]}`,
		"train-requests": `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["p"]},"object":{"key":[{"prefix":"requests/retrain/"}]}}}`,
		"gate-trained":   `{"source":["mlops"],"detail-type":["Training Succeeded"]}`,
		"drift-feedback": `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["u"]},"object":{"key":[{"prefix":"feedback/"}]}}}`,
		"drift-requests": `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["p"]},"object":{"key":[{"prefix":"requests/drift/"}]}}}`,
		"report-events": `{"source":["mlops"],"detail-type":["Dataset Versioned","Dataset Rejected","Training Succeeded","Training Failed",` +
			`"Model Registered","Promotion Pending","Model Promoted","Model Rejected","Model Rolled Back","Model Retired","Drift Detected"]}`,
		"report-drift":      `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["m"]},"object":{"key":[{"prefix":"drift/"}]}}}`,
		"report-datasheets": `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["p"]},"object":{"key":[{"prefix":"datasheets/"}]}}}`,
		"report-requests":   `{"source":["aws.s3"],"detail-type":["Object Created"],"detail":{"bucket":{"name":["p"]},"object":{"key":[{"prefix":"requests/report/"}]}}}`,
	}
	all := All(Names{UploadsBucket: "u", PlatformBucket: "p", MonitoringBucket: "m"})
	if len(all) != len(want) {
		t.Fatalf("%d rules, want %d", len(all), len(want))
	}
	for _, r := range all {
		if got := r.Pattern.JSON(); got != want[r.Name] {
			t.Errorf("%s:\n got %s\nwant %s", r.Name, got, want[r.Name])
		}
	}
	q := "arn:aws:batch:us-east-1:123456789012:job-queue/mlops-training"
	for _, r := range All(Names{JobQueue: q}) {
		if r.Name == "train-jobs" && r.Pattern.JSON() != `{"source":["aws.batch"],"detail-type":["Batch Job State Change"],"detail":{"jobQueue":["`+q+`"]}}` {
			t.Errorf("train-jobs with a queue: %s", r.Pattern.JSON())
		}
	}
}

// Each rule routes the sample events it should, and no others: run through
// the local bus's EventBridge matcher.
func TestRouting(t *testing.T) {
	names := Names{UploadsBucket: "mlops-uploads", PlatformBucket: "mlops-platform", MonitoringBucket: "mlops-monitoring",
		JobQueue: "arn:aws:batch:us-east-1:123456789012:job-queue/mlops-training"}
	// Events the samples lack, made from them.
	s3 := func(bucket, key string) []byte {
		var env map[string]any
		if err := json.Unmarshal(events.Sample("s3-object-created"), &env); err != nil {
			t.Fatal(err)
		}
		d := env["detail"].(map[string]any)
		d["bucket"].(map[string]any)["name"] = bucket
		d["object"].(map[string]any)["key"] = key
		b, _ := json.Marshal(env)
		return b
	}
	otherQueue := strings.ReplaceAll(string(events.Sample("batch-job-state-change-failed")), "job-queue/mlops-training", "job-queue/theirs")
	made := map[string][]byte{
		"retrain request object":    s3("mlops-platform", "requests/retrain/credit-xgb/r1.json"),
		"upload to another bucket":  s3("elsewhere", "incoming/credit/a.csv"),
		"upload outside incoming/":  s3("mlops-uploads", "quarantine/credit/a.csv"),
		"platform object":           s3("mlops-platform", "datasets/credit/latest"),
		"another queue's job":       []byte(otherQueue),
		"feedback upload":           s3("mlops-uploads", "feedback/credit/labels.csv"),
		"drift request object":      s3("mlops-platform", "requests/drift/d1.json"),
		"feedback in the platform":  s3("mlops-platform", "feedback/credit/labels.csv"),
		"drift report":              s3("mlops-monitoring", "drift/credit/2026-12-03.json"),
		"drift key in the platform": s3("mlops-platform", "drift/credit/2026-12-03.json"),
		"datasheet":                 s3("mlops-platform", "datasheets/credit/current"),
		"datasheet in the uploads":  s3("mlops-uploads", "datasheets/credit/current"),
		"report request":            s3("mlops-platform", "requests/report/r1.json"),
	}
	want := map[string][]string{
		"s3-object-created":                {"ingest-uploads"},
		"s3-object-created-multipart":      {"ingest-uploads"},
		"dataset-versioned":                {"train-datasets", "report-events"},
		"retrain-requested":                {"train-datasets"},
		"batch-job-state-change-failed":    {"train-jobs"},
		"batch-job-state-change-running":   {"train-jobs"},
		"batch-job-state-change-succeeded": {"train-jobs"},
		"training-succeeded":               {"gate-trained", "report-events"},
		"retrain request object":           {"train-requests"},
		"upload to another bucket":         nil,
		"upload outside incoming/":         nil,
		"platform object":                  nil,
		"another queue's job":              nil,
		"training-failed":                  {"report-events"},
		"dataset-rejected":                 {"report-events"},
		"model-promoted":                   {"report-events"},
		"promotion-pending":                {"report-events"},
		"schedule":                         nil,
		"s3-notification":                  nil, // S3's own notification, not an EventBridge event
		"apigw-approve":                    nil,
		"apigw-predict":                    nil,               // API Gateway invokes the function; no rule
		"model-load-failed":                nil,               // for people (the stack sends it to SNS)
		"drift-detected":                   {"report-events"}, // and for people (the stack sends it to SNS)
		"feedback upload":                  {"drift-feedback"},
		"drift request object":             {"drift-requests"},
		"feedback in the platform":         nil,
		"drift report":                     {"report-drift"},
		"drift key in the platform":        nil,
		"datasheet":                        {"report-datasheets"},
		"datasheet in the uploads":         nil,
		"report request":                   {"report-requests"},
	}
	samples := map[string][]byte{}
	for _, n := range events.Names() {
		samples[n] = events.Sample(n)
	}
	for n, b := range made {
		samples[n] = b
	}
	for n := range samples {
		if _, ok := want[n]; !ok {
			t.Errorf("sample %s: say which rules route it", n)
		}
	}
	all := All(names)
	seen := map[string]bool{}
	for _, r := range all {
		if seen[r.Name] {
			t.Errorf("rule %s defined twice", r.Name)
		}
		seen[r.Name] = true
		if !json.Valid([]byte(r.Pattern.JSON())) {
			t.Errorf("%s: pattern is not JSON: %s", r.Name, r.Pattern.JSON())
		}
	}
	for n, ev := range samples {
		var got []string
		for _, r := range all {
			p, err := bus.ParsePattern(r.Pattern.JSON())
			if err != nil {
				t.Fatalf("%s: %v", r.Name, err)
			}
			ok, err := p.Match(ev)
			if err != nil {
				t.Fatalf("%s on %s: %v", r.Name, n, err)
			}
			if ok {
				got = append(got, r.Name)
			}
		}
		if !slices.Equal(got, want[n]) {
			t.Errorf("%s: routed by %q, want %q", n, got, want[n])
		}
	}
}

// A rule is on the bus its events arrive on in AWS: AWS services' events on
// the default bus, the platform's own on its bus.
func TestBuses(t *testing.T) {
	for _, r := range All(Names{EventBus: "mlops-events"}) {
		want := DefaultBus
		if slices.Equal(r.Pattern.Source, []string{event.Source}) {
			want = "mlops-events"
		}
		if r.Bus != want {
			t.Errorf("%s: on %s, want %s", r.Name, r.Bus, want)
		}
		if !slices.Contains([]string{Ingest, Train, Gate, Drift, Report}, r.Function) {
			t.Errorf("%s: targets %q", r.Name, r.Function)
		}
	}
}

// The stack's module builds with this package: it must import the standard
// library only.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s", f, path)
			}
		}
	}
}

// Every prefix the grants name is where its owner writes: a key of the
// owning package's starts with it, so a typo in the table (or a layout
// that moved) fails here rather than as AccessDenied in AWS.
func TestGrantPrefixesPinned(t *testing.T) {
	owners := map[string]string{
		"incoming/":         ingest.IncomingPrefix,
		"quarantine/":       ingest.QuarantineDatasetPrefix("credit"),
		"contracts/":        ingest.ContractKey("credit", "h"),
		"datasheets/":       ingest.DatasheetsPrefix,
		"datasets/":         ingest.ManifestKey("credit", "v"),
		"pending/datasets/": ingest.PendingPrefix,
		"specs/":            specstore.Prefix,
		"policies/":         policystore.Prefix,
		"requests/retrain/": training.RequestsPrefix,
		"runs/":             training.BundlePrefix("credit-0123456789abcdef-1"),
		"triggers/":         training.TriggerKey("credit"),
		"pending/runs/":     training.PendingPrefix,
		"models/":           registry.ChampionKey("credit"),
		"audit/":            registry.HeadKey("credit"),
		"feedback/":         drift.FeedbackPrefix,
		"predictions/":      predlog.KeyPrefix,
		"drift/":            drift.Prefix("credit"),
		"labels/":           drift.LabelsPrefix("credit"),
		"requests/drift/":   drift.RequestsPrefix,
		"requests/report/":  report.RequestsPrefix,
		"reports/":          report.StateKey,
		"":                  "index.html", // the site bucket, whole
	}
	for fn, grants := range Grants() {
		for _, a := range grants {
			key, ok := owners[a.Prefix]
			if !ok || !strings.HasPrefix(key, a.Prefix) {
				t.Errorf("%s: %s %q is no owner's prefix (an owner's key: %q)", fn, a.Bucket, a.Prefix, key)
			}
			if a.Prefix == "" && a.Bucket != Site {
				t.Errorf("%s: all of the %s bucket", fn, a.Bucket)
			}
		}
	}
}
