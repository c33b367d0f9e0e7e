package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/shared/event"
)

// Handle is the ingest function's entry point, in AWS and in local mode alike. It
// takes an EventBridge "Object Created" event or a classic S3 notification (one or
// more records). An error makes the invoker retry, then dead-letter the event.
func (s *Service) Handle(ctx context.Context, payload json.RawMessage) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("ingest panicked", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("ingest: internal error: %v", r)
		}
	}()
	ups, err := ParseUploads(payload)
	if err != nil {
		return err
	}
	var errs []error
	for _, up := range ups {
		if _, err := s.Ingest(ctx, up); err != nil {
			errs = append(errs, fmt.Errorf("ingest s3://%s/%s: %w", up.Bucket, up.Key, err))
		}
	}
	return errors.Join(errs...)
}

// ParseUploads reads the uploads an S3 event names, in either of the shapes AWS
// delivers: EventBridge ("detail-type": "Object Created") or an S3 notification.
func ParseUploads(payload json.RawMessage) ([]Upload, error) {
	var probe struct {
		DetailType *string          `json:"detail-type"`
		Records    *json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(payload, &probe); err != nil {
		return nil, fmt.Errorf("ingest event: not a JSON object: %w", err)
	}
	switch {
	case probe.DetailType != nil:
		var env event.Envelope
		if err := json.Unmarshal(payload, &env); err != nil {
			return nil, fmt.Errorf("ingest event: EventBridge envelope: %w", err)
		}
		if env.Source != event.S3Source || env.DetailType != event.S3ObjectCreated {
			return nil, fmt.Errorf("ingest event: expected source %q and detail-type %q, got %q and %q",
				event.S3Source, event.S3ObjectCreated, env.Source, env.DetailType)
		}
		var d event.S3ObjectCreatedDetail
		if err := json.Unmarshal(env.Detail, &d); err != nil {
			return nil, fmt.Errorf("ingest event %s: detail: %w", env.ID, err)
		}
		key, err := DecodeEventKey(d.Object.Key)
		if err != nil {
			return nil, err
		}
		if d.Bucket.Name == "" || key == "" {
			return nil, fmt.Errorf("ingest event %s: detail.bucket.name and detail.object.key are required", env.ID)
		}
		return []Upload{{Bucket: d.Bucket.Name, Key: key, ETag: strings.Trim(d.Object.ETag, `"`), VersionID: d.Object.VersionID,
			Size: d.Object.Size, Requester: d.Requester, SourceIP: d.SourceIPAddress, EventTime: env.Time,
			Sequencer: d.Object.Sequencer}}, nil
	case probe.Records != nil:
		var ev lambdaevents.S3Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, fmt.Errorf("ingest event: S3 notification: %w", err)
		}
		var ups []Upload
		for i, r := range ev.Records {
			if !strings.HasPrefix(r.EventName, "ObjectCreated:") {
				continue
			}
			key, err := DecodeEventKey(r.S3.Object.Key)
			if err != nil {
				return nil, fmt.Errorf("ingest event: Records[%d]: %w", i, err)
			}
			if r.S3.Bucket.Name == "" || key == "" {
				return nil, fmt.Errorf("ingest event: Records[%d]: s3.bucket.name and s3.object.key are required", i)
			}
			ups = append(ups, Upload{Bucket: r.S3.Bucket.Name, Key: key, ETag: strings.Trim(r.S3.Object.ETag, `"`),
				VersionID: r.S3.Object.VersionID, Size: r.S3.Object.Size, Requester: r.PrincipalID.PrincipalID,
				SourceIP: r.RequestParameters.SourceIPAddress, EventTime: r.EventTime, Sequencer: r.S3.Object.Sequencer})
		}
		return ups, nil
	}
	return nil, errors.New("ingest event: neither an EventBridge event (detail-type) nor an S3 notification (Records)")
}
