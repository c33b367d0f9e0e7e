package policy_test

import (
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/policy"
)

func TestDriftSection(t *testing.T) {
	p := mustParse(t, head+`objective: binary:logistic
drift:
  pValue: 0.01
  psi: 0.25
  wasserstein: .2
  minRows: 200
  share: 0.5
  maxQualityDecay: {auc: 0.05, log_loss: 0.1}
  retrain: {enabled: true, cooldownDays: 3}
`)
	d := p.Drift
	if d == nil || *d.PValue != 0.01 || *d.PSI != 0.25 || *d.Wasserstein != 0.2 || *d.MinRows != 200 || *d.Share != 0.5 ||
		d.JS != nil || d.MaxQualityDecay["auc"] != 0.05 || !d.Retrain.Enabled || d.Retrain.Cooldown() != 3 {
		t.Fatalf("drift section: %+v", d)
	}
	want := `"drift":{"pValue":0.01,"psi":0.25,"wasserstein":0.2,"minRows":200,"share":0.5,"maxQualityDecay":{"auc":0.05,"log_loss":0.1},"retrain":{"enabled":true,"cooldownDays":3}}`
	canon := string(p.Canonical())
	if !strings.Contains(canon, want) {
		t.Fatalf("canonical %s\nlacks %s", canon, want)
	}
	back, err := policy.ParseCanonical([]byte(canon))
	if err != nil || back.Hash() != p.Hash() {
		t.Fatalf("canonical round trip: %v (%s vs %s)", err, back.Hash(), p.Hash())
	}
	// A policy without the section hashes as it did before the section existed.
	if h := mustParse(t, head).Hash(); strings.Contains(string(mustParse(t, head).Canonical()), "drift") {
		t.Fatalf("a policy without drift writes it: %s", h)
	}
	var none *policy.DriftRetrain
	if none.Cooldown() != policy.DefaultCooldownDays {
		t.Fatal("the default cooldown")
	}
}

func TestBadDriftSections(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"p zero", "drift: {pValue: 0}\n", `p.yaml:5:17: drift.pValue: pValue 0 is out of range: expected a p-value above 0 and at most 1`},
		{"psi negative", "drift: {psi: -1}\n", `p.yaml:5:14: drift.psi: psi -1 is out of range: expected a finite number above 0`},
		{"share", "drift: {share: 1.5}\n", `p.yaml:5:16: drift.share: share 1.5 is out of range: expected a share of the features above 0 and at most 1`},
		{"minRows", "drift: {minRows: 0}\n", `p.yaml:5:18: drift.minRows: minRows 0 is out of range: expected at least 1`},
		{"unknown", "drift: {pvalue: 0.1}\n", `p.yaml:5:9: drift.pvalue: unknown key "pvalue": did you mean "pValue"?`},
		{"decay metric", "objective: binary:logistic\ndrift: {maxQualityDecay: {rmse: 1}}\n", `p.yaml:6:27: drift.maxQualityDecay.rmse: metric "rmse" is not one of binary:logistic's test metrics: expected one of auc, log_loss, accuracy, precision, recall, f1, brier`},
		{"decay negative", "drift: {maxQualityDecay: {auc: -0.1}}\n", `p.yaml:5:27: drift.maxQualityDecay.auc: auc -0.1 is out of range: expected a finite decay of at least 0, in auc's units`},
		{"cooldown", "drift: {retrain: {enabled: true, cooldownDays: 400}}\n", `p.yaml:5:48: drift.retrain.cooldownDays: cooldownDays 400 is out of range: expected 1 to 366 (omit it for 7)`},
		{"retrain text", "drift: {retrain: yes}\n", `p.yaml:5:18: drift.retrain: expected a mapping (key: value lines), found the value "yes"`},
		{"not a mapping", "drift: 3\n", `p.yaml:5:8: drift: expected a mapping (key: value lines), found the value "3"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := policy.Parse("p.yaml", []byte(head+tc.yaml))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}
