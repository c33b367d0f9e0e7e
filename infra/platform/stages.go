package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// StageNames are the stages the app synthesizes, each as stack mlops-<stage>.
var StageNames = []string{"dev", "prod"}

// StageContext is one stage's cdk context ("mlops:dev", "mlops:prod"): a JSON
// object in cdk.json, or a JSON string given with -c. Fields left out keep
// Defaults' values.
type StageContext struct {
	Account            string   `json:"account"` // empty: the CLI's credentials' account (CDK_DEFAULT_ACCOUNT)
	Region             string   `json:"region"`  // empty: the CLI's region (CDK_DEFAULT_REGION)
	TrainerImage       string   `json:"trainerImage"`
	GPUInstanceTypes   []string `json:"gpuInstanceTypes"`
	MaxVCPUs           *float64 `json:"maxVCpus"`
	Spot               *bool    `json:"spot"`
	PrivateSubnets     *bool    `json:"privateSubnets"`
	JWTIssuer          string   `json:"jwtIssuer"`
	JWTAudience        []string `json:"jwtAudience"`
	AuditLockMode      string   `json:"auditLockMode"`
	AuditRetentionDays *int     `json:"auditRetentionDays"`
	AlarmEmails        []string `json:"alarmEmails"`
	ReserveConcurrency *bool    `json:"reserveConcurrency"`
	ReconcileMinutes   *int     `json:"reconcileMinutes"`
	QuarantineDays     *int     `json:"quarantineDays"`
	PredictionDays     *int     `json:"predictionDays"`
	AccessLogDays      *int     `json:"accessLogDays"`
	LogRetentionDays   *int     `json:"logRetentionDays"`
	PIIKeyParameter    string   `json:"piiKeyParameter"`
	RetainData         *bool    `json:"retainData"`
	PredictionDomain   *Domain  `json:"predictionDomain"`
	DecisionsDomain    *Domain  `json:"decisionsDomain"`
	SiteDomain         *Domain  `json:"siteDomain"`
}

// ParseStageContext reads a stage's context value (nil: none).
func ParseStageContext(key string, v any) (StageContext, error) {
	var sc StageContext
	var raw []byte
	switch v := v.(type) {
	case nil:
		return sc, nil
	case string:
		raw = []byte(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return sc, fmt.Errorf("context %s: %w", key, err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return sc, fmt.Errorf("context %s: expected a JSON object of the stage's options (README, Deploying to AWS): %w", key, err)
	}
	// Not below 5: a sweep may run for 4 minutes (the function's timeout),
	// and sweeps must not overlap.
	if m := sc.ReconcileMinutes; m != nil && (*m < 5 || *m > 1440) {
		return sc, fmt.Errorf("context %s: reconcileMinutes %d: expected 5 to 1440", key, *m)
	}
	return sc, nil
}

// Apply sets the context's fields on p.
func (sc StageContext) Apply(p *PlatformStackProps) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&p.TrainerImage, sc.TrainerImage)
	set(&p.JWTIssuer, sc.JWTIssuer)
	set(&p.AuditLockMode, sc.AuditLockMode)
	set(&p.PIIKeyParameter, sc.PIIKeyParameter)
	if sc.GPUInstanceTypes != nil {
		p.GPUInstanceTypes = sc.GPUInstanceTypes
	}
	if sc.JWTAudience != nil {
		p.JWTAudience = sc.JWTAudience
	}
	if sc.AlarmEmails != nil {
		p.AlarmEmails = sc.AlarmEmails
	}
	for dst, v := range map[*bool]*bool{&p.Spot: sc.Spot, &p.PrivateSubnets: sc.PrivateSubnets,
		&p.ReserveConcurrency: sc.ReserveConcurrency, &p.RetainData: sc.RetainData} {
		if v != nil {
			*dst = *v
		}
	}
	for dst, v := range map[*int]*int{&p.AuditRetentionDays: sc.AuditRetentionDays, &p.QuarantineDays: sc.QuarantineDays,
		&p.PredictionDays: sc.PredictionDays, &p.AccessLogDays: sc.AccessLogDays, &p.LogRetentionDays: sc.LogRetentionDays} {
		if v != nil {
			*dst = *v
		}
	}
	for dst, v := range map[*Domain]*Domain{&p.PredictionDomain: sc.PredictionDomain, &p.DecisionsDomain: sc.DecisionsDomain,
		&p.SiteDomain: sc.SiteDomain} {
		if v != nil {
			*dst = *v
		}
	}
	if sc.MaxVCPUs != nil {
		p.MaxVCPUs = *sc.MaxVCPUs
	}
	if sc.ReconcileMinutes != nil {
		p.ReconcileEvery = time.Duration(*sc.ReconcileMinutes) * time.Minute
	}
	account, region := sc.Account, sc.Region
	if account == "" {
		account = os.Getenv("CDK_DEFAULT_ACCOUNT")
	}
	if region == "" {
		region = os.Getenv("CDK_DEFAULT_REGION")
	}
	if account != "" || region != "" {
		env := &awscdk.Environment{}
		if account != "" {
			env.Account = jsii.String(account)
		}
		if region != "" {
			env.Region = jsii.String(region)
		}
		p.Env = env
	}
}

// Stages adds one stack per stage to scope, from the context ctx reads:
// "mlops:<stage>" for each stage's options, "mlops:assetDir" and
// "mlops:trainerDir" for the paths (relative to infra/).
func Stages(scope constructs.Construct, ctx func(key string) any) error {
	for _, stage := range StageNames {
		p := Defaults(stage)
		if v, ok := ctx("mlops:assetDir").(string); ok && v != "" {
			p.AssetDir = v
		}
		if v, ok := ctx("mlops:trainerDir").(string); ok && v != "" {
			p.TrainerDir = v
		}
		sc, err := ParseStageContext("mlops:"+stage, ctx("mlops:"+stage))
		if err != nil {
			return err
		}
		sc.Apply(&p)
		if _, err := NewPlatformStack(scope, "mlops-"+stage, &p); err != nil {
			return err
		}
	}
	return nil
}
