// Package reportgentest builds sites for reportgen's tests and benchmark:
// deterministic records shaped like the platform's, with hostile text in
// every field a person writes.
package reportgentest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/quality"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
)

// Hostile is text that would run script or inject markup if a page did not
// escape it. The fixture puts it in card.md, datasheet.md, reasons,
// principals, category values and descriptions.
const Hostile = `<script>alert("x")</script><img src=x onerror=alert(1)>"'&</textarea>`

// Epoch is the fixture's first record's time.
var Epoch = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

// Fixture is the site the golden tests render: two models (credit: three
// versions, a champion, one waiting for approval, drift history; churn: one
// version, rejected, no champion) and one dataset with two versions.
func Fixture() *reportgen.Site {
	s := Generate(1, 3, 1)
	s.Models[0].Name = "credit"
	s.Models[0].Spec.Dataset = "credit"
	s.Datasets[0].Name = "credit"
	churn := Generate(1, 1, 2)
	churn.Models[0].Name = "churn"
	churn.Models[0].Spec.Dataset = "credit"
	rejectOnly(churn.Models[0])
	// churn trained on credit's first version.
	dv := s.Datasets[0].Versions[0].Manifest
	for _, v := range churn.Models[0].Versions {
		v.DatasetVersion, v.ContractHash = dv.VersionID, dv.ContractHash
		v.Bundle.Lineage.DatasetVersion, v.Bundle.Lineage.ContractHash = dv.VersionID, dv.ContractHash
	}
	for _, r := range churn.Models[0].Runs {
		r.DatasetVersion, r.ContractHash = dv.VersionID, dv.ContractHash
	}
	for i := range churn.Models[0].Trail {
		if churn.Models[0].Trail[i].Hashes.DatasetVersion != "" {
			churn.Models[0].Trail[i].Hashes.DatasetVersion = dv.VersionID
		}
	}
	s.Models = append(s.Models, churn.Models[0])
	rename(s)
	return s
}

// rejectOnly makes m's one version rejected by its policy: registered,
// checked (fail), rejected; no champion, no drift.
func rejectOnly(m *reportgen.Model) {
	m.Champion, m.Drift = nil, nil
	trail := m.Trail[:2]
	chk := &trail[1]
	chk.Verdict, chk.Reason = registry.VerdictFail, "policy: fail"
	rej := trail[1]
	rej.Seq, rej.Kind, rej.Key = 3, registry.KindRejected, registry.AuditKey(m.Name, 3, registry.KindRejected)
	rej.Principal, rej.Reason, rej.Verdict, rej.ChecksKey = "arn:aws:iam::123456789012:role/mlops-gate", "min auc: 0.61 < 0.7", "", ""
	rej.Time = chk.Time.Add(time.Minute)
	rej.Prev = &registry.Link{Key: chk.Key, SHA256: chk.SHA256}
	m.Trail = append(trail, rej)
	v := m.Versions[0]
	v.State, v.Decision = registry.StateRejected, &m.Trail[2]
	v.Version.Decision = rej.Key
	for h, ref := range v.Version.Checks {
		ref.Verdict = registry.VerdictFail
		v.Version.Checks[h] = ref
	}
	for _, c := range v.Checks {
		c.Verdict = registry.VerdictFail
		c.Checks = []byte(`{"passed":false,"checks":[{"name":"min auc","value":0.61,"threshold":0.7,"verdict":"Fail","why":"below the policy's minimum"}]}`)
	}
	m.Verify.Records = len(m.Trail)
}

// rename points every record at its model's and dataset's (possibly changed) name.
func rename(s *reportgen.Site) {
	for _, m := range s.Models {
		if m.Spec != nil {
			m.Spec.Name = m.Name
		}
		if m.Champion != nil {
			m.Champion.Model = m.Name
		}
		for _, v := range m.Versions {
			v.Model = m.Name
		}
		for i := range m.Trail {
			m.Trail[i].Model = m.Name
		}
		for _, r := range m.Drift {
			r.Model = m.Name
		}
		for _, r := range m.Runs {
			r.Model = m.Name
			if m.Spec != nil {
				r.Dataset = m.Spec.Dataset
			}
		}
		for _, v := range m.Versions {
			if v.Bundle != nil && m.Spec != nil {
				v.Bundle.Lineage.Model, v.Bundle.Lineage.Dataset = m.Name, m.Spec.Dataset
				v.Bundle.Manifest.Model = m.Name
			}
		}
	}
	for _, d := range s.Datasets {
		for _, v := range d.Versions {
			v.Manifest.Dataset = d.Name
			v.Contract.Dataset = d.Name
		}
		if d.Datasheet != nil {
			d.Datasheet.Dataset = d.Name
		}
	}
}

// Generate builds a site of models models with versions versions each, every
// model trained on its own dataset (one version per model version), with
// runs, an audit trail, check results and 14 days of drift reports. The
// same arguments give the same site.
func Generate(models, versions int, seed uint64) *reportgen.Site {
	rng := rand.New(rand.NewPCG(seed, 7))
	s := &reportgen.Site{}
	for i := range models {
		name := fmt.Sprintf("model-%03d", i)
		ds := fmt.Sprintf("data-%03d", i)
		d := dataset(rng, ds, versions)
		s.Datasets = append(s.Datasets, d)
		s.Models = append(s.Models, model(rng, name, d, versions))
	}
	return s
}

var features = []struct {
	name string
	typ  contract.Type
	cats []string
	pii  bool
}{
	{"Age", contract.Integer, nil, false},
	{"Income", contract.Number, nil, false},
	{"Purpose", contract.Category, []string{"car", "education", "furniture", Hostile}, false},
	{"Sex", contract.Category, []string{"female", "male"}, false},
	{"Email", contract.String, nil, true},
}

func hash(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
}

func ptr(f float64) *float64 { return &f }

func dataset(rng *rand.Rand, name string, versions int) *reportgen.Dataset {
	c := &contract.Contract{Dataset: name, Description: "Applicants and whether they repaid. " + Hostile, Mode: contract.Replace,
		Target: "Risk", Features: []string{"Age", "Income", "Purpose", "Sex"}, Sensitive: []string{"Sex", "Age"}}
	for _, f := range features {
		col := contract.Column{Name: f.name, Type: f.typ, PII: f.pii, Required: f.name == "Age", Allowed: f.cats}
		if f.typ == contract.Integer {
			col.Min, col.Max = ptr(18), ptr(100)
		}
		c.Columns = append(c.Columns, col)
	}
	c.Columns = append(c.Columns, contract.Column{Name: "Risk", Type: contract.Category, Allowed: []string{"good", "bad"}, Required: true})
	chash := hash(rng)
	d := &reportgen.Dataset{Name: name, DatasheetHash: hash(rng),
		Datasheet: &ingest.Datasheet{Dataset: name, Markdown: "# Motivation\n\nWhy the data was collected. " + Hostile +
			"\n\n## Composition\n\n| column | meaning |\n|---|---|\n| Age | years |\n\n[source](https://example.org/credit) [local](notes.md)\n"}}
	for v := range versions {
		rows := int64(800 + 100*v)
		at := Epoch.Add(time.Duration(v) * 48 * time.Hour)
		id := fmt.Sprintf("%024x", rng.Uint64())[:24]
		m := &ingest.Manifest{SchemaVersion: "1", Dataset: name, VersionID: id, Mode: "replace", ContractHash: chash,
			Partitions: []ingest.Partition{{}}, Rows: rows, Bytes: rows * 60, CreatedAt: at}
		p := &profile.Dataset{Rows: rows}
		for _, f := range features {
			col := profile.Column{Name: f.name, Type: f.typ, PII: f.pii, Count: rows, Nulls: int64(rng.IntN(20)), Distinct: float64(10 + rng.IntN(50))}
			switch f.typ {
			case contract.Integer, contract.Number:
				lo, hi := 18.0, 75.0
				if f.name == "Income" {
					lo, hi = 250, 18000
				}
				col.Min, col.Max, col.Mean, col.Std = ptr(lo), ptr(hi), ptr((lo+hi)/2+rng.Float64()), ptr((hi-lo)/5)
				h := &profile.Histogram{}
				for k := range 9 {
					h.Edges = append(h.Edges, lo+(hi-lo)*float64(k+1)/10)
				}
				for k := range 10 {
					h.Counts = append(h.Counts, int64(20+rng.IntN(100)+k))
				}
				col.Histogram = h
				col.Quantiles = map[string]float64{"0.25": lo + (hi-lo)/4, "0.5": (lo + hi) / 2, "0.75": lo + 3*(hi-lo)/4}
			default:
				if !f.pii {
					for _, cat := range f.cats {
						col.Top = append(col.Top, profile.ValueCount{Value: cat, Count: int64(50 + rng.IntN(300))})
					}
				}
			}
			p.Columns = append(p.Columns, col)
		}
		d.Versions = append(d.Versions, &reportgen.DatasetVersion{Manifest: m, Contract: c, Profile: p})
	}
	return d
}

func model(rng *rand.Rand, name string, d *reportgen.Dataset, versions int) *reportgen.Model {
	sp := &spec.Spec{Name: name, Description: "Scores credit applicants. " + Hostile, Dataset: d.Name,
		Objective: "binary:logistic", Params: map[string]any{"max_depth": 4, "eta": 0.1}, NumBoostRound: 200, Threshold: 0.5,
		Card: "# Intended use\n\nPre-screening of consumer credit applications, with a person deciding.\n\n" +
			"# Out of scope\n\nAutomated refusals. " + Hostile + "\n\n# Caveats\n\nTrained on 1990s data.\n"}
	m := &reportgen.Model{Name: name, Spec: sp, SpecHash: hash(rng), PolicyHash: hash(rng),
		Policy: &policy.Policy{Model: name}, Verify: &registry.VerifyReport{Model: name, OK: true, Anchored: true, Anchor: "KMS HMAC key alias/mlops-audit"}}
	seq := 0
	var prev string
	add := func(kind registry.Kind, version int, principal, reason string, at time.Time) *registry.Entry {
		seq++
		e := registry.Entry{Key: registry.AuditKey(name, seq, kind), SHA256: hash(rng), AuditRecord: registry.AuditRecord{
			SchemaVersion: "1", Seq: seq, Kind: kind, Model: name, Version: version, Principal: principal, Time: at, Reason: reason,
			Hashes: registry.Hashes{PolicyHash: m.PolicyHash, SpecHash: m.SpecHash}}}
		if prev != "" {
			e.Prev = &registry.Link{Key: prev}
		}
		prev = e.Key
		m.Trail = append(m.Trail, e)
		return &m.Trail[len(m.Trail)-1]
	}
	champion := 0
	for v := 1; v <= versions; v++ {
		dv := d.Versions[v-1].Manifest
		at := dv.CreatedAt.Add(2 * time.Hour)
		runID := fmt.Sprintf("%s-%s-1", name, hash(rng)[:16])
		auc := 0.72 + 0.03*float64(v) + 0.01*rng.Float64()
		run := &training.Run{SchemaVersion: "1", RunID: runID, Attempt: 1, Model: name, Dataset: d.Name, DatasetVersion: dv.VersionID,
			ContractHash: dv.ContractHash, SpecHash: m.SpecHash, Trainer: "sha256:" + hash(rng), Rows: dv.Rows,
			Cause: training.Cause{Kind: training.CauseDatasetVersioned}, State: "succeeded",
			CreatedAt: at.Add(-time.Hour), UpdatedAt: at, FinishedAt: at,
			Bundle: &training.Bundle{Prefix: training.BundlePrefix(runID), SHA256: hash(rng), Headline: "auc", HeadlineValue: auc,
				HeadlineLower: auc - 0.04, HeadlineUpper: auc + 0.04}}
		m.Runs = append([]*training.Run{run}, m.Runs...)
		b := &bundle.Bundle{SHA256: run.Bundle.SHA256,
			Manifest: bundle.Manifest{Format: bundle.Format, RunID: runID, Model: name, Objective: "binary:logistic", CreatedAt: at},
			Metrics: bundle.Metrics{Objective: "binary:logistic", Threshold: 0.5, NumTrees: 120 + v, BestIteration: 119 + v,
				Headline:        bundle.Headline{Name: "auc", Value: auc, Lower: auc - 0.04, Upper: auc + 0.04, Level: 0.95, Replicates: 1000},
				Test:            map[string]float64{"auc": auc, "accuracy": 0.74, "f1": 0.81, "log_loss": 0.52, "brier": 0.17, "precision": 0.78, "recall": 0.85},
				Validation:      map[string]float64{"auc": auc + 0.01, "accuracy": 0.75},
				Train:           map[string]float64{"auc": auc + 0.08, "accuracy": 0.83},
				Rows:            bundle.SplitRows{Train: dv.Rows * 7 / 10, Validation: dv.Rows / 10, Test: dv.Rows / 5},
				ConfusionMatrix: [][]int64{{40, 20}, {15, 85}}},
			Lineage: bundle.Lineage{RunID: runID, Model: name, Dataset: d.Name, DatasetVersion: dv.VersionID, ContractHash: dv.ContractHash,
				SpecHash: m.SpecHash, Trainer: run.Trainer, Params: map[string]any{"max_depth": 4, "eta": 0.1}, NumBoostRound: 200, Seed: 42,
				Libraries: map[string]string{"python": "3.11.2", "xgboost": "1.7.4"}, Device: "cpu", TreeMethod: "hist",
				StartedAt: at.Add(-time.Hour), FinishedAt: at, Durations: map[string]float64{"train": 3.2, "evaluate": 0.4}},
		}
		for k := range 10 {
			lo := float64(k) / 10
			mean := lo + 0.05 + 0.02*(rng.Float64()-0.5)
			b.Metrics.Calibration = append(b.Metrics.Calibration, bundle.CalibrationBin{Lower: lo, Upper: lo + 0.1, Count: int64(10 + rng.IntN(30)),
				MeanPredicted: mean, FractionPositive: math.Min(1, math.Max(0, mean+0.08*(rng.Float64()-0.5)))})
		}
		for _, f := range []string{"Income", "Age", "Purpose", "Sex"} {
			b.Importance.Features = append(b.Importance.Features, bundle.Importance1{Name: f, Gain: 100 * rng.Float64()})
		}
		b.Importance.Type = "total_gain"
		b.Slices.Attributes = []bundle.Attribute{
			{Name: "Sex", Kind: "categorical", Slices: []bundle.Slice{
				{Value: "female", Rows: 60, Metrics: map[string]float64{"auc": auc - 0.02, "positive_rate": 0.61, "tpr": 0.82}},
				{Value: "male", Rows: 100, Metrics: map[string]float64{"auc": auc + 0.01, "positive_rate": 0.7, "tpr": 0.86}}},
				DemographicParityDifference: ptr(0.09), EqualOpportunityDifference: ptr(0.04), DisparateImpactRatio: ptr(0.87)},
			{Name: "Age", Kind: "numeric", Slices: []bundle.Slice{
				{Value: "[18, 30)", Rows: 50, Metrics: map[string]float64{"auc": auc - 0.05, "positive_rate": 0.55, "tpr": 0.8}},
				{Value: "[30, 100)", Rows: 110, Metrics: map[string]float64{"positive_rate": 0.72, "tpr": 0.87}}},
				DemographicParityDifference: ptr(0.17), EqualOpportunityDifference: ptr(0.07), DisparateImpactRatio: ptr(0.76)},
		}
		out := bundle.OutputDistribution{Name: "p(bad)", Mean: 0.31, Count: 160}
		for k := 0; k <= 20; k++ {
			out.Edges = append(out.Edges, float64(k)/20)
		}
		for range 20 {
			out.Counts = append(out.Counts, int64(2+rng.IntN(15)))
		}
		b.Baseline.Outputs = []bundle.OutputDistribution{out}

		state := registry.StateArchived
		switch {
		case v == versions && versions > 1:
			state = registry.StatePendingApproval
		case v == versions-1 || versions == 1:
			state = registry.StateChampion
		}
		reg := add(registry.KindRegistered, v, "arn:aws:iam::123456789012:role/mlops-gate", "", at)
		reg.RunID, reg.Hashes.BundleSHA256, reg.Hashes.DatasetVersion = runID, b.SHA256, dv.VersionID
		checksKey := registry.ChecksKey(name, v, m.PolicyHash)
		chk := add(registry.KindChecked, v, "arn:aws:iam::123456789012:role/mlops-gate", "policy: pass", at.Add(time.Minute))
		chk.Verdict, chk.ChecksKey = registry.VerdictPass, checksKey
		ver := &reportgen.Version{Version: &registry.Version{SchemaVersion: "1", Model: name, Version: v, RunID: runID,
			BundleSHA256: b.SHA256, BundlePrefix: training.BundlePrefix(runID), DatasetVersion: dv.VersionID, ContractHash: dv.ContractHash,
			SpecHash: m.SpecHash, Metrics: map[string]float64{"auc": auc}, RegisteredBy: reg.Principal, RegisteredAt: at, State: state,
			Checks: map[string]registry.CheckRef{m.PolicyHash: {Verdict: registry.VerdictPass, Key: checksKey, Audit: chk.Key, Seq: chk.Seq}}},
			Bundle: b, Spec: sp,
			Checks: map[string]*registry.ChecksRecord{m.PolicyHash: {Model: name, Version: v, PolicyHash: m.PolicyHash, Verdict: registry.VerdictPass,
				Principal: chk.Principal, At: chk.Time,
				Checks: []byte(`{"policyHash":"` + m.PolicyHash + `","passed":true,"needsApproval":true,"checks":[` +
					`{"name":"min auc","value":` + fmt.Sprint(auc) + `,"threshold":0.7,"verdict":"Pass"},` +
					`{"name":"fairness Sex disparateImpactRatio","value":0.87,"threshold":0.8,"verdict":"Pass"},` +
					`{"name":"fairness Age demographicParityDifference","value":0.17,"threshold":0.2,"verdict":"Pass","why":"` + "\\u003c/script\\u003e" + `"}]}`)}}}
		if state != registry.StatePendingApproval {
			pend := add(registry.KindPending, v, "arn:aws:iam::123456789012:role/mlops-gate", "the policy asks for a person", at.Add(2*time.Minute))
			_ = pend
			appr := add(registry.KindApproved, v, "arn:aws:sts::123456789012:assumed-role/risk-officer/jane "+Hostile,
				"Reviewed the card and the slices. "+Hostile, at.Add(3*time.Hour))
			appr.Approver = appr.Principal
			appr.Hashes.BundleSHA256, appr.Hashes.DatasetVersion = b.SHA256, dv.VersionID
			appr.Hashes.ContractHash, appr.Hashes.ChecksSHA256 = dv.ContractHash, hash(rng)
			ver.Decision = appr
			ver.Version.Decision = appr.Key
			prom := add(registry.KindPromoted, v, appr.Principal, "promoted after approval", at.Add(3*time.Hour+time.Minute))
			prom.Approval, prom.Previous = appr.Key, champion
			champion = v
		} else {
			add(registry.KindPending, v, "arn:aws:iam::123456789012:role/mlops-gate", "the policy asks for a person", at.Add(2*time.Minute))
		}
		m.Versions = append(m.Versions, ver)
	}
	// The trail's pointers: decisions point into the final slice.
	for _, v := range m.Versions {
		for i := range m.Trail {
			if m.Trail[i].Key == v.Version.Decision {
				v.Decision = &m.Trail[i]
			}
		}
	}
	if champion > 0 {
		last := m.Trail[len(m.Trail)-1]
		for i := len(m.Trail) - 1; i >= 0; i-- {
			if m.Trail[i].Kind == registry.KindPromoted {
				last = m.Trail[i]
				break
			}
		}
		m.Champion = &registry.Champion{Model: name, Version: champion, BundleSHA256: m.Versions[champion-1].BundleSHA256,
			Decision: last.Key, Seq: last.Seq, At: last.Time}
	}
	m.Verify.Records = len(m.Trail)
	if champion > 0 {
		cv := m.Versions[champion-1]
		start := cv.RegisteredAt.Add(24 * time.Hour)
		for day := range 14 {
			r := driftReport(rng, m, cv, start.Add(time.Duration(day)*24*time.Hour), day >= 10)
			// Labels arrived for the last week's predictions.
			if day >= 7 {
				auc, acc := 0.8-0.02*float64(max(0, day-9)), 0.76-0.015*float64(max(0, day-9))
				r.Quality = &drift.Quality{Labels: 300, Binary: &quality.Binary{N: 300, Positives: 90, Threshold: 0.5, Level: 0.95,
					AUC: &quality.Estimate{Value: auc, Lower: ptr(auc - 0.05), Upper: ptr(auc + 0.05)}, Accuracy: &quality.Estimate{Value: acc}},
					Estimated: &quality.CBPE{N: int(r.ChampionRows), Threshold: 0.5, AUC: ptr(auc + 0.01), Accuracy: ptr(acc + 0.02)}}
			}
			// A version waiting for approval is scored in the champion's shadow.
			if last := m.Versions[len(m.Versions)-1]; last.State == registry.StatePendingApproval && day >= 12 {
				agree, diff := 0.9+0.05*rng.Float64(), 0.03+0.02*rng.Float64()
				r.Shadow = []drift.ShadowSummary{{Version: last.Version.Version, BundleSHA256: last.BundleSHA256, Records: r.ChampionRows,
					Errors: int64(rng.IntN(3)), Agreement: ptr(agree), Output: "p_bad", MeanAbsDiff: ptr(diff), MaxAbsDiff: ptr(4 * diff),
					ChampionMean: ptr(0.31), ShadowMean: ptr(0.31 + diff/2)}}
			}
			m.Drift = append(m.Drift, r)
		}
	}
	return m
}

func driftReport(rng *rand.Rand, m *reportgen.Model, v *reportgen.Version, day time.Time, shifted bool) *drift.Report {
	r := &drift.Report{Schema: drift.ReportSchema, Model: m.Name, Version: v.Version.Version, BundleSHA256: v.BundleSHA256,
		Dataset: m.Spec.Dataset, DatasetVersion: v.DatasetVersion, ContractHash: v.ContractHash, PolicyHash: m.PolicyHash,
		Rows: 1000 + int64(rng.IntN(500)), EnoughData: true, MinRows: 100, Thresholds: driftstat.DefaultThresholds(), Share: 0.5}
	r.Window.From, r.Window.To = day.Format("2006-01-02"), day.Format("2006-01-02")
	r.ChampionRows = r.Rows
	r.Versions = map[string]int64{fmt.Sprint(v.Version.Version): r.Rows}
	var drifted []string
	for _, f := range []string{"Age", "Income", "Purpose", "Sex"} {
		w := 0.02 + 0.03*rng.Float64()
		p := 0.2 + 0.7*rng.Float64()
		d := shifted && (f == "Age" || f == "Income")
		if d {
			w, p = 0.4+0.2*rng.Float64(), 1e-9
			drifted = append(drifted, f)
		}
		feat := driftstat.Feature{Feature: f, Type: "number", Test: "ks", Wasserstein: ptr(w), PSI: ptr(w / 2), PValueCorrected: ptr(p),
			EffectSize: ptr(w), EffectSizeName: "wasserstein", Rows: r.Rows, RefRows: 160, Values: r.Rows, RefValues: 160, Drifted: d}
		if d {
			feat.Reason = "p < 0.05 and normed Wasserstein above 0.1"
		} else {
			feat.Reason = "no significant change"
		}
		r.Features = append(r.Features, feat)
	}
	psi := 0.01 + 0.03*rng.Float64()
	if shifted {
		psi = 0.35
	}
	r.Prediction = []driftstat.Feature{{Feature: "p(bad)", Type: "output", Test: "psi", PSI: ptr(psi), Rows: r.Rows, Drifted: shifted,
		Reason: fmt.Sprintf("PSI %.3f", psi)}}
	r.Verdict = driftstat.Verdict{Drifted: len(drifted) >= 2, DriftedFeatures: drifted, Share: float64(len(drifted)) / 4, ShareThreshold: 0.5,
		EnoughData: true, Reason: fmt.Sprintf("%d of 4 features drifted", len(drifted))}
	if r.Verdict.Drifted {
		r.Alerts = []string{"dataset drift: " + fmt.Sprint(drifted)}
	}
	r.Alerts = append([]string{}, r.Alerts...)
	return r
}
