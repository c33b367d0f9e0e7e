package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/registry"
)

// The local platform signs the audit trail's checkpoints with a key of its
// own, kept private in the state directory and reused across restarts.
func TestAuditTrailSignedAcrossRestarts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := start(t, dir)
	if _, _, err := p.Registry.Register(ctx, registry.RegisterInput{Model: "credit", RunID: "credit-0000000000000001-1",
		BundleSHA256: strings.Repeat("a", 64), Principal: "gate"}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "audit-key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the audit key must be private: %v %v", fi, err)
	}
	if _, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Platform, registry.CheckpointKey("credit", 1)); err != nil {
		t.Fatalf("no checkpoint: %v", err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	p2 := start(t, dir)
	defer p2.Close(ctx)
	if rep, err := p2.Registry.Verify(ctx, "credit"); err != nil || !rep.OK || !rep.Anchored {
		t.Fatalf("verify after a restart: %+v %v", rep, err)
	}
}
