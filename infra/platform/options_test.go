package platform

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With a JWT issuer the prediction API takes tokens; the decisions API
// stays IAM only.
func TestJWTOption(t *testing.T) {
	if testing.Short() {
		t.Skip("a second synthesis")
	}
	doc := synthWith(t, func(p *PlatformStackProps) {
		p.JWTIssuer, p.JWTAudience = "https://issuer.example.com/", []string{"mlops"}
	})
	auth := map[string]string{}
	for _, r := range resources(doc, "AWS::ApiGatewayV2::Route") {
		p := props(r)
		auth[p["RouteKey"].(string)+" "+p["ApiId"].(map[string]any)["Ref"].(string)[:8]] = p["AuthorizationType"].(string)
	}
	want := map[string]string{"ANY /{proxy+} Predicti": "JWT", "GET /healthz Predicti": "NONE", "ANY /{proxy+} Decision": "AWS_IAM"}
	for k, v := range want {
		if auth[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, auth[k], v, auth)
		}
	}
	for _, a := range resources(doc, "AWS::ApiGatewayV2::Authorizer") {
		p := props(a)
		if p["JwtConfiguration"].(map[string]any)["Issuer"] != "https://issuer.example.com/" {
			t.Errorf("authorizer %v", p)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := Defaults("dev")
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, c := range map[string]struct {
		change func(*PlatformStackProps)
		want   string
	}{
		"stage":       {func(p *PlatformStackProps) { p.Stage = "Prod" }, `stage "Prod"`},
		"image":       {func(p *PlatformStackProps) { p.TrainerImage = "repo:latest" }, "pinned by digest"},
		"types":       {func(p *PlatformStackProps) { p.GPUInstanceTypes = nil }, "gpuInstanceTypes"},
		"vcpus":       {func(p *PlatformStackProps) { p.MaxVCPUs = 0 }, "maxVCpus"},
		"lock":        {func(p *PlatformStackProps) { p.AuditLockMode = "LEGAL" }, "auditLockMode"},
		"jwt":         {func(p *PlatformStackProps) { p.JWTIssuer = "https://x/" }, "jwtIssuer and jwtAudience"},
		"reconcile":   {func(p *PlatformStackProps) { p.ReconcileEvery = 90 * time.Second }, "reconcileEvery"},
		"overlapping": {func(p *PlatformStackProps) { p.ReconcileEvery = 2 * time.Minute }, "reconcileEvery"},
		"retention":   {func(p *PlatformStackProps) { p.LogRetentionDays = 10 }, "logRetentionDays 10"},
		"quarantine":  {func(p *PlatformStackProps) { p.QuarantineDays = 0 }, "quarantineDays"},
		"assets":      {func(p *PlatformStackProps) { p.AssetDir = "" }, "assetDir"},
		"trainer dir": {func(p *PlatformStackProps) { p.TrainerDir = "" }, "trainerDir"},
	} {
		p := Defaults("dev")
		c.change(&p)
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", name, err, c.want)
		}
	}
}

// A missing bootstrap is an error naming the file and the fix, before any
// construct is made.
func TestMissingAsset(t *testing.T) {
	assets := placeholderAssets(t)
	defer os.RemoveAll(assets)
	if err := os.Remove(filepath.Join(assets, "gate", "bootstrap")); err != nil {
		t.Fatal(err)
	}
	p := testProps(t, assets)
	_, err := NewPlatformStack(nil, "mlops-missing", &p)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(assets, "gate", "bootstrap")) || !strings.Contains(err.Error(), "make functions") {
		t.Fatalf("%v", err)
	}
}

func TestStageContext(t *testing.T) {
	sc, err := ParseStageContext("mlops:prod", map[string]any{"account": "123456789012", "region": "eu-west-1",
		"spot": true, "maxVCpus": 64.0, "alarmEmails": []any{"ops@example.com"}, "reconcileMinutes": 10.0})
	if err != nil {
		t.Fatal(err)
	}
	p := Defaults("prod")
	sc.Apply(&p)
	if !p.Spot || p.MaxVCPUs != 64 || p.ReconcileEvery != 10*time.Minute || len(p.AlarmEmails) != 1 ||
		*p.Env.Account != "123456789012" || *p.Env.Region != "eu-west-1" {
		t.Fatalf("applied: %+v", p)
	}
	// From -c, a JSON string; unknown options are refused, named.
	if _, err := ParseStageContext("mlops:dev", `{"spot": true}`); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseStageContext("mlops:dev", `{"reconcileMinutes": 9223372036854775807}`); err == nil ||
		!strings.Contains(err.Error(), "reconcileMinutes") {
		t.Fatalf("reconcileMinutes out of range: %v", err)
	}
	if _, err := ParseStageContext("mlops:dev", `{"spots": true}`); err == nil || !strings.Contains(err.Error(), "spots") ||
		!strings.Contains(err.Error(), "mlops:dev") {
		t.Fatalf("unknown option: %v", err)
	}
}

// cdk-nag's AwsSolutions pack finds no unsuppressed error in the template,
// and every suppression has a reason (infra/nag/check.mjs).
func TestNag(t *testing.T) {
	template(t)
	nag := filepath.Join("..", "nag")
	if _, err := os.Stat(filepath.Join(nag, "node_modules", "cdk-nag")); err != nil {
		t.Fatalf("cdk-nag is not installed in infra/nag: run scripts/setup.sh test (npm ci there): %v", err)
	}
	// And a stage without an account or region (the CLI's, resolved at
	// deploy time): its ARNs hold <AWS::AccountId> where the other has digits.
	agnostic := filepath.Join(t.TempDir(), "agnostic.template.json")
	raw, err := json.Marshal(synthWith(t, func(p *PlatformStackProps) { p.Env = nil }))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(agnostic, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", "check.mjs", synthed.path, agnostic)
	cmd.Dir = nag
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk-nag: %v\n%s", err, out)
	}
	if strings.Count(string(out), `"errors": []`) != 2 {
		t.Fatalf("cdk-nag's report: %s", out)
	}
	t.Logf("%s", out)
}

// Custom domains: the APIs get their names (and lose the execute-api one),
// the site its name and TLS 1.2, and the outputs say the custom URLs.
func TestCustomDomains(t *testing.T) {
	if testing.Short() {
		t.Skip("a second synthesis")
	}
	doc := synthWith(t, func(p *PlatformStackProps) {
		p.PredictionDomain = Domain{Name: "predict.example.com", CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/p"}
		p.DecisionsDomain = Domain{Name: "decide.example.com", CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/d"}
		p.SiteDomain = Domain{Name: "models.example.com", CertificateArn: "arn:aws:acm:us-east-1:123456789012:certificate/s"}
	})
	names := map[string]bool{}
	for _, d := range resources(doc, "AWS::ApiGatewayV2::DomainName") {
		names[props(d)["DomainName"].(string)] = true
	}
	if !names["predict.example.com"] || !names["decide.example.com"] || len(names) != 2 {
		t.Errorf("API domains %v", names)
	}
	for id, a := range resources(doc, "AWS::ApiGatewayV2::Api") {
		if props(a)["DisableExecuteApiEndpoint"] != true {
			t.Errorf("%s: the execute-api endpoint stays on", id)
		}
	}
	for _, d := range resources(doc, "AWS::CloudFront::Distribution") {
		c := props(d)["DistributionConfig"].(map[string]any)
		if !jsonEq(c["Aliases"], []string{"models.example.com"}) || c["ViewerCertificate"].(map[string]any)["MinimumProtocolVersion"] != "TLSv1.2_2021" {
			t.Errorf("site: %v %v", c["Aliases"], c["ViewerCertificate"])
		}
	}
	outs := doc["Outputs"].(map[string]any)
	for k, v := range map[string]string{"PredictionApiUrl": "https://predict.example.com/", "DecisionsApiUrl": "https://decide.example.com/",
		"SiteUrl": "https://models.example.com/"} {
		if outs[k].(map[string]any)["Value"] != v {
			t.Errorf("%s: %v", k, outs[k])
		}
	}
	p := Defaults("dev")
	p.SiteDomain = Domain{Name: "models.example.com", CertificateArn: "arn:aws:acm:eu-west-1:123456789012:certificate/s"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "us-east-1") {
		t.Errorf("a site certificate outside us-east-1: %v", err)
	}
	p.SiteDomain = Domain{Name: "models.example.com"}
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a domain without a certificate: %v", err)
	}
}
