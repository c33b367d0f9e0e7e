package wire

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	ebpub "github.com/openmlops/mlops/shared/aws/eventbridge"
	"github.com/openmlops/mlops/shared/aws/lambdaenv"
	"github.com/openmlops/mlops/shared/store"
)

// Building makes no calls: clients pointed nowhere will do.
func clients() *lambdaenv.Clients {
	cfg := aws.Config{Region: "us-east-1"}
	return &lambdaenv.Clients{AWS: cfg, Store: store.New(store.NewClient(cfg, "http://127.0.0.1:1", true), store.Options{}),
		Publisher: ebpub.New(eventbridge.NewFromConfig(cfg), "bus")}
}

func TestSweeps(t *testing.T) {
	s := lambdaenv.Settings{UploadsBucket: "uploads", PlatformBucket: "platform", EventBus: "bus"}
	log := slog.New(slog.DiscardHandler)
	names := func(t *testing.T, tr *lambdaenv.Training) []string {
		t.Helper()
		sweeps, err := Sweeps(s, lambdaenv.Reconcile{}, tr, clients(), log)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, sw := range sweeps {
			out = append(out, sw.Name)
		}
		return out
	}
	if got := names(t, nil); !slices.Equal(got, []string{"dataset-events", "stray-uploads", "stale-staging", "registry", "decision-events"}) {
		t.Errorf("without training: %q", got)
	}
	tr := &lambdaenv.Training{JobQueue: "q", JobDefinition: "d", TrainerImage: "repo@sha256:" + strings.Repeat("0", 64)}
	if got := names(t, tr); !slices.Equal(got, []string{"dataset-events", "stray-uploads", "stale-staging", "runs", "registry", "decision-events"}) {
		t.Errorf("with training: %q", got)
	}
	// The reference trainer's image is the trainer's identity: a tag will not do.
	tr.TrainerImage = "repo:latest"
	if _, err := Sweeps(s, lambdaenv.Reconcile{}, tr, clients(), log); err == nil || !strings.Contains(err.Error(), `TRAINER_IMAGE="repo:latest": must be pinned by digest`) {
		t.Errorf("unpinned image: %v", err)
	}
	if _, err := Training(s, *tr, clients(), log); err == nil {
		t.Error("Training accepted an unpinned image")
	}
}

func TestGate(t *testing.T) {
	s := lambdaenv.Settings{PlatformBucket: "platform"}
	if routes := Gate(s, clients(), slog.New(slog.DiscardHandler)).Routes(func(*http.Request) string { return "p" }); len(routes) == 0 {
		t.Error("the gate has no decision routes")
	}
}
