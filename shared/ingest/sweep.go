package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/store"
)

// SweepPending announces versions whose dataset.versioned event may never have gone
// out (a crash between the manifest and the event): every version is indexed under
// pending/ before its manifest is written and leaves the index once announced.
// Markers younger than grace are left to the ingest still working on them.
func (s *Service) SweepPending(ctx context.Context, grace time.Duration) (int, error) {
	now := s.cfg.Now()
	var fixed int
	var errs []error
	err := s.st.List(ctx, s.cfg.PlatformBucket, PendingPrefix, func(o store.ObjectInfo) error {
		if now.Sub(o.LastModified) < grace {
			return nil
		}
		dataset, id, ok := strings.Cut(strings.TrimPrefix(o.Key, PendingPrefix), "/")
		if !ok || !ValidDataset(dataset) || id == "" {
			return nil
		}
		m, err := s.datasets.Manifest(ctx, dataset, id)
		if errors.Is(err, store.ErrNotFound) {
			// The ingest that wrote the marker died before the manifest. Its upload is
			// still under incoming/ (SweepIncoming retries it); drop stale markers.
			if now.Sub(o.LastModified) > 24*time.Hour {
				if err := s.st.Delete(ctx, s.cfg.PlatformBucket, o.Key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
					errs = append(errs, fmt.Errorf("drop stale marker %s: %w", o.Key, err))
				}
			}
			return nil
		}
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if err := s.PublishVersion(ctx, m); err != nil {
			errs = append(errs, err)
			return nil
		}
		s.log.Info("reconcile: announced version", "dataset", dataset, "version", id)
		fixed++
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list %s: %w", PendingPrefix, err))
	}
	return fixed, errors.Join(errs...)
}

// SweepIncoming ingests uploads whose event was lost or whose every delivery failed:
// ingest removes an upload from incoming/ once it is kept elsewhere, so anything
// older than grace there has not been decided.
func (s *Service) SweepIncoming(ctx context.Context, grace time.Duration) (int, error) {
	now := s.cfg.Now()
	var fixed int
	var errs []error
	err := s.st.List(ctx, s.cfg.UploadsBucket, IncomingPrefix, func(o store.ObjectInfo) error {
		if now.Sub(o.LastModified) < grace {
			return nil
		}
		out, err := s.Ingest(ctx, Upload{Bucket: s.cfg.UploadsBucket, Key: o.Key, ETag: o.ETag, VersionID: o.VersionID,
			Size: o.Size, Requester: "reconcile", EventTime: o.LastModified})
		if err != nil {
			errs = append(errs, fmt.Errorf("ingest stray %s: %w", o.Key, err))
			return nil
		}
		if out.Ignored == "" {
			s.log.Info("reconcile: ingested stray upload", "key", o.Key, "status", out.Receipt.Status)
			fixed++
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("list %s: %w", IncomingPrefix, err))
	}
	return fixed, errors.Join(errs...)
}

// SweepStaging removes staging objects older than maxAge: canonical forms written by
// attempts that crashed before they could clean up. Live attempts finish within
// the function's timeout, so anything older is garbage.
func (s *Service) SweepStaging(ctx context.Context, maxAge time.Duration) (int, error) {
	now := s.cfg.Now()
	dirs, err := s.st.ListDirs(ctx, s.cfg.PlatformBucket, datasetsPrefix)
	if err != nil {
		return 0, fmt.Errorf("list datasets: %w", err)
	}
	var removed int
	var errs []error
	for _, d := range dirs {
		dataset := strings.TrimSuffix(strings.TrimPrefix(d, datasetsPrefix), "/")
		err := s.st.List(ctx, s.cfg.PlatformBucket, StagingPrefix(dataset), func(o store.ObjectInfo) error {
			if now.Sub(o.LastModified) < maxAge {
				return nil
			}
			if err := s.st.Delete(ctx, s.cfg.PlatformBucket, o.Key, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("remove stale staging %s: %w", o.Key, err))
				return nil
			}
			removed++
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("list staging of %s: %w", dataset, err))
		}
	}
	return removed, errors.Join(errs...)
}
