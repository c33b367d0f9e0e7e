package serving

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/clip"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/jsonappend"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/xgboost"
)

// model is one verified bundle ready to score: what a request holds for its
// whole life, so a swap in the middle of it changes nothing it computes.
type model struct {
	name     string
	version  *registry.Version
	bundle   *bundle.Bundle
	compiled bool // the model was loaded from its compiled form, not model.json
	contract *ingest.Contract
	checker  *predict.Checker
	redactor *predlog.Redactor
	scorers  sync.Pool // *bundle.Scorer: a scorer reuses its buffers, so one per goroutine at a time
	// outOrder are the indices of the outputs (bundle.OutputColumns) in
	// name order, as the log writes them.
	outOrder []int
	// labels are the classes as the log's members (named when used), each
	// value boxed once with its JSON text: otherwise an allocation and a
	// quoting per instance.
	labels map[string]predlog.Member
}

func newModel(name string, v *registry.Version, b *bundle.Bundle, compiled bool, c *ingest.Contract,
	chk *predict.Checker, red *predlog.Redactor) *model {
	m := &model{name: name, version: v, bundle: b, compiled: compiled, contract: c, checker: chk, redactor: red,
		labels: make(map[string]predlog.Member, len(b.Encoding.Target.Classes))}
	cols := b.Encoding.OutputColumns()
	m.outOrder = make([]int, len(cols))
	for i := range m.outOrder {
		m.outOrder[i] = i
	}
	slices.SortFunc(m.outOrder, func(i, j int) int { return strings.Compare(cols[i], cols[j]) })
	for _, class := range b.Encoding.Target.Classes {
		m.labels[class] = predlog.Member{Value: class, JSON: string(jsonappend.String(nil, class))}
	}
	return m
}

// label is a class as the log's member: its value, and its JSON text.
func (m *model) label(name, class string) predlog.Member {
	if l, ok := m.labels[class]; ok {
		l.Name = name
		return l
	}
	return predlog.Member{Name: name, Value: class}
}

func (m *model) scorer() (*bundle.Scorer, error) {
	if sc, ok := m.scorers.Get().(*bundle.Scorer); ok {
		return sc, nil
	}
	return m.bundle.Scorer(m.bundle.Encoder.Features())
}

func (m *model) release(sc *bundle.Scorer) { m.scorers.Put(sc) }

// resolved is what a model name resolves to: the champion to score with, or
// why there is none (err: not found, no champion, or a champion that could not
// be loaded when nothing else was served).
type resolved struct {
	m   *model
	err error
}

// entry is one model name's serving state. Requests read cur and shadow
// without locks; one refresh at a time replaces them.
type entry struct {
	name    string
	cur     atomic.Pointer[resolved]
	shadow  atomic.Pointer[model]
	checked atomic.Int64 // when the champion pointer was last read (UnixNano)
	busy    atomic.Bool  // a background refresh is running

	mu            sync.Mutex // held by a refresh
	etag          string     // of the champion pointer behind cur
	shadowChecked time.Time
	failed        map[string]time.Time // bundle SHA-256 → when it last failed to load
}

// maxEntries bounds the names the service remembers: a caller can ask for any
// name, and only models that exist deserve memory.
const maxEntries = 1024

func (s *Service) entry(name string) *entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.models[name]; ok {
		return e
	}
	if len(s.models) >= maxEntries {
		for n, e := range s.models {
			if r := e.cur.Load(); r == nil || r.m == nil {
				delete(s.models, n)
			}
		}
	}
	e := &entry{name: name, failed: map[string]time.Time{}}
	s.models[name] = e
	return e
}

// resolve returns the model to score name's request with. The first request
// loads the champion; after that the pointer is re-read once TTL has passed,
// off the request path, and a new champion is swapped in only once it is
// loaded and verified.
//
// A request that finds the pointer unread for 2·TTL (the model sat idle, or a
// Lambda environment was frozen) reads it itself, waiting for a new champion
// to load if it moved: answered from memory, it could be scored by a version
// replaced, or retired with force, hours ago. So, unless a bundle is refused
// or the registry is unreadable (the previous model keeps serving, and says
// so in the log), the version that answers a request was champion at some
// moment within 2·TTL before the request was resolved (docs/serving.md, "Hot
// swap and staleness").
func (s *Service) resolve(ctx context.Context, name string) (*model, *model, error) {
	e := s.entry(name)
	// checked before cur: a refresh swaps cur before it moves checked, so
	// the model read here was champion at the time read here, or later.
	checked := e.checked.Load()
	r := e.cur.Load()
	age := s.now().UnixNano() - checked
	switch {
	case r == nil:
		// The first request waits for the champion, never for the shadow.
		if err := s.refresh(ctx, e, false); err != nil && e.cur.Load() == nil {
			return nil, nil, err
		}
		r = e.cur.Load()
		s.refreshInBackground(ctx, e, true)
	case age >= 2*int64(s.cfg.TTL):
		// Detached from the request, as a background refresh is: a caller
		// that gives up must not cut short a load other requests wait for.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LoadTimeout)
		_ = s.refresh(rctx, e, false)
		cancel()
		r = e.cur.Load()
		s.refreshInBackground(ctx, e, true)
	case age >= int64(s.cfg.TTL):
		s.refreshInBackground(ctx, e, false)
	}
	if r.m == nil {
		return nil, nil, r.err
	}
	return r.m, e.shadow.Load(), nil
}

// refreshInBackground refreshes e off the request path (the shadow only, or
// the champion too), one background refresh at a time.
func (s *Service) refreshInBackground(ctx context.Context, e *entry, shadowOnly bool) {
	if !e.busy.CompareAndSwap(false, true) {
		return
	}
	// Detached from the request, which may end first, but bounded.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.LoadTimeout)
	s.background(func() {
		defer cancel()
		defer e.busy.Store(false)
		if !shadowOnly {
			_ = s.refresh(bg, e, false)
		}
		s.refreshShadow(bg, e, false)
	})
}

// Refresh re-reads model's champion pointer now (and its shadow candidate),
// loading a new champion if it moved: what a Model Promoted event triggers,
// so that a promotion is served without waiting for the TTL.
func (s *Service) Refresh(ctx context.Context, name string) error {
	e := s.entry(name)
	err := s.refresh(ctx, e, true)
	s.refreshShadow(ctx, e, true)
	return err
}

// refresh reads the champion pointer (a conditional GET on its ETag) and, if
// it names a version other than the one served, loads and verifies that
// version's bundle, then swaps it in. A bundle that fails is refused: the
// previous model keeps serving, the failure is logged and announced once,
// and the same bundle is tried again only after RetryAfter.
func (s *Service) refresh(ctx context.Context, e *entry, force bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.now()
	if !force && e.cur.Load() != nil && now.UnixNano()-e.checked.Load() < int64(s.cfg.TTL) {
		return nil // another refresh just did it
	}
	c, etag, err := s.reg.ChampionIfChanged(ctx, e.name, e.etag)
	switch {
	case errors.Is(err, store.ErrNotModified):
		e.checked.Store(now.UnixNano())
		return nil
	case errors.Is(err, registry.ErrNotFound):
		e.etag = etag
		e.cur.Store(&resolved{err: predict.UnknownModel(e.name)})
		e.checked.Store(now.UnixNano())
		return nil
	case errors.Is(err, registry.ErrNoChampion):
		if r := e.cur.Load(); r != nil && r.m != nil {
			s.log.Warn("model has no champion any more: not serving it", "model", e.name, "was", r.m.version.Version)
		}
		e.etag = etag
		e.cur.Store(&resolved{err: predict.NoChampion(e.name)})
		e.checked.Store(now.UnixNano())
		return nil
	case err != nil:
		// The registry could not be read: keep serving what is served, and
		// try again after the TTL rather than on every request.
		e.checked.Store(now.UnixNano())
		s.log.Error("champion pointer unreadable", "model", e.name, "error", err)
		return fmt.Errorf("model %s: %w", e.name, err)
	}
	if r := e.cur.Load(); r != nil && r.m != nil && r.m.version.Version == c.Version && r.m.bundle.SHA256 == c.BundleSHA256 {
		e.etag = etag
		e.checked.Store(now.UnixNano())
		return nil
	}
	if at, ok := e.failed[c.BundleSHA256]; ok && now.Sub(at) < s.cfg.RetryAfter && !force {
		e.checked.Store(now.UnixNano())
		return nil // refused recently: the previous model keeps serving
	}
	m, err := s.load(ctx, e.name, c.Version, c.BundleSHA256)
	if err != nil {
		// A refused bundle is tried again only after RetryAfter, and a load
		// that failed slowly is not retried at once: counted from now.
		e.checked.Store(s.now().UnixNano())
		serving := 0
		if r := e.cur.Load(); r != nil && r.m != nil {
			serving = r.m.version.Version
		} else {
			e.cur.Store(&resolved{err: apierror.Errorf(apierror.CodeUnavailable,
				"model %s: its champion, version %d, could not be loaded; the platform's operators have been told", e.name, c.Version)})
		}
		if ctx.Err() == nil {
			s.refused(ctx, e, c.Version, c.BundleSHA256, "champion", serving, err)
		}
		return err
	}
	delete(e.failed, c.BundleSHA256)
	e.etag = etag
	prev := e.cur.Swap(&resolved{m: m})
	// The new champion was read at now, not when its load ended: the staleness
	// bound counts from the read.
	e.checked.Store(now.UnixNano())
	if prev != nil && prev.m != nil {
		s.log.Info("champion swapped", "model", e.name, "from", prev.m.version.Version, "to", m.version.Version, "bundleSha256", m.bundle.SHA256,
			"compiled", m.compiled)
	} else {
		s.log.Info("champion loaded", "model", e.name, "version", m.version.Version, "bundleSha256", m.bundle.SHA256, "compiled", m.compiled)
	}
	return nil
}

// refreshShadow finds the version waiting for a decision, if any, and loads
// it to be scored beside the champion. It runs every ShadowTTL (a listing of
// the model's versions), and never holds up the champion.
func (s *Service) refreshShadow(ctx context.Context, e *entry, force bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.now()
	if s.cfg.ShadowTTL < 0 || (!force && now.Sub(e.shadowChecked) < s.cfg.ShadowTTL) {
		return
	}
	e.shadowChecked = now
	r := e.cur.Load()
	if r == nil || r.m == nil {
		e.shadow.Store(nil)
		return
	}
	v, err := s.reg.Candidate(ctx, e.name)
	if err != nil {
		s.log.Error("shadow candidate unreadable", "model", e.name, "error", err)
		return
	}
	if v == nil || v.Version == r.m.version.Version {
		e.shadow.Store(nil)
		return
	}
	if cur := e.shadow.Load(); cur != nil && cur.version.Version == v.Version && cur.bundle.SHA256 == v.BundleSHA256 {
		return
	}
	if at, ok := e.failed[v.BundleSHA256]; ok && now.Sub(at) < s.cfg.RetryAfter && !force {
		return
	}
	m, err := s.load(ctx, e.name, v.Version, v.BundleSHA256)
	if err != nil {
		e.shadow.Store(nil)
		if ctx.Err() == nil {
			s.refused(ctx, e, v.Version, v.BundleSHA256, "shadow", r.m.version.Version, err)
		}
		return
	}
	e.shadow.Store(m)
	s.log.Info("shadow candidate loaded", "model", e.name, "version", v.Version, "champion", r.m.version.Version)
}

// refused logs and announces a bundle that failed to load, once per bundle
// until it loads or RetryAfter passes.
func (s *Service) refused(ctx context.Context, e *entry, version int, sha, role string, serving int, err error) {
	e.failed[sha] = s.now()
	s.log.Error("model refused: still serving the previous one", "model", e.name, "version", version,
		"bundleSha256", sha, "role", role, "serving", serving, "error", err)
	prefix := ""
	if v, gerr := s.reg.Get(ctx, e.name, version); gerr == nil {
		prefix = v.BundlePrefix
	}
	d := event.ModelLoadFailedDetail{SchemaVersion: event.SchemaVersion, Model: e.name, Version: version,
		BundleSHA256: sha, BundlePrefix: prefix, Bucket: s.cfg.Bucket, Role: role, Serving: serving,
		Reason: clip.Bytes(err.Error(), 2048), At: s.now()}
	if perr := s.pub.Publish(ctx, event.Event{Source: event.Source, DetailType: event.ModelLoadFailed,
		Resources: []string{fmt.Sprintf("s3://%s/%s", s.cfg.Bucket, registry.ModelPrefix(e.name))}, Detail: d}); perr != nil {
		s.log.Error("announce a refused model", "model", e.name, "version", version, "error", perr)
	}
}

// ServedFiles are the files of a bundle serving reads besides the manifest and
// the model: what scoring, explaining and the sample check need. The others
// (test rows, metrics, slices...) are the gate's; the manifest still names
// them by hash, and the gate checked them against each other.
var ServedFiles = []string{bundle.EncodingFile, bundle.SamplesFile, bundle.LineageFile}

// load reads version's record, fetches its bundle, verifies it (every file's
// hash, the manifest's against the registry's, the evaluator against the
// trainer's samples) and the contract it was trained under, and builds what
// scoring needs. Where the version records a compiled model, it is loaded
// instead of model.json (checked by its hash, and against the samples as
// model.json would be).
func (s *Service) load(ctx context.Context, name string, version int, sha string) (*model, error) {
	v, err := s.reg.Get(ctx, name, version)
	if err != nil {
		return nil, err
	}
	if sha != "" && v.BundleSHA256 != sha {
		return nil, fmt.Errorf("model %s version %d: %w: the champion pointer names bundle %s, the version record %s",
			name, version, bundle.ErrInvalid, sha, v.BundleSHA256)
	}
	opt := bundlestore.Options{Files: ServedFiles}
	compiled := false
	if c := v.Compiled; c != nil && c.Format == xgboost.CompiledVersion {
		compiled = true
		opt.Compiled = &bundlestore.Compiled{Key: c.Key, SHA256: c.SHA256, Bytes: c.Bytes, ModelSHA256: c.ModelSHA256}
		opt.OnCompiledError = func(err error) {
			compiled = false
			s.log.Error("compiled model refused: parsing model.json instead", "model", name, "version", version, "error", err)
		}
	}
	b, err := bundlestore.FetchVerifiedWith(ctx, s.src, s.cfg.Bucket, v.BundlePrefix, v.BundleSHA256, opt)
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: %w", name, version, err)
	}
	if b.Manifest.Model != name || b.Manifest.RunID != v.RunID {
		return nil, fmt.Errorf("model %s version %d: %w: the bundle is run %s of model %s, the version is run %s",
			name, version, bundle.ErrInvalid, b.Manifest.RunID, b.Manifest.Model, v.RunID)
	}
	if v.ContractHash != "" && v.ContractHash != b.Lineage.ContractHash {
		return nil, fmt.Errorf("model %s version %d: %w: the bundle was trained under contract %s, the version records %s",
			name, version, bundle.ErrInvalid, b.Lineage.ContractHash, v.ContractHash)
	}
	c, err := s.contracts.ContractAt(ctx, b.Lineage.Dataset, b.Lineage.ContractHash)
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: the contract it was trained under: %w", name, version, err)
	}
	chk, err := predict.NewChecker(c.Contract, b.Encoder.Features(), s.cfg.Check)
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: %w", name, version, err)
	}
	red, err := predlog.NewRedactor(c.Contract, s.cfg.PIIMode, s.cfg.PIIKey)
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: %w", name, version, err)
	}
	return newModel(name, v, b, compiled, c, chk, red), nil
}
