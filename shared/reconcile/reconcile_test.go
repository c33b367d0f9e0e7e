package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// One failing or panicking sweep never stops the others, and each is reported.
func TestRunAllRunsEverySweep(t *testing.T) {
	var ran []string
	sweeps := []Sweep{
		{Name: "fails", Run: func(context.Context) (int, error) { ran = append(ran, "fails"); return 1, errors.New("boom") }},
		{Name: "panics", Run: func(context.Context) (int, error) { ran = append(ran, "panics"); panic("bad state") }},
		{Name: "fixes", Run: func(context.Context) (int, error) { ran = append(ran, "fixes"); return 3, nil }},
	}
	res, err := RunAll(context.Background(), slog.New(slog.DiscardHandler), sweeps)
	if strings.Join(ran, ",") != "fails,panics,fixes" {
		t.Fatalf("ran %v", ran)
	}
	if err == nil || !strings.Contains(err.Error(), "sweep fails: boom") || !strings.Contains(err.Error(), "sweep panics: internal error: bad state") {
		t.Fatalf("error = %v", err)
	}
	if res.Fixed["fails"] != 1 || res.Fixed["fixes"] != 3 || res.Errors["fails"] != "boom" || res.Errors["fixes"] != "" {
		t.Fatalf("result = %+v", res)
	}
	if err := Handler(slog.New(slog.DiscardHandler), sweeps[2:])(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}
