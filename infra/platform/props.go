// Package platform is the platform's AWS CDK stack: the buckets, the event bus
// and the rules shared/rules defines, one Lambda per functions/<name>, the
// training queue on AWS Batch, the two HTTP APIs, the reports site behind
// CloudFront, and the alarms. infra/main.go synthesizes it for each stage.
package platform

import (
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
)

// PlatformStackProps are a deployment's choices; Defaults fills the ones left
// zero. Every field has a cdk context key of the same meaning (infra/main.go).
type PlatformStackProps struct {
	awscdk.StackProps

	// Stage names the deployment (dev, prod): it goes into the names that
	// must be unique in an account (the bus, the job queue, the trainer's
	// job definition) and into the tags.
	Stage string
	// AssetDir holds <function>/bootstrap for every function (make
	// functions writes dist/functions).
	AssetDir string
	// TrainerDir is the trainer image's build context (trainer/), built and
	// pushed by cdk deploy as a container asset.
	TrainerDir string
	// TrainerImage, when set, is the trainer image to run instead of building
	// TrainerDir: pinned by digest (<repo>@sha256:<64 hex>), since the digest
	// is the trainer's identity in every run's lineage.
	TrainerImage string

	// GPUInstanceTypes are the instance types Batch may launch for training.
	GPUInstanceTypes []string
	// MaxVCPUs caps the compute environment, and so how many jobs run at once.
	MaxVCPUs float64
	// Spot runs training on Spot instances (a reclaimed job is retried).
	Spot bool
	// PrivateSubnets puts the training instances in private subnets behind a
	// NAT gateway (billed by the hour) instead of public subnets that admit
	// no inbound traffic.
	PrivateSubnets bool

	// JWTIssuer and JWTAudience, both set, put a JWT authorizer on the
	// prediction API instead of IAM.
	JWTIssuer   string
	JWTAudience []string

	// PredictionDomain, DecisionsDomain and SiteDomain give the APIs and
	// the site custom domain names (each with its ACM certificate's ARN: in
	// the stack's region for the APIs, in us-east-1 for CloudFront); unset:
	// the AWS-assigned names. The DNS records are the operator's to make.
	PredictionDomain, DecisionsDomain, SiteDomain Domain

	// AuditLockMode is the Object Lock mode (GOVERNANCE or COMPLIANCE) and
	// AuditRetentionDays the period the registry is to set on each audit
	// record (AUDIT_LOCK_MODE, AUDIT_LOCK_DAYS on the gate and reconcile).
	AuditLockMode      string
	AuditRetentionDays int

	// AlarmEmails subscribe to the alerts topic (alarms, Batch failures,
	// drift detected, model load failures, pending approvals).
	AlarmEmails []string

	// ReserveConcurrency reserves each function's concurrency where one must
	// not stampede. An account whose Lambda concurrency quota is still the
	// new-account 10 cannot reserve any: set it false there.
	ReserveConcurrency bool
	// ReconcileEvery is the reconcile schedule's period (whole minutes).
	ReconcileEvery time.Duration
	// QuarantineDays is how long rejected uploads are kept; PredictionDays
	// how long prediction logs are; AccessLogDays how long access logs are.
	QuarantineDays, PredictionDays, AccessLogDays int
	// LogRetentionDays is the functions' log retention (a CloudWatch Logs value).
	LogRetentionDays int
	// PIIKeyParameter is the SSM SecureString the predict function hashes
	// personal data with (PII_KEY_PARAMETER); empty: none.
	PIIKeyParameter string
	// RetainData keeps the buckets (and their data) when the stack is deleted.
	RetainData bool
}

// Domain is a custom domain name and its certificate.
type Domain struct {
	Name           string `json:"name"`
	CertificateArn string `json:"certificateArn"`
}

func (d Domain) set() bool { return d.Name != "" }

// Defaults are the props a stage starts from.
func Defaults(stage string) PlatformStackProps {
	return PlatformStackProps{
		Stage: stage, AssetDir: filepath.Join("..", "dist", "functions"), TrainerDir: filepath.Join("..", "trainer"),
		GPUInstanceTypes: []string{"g5.xlarge", "g5.2xlarge"}, MaxVCPUs: 16, Spot: false,
		AuditLockMode: "GOVERNANCE", AuditRetentionDays: 3650,
		ReserveConcurrency: true, ReconcileEvery: 5 * time.Minute,
		QuarantineDays: 30, PredictionDays: 400, AccessLogDays: 365, LogRetentionDays: 90,
		RetainData: true,
	}
}

var (
	stageName   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)
	pinnedImage = regexp.MustCompile(`^[^@\s]+@sha256:[0-9a-f]{64}$`)
)

// retention is CloudWatch Logs' retention periods, in days, as the CDK
// names them.
var retention = map[int]awslogs.RetentionDays{1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS,
	5: awslogs.RetentionDays_FIVE_DAYS, 7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS,
	30: awslogs.RetentionDays_ONE_MONTH, 60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS,
	120: awslogs.RetentionDays_FOUR_MONTHS, 150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS,
	365: awslogs.RetentionDays_ONE_YEAR, 400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS,
	731: awslogs.RetentionDays_TWO_YEARS, 1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS,
	2192: awslogs.RetentionDays_SIX_YEARS, 2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS,
	3288: awslogs.RetentionDays_NINE_YEARS, 3653: awslogs.RetentionDays_TEN_YEARS}

func domainOK(d Domain) bool {
	return (d.Name == "") == (d.CertificateArn == "") && (d.CertificateArn == "" || strings.HasPrefix(d.CertificateArn, "arn:") && strings.Contains(d.CertificateArn, ":acm:"))
}

// Validate says what is wrong with p, naming the field and what it expects.
func (p PlatformStackProps) Validate() error {
	switch {
	case !domainOK(p.PredictionDomain) || !domainOK(p.DecisionsDomain) || !domainOK(p.SiteDomain):
		return fmt.Errorf("predictionDomain, decisionsDomain, siteDomain: each needs both a name and an ACM certificate ARN (arn:...:acm:...)")
	case p.SiteDomain.set() && !strings.Contains(p.SiteDomain.CertificateArn, ":us-east-1:"):
		return fmt.Errorf("siteDomain: CloudFront takes certificates from us-east-1 only, not %s", p.SiteDomain.CertificateArn)
	case !stageName.MatchString(p.Stage):
		return fmt.Errorf("stage %q: expected 1-20 lower-case letters, digits or '-', starting with a letter", p.Stage)
	case p.AssetDir == "":
		return fmt.Errorf("assetDir: required (where make functions writes <function>/bootstrap)")
	case p.TrainerImage == "" && p.TrainerDir == "":
		return fmt.Errorf("trainerDir: required when trainerImage is not set")
	case p.TrainerImage != "" && !pinnedImage.MatchString(p.TrainerImage):
		return fmt.Errorf("trainerImage %q: expected an image pinned by digest (<repo>@sha256:<64 hex>)", p.TrainerImage)
	case len(p.GPUInstanceTypes) == 0:
		return fmt.Errorf("gpuInstanceTypes: at least one instance type is required")
	case p.MaxVCPUs < 1:
		return fmt.Errorf("maxVCpus %v: expected at least 1", p.MaxVCPUs)
	case p.AuditLockMode != "GOVERNANCE" && p.AuditLockMode != "COMPLIANCE":
		return fmt.Errorf("auditLockMode %q: expected GOVERNANCE or COMPLIANCE", p.AuditLockMode)
	case p.AuditRetentionDays < 1:
		return fmt.Errorf("auditRetentionDays %d: expected at least 1", p.AuditRetentionDays)
	case (p.JWTIssuer == "") != (len(p.JWTAudience) == 0):
		return fmt.Errorf("jwtIssuer and jwtAudience: set both or neither")
	case p.ReconcileEvery < 5*time.Minute || p.ReconcileEvery > 24*time.Hour || p.ReconcileEvery%time.Minute != 0:
		// A sweep may take the reconcile function's 4 minutes: no overlap.
		return fmt.Errorf("reconcileEvery %v: expected whole minutes, from 5 to 1440", p.ReconcileEvery)
	case p.QuarantineDays < 1 || p.PredictionDays < 1 || p.AccessLogDays < 1:
		return fmt.Errorf("quarantineDays, predictionDays, accessLogDays: expected at least 1 day each")
	case retention[p.LogRetentionDays] == "":
		return fmt.Errorf("logRetentionDays %d: expected one of CloudWatch Logs' values %v", p.LogRetentionDays, slices.Sorted(maps.Keys(retention)))
	}
	return nil
}
