package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
)

// warnings is the platform's logger in the benchmark: errors go to stderr as
// they come, warnings are counted by message (a full prediction-log buffer
// under load warns many times a second) and reported with the run they
// happened in.
type warnings struct {
	*warnState
	attrs []slog.Attr
	group string
}

type warnState struct {
	mu     sync.Mutex
	counts map[string]int
	errs   slog.Handler
}

var digits = regexp.MustCompile(`[0-9]+`)

func newWarnings() *warnings {
	return &warnings{warnState: &warnState{counts: map[string]int{},
		errs: slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})}}
}

func (w *warnings) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (w *warnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h := w.errs.WithAttrs(w.attrs)
		if w.group != "" {
			h = h.WithGroup(w.group)
		}
		return h.Handle(ctx, r)
	}
	// Ports and counts in a message would make each one different.
	msg := digits.ReplaceAllString(r.Message, "N")
	w.mu.Lock()
	w.counts[msg]++
	w.mu.Unlock()
	return nil
}

func (w *warnings) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnings{warnState: w.warnState, attrs: append(append([]slog.Attr(nil), w.attrs...), as...), group: w.group}
}

func (w *warnings) WithGroup(name string) slog.Handler {
	return &warnings{warnState: w.warnState, attrs: w.attrs, group: name}
}

// take returns the warnings counted since the last take ("none" if none)
// and starts counting afresh.
func (w *warnings) take() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.counts) == 0 {
		return "none"
	}
	var parts []string
	for msg, n := range w.counts {
		parts = append(parts, fmt.Sprintf("%q ×%d", msg, n))
	}
	sort.Strings(parts)
	w.counts = map[string]int{}
	return strings.Join(parts, ", ")
}
