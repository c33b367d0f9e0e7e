package platform

import (
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
	cmd := exec.Command("node", "check.mjs", synthed.path)
	cmd.Dir = nag
	cmd.Env = append(os.Environ(), "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cdk-nag: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), `"errors": []`) {
		t.Fatalf("cdk-nag's report: %s", out)
	}
	t.Logf("%s", out)
}
