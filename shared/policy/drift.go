package policy

import (
	"math"

	"github.com/openmlops/mlops/shared/yamldoc"
	"go.yaml.in/yaml/v3"
)

// Drift is the policy's drift section: the thresholds the nightly drift run
// applies to the model's live traffic, how much live quality may decay, and
// whether a drifted model is retrained. A nil field takes the default that
// shared/driftstat states (DefaultThresholds), so a policy names only what it
// changes.
type Drift struct {
	// PValue is the largest Benjamini–Hochberg-corrected p-value at which a
	// small window's test calls a feature drifted.
	PValue *float64 `json:"pValue,omitempty"`
	// PSI, Wasserstein (in baseline standard deviations) and JS (base 2) are
	// the effect sizes beyond which a feature drifted.
	PSI         *float64 `json:"psi,omitempty"`
	Wasserstein *float64 `json:"wasserstein,omitempty"`
	JS          *float64 `json:"js,omitempty"`
	// NullRateChange and OutOfRangeRate count as drift in their own right.
	NullRateChange *float64 `json:"nullRateChange,omitempty"`
	OutOfRangeRate *float64 `json:"outOfRangeRate,omitempty"`
	// MinRows is the least traffic a window needs for a verdict.
	MinRows *int64 `json:"minRows,omitempty"`
	// Share is the share of features that must drift for the dataset to.
	Share *float64 `json:"share,omitempty"`
	// MaxQualityDecay bounds, per test metric, how far the live figure may
	// fall below the training figure (absolute, in the metric's units; for a
	// lower-is-better metric, how far above) before it raises the alert.
	MaxQualityDecay map[string]float64 `json:"maxQualityDecay,omitempty"`
	// Retrain, when enabled, asks for a retraining when the verdict is drift,
	// at most once per CooldownDays.
	Retrain *DriftRetrain `json:"retrain,omitempty"`
}

// DriftRetrain is the retraining a drift verdict may ask for.
type DriftRetrain struct {
	Enabled bool `json:"enabled"`
	// CooldownDays is the least number of days between two retrain requests
	// the drift run makes for the model (default 7).
	CooldownDays int `json:"cooldownDays,omitempty"`
}

// DefaultCooldownDays is DriftRetrain.CooldownDays when unset.
const DefaultCooldownDays = 7

var (
	driftKeys   = []string{"pValue", "psi", "wasserstein", "js", "nullRateChange", "outOfRangeRate", "minRows", "share", "maxQualityDecay", "retrain"}
	retrainKeys = []string{"enabled", "cooldownDays"}
)

// drift reads the drift section.
func (p *parser) drift(e yamldoc.Entry) *Drift {
	d := &Drift{}
	f := p.fields(e.Val, "drift", driftKeys)
	num := func(key string) *float64 {
		if e, ok := f[key]; ok {
			if v, ok := p.Number(e.Val, "drift."+key); ok {
				return &v
			}
			z := 0.5 // reported; keep Validate quiet about it
			return &z
		}
		return nil
	}
	d.PValue, d.PSI, d.Wasserstein, d.JS = num("pValue"), num("psi"), num("wasserstein"), num("js")
	d.NullRateChange, d.OutOfRangeRate, d.Share = num("nullRateChange"), num("outOfRangeRate"), num("share")
	if e, ok := f["minRows"]; ok {
		v, ok := p.Integer(e.Val, "drift.minRows")
		if !ok {
			v = 1
		}
		d.MinRows = &v
	}
	if e, ok := f["maxQualityDecay"]; ok {
		d.MaxQualityDecay = map[string]float64{}
		for _, m := range p.entries(e.Val, "drift.maxQualityDecay", "metric names to the largest decay (auc: 0.05)") {
			v, ok := p.Number(m.Val, "drift.maxQualityDecay."+m.Key.Value)
			if !ok {
				v = 0
			}
			d.MaxQualityDecay[m.Key.Value] = v
		}
	}
	if e, ok := f["retrain"]; ok {
		r := &DriftRetrain{}
		rf := p.fields(e.Val, "drift.retrain", retrainKeys)
		yamldoc.Set(rf, "drift.retrain", "enabled", p.Bool, &r.Enabled)
		if e, ok := rf["cooldownDays"]; ok {
			if v, ok := p.Integer(e.Val, "drift.retrain.cooldownDays"); ok && v <= math.MaxInt32 {
				r.CooldownDays = int(v)
			} else if ok {
				p.At(e.Val, "drift.retrain.cooldownDays", "cooldownDays %d is out of range: expected at most %d", v, math.MaxInt32)
			}
		}
		d.Retrain = r
	}
	if e.Val.Kind != yaml.MappingNode {
		return &Drift{}
	}
	return d
}

// driftProblems checks the drift section; metric checks a metric name as the
// rest of the policy does.
func (d *Drift) problems(add func(field, format string, args ...any), metric func(field, name string) (Metric, bool)) {
	if d == nil {
		return
	}
	frac := func(key string, v *float64, lo float64, openLo bool, what string) {
		if v == nil {
			return
		}
		if !finite(*v) || *v < lo || (openLo && *v == lo) || *v > 1 {
			add("drift."+key, "%s %v is out of range: expected %s", key, *v, what)
		}
	}
	frac("pValue", d.PValue, 0, true, "a p-value above 0 and at most 1")
	frac("js", d.JS, 0, true, "a Jensen–Shannon distance above 0 and at most 1")
	frac("nullRateChange", d.NullRateChange, 0, true, "a change of the missing-value rate above 0 and at most 1")
	frac("outOfRangeRate", d.OutOfRangeRate, 0, true, "a rate above 0 and at most 1")
	frac("share", d.Share, 0, true, "a share of the features above 0 and at most 1")
	for _, b := range []struct {
		key string
		v   *float64
	}{{"psi", d.PSI}, {"wasserstein", d.Wasserstein}} {
		if b.v != nil && (!finite(*b.v) || *b.v <= 0) {
			add("drift."+b.key, "%s %v is out of range: expected a finite number above 0", b.key, *b.v)
		}
	}
	if d.MinRows != nil && *d.MinRows < 1 {
		add("drift.minRows", "minRows %d is out of range: expected at least 1", *d.MinRows)
	}
	for _, name := range sortedKeys(d.MaxQualityDecay) {
		f := "drift.maxQualityDecay." + name
		if _, ok := metric(f, name); !ok {
			continue
		}
		if v := d.MaxQualityDecay[name]; !finite(v) || v < 0 {
			add(f, "%s %v is out of range: expected a finite decay of at least 0, in %s's units", name, v, name)
		}
	}
	if r := d.Retrain; r != nil && (r.CooldownDays < 0 || r.CooldownDays > 366) {
		add("drift.retrain.cooldownDays", "cooldownDays %d is out of range: expected 1 to 366 (omit it for %d)", r.CooldownDays, DefaultCooldownDays)
	}
}

// Cooldown is the retraining cooldown in days (DefaultCooldownDays when unset).
func (r *DriftRetrain) Cooldown() int {
	if r == nil || r.CooldownDays == 0 {
		return DefaultCooldownDays
	}
	return r.CooldownDays
}

func (d *Drift) clone() *Drift {
	if d == nil {
		return nil
	}
	o := *d
	for _, v := range []**float64{&o.PValue, &o.PSI, &o.Wasserstein, &o.JS, &o.NullRateChange, &o.OutOfRangeRate, &o.Share} {
		*v = zeroPtr(*v)
	}
	if d.MinRows != nil {
		v := *d.MinRows
		o.MinRows = &v
	}
	o.MaxQualityDecay = cloneMap(d.MaxQualityDecay, zero)
	if d.Retrain != nil {
		r := *d.Retrain
		o.Retrain = &r
	}
	return &o
}
