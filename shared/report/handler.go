package report

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"

	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/naming"
)

// RequestsPrefix is where clients (mlops report publish) drop requests for
// a full rebuild, in the platform bucket: the object's arrival is the
// request; its body is for people reading the bucket.
const RequestsPrefix = "requests/report/"

// RequestKey is the key of a rebuild request.
func RequestKey(id string) string { return RequestsPrefix + id + ".json" }

// ModelEvents are the platform events that change a model's pages (and the
// index, and its dataset's pages, which list its runs' data).
var ModelEvents = []string{event.TrainingSucceeded, event.TrainingFailed, event.ModelRegistered, event.PromotionPending,
	event.ModelPromoted, event.ModelRejected, event.ModelRolledBack, event.ModelRetired, event.DriftDetected}

// DatasetEvents are the platform events that change a dataset's pages.
var DatasetEvents = []string{event.DatasetVersioned, event.DatasetRejected}

// Handle is the report function's entry point, in AWS and locally:
//   - a platform event (ModelEvents, DatasetEvents): that model's or
//     dataset's pages and the index;
//   - S3 Object Created in the monitoring bucket under drift/ (a drift
//     report, written without any event when there is no drift): that
//     model's;
//   - S3 Object Created of a dataset's datasheet pointer in the platform
//     bucket (mlops datasets describe): that dataset's;
//   - the nightly schedule (EventBridge Scheduled Event), or a request
//     object under RequestsPrefix: everything, and the pages no longer
//     produced are deleted;
//   - a Request as the payload itself ({"full": true}, {"models": [...]}).
//
// Other events are logged and ignored. Every path is idempotent: a repeated
// event renders the same bytes, and uploads and invalidates nothing.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("report panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("report: internal error: %v", r)
		}
	}()
	req, ok, err := s.Route(payload)
	if err != nil || !ok {
		return err
	}
	if err := req.Check(); err != nil {
		// Retrying cannot make a name valid: logged, not returned.
		s.log.Error("report: refused a request", "error", err)
		return nil
	}
	_, err = s.Publish(ctx, req)
	return err
}

// Route maps a payload onto the request it asks for; ok is false for an
// event the publisher has no rule for.
func (s *Service) Route(payload json.RawMessage) (req Request, ok bool, err error) {
	var env event.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return req, false, fmt.Errorf("report event: not JSON: %w", err)
	}
	switch {
	case env.Source == event.ScheduledSource && env.DetailType == event.ScheduledEventType:
		return Request{Full: true}, true, nil
	case env.Source == event.Source && (contains(ModelEvents, env.DetailType) || contains(DatasetEvents, env.DetailType)):
		// Every one of these details names its model or dataset in these
		// fields (shared/event); training's name both.
		var d struct {
			Model   string `json:"model"`
			Dataset string `json:"dataset"`
		}
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return req, false, fmt.Errorf("report event %s (%s): detail: %w", env.ID, env.DetailType, err)
		}
		if contains(ModelEvents, env.DetailType) && d.Model != "" {
			req.Models = []string{d.Model}
		}
		if d.Dataset != "" {
			req.Datasets = []string{d.Dataset}
		}
		if len(req.Models)+len(req.Datasets) == 0 {
			s.log.Info("report: ignored an event that names no model or dataset", "id", env.ID, "detail-type", env.DetailType)
			return req, false, nil
		}
		return req, true, nil
	case env.Source == event.S3Source && env.DetailType == event.S3ObjectCreated:
		var d event.S3ObjectCreatedDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return req, false, fmt.Errorf("report event %s: detail: %w", env.ID, err)
		}
		key, err := url.QueryUnescape(d.Object.Key)
		if err != nil {
			return req, false, fmt.Errorf("report event %s: key %q: %w", env.ID, d.Object.Key, err)
		}
		if d.Bucket.Name == s.cfg.MonitoringBucket {
			if model, ok := driftReportModel(key); ok {
				return Request{Models: []string{model}}, true, nil
			}
		}
		if d.Bucket.Name == s.cfg.PlatformBucket {
			if ds, ok := datasheetDataset(key); ok {
				return Request{Datasets: []string{ds}}, true, nil
			}
			if strings.HasPrefix(key, RequestsPrefix) {
				return Request{Full: true}, true, nil
			}
		}
		s.log.Info("report: ignored an object it has no rule for", "bucket", d.Bucket.Name, "key", key)
		return req, false, nil
	case env.Source == "" && env.DetailType == "":
		dec := json.NewDecoder(bytes.NewReader(payload))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, false, fmt.Errorf("report: a direct invocation takes {\"full\": true} or {\"models\": [...], \"datasets\": [...]}: %w", err)
		}
		if !req.Full && len(req.Models)+len(req.Datasets) == 0 {
			return req, false, fmt.Errorf("report: a direct invocation names nothing to publish: give \"full\": true, or models or datasets")
		}
		return req, true, nil
	}
	s.log.Info("report: ignored an event it has no rule for", "source", env.Source, "detail-type", env.DetailType)
	return req, false, nil
}

// DriftPrefix is where the drift reports are, in the monitoring bucket
// (drift.Prefix without a model).
var DriftPrefix = strings.TrimSuffix(drift.Prefix(""), "/")

// driftReportModel is the model of a drift report's key
// (drift.ReportKey: drift/<model>/<window>.json); the answers to drift
// requests (drift.ResultKey) are not reports.
func driftReportModel(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, DriftPrefix)
	if !ok || strings.HasPrefix(key, strings.TrimSuffix(drift.ResultKey(""), ".json")) {
		return "", false
	}
	model, file, ok := strings.Cut(rest, "/")
	if !ok || model == "" || strings.Contains(file, "/") || !strings.HasSuffix(file, ".json") {
		return "", false
	}
	return model, true
}

// datasheetDataset is the dataset whose current-datasheet pointer key is;
// the datasheet bodies, written just before their pointer, are not: the
// pointer's event follows.
func datasheetDataset(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, ingest.DatasheetsPrefix)
	if !ok {
		return "", false
	}
	ds, _, _ := strings.Cut(rest, "/")
	if ds == "" || key != ingest.DatasheetPointerKey(ds) {
		return "", false
	}
	return ds, true
}

// Check refuses names that are no model's or dataset's (naming.Rule): they
// become folders of the site.
func (r Request) Check() error {
	for _, n := range append(append([]string{}, r.Models...), r.Datasets...) {
		if !naming.Valid(n) {
			return fmt.Errorf("report: %q is not a model or dataset name: expected %s", n, naming.Rule)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
