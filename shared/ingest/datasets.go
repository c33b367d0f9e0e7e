package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/store"
)

// Reader is what Datasets needs from S3 (*store.Store has it).
type Reader interface {
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
	ListDirs(ctx context.Context, bucket, prefix string) ([]string, error)
}

// Datasets reads what ingest writes: the datasets, their versions (manifest,
// profile, canonical CSV), the latest pointer, receipts, rejections and the
// current contract. It is the one reader of that state: training, the gate,
// test sets, the CLI (and the endpoint, drift and reports after them) read
// datasets through it and never spell a key themselves, so the layout can
// change in one place.
//
// A missing object is reported with an error that wraps store.ErrNotFound.
type Datasets struct {
	st       Reader
	platform string
	uploads  string
}

// NewDatasets reads datasets from the platform bucket (versions, contracts,
// receipts) and the uploads bucket (quarantined rejections; "" when the caller
// does not read rejections).
func NewDatasets(st Reader, platformBucket, uploadsBucket string) *Datasets {
	return &Datasets{st: st, platform: platformBucket, uploads: uploadsBucket}
}

// PlatformBucket is the bucket versions and contracts are read from.
func (d *Datasets) PlatformBucket() string { return d.platform }

// Names lists the datasets that have anything stored (a contract, a version, a
// receipt), sorted; names that are not dataset names (such as _invalid, where
// receipts of uploads whose key named no dataset go) are left out.
func (d *Datasets) Names(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	for _, prefix := range []string{datasetsPrefix, contractsPrefix} {
		dirs, err := d.st.ListDirs(ctx, d.platform, prefix)
		if err != nil {
			return nil, fmt.Errorf("list datasets: %w", err)
		}
		for _, dir := range dirs {
			if name := strings.TrimSuffix(strings.TrimPrefix(dir, prefix), "/"); ValidDataset(name) {
				seen[name] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Manifest reads version id of dataset. The manifest is written last, so one
// that exists describes a complete version; one that names another dataset or
// version than its key, or lists no partitions, is reported as damaged.
func (d *Datasets) Manifest(ctx context.Context, dataset, id string) (*Manifest, error) {
	key := ManifestKey(dataset, id)
	b, _, err := d.st.ReadAll(ctx, d.platform, key)
	if err != nil {
		return nil, fmt.Errorf("dataset %s version %s: %w", dataset, id, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("dataset %s version %s: damaged manifest s3://%s/%s: %w", dataset, id, d.platform, key, err)
	}
	switch {
	case m.VersionID != id || m.Dataset != dataset:
		return nil, fmt.Errorf("dataset %s version %s: damaged manifest s3://%s/%s: it names %s@%s", dataset, id, d.platform, key, m.Dataset, m.VersionID)
	case len(m.Partitions) == 0:
		return nil, fmt.Errorf("dataset %s version %s: damaged manifest s3://%s/%s: it lists no partitions", dataset, id, d.platform, key)
	}
	return &m, nil
}

// Versions reads every committed version of dataset, oldest first. A version
// whose manifest is not written yet is not a version, and is left out.
func (d *Datasets) Versions(ctx context.Context, dataset string) ([]*Manifest, error) {
	prefix := VersionsPrefix(dataset)
	dirs, err := d.st.ListDirs(ctx, d.platform, prefix)
	if err != nil {
		return nil, fmt.Errorf("list versions of %s: %w", dataset, err)
	}
	var ms []*Manifest
	for _, dir := range dirs {
		m, err := d.Manifest(ctx, dataset, strings.TrimSuffix(strings.TrimPrefix(dir, prefix), "/"))
		if errors.Is(err, store.ErrNotFound) {
			continue // being written right now
		}
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].CreatedAt.Before(ms[j].CreatedAt) })
	return ms, nil
}

// Latest reads the pointer to dataset's newest version.
func (d *Datasets) Latest(ctx context.Context, dataset string) (Latest, error) {
	var l Latest
	b, _, err := d.st.ReadAll(ctx, d.platform, LatestKey(dataset))
	if err != nil {
		return l, fmt.Errorf("latest version of %s: %w", dataset, err)
	}
	if err := json.Unmarshal(b, &l); err != nil || l.VersionID == "" {
		return l, fmt.Errorf("latest version of %s: damaged pointer s3://%s/%s", dataset, d.platform, LatestKey(dataset))
	}
	return l, nil
}

// LatestManifest reads the manifest of dataset's newest version.
func (d *Datasets) LatestManifest(ctx context.Context, dataset string) (*Manifest, error) {
	l, err := d.Latest(ctx, dataset)
	if err != nil {
		return nil, err
	}
	return d.Manifest(ctx, dataset, l.VersionID)
}

// Receipt reads ingest's decision on one upload under one contract (ReceiptID);
// ok is false while there is none yet.
func (d *Datasets) Receipt(ctx context.Context, dataset, receiptID string) (rc Receipt, ok bool, err error) {
	b, _, err := d.st.ReadAll(ctx, d.platform, ReceiptKey(dataset, receiptID))
	if errors.Is(err, store.ErrNotFound) {
		return rc, false, nil
	}
	if err != nil {
		return rc, false, fmt.Errorf("read receipt %s of %s: %w", receiptID, dataset, err)
	}
	if err := json.Unmarshal(b, &rc); err != nil {
		return rc, false, fmt.Errorf("receipt %s of %s: %w", receiptID, dataset, err)
	}
	return rc, true, nil
}

// Quarantined is one quarantined upload: its report and where it lies.
type Quarantined struct {
	Report
	// Bucket and Prefix are the quarantine folder (the rejected bytes,
	// report.json and report.txt); ReportKey is report.json within it.
	Bucket    string `json:"bucket"`
	Prefix    string `json:"quarantinePrefix"`
	ReportKey string `json:"reportKey"`
}

// Rejections reads the reports of dataset's quarantined uploads, newest first.
func (d *Datasets) Rejections(ctx context.Context, dataset string) ([]Quarantined, error) {
	if d.uploads == "" {
		return nil, errors.New("rejections: no uploads bucket configured")
	}
	var out []Quarantined
	err := d.st.List(ctx, d.uploads, QuarantineDatasetPrefix(dataset), func(o store.ObjectInfo) error {
		if !strings.HasSuffix(o.Key, "/"+ReportFile) {
			return nil
		}
		b, _, err := d.st.ReadAll(ctx, d.uploads, o.Key)
		if err != nil {
			return fmt.Errorf("read %s: %w", o.Key, err)
		}
		r := Quarantined{Bucket: d.uploads, Prefix: strings.TrimSuffix(o.Key, ReportFile), ReportKey: o.Key}
		if err := json.Unmarshal(b, &r.Report); err != nil {
			return fmt.Errorf("report s3://%s/%s: %w", d.uploads, o.Key, err)
		}
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rejections of %s: %w", dataset, err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// RejectionReport reads a rejection's report: report.json, or with text the
// readable report.txt.
func (d *Datasets) RejectionReport(ctx context.Context, rej *Rejection, text bool) ([]byte, error) {
	key := rej.ReportKey
	if text {
		key = rej.ReportTextKey
	}
	b, _, err := d.st.ReadAll(ctx, rej.Bucket, key)
	if err != nil {
		return nil, fmt.Errorf("read report s3://%s/%s: %w", rej.Bucket, key, err)
	}
	return b, nil
}

// Contract is a dataset's contract as stored: parsed, its canonical JSON (the
// stored bytes, which hash to Hash) and hash, and when the current pointer moved to it (zero for ContractAt).
type Contract struct {
	*contract.Contract
	Canon     []byte
	Hash      string
	AppliedAt time.Time
}

// ErrNoContract: the dataset has no current contract. It wraps
// store.ErrNotFound, so either test finds it.
var ErrNoContract = fmt.Errorf("the dataset has no contract: %w", store.ErrNotFound)

// ContractHash is the hash the dataset's current-contract pointer names; an
// error wrapping ErrNoContract when there is none.
func (d *Datasets) ContractHash(ctx context.Context, dataset string) (pointer.Pointer, error) {
	ptr, err := pointer.Read(ctx, d.st, d.platform, ContractPointerKey(dataset))
	if errors.Is(err, store.ErrNotFound) {
		return ptr, fmt.Errorf("dataset %q: %w", dataset, ErrNoContract)
	}
	if err != nil {
		return ptr, fmt.Errorf("contract pointer of %s: %w", dataset, err)
	}
	return ptr, nil
}

// CurrentContract reads the dataset's current contract, checking that the
// stored JSON hashes to the name the pointer gives it.
func (d *Datasets) CurrentContract(ctx context.Context, dataset string) (*Contract, error) {
	ptr, err := d.ContractHash(ctx, dataset)
	if err != nil {
		return nil, err
	}
	c, err := d.ContractAt(ctx, dataset, ptr.Hash)
	if err != nil {
		return nil, err
	}
	c.AppliedAt = ptr.At
	return c, nil
}

// ContractOf is CurrentContract as a contract and its hash (what a model
// spec is checked against when it is applied: specstore.Contracts).
func (d *Datasets) ContractOf(ctx context.Context, dataset string) (*contract.Contract, string, error) {
	c, err := d.CurrentContract(ctx, dataset)
	if err != nil {
		return nil, "", err
	}
	return c.Contract, c.Hash, nil
}

// ContractAt reads the contract stored under hash (the one a version or a
// model was made under), checking that its bytes hash to that name.
func (d *Datasets) ContractAt(ctx context.Context, dataset, hash string) (*Contract, error) {
	canon, err := pointer.Load(ctx, d.st, d.platform, ContractKey(dataset, hash), hash)
	if err != nil {
		return nil, fmt.Errorf("contract %s of %s: %w", hash, dataset, err)
	}
	c, err := contract.ParseCanonical(canon)
	if err != nil {
		return nil, fmt.Errorf("contract %s of %s: %w", hash, dataset, err)
	}
	return &Contract{Contract: c, Canon: canon, Hash: hash}, nil
}

// Profile reads the profile of version m (the drift baseline and the
// datasheet's numbers).
func (d *Datasets) Profile(ctx context.Context, m *Manifest) (*profile.Dataset, error) {
	b, _, err := d.st.ReadAll(ctx, d.platform, m.ProfileKey)
	if err != nil {
		return nil, fmt.Errorf("profile of %s@%s: %w", m.Dataset, m.VersionID, err)
	}
	var p profile.Dataset
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("profile of %s@%s (s3://%s/%s): %w", m.Dataset, m.VersionID, d.platform, m.ProfileKey, err)
	}
	return &p, nil
}

// OpenPartition streams partition i of version m as canonical CSV (gzip:
// UTF-8, header, comma, LF, empty cell = missing), the form every reader after
// ingest reads, so none of them re-implements dialects.
func (d *Datasets) OpenPartition(ctx context.Context, m *Manifest, i int) (io.ReadCloser, error) {
	if i < 0 || i >= len(m.Partitions) {
		return nil, fmt.Errorf("dataset %s version %s has no partition %d", m.Dataset, m.VersionID, i)
	}
	key := m.Partitions[i].CanonicalKey
	if key == "" {
		return nil, fmt.Errorf("dataset %s version %s: partition %d has no canonical key", m.Dataset, m.VersionID, i)
	}
	body, _, err := d.st.Get(ctx, d.platform, key, store.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("dataset %s version %s: partition %d: %w", m.Dataset, m.VersionID, i, err)
	}
	return body, nil
}

// URI is the s3:// address of key in the platform bucket.
func (d *Datasets) URI(key string) string { return "s3://" + d.platform + "/" + key }
