// Package ingest is the data-intake use case: it turns one uploaded object into an
// immutable dataset version or a quarantined rejection with a readable report.
//
// Every step is idempotent and ordered so that a crash at any point leaves nothing
// half visible and the next delivery of the same event finishes the work: payloads
// first, the create-once manifest last, then pointers, the receipt and the event.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/validate"
)

// Store is what ingest needs from S3.
type Store interface {
	Reader // what Datasets reads through
	Head(ctx context.Context, bucket, key string) (store.ObjectInfo, error)
	Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Upload(ctx context.Context, bucket, key string, r io.Reader, opt store.PutOptions) (store.ObjectInfo, error)
	Copy(ctx context.Context, src store.CopySource, dstBucket, dstKey string, opt store.PutOptions) (store.ObjectInfo, error)
	Delete(ctx context.Context, bucket, key, ifMatch string) error
}

// Config is the ingest use case's configuration, read once by its caller.
type Config struct {
	UploadsBucket  string
	PlatformBucket string
	// MaxUploadBytes is the largest upload one invocation takes (0 = no limit); see
	// docs/benchmarks.md for how the Lambda default was derived from measured throughput.
	MaxUploadBytes int64
	// MaxExamples is the number of example rows kept per violated rule.
	MaxExamples int
	TempDir     string
	Workers     int
	Now         func() time.Time
	Logger      *slog.Logger
}

// Service ingests uploads.
type Service struct {
	st  Store
	pub event.Publisher
	cfg Config
	log *slog.Logger
	// datasets reads back what this service wrote, as every other reader does.
	datasets *Datasets
}

// New returns the ingest service.
func New(st Store, pub event.Publisher, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxExamples == 0 {
		cfg.MaxExamples = 5
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, pub: pub, cfg: cfg, log: log, datasets: NewDatasets(st, cfg.PlatformBucket, cfg.UploadsBucket)}
}

// Outcome is what became of one upload.
type Outcome struct {
	Receipt Receipt
	// Duplicate is true when an earlier delivery had already decided this upload.
	Duplicate bool
	// Ignored is non-empty when the object is not an ingest input (outside incoming/,
	// a folder marker, or replaced or deleted since the event).
	Ignored string
}

// Ingest handles one "object created" notification.
func (s *Service) Ingest(ctx context.Context, up Upload) (*Outcome, error) {
	dataset, problem, ok := DatasetOf(up.Key)
	if !ok {
		return &Outcome{Ignored: "not under " + IncomingPrefix}, nil
	}
	if up.Size == 0 && len(up.Key) > 0 && up.Key[len(up.Key)-1] == '/' {
		return &Outcome{Ignored: "folder marker"}, nil
	}
	if problem != "" {
		// Keys we cannot accept still get a receipt and a quarantined copy, under a
		// dataset name that is always valid.
		dataset = "_invalid"
	}
	log := s.log.With("dataset", dataset, "bucket", up.Bucket, "key", up.Key, "etag", up.ETag)
	uploadID := UploadID(up.Bucket, up.Key, up.ETag, up.VersionID)

	// The contract is read before the receipt, because a decision is per contract.
	var cur *Contract
	if problem == "" {
		var err error
		if cur, err = s.loadContract(ctx, dataset); err != nil {
			return nil, err
		}
	}
	var chash string
	if cur != nil {
		chash = cur.Hash
	}
	refusal := ""
	switch {
	case problem != "":
		refusal = "bad_key"
	case s.cfg.MaxUploadBytes > 0 && up.Size > s.cfg.MaxUploadBytes:
		refusal = "too_large"
	case cur == nil:
		refusal = "no_contract"
	}
	receiptID := ReceiptID(uploadID, chash)
	if refusal != "" {
		receiptID = ReceiptID(uploadID, "")
	}

	if rc, found, err := s.datasets.Receipt(ctx, dataset, receiptID); err != nil {
		return nil, err
	} else if found {
		log.Info("duplicate delivery: completing from receipt", "status", rc.Status, "version", rc.VersionID)
		if err := s.finish(ctx, up, rc); err != nil {
			return nil, err
		}
		return &Outcome{Receipt: rc, Duplicate: true}, nil
	}

	var rc Receipt
	var err error
	switch refusal {
	case "bad_key":
		rc, err = s.reject(ctx, up, dataset, receiptID, nil, "", &Report{Violations: []validate.Violation{{
			Rule: "bad_key", Count: 1, Message: problem,
		}}})
	case "too_large":
		rc, err = s.reject(ctx, up, dataset, receiptID, nil, "", &Report{Violations: []validate.Violation{{
			Rule: "too_large", Count: 1, Message: fmt.Sprintf(
				"upload is %d bytes; one ingest invocation takes at most %d bytes (the size validated within the function's 15-minute limit at measured throughput); split it into several files of an append dataset",
				up.Size, s.cfg.MaxUploadBytes),
		}}})
	case "no_contract":
		rc, err = s.reject(ctx, up, dataset, receiptID, nil, "", &Report{Violations: []validate.Violation{{
			Rule: "no_contract", Count: 1,
			Message: fmt.Sprintf("dataset %q has no contract; apply one first: mlops contract apply FILE --dataset %s", dataset, dataset),
		}}})
	default:
		rc, err = s.process(ctx, up, dataset, receiptID, cur)
	}
	if err != nil {
		return nil, err
	}
	if rc.Status == "" {
		// The object vanished or changed under us. Either a concurrent delivery of
		// this same event decided it (and removed it): finish from its receipt; or a
		// newer upload replaced it, and that upload's own event handles it.
		if prev, found, err := s.datasets.Receipt(ctx, dataset, receiptID); err != nil {
			return nil, err
		} else if found {
			if err := s.finish(ctx, up, prev); err != nil {
				return nil, err
			}
			return &Outcome{Receipt: prev, Duplicate: true}, nil
		}
		return &Outcome{Ignored: "object replaced or deleted since the event"}, nil
	}
	if err := s.finish(ctx, up, rc); err != nil {
		return nil, err
	}
	log.Info("ingested", "status", rc.Status, "version", rc.VersionID, "sha256", rc.PayloadSHA256)
	return &Outcome{Receipt: rc}, nil
}

// loadContract reads the dataset's current contract, or returns nil if there is none.
func (s *Service) loadContract(ctx context.Context, dataset string) (*Contract, error) {
	c, err := s.datasets.CurrentContract(ctx, dataset)
	if errors.Is(err, ErrNoContract) {
		return nil, nil
	}
	return c, err
}

// createJSON writes v once at key; an existing object means an earlier delivery
// wrote it, which is success.
func (s *Service) createJSON(ctx context.Context, bucket, key string, v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", key, err)
	}
	if _, err := s.st.Create(ctx, bucket, key, b, store.PutOptions{ContentType: "application/json"}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return nil, fmt.Errorf("write %s: %w", key, err)
	}
	return b, nil
}

// finish does everything that follows a decision, each step idempotent: publish
// the event (at least once), mark it published, and remove the incoming object
// now that a copy of it is kept.
func (s *Service) finish(ctx context.Context, up Upload, rc Receipt) error {
	switch rc.Status {
	case Accepted:
		m, err := s.datasets.Manifest(ctx, rc.Dataset, rc.VersionID)
		if err != nil {
			return err
		}
		if err := s.PublishVersion(ctx, m); err != nil {
			return err
		}
	case Rejected:
		r := rc.Rejection
		if err := s.pub.Publish(ctx, event.Event{
			Source: event.Source, DetailType: event.DatasetRejected,
			Resources: []string{"s3://" + up.Bucket + "/" + up.Key},
			Detail: event.DatasetRejectedDetail{
				SchemaVersion: event.SchemaVersion, Dataset: rc.Dataset, Bucket: r.Bucket,
				SourceKey: up.Key, SourceETag: up.ETag, PayloadSHA256: rc.PayloadSHA256,
				ContractHash: rc.ContractHash, ReportKey: r.ReportKey, ReportTextKey: r.ReportTextKey,
				QuarantineKey: r.QuarantineKey, Reasons: r.Reasons,
			},
		}); err != nil {
			return fmt.Errorf("publish rejection of %s: %w", up.Key, err)
		}
	default:
		return fmt.Errorf("receipt for %s: unknown status %q", up.Key, rc.Status)
	}
	// The upload is kept (content-addressed or in quarantine), so the incoming key
	// can go. If-Match: a newer upload to the same key is never deleted.
	err := s.st.Delete(ctx, up.Bucket, up.Key, up.ETag)
	if err != nil && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("remove ingested %s: %w", up.Key, err)
	}
	return nil
}

// PublishVersion sends dataset.versioned for a committed version, then records that
// it did. It is safe to call any number of times: consumers are idempotent.
func (s *Service) PublishVersion(ctx context.Context, m *Manifest) error {
	var parts []string
	for _, p := range m.Partitions {
		parts = append(parts, p.PayloadSHA256)
	}
	last := m.Partitions[len(m.Partitions)-1]
	if err := s.pub.Publish(ctx, event.Event{
		Source: event.Source, DetailType: event.DatasetVersioned,
		Resources: []string{"s3://" + s.cfg.PlatformBucket + "/" + ManifestKey(m.Dataset, m.VersionID)},
		Detail: event.DatasetVersionedDetail{
			SchemaVersion: event.SchemaVersion, Dataset: m.Dataset, VersionID: m.VersionID, Mode: m.Mode,
			ManifestKey: ManifestKey(m.Dataset, m.VersionID), Bucket: s.cfg.PlatformBucket,
			ContractHash: m.ContractHash, PayloadSHA256: last.PayloadSHA256, Partitions: parts,
			Rows: m.Rows, SourceKey: last.SourceKey, CreatedAt: m.CreatedAt,
		},
	}); err != nil {
		return fmt.Errorf("publish version %s@%s: %w", m.Dataset, m.VersionID, err)
	}
	if _, err := s.createJSON(ctx, s.cfg.PlatformBucket, PublishedKey(m.Dataset, m.VersionID),
		map[string]any{"at": s.cfg.Now().UTC()}); err != nil {
		return err
	}
	if err := s.st.Delete(ctx, s.cfg.PlatformBucket, PendingKey(m.Dataset, m.VersionID), ""); err != nil &&
		!errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("clear pending %s@%s: %w", m.Dataset, m.VersionID, err)
	}
	return nil
}
