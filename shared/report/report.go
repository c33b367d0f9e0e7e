// Package report publishes the governance site (reportgen) into the site
// bucket: it re-reads and re-renders only what an event affects, uploads only
// the objects whose bytes changed, with their content types and cache headers,
// and then asks the CDN (CloudFront in AWS; none locally) to drop exactly
// those paths. The report function runs it in AWS and `mlops up` locally.
//
// Its state (StateKey in the platform bucket) holds the SHA-256 of every
// object uploaded and the index's row of every model and dataset; it is
// written with a compare-and-swap, so that concurrent invocations never lose
// each other's pages (see docs/reports.md).
package report

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/parallel"
	"github.com/openmlops/mlops/shared/store"
)

// Source is what the publisher reads the platform through
// (reportgen.Sources).
type Source interface {
	Gather(ctx context.Context) (*reportgen.Site, error)
	GatherModel(ctx context.Context, name string) (*reportgen.Model, error)
	GatherDataset(ctx context.Context, name string) (*reportgen.Dataset, error)
}

// Store holds the publisher's state (platform bucket) and the site (site
// bucket): *store.Store.
type Store interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Delete(ctx context.Context, bucket, key, ifMatch string) error
}

// Invalidator drops cached copies of site paths ("/models/credit/runs.html")
// from a CDN. ref names the change: the same change gives the same ref, so a
// retried call is recognised (CloudFront's CallerReference), while a later
// change of the same paths gets a new one.
type Invalidator interface {
	Invalidate(ctx context.Context, ref string, paths []string) error
}

// MaxInvalidationPaths is the most paths one change invalidates one by one;
// above it the whole distribution ("/*") is invalidated. CloudFront allows
// 3000 single paths in progress at a time, and a full rebuild after a
// template change touches every page: one wildcard costs less and cannot hit
// that limit.
const MaxInvalidationPaths = 1000

// Config configures the publisher.
type Config struct {
	PlatformBucket   string // the state, and what Source reads
	MonitoringBucket string // drift reports, whose arrival is an event
	SiteBucket       string // where the site goes
	// Invalidator is the CDN in front of the site bucket; nil: none.
	Invalidator Invalidator
	// Workers bounds the uploads in flight (default 8).
	Workers int
	// Attempts bounds the rounds of a publication that lost the state's
	// compare-and-swap to another invocation (default 16); past it the
	// event fails and its invoker retries.
	Attempts int
	Logger   *slog.Logger
}

// Service publishes the site.
type Service struct {
	st     Store
	src    Source
	cfg    Config
	log    *slog.Logger
	assets map[string][]byte
}

// New makes a publisher.
func New(st Store, src Source, cfg Config) (*Service, error) {
	if cfg.PlatformBucket == "" || cfg.SiteBucket == "" || cfg.MonitoringBucket == "" {
		return nil, errors.New("report: the platform, monitoring and site buckets are required")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 8
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 16
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	assets, err := reportgen.Assets()
	if err != nil {
		return nil, fmt.Errorf("report: site assets: %w", err)
	}
	return &Service{st: st, src: src, cfg: cfg, log: log, assets: assets}, nil
}

// Request is what to publish: everything (Full, which also deletes the
// pages no longer produced), or the named models' and datasets' pages and
// the index.
type Request struct {
	Full     bool     `json:"full,omitempty"`
	Models   []string `json:"models,omitempty"`
	Datasets []string `json:"datasets,omitempty"`
}

func (r Request) String() string {
	if r.Full {
		return "everything"
	}
	return fmt.Sprintf("models %v, datasets %v", r.Models, r.Datasets)
}

// Result is what a publication did.
type Result struct {
	// Full is whether everything was rebuilt (asked for, or nothing had
	// been published yet).
	Full bool `json:"full"`
	// Rendered counts the objects rendered (assets included).
	Rendered int `json:"rendered"`
	// Uploaded and Deleted are the site paths written and removed.
	Uploaded []string `json:"uploaded"`
	Deleted  []string `json:"deleted"`
	// Invalidated are the CDN paths dropped (none without a CDN).
	Invalidated []string `json:"invalidated"`
	// Attempts counts the rounds (more than one: another invocation wrote
	// the state meanwhile).
	Attempts int `json:"attempts"`
}

// Publish renders what req names and brings the site bucket in line with it.
// An error leaves the state as it was, so that a retry redoes what is left.
func (s *Service) Publish(ctx context.Context, req Request) (Result, error) {
	if err := req.Check(); err != nil {
		return Result{}, err
	}
	// touched are the paths this call wrote or removed in a round that lost
	// the compare-and-swap: the state does not describe them, so a later
	// round writes them again whatever the state says.
	touched := map[string]bool{}
	for attempt := 1; attempt <= s.cfg.Attempts; attempt++ {
		res, err := s.round(ctx, req, touched)
		res.Attempts = attempt
		if errors.Is(err, errLostRace) {
			s.log.Info("report state changed meanwhile: publishing again", "attempt", attempt, "request", req.String())
			continue
		}
		if err != nil {
			return res, fmt.Errorf("report: publish %s: %w", req, err)
		}
		return res, nil
	}
	return Result{Attempts: s.cfg.Attempts}, fmt.Errorf("report: publish %s: the state kept changing under %d attempts", req, s.cfg.Attempts)
}

// round is one attempt: read the state, gather, render, upload, invalidate,
// then write the state over the version it read.
func (s *Service) round(ctx context.Context, req Request, touched map[string]bool) (Result, error) {
	old, etag, err := s.loadState(ctx)
	if err != nil {
		return Result{}, err
	}
	next := old.clone()
	// Nothing published yet: an event about one model still has to put up
	// the rest of the site.
	full := req.Full || len(old.Pages) == 0
	site, scope, prefixes, err := s.gather(ctx, req, full, next)
	if err != nil {
		return Result{}, err
	}
	pages, err := reportgen.Build(site, scope)
	if err != nil {
		return Result{}, fmt.Errorf("render: %w", err)
	}
	for p, b := range s.assets {
		pages[p] = b
	}
	res := Result{Full: full, Rendered: len(pages)}

	sums := make(map[string]string, len(pages))
	for p, b := range pages {
		sum := sha256.Sum256(b)
		sums[p] = hex.EncodeToString(sum[:])
		if sums[p] != old.Pages[p] || touched[p] {
			res.Uploaded = append(res.Uploaded, p)
		}
		next.Pages[p] = sums[p]
	}
	// What the scope no longer produces: everywhere for a full build, else
	// under the re-rendered models' and datasets' folders.
	for p := range old.Pages {
		if _, ok := pages[p]; ok {
			continue
		}
		if full || underAny(p, prefixes) {
			res.Deleted = append(res.Deleted, p)
			delete(next.Pages, p)
		}
	}
	sort.Strings(res.Uploaded)
	sort.Strings(res.Deleted)

	err = s.each(ctx, res.Uploaded, func(ctx context.Context, p string) error {
		_, err := s.st.Put(ctx, s.cfg.SiteBucket, p, pages[p], store.PutOptions{ContentType: ContentType(p), CacheControl: CacheControl(p)})
		return err
	})
	// Marked before the error is looked at: some uploads may have landed.
	for _, p := range res.Uploaded {
		touched[p] = true
	}
	if err != nil {
		return res, err
	}
	err = s.each(ctx, res.Deleted, func(ctx context.Context, p string) error {
		return s.st.Delete(ctx, s.cfg.SiteBucket, p, "")
	})
	for _, p := range res.Deleted {
		touched[p] = true
	}
	if err != nil {
		return res, err
	}
	// Before the state is written: should the CDN fail, the state still
	// says the objects differ and the retry invalidates them again.
	if s.cfg.Invalidator != nil && len(res.Uploaded)+len(res.Deleted) > 0 {
		res.Invalidated = InvalidationPaths(append(append([]string{}, res.Uploaded...), res.Deleted...))
		if err := s.cfg.Invalidator.Invalidate(ctx, changeRef(res, sums), res.Invalidated); err != nil {
			return res, fmt.Errorf("invalidate %d paths: %w", len(res.Invalidated), err)
		}
	}
	// A round that changed nothing leaves the state alone: one PUT less
	// per repeated event. It read the state after every commit before it,
	// so there is nothing of another invocation's that it could lose.
	if len(res.Uploaded)+len(res.Deleted) > 0 || !sameState(old, next) {
		if err := s.saveState(ctx, next, etag); err != nil {
			return res, err
		}
	}
	s.log.Info("report published", "request", req.String(), "full", full, "rendered", res.Rendered,
		"uploaded", len(res.Uploaded), "deleted", len(res.Deleted), "invalidated", len(res.Invalidated))
	return res, nil
}

// gather reads what the request needs and updates next's summaries. It
// returns the site to render, its scope, and the folders whose pages the
// scope owns (for deletions).
func (s *Service) gather(ctx context.Context, req Request, full bool, next *State) (*reportgen.Site, reportgen.Scope, []string, error) {
	if full {
		site, err := s.src.Gather(ctx)
		if err != nil {
			return nil, reportgen.Scope{}, nil, err
		}
		next.Models = map[string]reportgen.ModelSummary{}
		next.Datasets = map[string]reportgen.DatasetSummary{}
		for _, m := range site.Models {
			next.Models[m.Name] = m.Summary()
		}
		for _, d := range site.Datasets {
			next.Datasets[d.Name] = d.Summary()
		}
		site.ModelSummaries, site.DatasetSummaries = next.summaries()
		return site, reportgen.Scope{All: true}, nil, nil
	}
	site := &reportgen.Site{}
	scope := reportgen.Scope{Index: true}
	var prefixes []string
	datasets := append([]string{}, req.Datasets...)
	for _, name := range dedupe(req.Models) {
		m, err := s.src.GatherModel(ctx, name)
		if err != nil {
			return nil, scope, nil, err
		}
		prefixes = append(prefixes, folder(reportgen.ModelPath(name)))
		// The registry has no folder for a model that has no version yet
		// (a training run's events come before its registration): the
		// full build leaves it out, and so does this one.
		if len(m.Versions) == 0 && len(m.Trail) == 0 {
			delete(next.Models, name)
			continue
		}
		sum := m.Summary()
		next.Models[name] = sum
		site.Models = append(site.Models, m)
		scope.Models = append(scope.Models, name)
		if sum.Dataset != "" {
			datasets = append(datasets, sum.Dataset)
		}
	}
	for _, name := range dedupe(datasets) {
		d, err := s.src.GatherDataset(ctx, name)
		if err != nil {
			return nil, scope, nil, err
		}
		// A dataset without versions is still listed (its contract is
		// applied), as the full build lists it.
		prefixes = append(prefixes, folder(reportgen.DatasetPath(name)))
		next.Datasets[name] = d.Summary()
		site.Datasets = append(site.Datasets, d)
		scope.Datasets = append(scope.Datasets, name)
	}
	site.ModelSummaries, site.DatasetSummaries = next.summaries()
	return site, scope, prefixes, nil
}

// each runs fn for every path on at most Workers goroutines; the errors
// are joined.
func (s *Service) each(ctx context.Context, paths []string, fn func(ctx context.Context, p string) error) error {
	return parallel.Each(ctx, len(paths), s.cfg.Workers, func(ctx context.Context, i int) error { return fn(ctx, paths[i]) })
}

// ContentType is the Content-Type a site object is served with. A fixed
// table, not mime.TypeByExtension, whose answers depend on the host's
// /etc/mime.types.
func ContentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".json":
		return "application/json"
	case ".txt", ".md":
		return "text/plain; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	}
	return "application/octet-stream"
}

// CacheControl is the Cache-Control a site object is served with. Pages
// change whenever the platform's records do, under the same names, so a
// browser revalidates them on every view (no-cache: it may keep a copy, but
// asks first; the ETag makes that cheap). The assets (site.css, site.js,
// echarts.min.js) change only with a release, but under the same names too:
// they are not content-hashed, because the pages must also work opened from
// disk with fixed relative links. So "immutable" would be wrong; five
// minutes bounds how long a browser may pair a new page with an old script.
func CacheControl(p string) string {
	if strings.HasPrefix(p, reportgen.AssetsDir+"/") {
		return "public, max-age=300"
	}
	return "no-cache"
}

// InvalidationPaths are the CDN paths of changed site paths: each with a
// leading slash, the root's index also as "/", all of it as "/*" above
// MaxInvalidationPaths.
func InvalidationPaths(changed []string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range changed {
		add("/" + p)
		if p == reportgen.IndexPath {
			add("/")
		}
	}
	if len(out) > MaxInvalidationPaths {
		return []string{"/*"}
	}
	sort.Strings(out)
	return out
}

// changeRef names a change by what it wrote and removed: the same change
// (an invocation's retry) gives the same name, new bytes a new one.
func changeRef(res Result, sums map[string]string) string {
	h := sha256.New()
	for _, p := range res.Uploaded {
		_, _ = io.WriteString(h, "put "+p+" "+sums[p]+"\n")
	}
	for _, p := range res.Deleted {
		_, _ = io.WriteString(h, "delete "+p+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func sameState(a, b *State) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// folder is a page's folder, with its trailing slash.
func folder(p string) string { return path.Dir(p) + "/" }

func underAny(p string, prefixes []string) bool {
	for _, pre := range prefixes {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return false
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}
