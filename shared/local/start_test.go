package local_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/rules"
)

// The bus routes by exactly shared/rules' rules (and the local console's).
func TestBusRoutesByTheRules(t *testing.T) {
	p := start(t, t.TempDir())
	defer p.Close(context.Background())
	all := rules.All(rules.Names{UploadsBucket: p.Endpoint.Buckets.Uploads, PlatformBucket: p.Endpoint.Buckets.Platform,
		MonitoringBucket: p.Endpoint.Buckets.Monitoring})
	if len(p.Rules) != len(all) {
		t.Fatalf("subscribed %d rules, want %d", len(p.Rules), len(all))
	}
	for _, r := range all {
		if !slices.ContainsFunc(p.Rules, func(s rules.Rule) bool { return s.Name == r.Name }) {
			t.Errorf("rule %s is not subscribed", r.Name)
		}
		// The bus refuses a target it has under that name and pattern already.
		err := p.Bus.AddRule(r.Name, r.Pattern.JSON(), r.Function)
		if err == nil || !strings.Contains(err.Error(), "is already a target") {
			t.Errorf("rule %s: the bus lacks it as defined: %v", r.Name, err)
		}
	}
	if err := p.Bus.AddRule(local.FuncConsole, local.ConsolePattern, local.FuncConsole); err == nil || !strings.Contains(err.Error(), "is already a target") {
		t.Errorf("console: %v", err)
	}
}

// A Start that fails part way closes what it had opened: the same directory
// and ports start cleanly afterwards.
func TestStartFailureClosesWhatItOpened(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s3Addr := free.Addr().String()
	free.Close()

	dir := t.TempDir()
	cfg := local.Config{Dir: dir, S3Addr: s3Addr, ReconcileEvery: -1, APIAddr: busy.Addr().String()}
	// The API's port is taken: Start fails after S3, the bus and the runner are up.
	if _, err := local.Start(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "api: listen") {
		t.Fatalf("start with the API's port taken: %v", err)
	}
	ln, err := net.Listen("tcp", s3Addr)
	if err != nil {
		t.Fatalf("S3 still listens after a failed start: %v", err)
	}
	ln.Close()
	cfg.APIAddr = ""
	p, err := local.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("start again: %v", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
