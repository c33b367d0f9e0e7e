package drift

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/store"
)

// ReportSchema is the version of the report's JSON (docs/drift.md). A reader
// refuses another major version.
const ReportSchema = "mlops.drift/1"

// Prefix is where the monitoring bucket keeps a model's drift reports.
func Prefix(model string) string { return "drift/" + model + "/" }

const dayLayout = "2006-01-02"

// Window is a range of UTC days, both ends included.
type Window struct {
	From time.Time
	To   time.Time
}

// Day is the window of one UTC day.
func Day(t time.Time) Window { d := day(t); return Window{From: d, To: d} }

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// Check refuses a window whose end is before its start, or longer than
// MaxWindowDays.
func (w Window) Check() error {
	from, to := day(w.From), day(w.To)
	switch {
	case to.Before(from):
		return fmt.Errorf("window %s to %s: the end is before the start", from.Format(dayLayout), to.Format(dayLayout))
	case to.Sub(from) > MaxWindowDays*24*time.Hour:
		return fmt.Errorf("window %s to %s: %d days, at most %d", from.Format(dayLayout), to.Format(dayLayout),
			int(to.Sub(from).Hours()/24)+1, MaxWindowDays+1)
	}
	return nil
}

// MaxWindowDays bounds a window's length (beyond its first day).
const MaxWindowDays = 365

// String is "2026-12-03", or "2026-12-01_2026-12-03" for several days: the
// report's name.
func (w Window) String() string {
	from, to := day(w.From).Format(dayLayout), day(w.To).Format(dayLayout)
	if from == to {
		return from
	}
	return from + "_" + to
}

// ReportKey is the key of model's report of window in the monitoring bucket:
// drift/<model>/<YYYY-MM-DD>.json for a day.
func ReportKey(model string, w Window) string { return Prefix(model) + w.String() + ".json" }

// ParseDay reads a YYYY-MM-DD day.
func ParseDay(s string) (time.Time, error) {
	t, err := time.Parse(dayLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("day %q: expected YYYY-MM-DD", s)
	}
	return t, nil
}

// Report is one model's drift report for one window: the JSON written to
// ReportKey, documented in docs/drift.md. It holds no time of its own making,
// so that the same inputs give the same bytes.
type Report struct {
	Schema string `json:"schema"`
	Model  string `json:"model"`
	// Version, BundleSHA256, DatasetVersion and ContractHash name the
	// champion compared and the baseline it was trained on.
	Version        int    `json:"version"`
	BundleSHA256   string `json:"bundleSha256"`
	Dataset        string `json:"dataset"`
	DatasetVersion string `json:"datasetVersion"`
	ContractHash   string `json:"contractHash"`
	PolicyHash     string `json:"policyHash,omitempty"` // "" when the model has no policy: the defaults
	Window         struct {
		From string `json:"from"`
		To   string `json:"to"`
	} `json:"window"`
	// Rows are the log records read; ChampionRows those the compared
	// version answered (prediction drift and quality use these only);
	// Versions counts records per answering version (at most 100 versions).
	Rows         int64            `json:"rows"`
	ChampionRows int64            `json:"championRows"`
	Versions     map[string]int64 `json:"versions"`
	// CorruptLines are log lines that held no valid record: skipped,
	// counted, the first few named in CorruptExamples.
	CorruptLines    int64    `json:"corruptLines"`
	CorruptExamples []string `json:"corruptExamples,omitempty"`
	// UnknownColumnRows counts records holding columns the contract lacks
	// (ignored; UnknownColumns names up to 20 of them, with their records).
	// In most records, they are a contract that no longer matches: an error.
	UnknownColumnRows int64            `json:"unknownColumnRows"`
	UnknownColumns    map[string]int64 `json:"unknownColumns,omitempty"`
	// EnoughData is false when the window has fewer than MinRows records:
	// the report then says so and gives no verdict.
	EnoughData bool                 `json:"enoughData"`
	MinRows    int64                `json:"minRows"`
	Thresholds driftstat.Thresholds `json:"thresholds"`
	Share      float64              `json:"share"`
	// Features has one entry per compared feature, in the contract's order;
	// Skipped names the features not compared, and why.
	Features []driftstat.Feature `json:"features"`
	Skipped  []Skipped           `json:"skipped,omitempty"`
	// Prediction compares the model's outputs with its test-set baseline.
	Prediction []driftstat.Feature `json:"prediction"`
	Verdict    driftstat.Verdict   `json:"verdict"`
	Quality    *Quality            `json:"quality,omitempty"`
	// Alerts are the reasons this report raised Drift Detected; empty: none.
	Alerts  []string `json:"alerts"`
	Retrain *Retrain `json:"retrain,omitempty"`
	// Shadow is how each candidate scored in the champion's shadow over the
	// window (the endpoint scores a version waiting for a decision beside
	// the champion and logs both answers): for the model card.
	Shadow []ShadowSummary `json:"shadow,omitempty"`
}

// Skipped is a feature the report does not compare.
type Skipped struct {
	Feature string `json:"feature"`
	Reason  string `json:"reason"`
}

// Retrain is what the report did about retraining.
type Retrain struct {
	Requested bool   `json:"requested"`
	RequestID string `json:"requestId,omitempty"`
	// Reason says why not, when not: disabled, cooldown since a date.
	Reason string `json:"reason,omitempty"`
}

// checkModel refuses a name that would leave drift/<model>/.
func checkModel(model string) error {
	if !naming.Valid(model) {
		return fmt.Errorf("drift: model %q: not a model name (%s)", model, naming.Rule)
	}
	return nil
}

// Reports reads every report of model in the monitoring bucket, oldest window
// first: the reader for the site and the CLI, so that no one else spells the
// report keys. A report that does not parse is an error naming its key.
func Reports(ctx context.Context, st interface {
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
}, bucket, model string) ([]*Report, error) {
	var keys []string
	prefix := Prefix(model)
	if err := st.List(ctx, bucket, prefix, func(o store.ObjectInfo) error {
		name := strings.TrimPrefix(o.Key, prefix)
		if w, ok := strings.CutSuffix(name, ".json"); ok && !strings.Contains(w, "/") && validWindowName(w) {
			keys = append(keys, o.Key)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list drift reports of %s: %w", model, err)
	}
	out := make([]*Report, 0, len(keys))
	for _, k := range keys {
		b, _, err := st.ReadAll(ctx, bucket, k)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", k, err)
		}
		rep, err := ParseReport(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out = append(out, rep)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Window.To != out[j].Window.To {
			return out[i].Window.To < out[j].Window.To
		}
		return out[i].Window.From > out[j].Window.From
	})
	return out, nil
}

// validWindowName: "YYYY-MM-DD" or "YYYY-MM-DD_YYYY-MM-DD", as Window.String writes.
func validWindowName(s string) bool {
	from, to, several := strings.Cut(s, "_")
	if _, err := ParseDay(from); err != nil {
		return false
	}
	if several {
		if _, err := ParseDay(to); err != nil {
			return false
		}
	}
	return true
}
