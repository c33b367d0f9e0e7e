package report_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/local/s3"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/store"
)

const (
	platform   = "mlops-platform"
	monitoring = "mlops-monitoring"
	site       = "mlops-site"
)

// source is a platform of models and datasets held in memory, counting what
// the publisher reads.
type source struct {
	mu       sync.Mutex
	models   map[string]*reportgen.Model
	datasets map[string]*reportgen.Dataset
	full     int
	reads    map[string]int
}

func newSource() *source {
	return &source{models: map[string]*reportgen.Model{}, datasets: map[string]*reportgen.Dataset{}, reads: map[string]int{}}
}

var epoch = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// addVersion registers version n of model, trained on nothing: the pages
// that need a bundle say so, which is all the publisher needs of them.
func (s *source) addVersion(model string, n int, state registry.State) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.models[model]
	if m == nil {
		m = &reportgen.Model{Name: model}
		s.models[model] = m
	}
	at := epoch.Add(time.Duration(n) * time.Hour)
	m.Versions = append(m.Versions, &reportgen.Version{Version: &registry.Version{Model: model, Version: n, State: state,
		RunID: fmt.Sprintf("run-%s-%d", model, n), RegisteredAt: at, UpdatedAt: at}, Checks: map[string]*registry.ChecksRecord{}})
	if state == registry.StateChampion {
		m.Champion = &registry.Champion{Model: model, Version: n, At: at}
	}
}

func (s *source) addDataset(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.datasets[name] = &reportgen.Dataset{Name: name}
}

func (s *source) remove(model string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.models, model)
}

func (s *source) Gather(ctx context.Context) (*reportgen.Site, error) {
	s.mu.Lock()
	s.full++
	names := sortedKeys(s.models)
	dnames := sortedKeys(s.datasets)
	s.mu.Unlock()
	out := &reportgen.Site{}
	for _, n := range names {
		m, _ := s.GatherModel(ctx, n)
		out.Models = append(out.Models, m)
	}
	for _, n := range dnames {
		d, _ := s.GatherDataset(ctx, n)
		out.Datasets = append(out.Datasets, d)
	}
	return out, nil
}

// GatherModel answers a copy, as a fresh read would.
func (s *source) GatherModel(_ context.Context, name string) (*reportgen.Model, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads["model "+name]++
	m := s.models[name]
	if m == nil {
		return &reportgen.Model{Name: name}, nil // as the registry lists an unknown model: no versions
	}
	c := *m
	c.Versions = append([]*reportgen.Version{}, m.Versions...)
	return &c, nil
}

func (s *source) GatherDataset(_ context.Context, name string) (*reportgen.Dataset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads["dataset "+name]++
	if d := s.datasets[name]; d != nil {
		c := *d
		return &c, nil
	}
	return &reportgen.Dataset{Name: name}, nil
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// counting is the real store, counting the site's writes and deletions.
type counting struct {
	*store.Store
	mu      sync.Mutex
	puts    []string
	deletes []string
}

func (c *counting) Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	if bucket == site {
		c.mu.Lock()
		c.puts = append(c.puts, key)
		c.mu.Unlock()
	}
	return c.Store.Put(ctx, bucket, key, body, opt)
}

func (c *counting) Delete(ctx context.Context, bucket, key, ifMatch string) error {
	if bucket == site {
		c.mu.Lock()
		c.deletes = append(c.deletes, key)
		c.mu.Unlock()
	}
	return c.Store.Delete(ctx, bucket, key, ifMatch)
}

func (c *counting) reset() ([]string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, d := c.puts, c.deletes
	c.puts, c.deletes = nil, nil
	sort.Strings(p)
	sort.Strings(d)
	return p, d
}

// cdn records the invalidations asked for.
type cdn struct {
	mu    sync.Mutex
	calls [][]string
	refs  []string
}

func (c *cdn) Invalidate(_ context.Context, ref string, paths []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, paths)
	c.refs = append(c.refs, ref)
	return nil
}

func (c *cdn) take() ([][]string, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls, refs := c.calls, c.refs
	c.calls, c.refs = nil, nil
	return calls, refs
}

type env struct {
	st  *counting
	src *source
	cdn *cdn
	svc *report.Service
}

// newEnv is a publisher over the embedded S3 server, through the real SDK.
func newEnv(t *testing.T) *env {
	t.Helper()
	srv, err := s3.New(s3.Config{Dir: filepath.Join(t.TempDir(), "s3"), Addr: "127.0.0.1:0", AccessKeyID: "AKTEST",
		SecretAccessKey: "secret-test-key", Buckets: []string{platform, monitoring, site}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKTEST", "secret-test-key", "")}
	e := &env{st: &counting{Store: store.New(store.NewClient(cfg, srv.URL(), true), store.Options{})}, src: newSource(), cdn: &cdn{}}
	e.svc, err = report.New(e.st, e.src, report.Config{PlatformBucket: platform, MonitoringBucket: monitoring, SiteBucket: site,
		Invalidator: e.cdn})
	if err != nil {
		t.Fatal(err)
	}
	e.src.addDataset("credit")
	e.src.addVersion("credit", 1, registry.StateChampion)
	e.src.addVersion("churn", 1, registry.StateChampion)
	return e
}

func platformEvent(t *testing.T, detailType string, detail any) json.RawMessage {
	t.Helper()
	d, _ := json.Marshal(detail)
	b, err := json.Marshal(event.Envelope{Version: "0", ID: "e-" + detailType, Source: event.Source, DetailType: detailType,
		Time: epoch, Region: "us-east-1", Detail: d})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func s3Event(t *testing.T, bucket, key string) json.RawMessage {
	t.Helper()
	d, _ := json.Marshal(event.S3ObjectCreatedDetail{Bucket: event.S3Bucket{Name: bucket}, Object: event.S3Object{Key: key}})
	b, _ := json.Marshal(event.Envelope{Version: "0", ID: "s3", Source: event.S3Source, DetailType: event.S3ObjectCreated, Detail: d})
	return b
}

func scheduled() json.RawMessage {
	b, _ := json.Marshal(event.Envelope{Version: "0", ID: "sched", Source: event.ScheduledSource, DetailType: event.ScheduledEventType,
		Time: epoch, Detail: json.RawMessage("{}")})
	return b
}

func (e *env) handle(t *testing.T, payload json.RawMessage) {
	t.Helper()
	if err := e.svc.Handle(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
}

func (e *env) state(t *testing.T) *report.State {
	t.Helper()
	b, _, err := e.st.ReadAll(context.Background(), platform, report.StateKey)
	if err != nil {
		t.Fatal(err)
	}
	var s report.State
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// checkSite holds the site bucket to the state: every page the state names is
// there with those bytes, and nothing else is.
func (e *env) checkSite(t *testing.T) *report.State {
	t.Helper()
	ctx := context.Background()
	s := e.state(t)
	var keys []string
	if err := e.st.List(ctx, site, "", func(o store.ObjectInfo) error { keys = append(keys, o.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != len(s.Pages) {
		t.Errorf("the site holds %d objects, the state names %d", len(keys), len(s.Pages))
	}
	for _, k := range keys {
		b, _, err := e.st.ReadAll(ctx, site, k)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if want, ok := s.Pages[k]; !ok || want != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: the state says %q, the site holds %x", k, want, sum)
		}
	}
	return s
}

func (e *env) index(t *testing.T) string {
	t.Helper()
	b, _, err := e.st.ReadAll(context.Background(), site, reportgen.IndexPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The first event publishes the whole site, whatever it names, with the
// content types and cache headers; the same event again uploads and
// invalidates nothing.
func TestFirstEventPublishesEverythingAndRepeatsNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ev := platformEvent(t, event.ModelPromoted, event.ModelDetail{Model: "credit"})
	e.handle(t, ev)
	if e.src.full != 1 {
		t.Fatalf("%d full reads, want 1 (nothing had been published)", e.src.full)
	}
	s := e.checkSite(t)
	for _, p := range []string{reportgen.IndexPath, reportgen.ModelPath("credit"), reportgen.ModelPath("churn"), "assets/site.css", "assets/echarts.min.js"} {
		if _, ok := s.Pages[p]; !ok {
			t.Errorf("%s not published", p)
		}
	}
	if len(s.Models) != 2 || s.Models["credit"].Champion != 1 || len(s.Datasets) != 1 {
		t.Errorf("summaries: %+v %+v", s.Models, s.Datasets)
	}
	for p, want := range map[string][2]string{
		reportgen.IndexPath:     {"text/html; charset=utf-8", "no-cache"},
		"assets/site.css":       {"text/css; charset=utf-8", "public, max-age=300"},
		"assets/echarts.min.js": {"text/javascript; charset=utf-8", "public, max-age=300"},
	} {
		rc, info, err := e.st.Get(ctx, site, p, store.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		if info.ContentType != want[0] || info.CacheControl != want[1] {
			t.Errorf("%s: Content-Type %q, Cache-Control %q; want %q", p, info.ContentType, info.CacheControl, want)
		}
	}
	puts, _ := e.st.reset()
	calls, _ := e.cdn.take()
	if len(puts) != len(s.Pages) || len(calls) != 1 || len(calls[0]) != len(s.Pages)+1 {
		t.Errorf("%d puts and invalidations %v for %d pages", len(puts), calls, len(s.Pages))
	}

	for _, again := range []json.RawMessage{ev, ev, scheduled()} {
		e.handle(t, again)
		if puts, dels := e.st.reset(); len(puts)+len(dels) != 0 {
			t.Errorf("an event that changed nothing wrote %v and deleted %v", puts, dels)
		}
		if calls, _ := e.cdn.take(); len(calls) != 0 {
			t.Errorf("an event that changed nothing invalidated %v", calls)
		}
	}
}

// An event about one model re-reads that model (and its dataset) only, and
// uploads its changed pages and the index, and invalidates just those.
func TestIncrementalEventRendersOnlyItsModel(t *testing.T) {
	e := newEnv(t)
	e.handle(t, scheduled())
	e.st.reset()
	e.cdn.take()
	full := e.src.full
	e.src.reads = map[string]int{}

	e.src.addVersion("churn", 2, registry.StatePendingApproval)
	e.handle(t, platformEvent(t, event.PromotionPending, event.ModelDetail{Model: "churn"}))
	if e.src.full != full || e.src.reads["model churn"] != 1 || e.src.reads["model credit"] != 0 {
		t.Errorf("reads %v, %d full: want churn's only", e.src.reads, e.src.full-full)
	}
	puts, dels := e.st.reset()
	if len(puts) == 0 || len(dels) != 0 {
		t.Fatalf("puts %v, deletes %v", puts, dels)
	}
	sawIndex := false
	for _, p := range puts {
		if p == reportgen.IndexPath {
			sawIndex = true
			continue
		}
		if !strings.HasPrefix(p, "models/churn/") {
			t.Errorf("uploaded %s for an event about churn", p)
		}
	}
	if !sawIndex {
		t.Error("the index was not re-rendered: it lists the version waiting for approval")
	}
	calls, refs := e.cdn.take()
	if len(calls) != 1 {
		t.Fatalf("invalidations %v", calls)
	}
	want := report.InvalidationPaths(puts)
	if strings.Join(calls[0], " ") != strings.Join(want, " ") || !contains(calls[0], "/") {
		t.Errorf("invalidated %v, want %v", calls[0], want)
	}
	s := e.checkSite(t)
	if got := s.Models["churn"].Pending; len(got) != 1 || got[0] != 2 || s.Models["credit"].Champion != 1 {
		t.Errorf("summaries after the event: %+v", s.Models)
	}
	if !strings.Contains(e.index(t), "credit") {
		t.Error("the index lost the model the event did not name")
	}

	// A drift report arriving (no event when there is no drift), and a
	// datasheet: the same routing, the same result when nothing changed.
	for _, ev := range []json.RawMessage{s3Event(t, monitoring, "drift/churn/2026-12-03.json"), s3Event(t, platform, "datasheets/credit/current")} {
		e.handle(t, ev)
		if puts, _ := e.st.reset(); len(puts) != 0 {
			t.Errorf("nothing changed, yet %v", puts)
		}
	}
	if calls, refs2 := e.cdn.take(); len(calls) != 0 || len(refs) != 1 || len(refs2) != 0 {
		t.Errorf("invalidations %v", calls)
	}
}

// A full rebuild deletes the pages no longer produced; an incremental event
// deletes those under its model's folder.
func TestFullRebuildDeletesStalePages(t *testing.T) {
	e := newEnv(t)
	e.handle(t, scheduled())
	e.st.reset()
	e.cdn.take()
	before := e.state(t)
	e.src.remove("churn")
	e.handle(t, scheduled())
	_, dels := e.st.reset()
	if len(dels) == 0 {
		t.Fatal("nothing deleted")
	}
	for _, p := range dels {
		if !strings.HasPrefix(p, "models/churn/") {
			t.Errorf("deleted %s", p)
		}
	}
	s := e.checkSite(t)
	if _, ok := s.Models["churn"]; ok || len(s.Pages) != len(before.Pages)-len(dels) {
		t.Errorf("state after the rebuild: %d pages (%d before, %d deleted), models %v", len(s.Pages), len(before.Pages), len(dels), s.Models)
	}
	if strings.Contains(e.index(t), "churn") {
		t.Error("the index still lists the removed model")
	}
	calls, _ := e.cdn.take()
	if len(calls) != 1 || !contains(calls[0], "/"+dels[0]) {
		t.Errorf("invalidations %v", calls)
	}
}

// Several invocations for the same event at once, from nothing published:
// the site is complete and matches the state.
func TestConcurrentDuplicateEvents(t *testing.T) {
	e := newEnv(t)
	ev := platformEvent(t, event.ModelPromoted, event.ModelDetail{Model: "credit"})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.svc.Handle(context.Background(), ev)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := e.checkSite(t)
	if len(s.Models) != 2 || len(s.Pages) < 5 {
		t.Errorf("state: %d pages, models %v", len(s.Pages), s.Models)
	}
}

// Events about different models at once: each model's change reaches the
// index, whichever invocation wrote the state last.
func TestConcurrentEventsKeepEachOthersPages(t *testing.T) {
	e := newEnv(t)
	e.handle(t, scheduled())
	names := []string{"churn", "credit", "fraud", "limits"}
	for _, n := range names {
		e.src.addVersion(n, 7, registry.StatePendingApproval)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.svc.Handle(context.Background(), platformEvent(t, event.PromotionPending, event.ModelDetail{Model: n}))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s := e.checkSite(t)
	for _, n := range names {
		if p := s.Models[n].Pending; len(p) != 1 || p[0] != 7 {
			t.Errorf("%s: pending %v", n, p)
		}
		if _, ok := s.Pages[reportgen.ModelPath(n)]; !ok {
			t.Errorf("%s: no page", n)
		}
	}
	// The index as published is the one a fresh full build renders.
	want, err := reportgen.Build(mustGather(t, e.src), reportgen.Scope{Index: true})
	if err != nil {
		t.Fatal(err)
	}
	if e.index(t) != string(want[reportgen.IndexPath]) {
		t.Error("the published index differs from a full build's")
	}
}

func mustGather(t *testing.T, s *source) *reportgen.Site {
	site, err := s.Gather(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return site
}

// Which events ask for what.
func TestRoute(t *testing.T) {
	e := newEnv(t)
	direct := func(s string) json.RawMessage { return json.RawMessage(s) }
	for _, c := range []struct {
		name    string
		payload json.RawMessage
		want    string // the request's String, "" ignored
		err     string
	}{
		{"schedule", scheduled(), "everything", ""},
		{"promoted", platformEvent(t, event.ModelPromoted, event.ModelDetail{Model: "credit"}), "models [credit], datasets []", ""},
		{"trained", platformEvent(t, event.TrainingSucceeded, event.TrainingSucceededDetail{Model: "credit", Dataset: "loans"}), "models [credit], datasets [loans]", ""},
		{"versioned", platformEvent(t, event.DatasetVersioned, event.DatasetVersionedDetail{Dataset: "loans"}), "models [], datasets [loans]", ""},
		{"rejected", platformEvent(t, event.DatasetRejected, event.DatasetRejectedDetail{Dataset: "loans"}), "models [], datasets [loans]", ""},
		{"drift detected", platformEvent(t, event.DriftDetected, event.DriftDetectedDetail{Model: "credit"}), "models [credit], datasets []", ""},
		{"retrain requested", platformEvent(t, event.RetrainRequested, event.RetrainRequestedDetail{Model: "credit"}), "", ""},
		{"load failed", platformEvent(t, event.ModelLoadFailed, event.ModelLoadFailedDetail{Model: "credit"}), "", ""},
		{"drift report", s3Event(t, monitoring, "drift/credit/2026-11-27_2026-12-03.json"), "models [credit], datasets []", ""},
		{"drift request answer", s3Event(t, monitoring, "drift/requests/d1.json"), "", ""},
		{"prediction log", s3Event(t, monitoring, "predictions/credit/x.jsonl"), "", ""},
		{"drift key elsewhere", s3Event(t, platform, "drift/credit/2026-12-03.json"), "", ""},
		{"datasheet pointer", s3Event(t, platform, "datasheets/loans/current"), "models [], datasets [loans]", ""},
		{"datasheet body", s3Event(t, platform, "datasheets/loans/abc.json"), "", ""},
		{"rebuild request", s3Event(t, platform, report.RequestKey("r1")), "everything", ""},
		{"rebuild request elsewhere", s3Event(t, monitoring, report.RequestKey("r1")), "", ""},
		{"direct full", direct(`{"full": true}`), "everything", ""},
		{"direct models", direct(`{"models": ["credit"]}`), "models [credit], datasets []", ""},
		{"direct unknown field", direct(`{"model": "credit"}`), "", "direct invocation"},
		{"direct nothing", direct(`{}`), "", "names nothing"},
		{"not JSON", direct(`<xml/>`), "", "not JSON"},
	} {
		req, ok, err := e.svc.Route(c.payload)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.name, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := ""
		if ok {
			got = req.String()
		}
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := e.svc.Publish(context.Background(), report.Request{Models: []string{"../credit"}}); err == nil || !strings.Contains(err.Error(), "not a model or dataset name") {
		t.Errorf("a name with a path in it: %v", err)
	}
	// An ignored event is no error, and publishes nothing.
	if err := e.svc.Handle(context.Background(), platformEvent(t, event.RetrainRequested, event.RetrainRequestedDetail{Model: "credit"})); err != nil {
		t.Fatal(err)
	}
	if puts, _ := e.st.reset(); len(puts) != 0 {
		t.Errorf("an ignored event published %d objects", len(puts))
	}
}

func TestInvalidationPaths(t *testing.T) {
	if got := report.InvalidationPaths([]string{"models/a/index.html", "index.html"}); strings.Join(got, " ") != "/ /index.html /models/a/index.html" {
		t.Errorf("got %v", got)
	}
	many := make([]string, report.MaxInvalidationPaths+1)
	for i := range many {
		many[i] = fmt.Sprintf("models/m%d/index.html", i)
	}
	if got := report.InvalidationPaths(many); len(got) != 1 || got[0] != "/*" {
		t.Errorf("%d paths: %v", len(many), got[:min(3, len(got))])
	}
	if got := report.InvalidationPaths(many[:report.MaxInvalidationPaths]); len(got) != report.MaxInvalidationPaths {
		t.Errorf("%d paths kept one by one, want %d", len(got), report.MaxInvalidationPaths)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
