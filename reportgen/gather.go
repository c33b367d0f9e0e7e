package reportgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/parallel"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// Store is what Gather reads of S3 directly (*store.Store): bundles, specs,
// policies, runs and drift reports, each through its owner's reader.
type Store interface {
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
}

// Registry is what Gather reads of the model registry (*registry.Registry).
type Registry interface {
	Models(ctx context.Context) ([]string, error)
	List(ctx context.Context, model string) ([]*registry.Version, error)
	Champion(ctx context.Context, model string) (*registry.Champion, error)
	History(ctx context.Context, model string) ([]registry.Entry, error)
	Verify(ctx context.Context, model string) (*registry.VerifyReport, error)
	Checks(ctx context.Context, key string) (*registry.ChecksRecord, error)
}

// Datasets is what Gather reads of the datasets (*ingest.Datasets).
type Datasets interface {
	Names(ctx context.Context) ([]string, error)
	Versions(ctx context.Context, dataset string) ([]*ingest.Manifest, error)
	Profile(ctx context.Context, m *ingest.Manifest) (*profile.Dataset, error)
	Datasheet(ctx context.Context, dataset string) (*ingest.Datasheet, pointer.Pointer, error)
	Rejections(ctx context.Context, dataset string) ([]ingest.Quarantined, error)
	ContractAt(ctx context.Context, dataset, hash string) (*ingest.Contract, error)
}

// Sources are the readers Gather reads through.
type Sources struct {
	Store            Store
	Registry         Registry
	Datasets         Datasets
	PlatformBucket   string
	MonitoringBucket string
	// Workers bounds the reads in flight (default 8).
	Workers int
}

// bundleFiles are the bundle files a card shows, and the samples, which
// the verified fetch checks the model against (without them every bundle
// fails verification): everything but the test rows.
var bundleFiles = []string{bundle.EncodingFile, bundle.MetricsFile, bundle.SlicesFile, bundle.ImportanceFile,
	bundle.PredictionsFile, bundle.LineageFile, bundle.SamplesFile}

// Gather reads every model and dataset.
func (s Sources) Gather(ctx context.Context) (*Site, error) {
	models, err := s.Registry.Models(ctx)
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	names, err := s.Datasets.Names(ctx)
	if err != nil {
		return nil, fmt.Errorf("gather: %w", err)
	}
	site := &Site{Models: make([]*Model, len(models)), Datasets: make([]*Dataset, len(names))}
	err = s.each(ctx, len(models)+len(names), func(ctx context.Context, i int) error {
		if i < len(models) {
			m, err := s.GatherModel(ctx, models[i])
			site.Models[i] = m
			return err
		}
		d, err := s.GatherDataset(ctx, names[i-len(models)])
		site.Datasets[i-len(models)] = d
		return err
	})
	if err != nil {
		return nil, err
	}
	return site, nil
}

// GatherModel reads one model's records. What cannot be read is named in the
// model's Problems, so that one damaged object hides nothing else; only a
// failure to read the registry itself is an error.
func (s Sources) GatherModel(ctx context.Context, name string) (*Model, error) {
	m := &Model{Name: name}
	problem := func(format string, a ...any) { m.Problems = append(m.Problems, fmt.Sprintf(format, a...)) }
	versions, err := s.Registry.List(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", name, err)
	}
	if c, err := s.Registry.Champion(ctx, name); err == nil {
		m.Champion = c
	} else if !errors.Is(err, registry.ErrNoChampion) && !errors.Is(err, registry.ErrNotFound) {
		problem("champion: %v", err)
	}
	if sp, hash, err := specstore.Current(ctx, s.Store, s.PlatformBucket, name); err == nil {
		m.Spec, m.SpecHash = sp, hash
	} else if !errors.Is(err, store.ErrNotFound) {
		problem("spec: %v", err)
	}
	if p, hash, err := policystore.Current(ctx, s.Store, s.PlatformBucket, name); err == nil {
		m.Policy, m.PolicyHash = p, hash
	} else if !errors.Is(err, store.ErrNotFound) {
		problem("policy: %v", err)
	}
	// Verified before the trail is read (Verify may wait out an operation in
	// flight), so that the pages show at least the records it verified.
	if m.Verify, err = s.Registry.Verify(ctx, name); err != nil {
		problem("audit trail verification: %v", err)
	}
	if m.Trail, err = s.Registry.History(ctx, name); err != nil {
		problem("audit trail: %v", err)
	}
	if m.Runs, err = training.ListRuns(ctx, s.Store, s.PlatformBucket, name); err != nil {
		problem("runs: %v", err)
	}
	if m.Drift, err = drift.Reports(ctx, s.Store, s.MonitoringBucket, name); err != nil {
		problem("drift reports: %v", err)
	}
	byKey := make(map[string]*registry.Entry, len(m.Trail))
	for i := range m.Trail {
		byKey[m.Trail[i].Key] = &m.Trail[i]
	}
	m.Versions = make([]*Version, len(versions))
	var mu sync.Mutex
	_ = s.each(ctx, len(versions), func(ctx context.Context, i int) error {
		v := &Version{Version: versions[i], Checks: map[string]*registry.ChecksRecord{}}
		m.Versions[i] = v
		var problems []string
		if v.Decision = byKey[v.Version.Decision]; v.Version.Decision != "" && v.Decision == nil {
			problems = append(problems, fmt.Sprintf("version %d: its decision record %s is not in the trail", v.Version.Version, v.Version.Decision))
		}
		prefix := v.BundlePrefix
		if prefix == "" {
			prefix = training.BundlePrefix(v.RunID)
		}
		opt := bundlestore.Options{Files: bundleFiles}
		if c := v.Compiled; c != nil {
			opt.Compiled = &bundlestore.Compiled{Key: c.Key, SHA256: c.SHA256, Bytes: c.Bytes, ModelSHA256: c.ModelSHA256}
		}
		b, err := bundlestore.FetchVerifiedWith(ctx, s.Store, s.PlatformBucket, prefix, v.BundleSHA256, opt)
		if err != nil {
			v.BundleError = err.Error()
			problems = append(problems, fmt.Sprintf("version %d: bundle: %v", v.Version.Version, err))
		}
		v.Bundle = b
		if v.SpecHash != "" {
			if sp, err := specstore.Load(ctx, s.Store, s.PlatformBucket, name, v.SpecHash); err == nil {
				v.Spec = sp
			} else {
				problems = append(problems, fmt.Sprintf("version %d: spec: %v", v.Version.Version, err))
			}
		}
		if dataset := datasetName(v); dataset != "" && v.ContractHash != "" {
			if c, err := s.Datasets.ContractAt(ctx, dataset, v.ContractHash); err == nil {
				v.Contract = c.Contract
			} else {
				problems = append(problems, fmt.Sprintf("version %d: contract: %v", v.Version.Version, err))
			}
		}
		for hash, ref := range v.Version.Checks {
			c, err := s.Registry.Checks(ctx, ref.Key)
			if err != nil {
				problems = append(problems, fmt.Sprintf("version %d: checks under policy %s: %v", v.Version.Version, hash, err))
				continue
			}
			v.Checks[hash] = c
		}
		mu.Lock()
		m.Problems = append(m.Problems, problems...)
		mu.Unlock()
		return nil
	})
	sort.Strings(m.Problems)
	return m, ctx.Err()
}

// datasetName is the dataset a version was trained on.
func datasetName(v *Version) string {
	switch {
	case v.Bundle != nil && v.Bundle.Lineage.Dataset != "":
		return v.Bundle.Lineage.Dataset
	case v.Spec != nil:
		return v.Spec.Dataset
	}
	return ""
}

// GatherDataset reads one dataset's records.
func (s Sources) GatherDataset(ctx context.Context, name string) (*Dataset, error) {
	d := &Dataset{Name: name}
	all, err := s.Datasets.Versions(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", name, err)
	}
	var manifests []*ingest.Manifest
	for _, m := range all {
		if m == nil || !ingest.ValidVersionID(m.VersionID) || m.Dataset != name {
			id, of := "?", "?"
			if m != nil {
				id, of = m.VersionID, m.Dataset
			}
			d.Problems = append(d.Problems, fmt.Sprintf("a manifest names version %q of dataset %q: not a version of %s, skipped", id, of, name))
			continue
		}
		manifests = append(manifests, m)
	}
	if ds, ptr, err := s.Datasets.Datasheet(ctx, name); err == nil {
		d.Datasheet, d.DatasheetHash = ds, ptr.Hash
	} else if !errors.Is(err, store.ErrNotFound) {
		d.Problems = append(d.Problems, fmt.Sprintf("datasheet: %v", err))
	}
	if d.Rejections, err = s.Datasets.Rejections(ctx, name); err != nil {
		d.Problems = append(d.Problems, fmt.Sprintf("rejections: %v", err))
	}
	d.Versions = make([]*DatasetVersion, len(manifests))
	_ = s.each(ctx, len(manifests), func(ctx context.Context, i int) error {
		v := &DatasetVersion{Manifest: manifests[i]}
		d.Versions[i] = v
		c, err := contract.ParseCanonical(manifests[i].Contract)
		if err != nil {
			v.Problem = fmt.Sprintf("contract: %v", err)
			return nil
		}
		v.Contract = c
		if v.Profile, err = s.Datasets.Profile(ctx, manifests[i]); err != nil {
			v.Problem = fmt.Sprintf("profile: %v", err)
		}
		return nil
	})
	for _, v := range d.Versions {
		if v.Problem != "" {
			d.Problems = append(d.Problems, "version "+v.Manifest.VersionID+": "+v.Problem)
		}
	}
	sort.SliceStable(d.Versions, func(i, j int) bool {
		return d.Versions[i].Manifest.CreatedAt.Before(d.Versions[j].Manifest.CreatedAt)
	})
	return d, ctx.Err()
}

// each runs fn for 0..n-1 on at most Workers goroutines (default 8); the
// errors are joined.
func (s Sources) each(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	workers := s.Workers
	if workers <= 0 {
		workers = 8
	}
	return parallel.Each(ctx, n, workers, fn)
}
