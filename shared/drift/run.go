package drift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// ErrNoChampion: the model has no champion, so there is nothing to compare.
var ErrNoChampion = errors.New("no champion")

// ErrMismatch: the logs and the contract the champion was trained under name
// different columns.
var ErrMismatch = errors.New("the logs do not match the baseline's contract")

// Result is what Run did.
type Result struct {
	Report *Report
	Key    string // the report's key in the monitoring bucket
	// Changed is true when the report was written (new, or its bytes differ
	// from the stored one's).
	Changed bool
	// Announced is true when this run published Drift Detected.
	Announced bool
}

// maxCorruptExamples bounds the corrupt lines a report names.
const maxCorruptExamples = 5

// baseline is what a run compares against: the champion and what it was
// trained on.
type baseline struct {
	version  *registry.Version
	bundle   *bundle.Bundle
	dataset  string
	dsVer    string // the training dataset version
	contract *ingest.Contract
	profile  *profile.Dataset
	policy   *policy.Policy
	polHash  string
}

func (s *Service) baseline(ctx context.Context, model string) (*baseline, error) {
	ch, err := s.reg.Champion(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("drift %s: %w", model, err)
	}
	if ch == nil || ch.Version == 0 {
		return nil, fmt.Errorf("drift %s: %w: nothing to compare the traffic with", model, ErrNoChampion)
	}
	v, err := s.reg.Get(ctx, model, ch.Version)
	if err != nil {
		return nil, fmt.Errorf("drift %s: %w", model, err)
	}
	b, err := bundlestore.FetchVerified(ctx, s.st, s.cfg.PlatformBucket, v.BundlePrefix, v.BundleSHA256)
	if err != nil {
		return nil, fmt.Errorf("drift %s version %d: %w", model, v.Version, err)
	}
	bl := &baseline{version: v, bundle: b, dataset: b.Lineage.Dataset}
	dv := v.DatasetVersion
	if dv == "" {
		dv = b.Lineage.DatasetVersion
	}
	ch2 := v.ContractHash
	if ch2 == "" {
		ch2 = b.Lineage.ContractHash
	}
	m, err := s.datasets.Manifest(ctx, bl.dataset, dv)
	if err != nil {
		return nil, fmt.Errorf("drift %s version %d: training data %s@%s: %w", model, v.Version, bl.dataset, dv, err)
	}
	bl.dsVer = m.VersionID
	if bl.profile, err = s.datasets.Profile(ctx, m); err != nil {
		return nil, fmt.Errorf("drift %s version %d: %w", model, v.Version, err)
	}
	if bl.contract, err = s.datasets.ContractAt(ctx, bl.dataset, ch2); err != nil {
		return nil, fmt.Errorf("drift %s version %d: %w", model, v.Version, err)
	}
	pol, hash, err := policystore.Current(ctx, s.st, s.cfg.PlatformBucket, model)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("drift %s: policy: %w", model, err)
	default:
		bl.policy, bl.polHash = pol, hash
	}
	return bl, nil
}

// Settings are what decides a report, from the policy's drift section or the
// defaults.
type Settings struct {
	Thresholds driftstat.Thresholds
	Share      float64
	MaxDecay   map[string]float64
	Retrain    *policy.DriftRetrain
}

// SettingsOf reads a policy's drift section over the defaults (nil: all
// defaults, no retraining).
func SettingsOf(p *policy.Policy) Settings {
	s := Settings{Thresholds: driftstat.DefaultThresholds(), Share: driftstat.DefaultShare}
	if p == nil || p.Drift == nil {
		return s
	}
	d := p.Drift
	set := func(dst *float64, v *float64) {
		if v != nil {
			*dst = *v
		}
	}
	th := &s.Thresholds
	set(&th.PValue, d.PValue)
	set(&th.PSI, d.PSI)
	set(&th.Wasserstein, d.Wasserstein)
	set(&th.JS, d.JS)
	set(&th.NullRateChange, d.NullRateChange)
	set(&th.OutOfRangeRate, d.OutOfRangeRate)
	set(&s.Share, d.Share)
	if d.MinRows != nil {
		th.MinRows = *d.MinRows
	}
	s.MaxDecay = d.MaxQualityDecay
	s.Retrain = d.Retrain
	return s
}

// column is one compared feature during a run.
type column struct {
	name    string
	c       *contract.Column
	ref     *driftstat.Reference
	cur     *driftstat.Current
	missing int64 // records without the feature at all
}

// Run compares model's traffic in window w with its champion's baseline,
// writes the report (unless its bytes are already stored), announces drift
// and asks for retraining as the policy says.
func (s *Service) Run(ctx context.Context, model string, w Window) (*Result, error) {
	if err := checkModel(model); err != nil {
		return nil, err
	}
	if err := w.Check(); err != nil {
		return nil, fmt.Errorf("drift %s: %w", model, err)
	}
	bl, err := s.baseline(ctx, model)
	if err != nil {
		return nil, err
	}
	rep, err := s.compute(ctx, model, w, bl)
	if err != nil {
		return nil, err
	}
	return s.publish(ctx, rep, w, bl)
}

// compute reads the window and builds the report, without writing anything.
func (s *Service) compute(ctx context.Context, model string, w Window, bl *baseline) (*Report, error) {
	set := SettingsOf(bl.policy)
	rep := &Report{Schema: ReportSchema, Model: model, Version: bl.version.Version, BundleSHA256: bl.version.BundleSHA256,
		Dataset: bl.dataset, DatasetVersion: bl.dsVer, ContractHash: bl.contract.Hash, PolicyHash: bl.polHash,
		Versions: map[string]int64{}, MinRows: set.Thresholds.MinRows, Thresholds: set.Thresholds, Share: set.Share,
		Features: []driftstat.Feature{}, Prediction: []driftstat.Feature{}, Alerts: []string{}}
	rep.Window.From, rep.Window.To = day(w.From).Format(dayLayout), day(w.To).Format(dayLayout)

	cols, skipped, err := columns(bl)
	if err != nil {
		return nil, fmt.Errorf("drift %s: %w", model, err)
	}
	rep.Skipped = skipped
	known := map[string]bool{}
	for _, c := range bl.contract.Columns {
		known[c.Name] = true
	}
	outs := newOutputs(bl.bundle)
	var extra map[string]int64 // columns in the logs the contract lacks, by the records holding them
	var unknownRecs int64      // records holding a column the contract lacks
	var est *estimator
	if bl.bundle.Encoding.Target.Kind == bundle.LabelBinary {
		est = newEstimator()
	}
	probName := ""
	if outsCols := bl.bundle.Encoding.OutputColumns(); len(outsCols) > 0 {
		probName = outsCols[0]
	}

	// Decoding is most of a run's work: the objects are decoded on every
	// core, ahead of the statistics, which see the records in key order.
	opt := predlog.ReadOptions{Workers: min(runtime.GOMAXPROCS(0), 8), OnBad: func(e *predlog.DecodeError) error {
		rep.CorruptLines++
		if len(rep.CorruptExamples) < maxCorruptExamples {
			rep.CorruptExamples = append(rep.CorruptExamples, clipMsg(e.Error()))
		}
		return nil
	}}
	probKind := bl.bundle.Encoding.Target.Kind != bundle.LabelRegression
	shadowed := newShadows(bl.bundle, probName)
	err = predlog.Read(ctx, s.st, s.cfg.MonitoringBucket, model, w.From, w.To, opt, func(r predlog.Record) error {
		champion := r.Version == bl.version.Version
		if champion && probKind {
			// A valid record may still hold an output no model of this kind
			// gives: it is corrupt, as a line that does not parse is.
			if name, v, bad := badProbability(r.Outputs); bad {
				rep.CorruptLines++
				if len(rep.CorruptExamples) < maxCorruptExamples {
					rep.CorruptExamples = append(rep.CorruptExamples, clipMsg(fmt.Sprintf("request %s instance %d: outputs.%s %v is not a probability in [0, 1]",
						r.RequestID, r.Index, name, v)))
				}
				return nil
			}
		}
		rep.Rows++
		if v := strconv.Itoa(r.Version); rep.Versions[v] > 0 || len(rep.Versions) < maxVersions {
			rep.Versions[v]++
		}
		for _, c := range cols {
			v, ok := r.Features[c.name]
			if !ok {
				c.missing++
				c.cur.Null()
				continue
			}
			add(c, v)
		}
		for name := range r.Features {
			if !known[name] {
				if extra == nil {
					extra = map[string]int64{}
				}
				if extra[name] > 0 || len(extra) < maxUnknownColumns {
					extra[name]++
				}
				unknownRecs++
				break
			}
		}
		if champion {
			rep.ChampionRows++
			outs.add(r.Outputs)
			if r.Shadow != nil {
				shadowed.add(&r)
			}
			if est != nil {
				if v, ok := r.Outputs[probName].(float64); ok {
					est.add(v)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("drift %s %s: %w", model, w, err)
	}
	if err := mismatch(model, bl, cols, extra, rep.Rows); err != nil {
		return nil, err
	}
	rep.UnknownColumnRows = unknownRecs
	if len(extra) > 0 {
		rep.UnknownColumns = extra
	}

	for _, c := range cols {
		rep.Features = append(rep.Features, driftstat.Compare(c.ref, c.cur))
	}
	rep.Prediction = outs.compare()
	rep.Shadow = shadowed.summaries()
	var verdict driftstat.Verdict
	rep.Features, verdict = driftstat.Decide(rep.Features, set.Thresholds, set.Share)
	rep.Prediction, _ = driftstat.Decide(rep.Prediction, set.Thresholds, 1)
	rep.Verdict = verdict
	rep.EnoughData = verdict.EnoughData
	if !rep.EnoughData {
		rep.Verdict.Drifted = false
	}
	if err := s.addQuality(ctx, rep, bl, w, est, set); err != nil {
		return nil, fmt.Errorf("drift %s %s: %w", model, w, err)
	}
	rep.Alerts = alerts(rep)
	return rep, nil
}

// columns builds a reference per feature of the model, and names those not
// compared.
func columns(bl *baseline) ([]*column, []Skipped, error) {
	var cols []*column
	var skipped []Skipped
	for _, f := range bl.bundle.Encoding.Features {
		cc := bl.contract.Column(f.Name)
		if cc == nil {
			return nil, nil, fmt.Errorf("%w: feature %s of version %d is not in contract %s", ErrMismatch, f.Name, bl.version.Version, short(bl.contract.Hash))
		}
		pc := bl.profile.Column(f.Name)
		if pc == nil {
			return nil, nil, fmt.Errorf("%w: the profile of %s@%s has no column %s", ErrMismatch, bl.dataset, bl.dsVer, f.Name)
		}
		ref, err := driftstat.NewReference(*pc, *cc)
		switch {
		case errors.Is(err, driftstat.ErrPII):
			skipped = append(skipped, Skipped{Feature: f.Name, Reason: "personal data: the log holds no raw values of it"})
			continue
		case errors.Is(err, driftstat.ErrText):
			skipped = append(skipped, Skipped{Feature: f.Name, Reason: err.Error()})
			continue
		case err != nil:
			return nil, nil, fmt.Errorf("baseline of %s: %w", f.Name, err)
		}
		cols = append(cols, &column{name: f.Name, c: cc, ref: ref, cur: ref.NewCurrent()})
	}
	return cols, skipped, nil
}

// add counts one logged value: JSON numbers for numeric columns, strings for
// categories and timestamps, booleans (or their spellings) for booleans, null
// for a missing value. A value of the wrong kind counts as missing: the
// endpoint checked it against the same contract, so it cannot come from it.
func add(c *column, v any) {
	switch c.c.Type {
	case contract.Integer, contract.Number:
		switch x := v.(type) {
		case float64:
			c.cur.Number(x)
		case json.Number:
			if f, err := x.Float64(); err == nil {
				c.cur.Number(f)
				return
			}
			c.cur.Null()
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
				c.cur.Number(f)
				return
			}
			c.cur.Null()
		default:
			c.cur.Null()
		}
	case contract.Timestamp:
		s, ok := v.(string)
		if !ok {
			c.cur.Null()
			return
		}
		layout := c.c.Format
		if layout == "" {
			layout = time.RFC3339Nano
		}
		t, err := time.Parse(layout, s)
		if err != nil {
			c.cur.Null()
			return
		}
		c.cur.Number(float64(t.Unix()) + float64(t.Nanosecond())/1e9)
	case contract.Boolean:
		switch x := v.(type) {
		case bool:
			c.cur.Category(strconv.FormatBool(x))
		case string:
			switch strings.ToLower(x) {
			case "true", "1", "yes":
				c.cur.Category("true")
			case "false", "0", "no":
				c.cur.Category("false")
			default:
				c.cur.Null()
			}
		case float64:
			c.cur.Category(strconv.FormatBool(x != 0))
		default:
			c.cur.Null()
		}
	default:
		if s, ok := v.(string); ok {
			c.cur.Category(s)
			return
		}
		c.cur.Null()
	}
}

// mismatch is the error for logs whose columns are not the contract's: a
// feature no record holds, or a column the contract lacks.
func mismatch(model string, bl *baseline, cols []*column, extra map[string]int64, rows int64) error {
	if rows == 0 {
		return nil
	}
	var lack, have []string
	for _, c := range cols {
		if c.missing == rows {
			lack = append(lack, c.name)
		}
	}
	// A column in a few records is those records' problem (counted in the
	// report); one in most of them is a contract that no longer matches.
	for name, n := range extra {
		if 2*n > rows {
			have = append(have, name)
		}
	}
	if len(lack) == 0 && len(have) == 0 {
		return nil
	}
	sort.Strings(have)
	var parts []string
	if len(lack) > 0 {
		parts = append(parts, "no record holds "+strings.Join(lack, ", "))
	}
	if len(have) > 0 {
		parts = append(parts, "most records hold "+strings.Join(clipList(have, 20), ", ")+", which the contract lacks")
	}
	return fmt.Errorf("drift %s: %w %s (version %d, dataset %s@%s): %s", model, ErrMismatch, short(bl.contract.Hash),
		bl.version.Version, bl.dataset, bl.dsVer, strings.Join(parts, "; "))
}

// badProbability finds an output of a classifier that is not a probability.
func badProbability(out map[string]any) (string, any, bool) {
	for name, v := range out {
		if !strings.HasPrefix(name, bundle.OutputProbPrefix) {
			continue
		}
		f, ok := v.(float64)
		if !ok || !(f >= 0 && f <= 1) {
			return name, v, true
		}
	}
	return "", nil, false
}

// Bounds on what hostile logs can add to a report.
const (
	maxVersions       = 100
	maxUnknownColumns = 20
)

// alerts are the reasons to announce the report.
func alerts(rep *Report) []string {
	out := []string{}
	if rep.EnoughData && rep.Verdict.Drifted {
		out = append(out, fmt.Sprintf("data drift: %d of %d features drifted (%s)", len(rep.Verdict.DriftedFeatures),
			len(rep.Features), strings.Join(rep.Verdict.DriftedFeatures, ", ")))
	}
	if rep.EnoughData {
		for _, p := range rep.Prediction {
			if p.Drifted {
				out = append(out, fmt.Sprintf("prediction drift: %s (%s)", p.Feature, p.Reason))
			}
		}
	}
	if q := rep.Quality; q != nil && q.Decayed {
		out = append(out, "quality decay: "+strings.Join(q.Reasons, "; "))
	}
	return out
}

// publish writes the report (unless the same bytes are stored), then
// announces it and asks for retraining as the policy says.
func (s *Service) publish(ctx context.Context, rep *Report, w Window, bl *baseline) (*Result, error) {
	res := &Result{Report: rep, Key: ReportKey(rep.Model, w)}
	set := SettingsOf(bl.policy)
	if len(rep.Alerts) > 0 {
		rt, err := s.retrain(ctx, rep, w, set.Retrain)
		if err != nil {
			return nil, err
		}
		rep.Retrain = rt
	}
	body, err := encodeReport(rep)
	if err != nil {
		return nil, err
	}
	old, _, err := s.st.ReadAll(ctx, s.cfg.MonitoringBucket, res.Key)
	switch {
	case err == nil && bytes.Equal(old, body):
	case err == nil || errors.Is(err, store.ErrNotFound):
		if _, err := s.st.Put(ctx, s.cfg.MonitoringBucket, res.Key, body, store.PutOptions{ContentType: "application/json"}); err != nil {
			return nil, fmt.Errorf("drift %s: write %s: %w", rep.Model, res.Key, err)
		}
		res.Changed = true
	default:
		return nil, fmt.Errorf("drift %s: read %s: %w", rep.Model, res.Key, err)
	}
	if len(rep.Alerts) > 0 {
		announced, err := s.announce(ctx, rep, res.Key, body)
		if err != nil {
			return nil, err
		}
		res.Announced = announced
	}
	s.log.Info("drift report", "model", rep.Model, "window", w.String(), "rows", rep.Rows, "drifted", rep.Verdict.Drifted,
		"alerts", len(rep.Alerts), "changed", res.Changed, "key", res.Key)
	return res, nil
}

func encodeReport(rep *Report) ([]byte, error) {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("drift %s: encode the report: %w", rep.Model, err)
	}
	return append(b, '\n'), nil
}

// ParseReport reads a stored report, refusing another schema major version.
func ParseReport(b []byte) (*Report, error) {
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("drift report: %w", err)
	}
	if major(r.Schema) != major(ReportSchema) {
		return nil, fmt.Errorf("drift report: schema %q: this reader knows %s", clipMsg(r.Schema), ReportSchema)
	}
	return &r, nil
}

// major is a schema's name and major version: "mlops.drift/1" of
// "mlops.drift/1.2".
func major(schema string) string {
	name, version, _ := strings.Cut(schema, "/")
	version, _, _ = strings.Cut(version, ".")
	return name + "/" + version
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

func clipMsg(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func clipList(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(slices.Clone(s[:n]), fmt.Sprintf("and %d more", len(s)-n))
}
