package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// RequestsPrefix is where clients (mlops drift run) drop on-demand drift
// requests in the platform bucket; the drift function answers each under
// ResultKey in the monitoring bucket.
const RequestsPrefix = "requests/drift/"

// RequestKey is the key of an on-demand request.
func RequestKey(id string) string { return RequestsPrefix + id + ".json" }

// ResultKey is where the answer to request id is written.
func ResultKey(id string) string { return "drift/requests/" + id + ".json" }

// FeedbackPrefix is where people upload labels, in the uploads bucket:
// feedback/<model>/<name>.csv.
const FeedbackPrefix = "feedback/"

// Request is an on-demand run: one model or (Model "") every champion, over
// the days From to To (YYYY-MM-DD; both empty: yesterday, UTC).
type Request struct {
	RequestID string `json:"requestId"`
	Model     string `json:"model,omitempty"`
	From      string `json:"from,omitempty"`
	To        string `json:"to,omitempty"`
}

// RequestResult is the answer to a Request.
type RequestResult struct {
	RequestID string         `json:"requestId"`
	Window    string         `json:"window"`
	Reports   []ReportResult `json:"reports"`
	// Errors are the models whose run failed, with why.
	Errors []string `json:"errors,omitempty"`
}

// ReportResult is one model's report in a RequestResult.
type ReportResult struct {
	Model      string   `json:"model"`
	Key        string   `json:"key"`
	Changed    bool     `json:"changed"`
	Rows       int64    `json:"rows"`
	EnoughData bool     `json:"enoughData"`
	Drifted    bool     `json:"drifted"`
	Alerts     []string `json:"alerts"`
}

// Window reads a request's days; both empty is yesterday (UTC) of now.
func (r Request) Window(now time.Time) (Window, error) {
	if r.From == "" && r.To == "" {
		return Day(now.UTC().AddDate(0, 0, -1)), nil
	}
	if r.From == "" {
		r.From = r.To
	}
	if r.To == "" {
		r.To = r.From
	}
	from, err := ParseDay(r.From)
	if err != nil {
		return Window{}, fmt.Errorf("from: %w", err)
	}
	to, err := ParseDay(r.To)
	if err != nil {
		return Window{}, fmt.Errorf("to: %w", err)
	}
	w := Window{From: from, To: to}
	return w, w.Check()
}

// Handle is the drift function's entry point, in AWS and locally: the
// nightly schedule (EventBridge Scheduled Event: every champion, yesterday),
// an on-demand request object under RequestsPrefix, a feedback file under
// FeedbackPrefix in the uploads bucket (Object Created), or a Request as the
// payload itself (a direct invocation). An error makes the invoker retry;
// every path is idempotent.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("drift panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("drift: internal error: %v", r)
		}
	}()
	var env event.Envelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return fmt.Errorf("drift event: not JSON: %w", err)
	}
	switch {
	case env.Source == event.ScheduledSource && env.DetailType == event.ScheduledEventType:
		at := env.Time
		if at.IsZero() {
			at = s.cfg.Now()
		}
		_, err := s.RunAll(ctx, Day(at.UTC().AddDate(0, 0, -1)))
		return err
	case env.Source == event.S3Source && env.DetailType == event.S3ObjectCreated:
		var d event.S3ObjectCreatedDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return fmt.Errorf("drift event %s: detail: %w", env.ID, err)
		}
		key, err := url.QueryUnescape(d.Object.Key)
		if err != nil {
			return fmt.Errorf("drift event %s: key %q: %w", env.ID, d.Object.Key, err)
		}
		switch {
		case d.Bucket.Name == s.cfg.UploadsBucket && strings.HasPrefix(key, FeedbackPrefix):
			_, err := s.OnFeedback(ctx, key)
			return err
		case d.Bucket.Name == s.cfg.PlatformBucket && strings.HasPrefix(key, RequestsPrefix):
			return s.onRequestObject(ctx, key)
		}
		s.log.Info("drift: ignored an object outside its prefixes", "bucket", d.Bucket.Name, "key", key)
		return nil
	case env.Source == "" && env.DetailType == "":
		var req Request
		dec := json.NewDecoder(strings.NewReader(string(payload)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return fmt.Errorf("drift: a direct invocation takes {\"model\", \"from\", \"to\"}: %w", err)
		}
		_, err := s.Serve(ctx, req)
		return err
	}
	s.log.Info("drift: ignored an event it has no rule for", "source", env.Source, "detail-type", env.DetailType)
	return nil
}

// onRequestObject answers a request dropped under RequestsPrefix. A request
// it cannot read is answered with the reason, not retried.
func (s *Service) onRequestObject(ctx context.Context, key string) error {
	b, _, err := s.st.ReadAll(ctx, s.cfg.PlatformBucket, key)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Info("drift request gone before it was read", "key", key)
		return nil
	}
	if err != nil {
		return fmt.Errorf("drift request %s: %w", key, err)
	}
	req, perr := ParseRequest(key, b)
	if perr != nil {
		id := strings.TrimSuffix(strings.TrimPrefix(key, RequestsPrefix), ".json")
		if training.CheckRequestID(id) != nil {
			s.log.Error("drift request refused", "key", key, "error", perr)
			return nil
		}
		return s.writeResult(ctx, RequestResult{RequestID: id, Reports: []ReportResult{}, Errors: []string{perr.Error()}})
	}
	_, err = s.Serve(ctx, req)
	return err
}

// ParseRequest reads a request object; its ID must match its key.
func ParseRequest(key string, b []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("drift request %s: %w", key, err)
	}
	if err := training.CheckRequestID(req.RequestID); err != nil {
		return req, fmt.Errorf("drift request %s: %w", key, err)
	}
	if key != RequestKey(req.RequestID) {
		return req, fmt.Errorf("drift request %s: requestId %q does not match the key", key, req.RequestID)
	}
	if req.Model != "" {
		if err := checkModel(req.Model); err != nil {
			return req, fmt.Errorf("drift request %s: %w", key, err)
		}
	}
	if _, err := req.Window(time.Now()); err != nil {
		return req, fmt.Errorf("drift request %s: %w", key, err)
	}
	return req, nil
}

// Serve runs a request and, when it has an ID, writes its result. A model's
// failure is part of the result; the error is for what stops the answer.
func (s *Service) Serve(ctx context.Context, req Request) (*RequestResult, error) {
	if req.RequestID != "" {
		if err := training.CheckRequestID(req.RequestID); err != nil {
			return nil, fmt.Errorf("drift request: %w", err)
		}
	}
	if req.Model != "" {
		if err := checkModel(req.Model); err != nil {
			return nil, err
		}
	}
	w, err := req.Window(s.cfg.Now())
	if err != nil {
		return nil, fmt.Errorf("drift request %s: %w", req.RequestID, err)
	}
	var res *RequestResult
	if req.Model != "" {
		res = &RequestResult{RequestID: req.RequestID, Window: w.String(), Reports: []ReportResult{}}
		r, err := s.Run(ctx, req.Model, w)
		if err != nil {
			res.Errors = append(res.Errors, err.Error())
		} else {
			res.Reports = append(res.Reports, summary(r))
		}
	} else {
		res, err = s.RunAll(ctx, w)
		if res == nil {
			return nil, err
		}
		res.RequestID = req.RequestID
	}
	if req.RequestID == "" {
		if len(res.Errors) > 0 {
			return res, errors.New(strings.Join(res.Errors, "; "))
		}
		return res, nil
	}
	return res, s.writeResult(ctx, *res)
}

func summary(r *Result) ReportResult {
	return ReportResult{Model: r.Report.Model, Key: r.Key, Changed: r.Changed, Rows: r.Report.Rows,
		EnoughData: r.Report.EnoughData, Drifted: r.Report.Verdict.Drifted, Alerts: r.Report.Alerts}
}

func (s *Service) writeResult(ctx context.Context, res RequestResult) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("drift request %s: %w", res.RequestID, err)
	}
	if _, err := s.st.Put(ctx, s.cfg.MonitoringBucket, ResultKey(res.RequestID), b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("drift request %s: write the result: %w", res.RequestID, err)
	}
	return nil
}

// RunAll runs every model that has a champion over w. A model without one is
// passed over; a model whose run fails does not stop the others, and the
// error names every failure (the schedule's retry runs them all again, which
// rewrites nothing that did not change).
func (s *Service) RunAll(ctx context.Context, w Window) (*RequestResult, error) {
	models, err := s.reg.Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("drift: list models: %w", err)
	}
	res := &RequestResult{Window: w.String(), Reports: []ReportResult{}}
	var errs []error
	for _, m := range models {
		r, err := s.Run(ctx, m, w)
		if errors.Is(err, ErrNoChampion) {
			s.log.Info("drift: no champion, nothing to compare", "model", m)
			continue
		}
		if err != nil {
			s.log.Error("drift run failed", "model", m, "window", w.String(), "error", err)
			res.Errors = append(res.Errors, err.Error())
			errs = append(errs, err)
			continue
		}
		res.Reports = append(res.Reports, summary(r))
	}
	return res, errors.Join(errs...)
}
