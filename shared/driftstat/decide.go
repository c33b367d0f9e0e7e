package driftstat

import (
	"fmt"
	"math"
	"strings"

	"github.com/openmlops/mlops/shared/contract"
)

// Effect size names (Feature.EffectSizeName).
const (
	EffectWasserstein = "wasserstein/std" // numeric features: Wasserstein distance over the baseline's standard deviation
	EffectJS          = "js"              // categorical features: Jensen–Shannon distance, base 2
	EffectPSI         = "psi"             // model outputs: PSI on the bundle baseline's bins
)

// Tests (Feature.Test): the one that decided, or, where nothing drifted, the
// distribution test that was applied.
const (
	TestKS          = "ks"          // numeric, small sample: KS p-value (corrected)
	TestWasserstein = "wasserstein" // numeric, large sample: KS p-value and normed Wasserstein
	TestChi2        = "chi2"        // categorical, small sample: chi-square p-value (corrected)
	TestJS          = "js"          // categorical, large sample: chi-square p-value and JS distance
	TestPSI         = "psi"         // model output: PSI
	TestNullRate    = "nullRate"    // the share of missing values moved
	TestOutOfRange  = "outOfRange"  // values outside the contract's range, or never seen in training
)

// OutputType is Feature.Type for a model output (prediction drift).
const OutputType = "output"

// Feature is one feature's comparison: every statistic that applies to its
// type, whichever decided (null where one does not apply), and the decision.
type Feature struct {
	Feature string `json:"feature"`
	Type    string `json:"type"` // the contract type, or "output" for a model output
	Test    string `json:"test"` // see the Test constants; "" when the window is too small to decide

	KS          *KSResult  `json:"ks"`          // numeric features and outputs
	Chi2        *ChiResult `json:"chi2"`        // categorical features
	PSI         *float64   `json:"psi"`         // on the baseline's bins
	Wasserstein *float64   `json:"wasserstein"` // normed by the baseline's standard deviation
	JS          *float64   `json:"js"`          // Jensen–Shannon distance, base 2, on the baseline's bins

	// PValueCorrected is the KS (numeric) or chi-square (categorical)
	// p-value after Benjamini–Hochberg across the features Decide was given.
	PValueCorrected *float64 `json:"pValueCorrected"`
	EffectSize      *float64 `json:"effectSize"`
	EffectSizeName  string   `json:"effectSizeName"` // see the Effect constants

	NullRateChange float64 `json:"nullRateChange"` // window's null rate minus the baseline's
	NullRate       float64 `json:"nullRate"`
	RefNullRate    float64 `json:"refNullRate"`
	OutOfRangeRate float64 `json:"outOfRangeRate"` // of the window's present values
	Unseen         int64   `json:"unseen"`         // categorical: values never seen in training (or not allowed)
	RefRows        int64   `json:"refRows"`
	Rows           int64   `json:"rows"`
	RefValues      int64   `json:"refValues"` // present values in the baseline
	Values         int64   `json:"values"`    // present, finite values in the window

	Drifted bool   `json:"drifted"`
	Reason  string `json:"reason"` // in plain words, why drifted is what it is
}

// Thresholds set when a feature counts as drifted. A zero field takes its
// default (DefaultThresholds).
type Thresholds struct {
	PValue         float64 `json:"pValue"`         // corrected p-value below which a test rejects
	PSI            float64 `json:"psi"`            // model outputs: PSI above which they drifted
	Wasserstein    float64 `json:"wasserstein"`    // normed Wasserstein a large numeric sample must exceed
	JS             float64 `json:"js"`             // JS distance a large categorical sample must exceed
	NullRateChange float64 `json:"nullRateChange"` // absolute change of the null rate that is drift by itself
	OutOfRangeRate float64 `json:"outOfRangeRate"` // share out of range (or unseen) that is drift by itself
	MinRows        int64   `json:"minRows"`        // rows a window needs before it gets a verdict
	// LargeSample is the sample size past which a p-value alone does not
	// decide: when both the baseline and the window have more present values,
	// the effect size must also exceed its threshold.
	LargeSample int64 `json:"largeSample"`
}

// DefaultShare is the share of drifted features at which the dataset
// counts as drifted.
const DefaultShare = 0.5

// DefaultThresholds are the thresholds where a policy sets none: p 0.05
// (after Benjamini–Hochberg), PSI 0.2 (the usual "significant shift"),
// normed Wasserstein 0.1 and JS 0.1 (Evidently's defaults for large
// samples), null-rate change 0.05, out-of-range rate 0.01, 100 rows, large
// samples past 1,000 values.
func DefaultThresholds() Thresholds {
	return Thresholds{PValue: 0.05, PSI: 0.2, Wasserstein: 0.1, JS: 0.1, NullRateChange: 0.05,
		OutOfRangeRate: 0.01, MinRows: 100, LargeSample: 1000}
}

func (t Thresholds) withDefaults() Thresholds {
	d := DefaultThresholds()
	pick := func(v, def float64) float64 {
		if v > 0 && !math.IsInf(v, 0) {
			return v
		}
		return def
	}
	t.PValue = pick(t.PValue, d.PValue)
	t.PSI = pick(t.PSI, d.PSI)
	t.Wasserstein = pick(t.Wasserstein, d.Wasserstein)
	t.JS = pick(t.JS, d.JS)
	t.NullRateChange = pick(t.NullRateChange, d.NullRateChange)
	t.OutOfRangeRate = pick(t.OutOfRangeRate, d.OutOfRangeRate)
	if t.MinRows <= 0 {
		t.MinRows = d.MinRows
	}
	if t.LargeSample <= 0 {
		t.LargeSample = d.LargeSample
	}
	return t
}

// Verdict is the dataset-level decision.
type Verdict struct {
	Drifted         bool     `json:"drifted"`
	DriftedFeatures []string `json:"driftedFeatures"`
	Share           float64  `json:"share"`          // drifted features / features
	ShareThreshold  float64  `json:"shareThreshold"` // the share at which the dataset drifted
	Reason          string   `json:"reason"`
	EnoughData      bool     `json:"enoughData"` // false: too few rows for a verdict; Drifted is false
}

func pvalueOf(f *Feature) (float64, bool) {
	switch {
	case f.Type == OutputType:
		return 0, false // outputs are decided by PSI, outside the family of tests
	case f.KS != nil:
		return f.KS.PValue, true
	case f.Chi2 != nil:
		return f.Chi2.PValue, true
	}
	return 0, false
}

// Decide applies the thresholds (zero fields take their defaults) to
// Compare's features and returns them decided, with the dataset verdict.
//
// The p-values (KS for numeric features, chi-square for categorical ones)
// are corrected together by Benjamini–Hochberg. Then each feature, if its
// window has at least MinRows rows:
//   - numeric: drifted when the corrected KS p-value < PValue, and, where both
//     sides have more than LargeSample values, the normed Wasserstein distance
//     also exceeds Wasserstein (test "wasserstein"; else "ks");
//   - categorical: likewise with the chi-square p-value and, at large
//     samples, the JS distance above JS (test "js"; else "chi2");
//   - model outputs (CompareOutput): drifted when PSI exceeds PSI (test
//     "psi"): the KS against a histogram is an approximation, reported only;
//   - every feature: drifted too when the null rate moved by more than
//     NullRateChange (test "nullRate") or more than OutOfRangeRate of its
//     present values are out of range or unseen (test "outOfRange").
//
// Test names the first of distribution, null rate, out of range that fired,
// or the distribution test applied when none did. The dataset drifted when
// every feature had enough rows and the share of drifted features is at
// least share (DefaultShare where share is not in (0, 1]). Every feature
// passed counts in the share: leave the model outputs out to keep prediction
// drift apart.
func Decide(features []Feature, th Thresholds, share float64) ([]Feature, Verdict) {
	th = th.withDefaults()
	if !(share > 0 && share <= 1) {
		share = DefaultShare
	}
	out := make([]Feature, len(features))
	copy(out, features)
	ps := make([]float64, len(out))
	for i := range out {
		ps[i] = math.NaN()
		if p, ok := pvalueOf(&out[i]); ok && out[i].Rows >= th.MinRows {
			ps[i] = p
		}
	}
	adj := BenjaminiHochberg(ps)
	v := Verdict{ShareThreshold: share, EnoughData: len(out) > 0, DriftedFeatures: []string{}}
	minRows := int64(math.MaxInt64)
	for i := range out {
		f := &out[i]
		f.PValueCorrected = finite(adj[i])
		decideFeature(f, th)
		minRows = min(minRows, f.Rows)
		if f.Rows < th.MinRows {
			v.EnoughData = false
		}
		if f.Drifted {
			v.DriftedFeatures = append(v.DriftedFeatures, f.Feature)
		}
	}
	switch {
	case len(out) == 0:
		v.Reason = "no features to compare"
	case !v.EnoughData:
		v.Reason = fmt.Sprintf("not enough data: %d rows in the window, a verdict needs at least %d", minRows, th.MinRows)
	default:
		v.Share = float64(len(v.DriftedFeatures)) / float64(len(out))
		v.Drifted = v.Share >= share
		verb := "below"
		if v.Drifted {
			verb = "at or above"
		}
		v.Reason = fmt.Sprintf("%d of %d features drifted (%.0f%%), %s the threshold of %.0f%%",
			len(v.DriftedFeatures), len(out), 100*v.Share, verb, 100*share)
	}
	return out, v
}

func decideFeature(f *Feature, th Thresholds) {
	f.Drifted = false
	if f.Rows < th.MinRows {
		f.Test = ""
		f.Reason = fmt.Sprintf("too few rows to decide: %d, at least %d needed", f.Rows, th.MinRows)
		return
	}
	var fired []string
	var reasons []string
	test, why, drifted := distributionRule(f, th)
	if drifted {
		fired = append(fired, test)
	}
	reasons = append(reasons, why)
	if math.Abs(f.NullRateChange) > th.NullRateChange {
		fired = append(fired, TestNullRate)
		reasons = append(reasons, fmt.Sprintf("null rate %.1f%% against %.1f%% in training (change %+.3f, beyond ±%g)",
			100*f.NullRate, 100*f.RefNullRate, f.NullRateChange, th.NullRateChange))
	}
	if f.OutOfRangeRate > th.OutOfRangeRate {
		fired = append(fired, TestOutOfRange)
		what := "outside the contract's range"
		if f.Chi2 != nil || f.Unseen > 0 {
			what = "never seen in training or not allowed"
		}
		reasons = append(reasons, fmt.Sprintf("%.2f%% of values %s (above %g%%)", 100*f.OutOfRangeRate, what, 100*th.OutOfRangeRate))
	}
	f.Test = test
	if len(fired) > 0 {
		f.Drifted = true
		f.Test = fired[0]
		if !drifted {
			reasons = reasons[1:]
		}
		f.Reason = "drifted: " + strings.Join(reasons, "; ")
		return
	}
	f.Reason = "no drift: " + why
}

// distributionRule applies the feature's distribution test: its name, the
// reason in words and whether it fired.
func distributionRule(f *Feature, th Thresholds) (string, string, bool) {
	if f.Type == OutputType {
		if f.PSI == nil {
			return TestPSI, "no PSI (an empty side)", false
		}
		return TestPSI, fmt.Sprintf("PSI %.4f %s %g", *f.PSI, cmpWord(*f.PSI > th.PSI), th.PSI), *f.PSI > th.PSI
	}
	k, _ := kindOf(contract.Type(f.Type))
	numeric := k == numericKind
	small, large, pname := TestKS, TestWasserstein, "KS"
	effect, effectName := th.Wasserstein, "normed Wasserstein"
	if !numeric {
		small, large, pname = TestChi2, TestJS, "chi-square"
		effect, effectName = th.JS, "JS distance"
	}
	if f.PValueCorrected == nil {
		return small, "no " + pname + " test (an empty side: the baseline or the window has no values)", false
	}
	p := *f.PValueCorrected
	rejects := p < th.PValue
	pwhy := fmt.Sprintf("%s p-value %.3g (corrected) %s %g", pname, p, map[bool]string{true: "<", false: "≥"}[rejects], th.PValue)
	if f.RefValues <= th.LargeSample || f.Values <= th.LargeSample {
		return small, pwhy, rejects
	}
	if f.EffectSize == nil {
		return large, pwhy + ", no effect size", false
	}
	big := *f.EffectSize > effect
	return large, fmt.Sprintf("%s and %s %.4f %s %g (large samples: both must cross)", pwhy, effectName, *f.EffectSize, cmpWord(big), effect), rejects && big
}

func cmpWord(above bool) string {
	if above {
		return ">"
	}
	return "≤"
}
