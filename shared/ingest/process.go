package ingest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/validate"
)

// errGone means the object the event names is no longer there as named.
var errGone = errors.New("object replaced or deleted since the event")

// process reads the upload once: hashing, validating, profiling and writing its
// canonical form at the same time, then commits a version or a rejection.
func (s *Service) process(ctx context.Context, up Upload, dataset, receiptID string, cur *Contract) (Receipt, error) {
	c, chash := cur.Contract, cur.Hash
	start := s.cfg.Now()
	res, sha, size, staging, err := s.scan(ctx, up, dataset, receiptID, c)
	if errors.Is(err, errGone) {
		return Receipt{}, nil
	}
	if err != nil {
		return Receipt{}, err
	}
	if !res.Valid() {
		_ = s.st.Delete(ctx, s.cfg.PlatformBucket, staging, "")
		return s.reject(ctx, up, dataset, receiptID, res, sha, &Report{ContractHash: chash, PayloadSHA256: sha})
	}

	part := Partition{
		PayloadSHA256: sha, PayloadKey: PayloadKey(dataset, sha),
		CanonicalKey: CanonicalKey(dataset, sha, chash), ProfileKey: PartitionProfileKey(dataset, sha, chash),
		Rows: res.Rows, Bytes: size, Compressed: res.Compressed,
		SourceBucket: up.Bucket, SourceKey: up.Key, SourceETag: up.ETag, SourceVersionID: up.VersionID,
		Requester: up.Requester, SourceIP: up.SourceIP, UploadedAt: up.EventTime,
		ValidatedAt: s.cfg.Now().UTC(), DurationMillis: s.cfg.Now().Sub(start).Milliseconds(),
	}
	// Payloads before the manifest: the raw bytes, the canonical form, the profile.
	if _, err := s.st.Copy(ctx, store.CopySource{Bucket: up.Bucket, Key: up.Key, IfMatch: up.ETag, VersionID: up.VersionID},
		s.cfg.PlatformBucket, part.PayloadKey, store.PutOptions{IfNoneMatch: true}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		if errors.Is(err, store.ErrNotFound) {
			return Receipt{}, nil
		}
		return Receipt{}, fmt.Errorf("store payload of %s: %w", up.Key, err)
	}
	if _, err := s.st.Copy(ctx, store.CopySource{Bucket: s.cfg.PlatformBucket, Key: staging},
		s.cfg.PlatformBucket, part.CanonicalKey, store.PutOptions{IfNoneMatch: true, ContentType: "text/csv", ContentEncoding: "gzip"}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return Receipt{}, fmt.Errorf("store canonical form of %s: %w", up.Key, err)
	}
	if err := s.st.Delete(ctx, s.cfg.PlatformBucket, staging, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
		return Receipt{}, fmt.Errorf("remove staging %s: %w", staging, err)
	}
	if _, err := s.createJSON(ctx, s.cfg.PlatformBucket, part.ProfileKey, res.Profile); err != nil {
		return Receipt{}, err
	}

	m, err := s.commitVersion(ctx, dataset, c, cur.Canon, chash, part, res.Profile)
	if err != nil {
		return Receipt{}, err
	}
	next := Latest{VersionID: m.VersionID, EventTime: up.EventTime.UTC(), Sequencer: up.Sequencer, At: s.cfg.Now().UTC()}
	if c.Mode == contract.Append {
		next.Series, next.Partitions = cur.AppliedAt.UTC(), len(m.Partitions)
	}
	if err := s.advanceLatest(ctx, dataset, next); err != nil {
		return Receipt{}, err
	}
	rc := Receipt{Upload: up.record(), Status: Accepted, Dataset: dataset, VersionID: m.VersionID,
		PayloadSHA256: sha, ContractHash: chash, At: s.cfg.Now().UTC()}
	if _, err := s.createJSON(ctx, s.cfg.PlatformBucket, ReceiptKey(dataset, receiptID), rc); err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

// scan streams the named object through the validator, hashing the raw bytes and
// uploading the canonical CSV (gzip) to a staging key as it goes.
func (s *Service) scan(ctx context.Context, up Upload, dataset, receiptID string, c *contract.Contract) (*validate.Result, string, int64, string, error) {
	body, info, err := s.st.Get(ctx, up.Bucket, up.Key, store.GetOptions{IfMatch: up.ETag, VersionID: up.VersionID})
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrPrecondition) {
		return nil, "", 0, "", errGone
	}
	if err != nil {
		return nil, "", 0, "", fmt.Errorf("read upload %s: %w", up.Key, err)
	}
	defer body.Close()
	if s.cfg.MaxUploadBytes > 0 && info.Size > s.cfg.MaxUploadBytes {
		// The event undercounted; the limit applies to what is really there.
		return &validate.Result{Violations: []validate.Violation{{Rule: "too_large", Count: 1,
			Message: fmt.Sprintf("upload is %d bytes; the limit is %d", info.Size, s.cfg.MaxUploadBytes)}}}, "", info.Size, "", nil
	}

	hash := sha256.New()
	counter := &countingReader{r: io.TeeReader(body, hash)}

	staging := StagingKey(dataset, receiptID, rand.Text()[:12])
	pr, pw := io.Pipe()
	uploadDone := make(chan error, 1)
	go func() {
		_, err := s.st.Upload(ctx, s.cfg.PlatformBucket, staging, pr, store.PutOptions{ContentType: "text/csv", ContentEncoding: "gzip"})
		pr.CloseWithError(err) // unblock the writer if the upload failed early
		uploadDone <- err
	}()
	zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
	res, scanErr := validate.Scan(ctx, counter, c, validate.Options{
		Name: up.Key, MaxExamples: s.cfg.MaxExamples, Canonical: zw, TempDir: s.cfg.TempDir,
		MaxBytes: s.cfg.MaxUploadBytes * 8, Workers: s.cfg.Workers,
	})
	if scanErr == nil {
		scanErr = zw.Close()
	}
	if scanErr == nil {
		// Drain what the validator did not need (trailing bytes after an early stop)
		// so the hash names the whole payload.
		_, scanErr = io.Copy(io.Discard, counter)
	}
	pw.CloseWithError(scanErr)
	upErr := <-uploadDone
	if scanErr != nil {
		return nil, "", 0, "", fmt.Errorf("validate %s: %w", up.Key, scanErr)
	}
	if upErr != nil {
		return nil, "", 0, "", fmt.Errorf("stage canonical form of %s: %w", up.Key, upErr)
	}
	return res, hex.EncodeToString(hash.Sum(nil)), counter.n, staging, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// commitVersion writes the version's profile and its create-once manifest. For an
// append dataset it also moves the partition-set head by compare-and-swap.
func (s *Service) commitVersion(ctx context.Context, dataset string, c *contract.Contract, canon []byte, chash string,
	part Partition, prof *profile.Dataset) (*Manifest, error) {
	if c.Mode != contract.Append {
		id := versionID("replace", chash, []string{part.PayloadSHA256})
		m := s.manifest(dataset, id, c, canon, chash, []Partition{part})
		return m, s.writeVersion(ctx, m, prof)
	}
	var m *Manifest
	err := store.Retry(ctx, casAttempts, func() (bool, error) {
		head, etag, err := s.readHead(ctx, dataset, chash)
		if err != nil {
			return false, err
		}
		if slices.Contains(head.Partitions, part.PayloadSHA256) {
			// An earlier delivery (or the same bytes uploaded again) already added it.
			m, err = s.datasets.Manifest(ctx, dataset, head.VersionID)
			return true, err
		}
		var parts []Partition
		merged := prof
		if head.VersionID != "" {
			prev, err := s.datasets.Manifest(ctx, dataset, head.VersionID)
			if err != nil {
				return false, err
			}
			prevProf, err := s.readProfile(ctx, prev.ProfileKey)
			if err != nil {
				return false, err
			}
			if merged, err = profile.Merge(prevProf, prof); err != nil {
				return false, fmt.Errorf("merge profiles of %s: %w", dataset, err)
			}
			parts = append(parts, prev.Partitions...)
		}
		parts = append(parts, part)
		shas := append(append([]string(nil), head.Partitions...), part.PayloadSHA256)
		sort.Strings(shas)
		id := versionID("append", chash, shas)
		m = s.manifest(dataset, id, c, canon, chash, parts)
		if err := s.writeVersion(ctx, m, merged); err != nil {
			return false, err
		}
		next, _ := json.Marshal(Head{ContractHash: chash, Partitions: shas, VersionID: id})
		if etag == "" {
			_, err = s.st.Create(ctx, s.cfg.PlatformBucket, HeadKey(dataset, chash), next, store.PutOptions{ContentType: "application/json"})
		} else {
			_, err = s.st.Swap(ctx, s.cfg.PlatformBucket, HeadKey(dataset, chash), etag, next, store.PutOptions{ContentType: "application/json"})
		}
		if store.Lost(err) || errors.Is(err, store.ErrNotFound) {
			// Another upload moved the head first. The version just written stays valid
			// and complete (reconcile announces it); recompute on the new head.
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return nil, fmt.Errorf("advance head of %s: %w", dataset, err)
	}
	return m, nil
}

// casAttempts bounds the compare-and-swap loops on a dataset's head and latest
// pointer: each lost round means another upload won.
const casAttempts = 50

func (s *Service) manifest(dataset, id string, c *contract.Contract, canon []byte, chash string, parts []Partition) *Manifest {
	m := &Manifest{SchemaVersion: ManifestSchemaVersion, Dataset: dataset, VersionID: id, Mode: string(c.Mode),
		ContractHash: chash, Contract: json.RawMessage(canon), Partitions: parts,
		ProfileKey: ProfileKey(dataset, id), CreatedAt: s.cfg.Now().UTC()}
	if m.Mode == "" {
		m.Mode = string(contract.Replace)
	}
	for _, p := range parts {
		m.Rows += p.Rows
		m.Bytes += p.Bytes
	}
	return m
}

// writeVersion writes the profile, the pending marker, then the manifest, in that
// order: the manifest makes the version visible, so it goes last.
func (s *Service) writeVersion(ctx context.Context, m *Manifest, prof *profile.Dataset) error {
	pb, err := json.Marshal(prof)
	if err != nil {
		return fmt.Errorf("encode profile %s: %w", m.ProfileKey, err)
	}
	_, err = s.st.Create(ctx, s.cfg.PlatformBucket, m.ProfileKey, pb, store.PutOptions{ContentType: "application/json"})
	if errors.Is(err, store.ErrPrecondition) {
		// An earlier delivery wrote it: its bytes are the ones the manifest must name.
		if pb, _, err = s.st.ReadAll(ctx, s.cfg.PlatformBucket, m.ProfileKey); err != nil {
			return fmt.Errorf("read back profile %s: %w", m.ProfileKey, err)
		}
	} else if err != nil {
		return fmt.Errorf("write profile %s: %w", m.ProfileKey, err)
	}
	m.ProfileSHA256 = hashid.Of(pb)
	m.Columns = summarize(prof)
	if _, err := s.st.Put(ctx, s.cfg.PlatformBucket, PendingKey(m.Dataset, m.VersionID), []byte(m.CreatedAt.Format("2006-01-02T15:04:05Z07:00")),
		store.PutOptions{ContentType: "text/plain"}); err != nil {
		return fmt.Errorf("mark %s@%s pending: %w", m.Dataset, m.VersionID, err)
	}
	if _, err := s.createJSON(ctx, s.cfg.PlatformBucket, ManifestKey(m.Dataset, m.VersionID), m); err != nil {
		return err
	}
	return nil
}

func (s *Service) readProfile(ctx context.Context, key string) (*profile.Dataset, error) {
	b, _, err := s.st.ReadAll(ctx, s.cfg.PlatformBucket, key)
	if err != nil {
		return nil, fmt.Errorf("read profile %s: %w", key, err)
	}
	var p profile.Dataset
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("profile %s: %w", key, err)
	}
	return &p, nil
}

func (s *Service) readHead(ctx context.Context, dataset, chash string) (Head, string, error) {
	var h Head
	b, info, err := s.st.ReadAll(ctx, s.cfg.PlatformBucket, HeadKey(dataset, chash))
	if errors.Is(err, store.ErrNotFound) {
		return h, "", nil
	}
	if err != nil {
		return h, "", fmt.Errorf("read head of %s: %w", dataset, err)
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, "", fmt.Errorf("head of %s: %w", dataset, err)
	}
	return h, info.ETag, nil
}

// advanceLatest moves datasets/<d>/latest to next unless it already names a newer
// version: events arrive in any order, and an old one must not win.
func (s *Service) advanceLatest(ctx context.Context, dataset string, next Latest) error {
	key := LatestKey(dataset)
	id := next.VersionID
	body, _ := json.Marshal(next)
	_, err := store.Update(ctx, s.st, s.cfg.PlatformBucket, key, store.PutOptions{ContentType: "application/json"}, casAttempts,
		func(b []byte, exists bool) ([]byte, error) {
			var cur Latest
			if exists && json.Unmarshal(b, &cur) == nil && (cur.VersionID == id || !newer(next, cur)) {
				return nil, nil
			}
			return body, nil
		})
	if err != nil {
		return fmt.Errorf("advance latest of %s: %w", dataset, err)
	}
	return nil
}

// newer orders versions for the latest pointer. Replace datasets: by upload time,
// then S3's sequencer. Append datasets: by series (the contract the partitions were
// validated under, newest applied wins), then by size of the partition set, which
// only grows within a series, whatever order the uploads were processed in.
func newer(a, b Latest) bool {
	if a.Partitions > 0 && b.Partitions > 0 {
		if !a.Series.Equal(b.Series) {
			return a.Series.After(b.Series)
		}
		return a.Partitions > b.Partitions
	}
	if !a.EventTime.Equal(b.EventTime) {
		return a.EventTime.After(b.EventTime)
	}
	if a.Sequencer != b.Sequencer {
		// S3 sequencers of one key compare as hex strings of equal length after padding.
		return padHex(a.Sequencer, b.Sequencer) > padHex(b.Sequencer, a.Sequencer)
	}
	return a.At.After(b.At)
}

func padHex(a, b string) string {
	if len(a) < len(b) {
		return strings.Repeat("0", len(b)-len(a)) + a
	}
	return a
}

// reject quarantines the upload with its reports. res may be nil when the upload was
// refused before it was read (bad key, too large, no contract).
func (s *Service) reject(ctx context.Context, up Upload, dataset, receiptID string, res *validate.Result, sha string, rep *Report) (Receipt, error) {
	if res != nil {
		rep.Rows = res.Rows
		rep.Violations = res.Violations
	}
	if sha == "" {
		// Not read yet: the quarantine folder is named by the upload's identity instead.
		sha = "upload-" + strings.TrimSuffix(receiptID, "-none")
	}
	prefix := QuarantinePrefix(dataset, sha)
	qkey := prefix + baseName(up.Key)
	if _, err := s.st.Copy(ctx, store.CopySource{Bucket: up.Bucket, Key: up.Key, IfMatch: up.ETag, VersionID: up.VersionID},
		s.cfg.UploadsBucket, qkey, store.PutOptions{IfNoneMatch: true}); err != nil && !errors.Is(err, store.ErrPrecondition) {
		if errors.Is(err, store.ErrNotFound) {
			return Receipt{}, nil
		}
		return Receipt{}, fmt.Errorf("quarantine %s: %w", up.Key, err)
	}
	rep.SchemaVersion = ManifestSchemaVersion
	rep.Dataset = dataset
	rep.Upload = up.record()
	rep.At = s.cfg.Now().UTC()
	if _, err := s.createJSON(ctx, s.cfg.UploadsBucket, prefix+ReportFile, rep); err != nil {
		return Receipt{}, err
	}
	if _, err := s.st.Create(ctx, s.cfg.UploadsBucket, prefix+ReportTextFile, []byte(rep.Text()),
		store.PutOptions{ContentType: "text/plain; charset=utf-8"}); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return Receipt{}, fmt.Errorf("write report.txt for %s: %w", up.Key, err)
	}
	var reasons []string
	for _, v := range rep.Violations {
		r := v.Rule
		if v.Column != "" {
			r += ":" + v.Column
		}
		if len(reasons) < 50 {
			reasons = append(reasons, r)
		}
	}
	rc := Receipt{Upload: up.record(), Status: Rejected, Dataset: dataset, ContractHash: rep.ContractHash, At: s.cfg.Now().UTC(),
		Rejection: &Rejection{Bucket: s.cfg.UploadsBucket, QuarantineKey: qkey, ReportKey: prefix + ReportFile,
			ReportTextKey: prefix + ReportTextFile, Reasons: reasons}}
	if !strings.HasPrefix(sha, "upload-") {
		rc.PayloadSHA256 = sha
	}
	if _, err := s.createJSON(ctx, s.cfg.PlatformBucket, ReceiptKey(dataset, receiptID), rc); err != nil {
		return Receipt{}, err
	}
	return rc, nil
}

// Text renders the report for a person.
func (r *Report) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Upload rejected: s3://%s/%s\n", r.Upload.Bucket, r.Upload.Key)
	fmt.Fprintf(&b, "Dataset: %s\n", r.Dataset)
	if r.ContractHash != "" {
		fmt.Fprintf(&b, "Contract: %s\n", r.ContractHash)
	}
	if r.PayloadSHA256 != "" {
		fmt.Fprintf(&b, "SHA-256: %s\n", r.PayloadSHA256)
	}
	fmt.Fprintf(&b, "Rows read: %d\n", r.Rows)
	fmt.Fprintf(&b, "%d rule(s) broken:\n", len(r.Violations))
	validate.WriteViolations(&b, r.Violations)
	return b.String()
}

func versionID(mode, chash string, shas []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", mode, chash)
	for _, s := range shas {
		fmt.Fprintf(h, "%s\n", s)
	}
	return hex.EncodeToString(h.Sum(nil))[:VersionIDLen]
}

// VersionIDLen is the length of a dataset version ID: lower-case hex, the
// start of the SHA-256 of the version's contents (versionID).
const VersionIDLen = 24

// ValidVersionID reports whether id has the shape of a dataset version ID,
// as readers check before an ID from an event or a request becomes a key.
func ValidVersionID(id string) bool {
	if len(id) != VersionIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if (id[i] < '0' || id[i] > '9') && (id[i] < 'a' || id[i] > 'f') {
			return false
		}
	}
	return true
}
