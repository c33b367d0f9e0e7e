package platform

import (
	"path/filepath"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambdadestinations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/openmlops/mlops/shared/rules"
)

// Predict is the one function rules.All does not name (API Gateway
// invokes it).
const Predict = rules.Predict

// alertsDLQ is the dead-letter queue of the rule that notifies people.
const alertsDLQ = "alerts"

// access is one function's access to the keys under a prefix in a bucket
// (shared/rules.Grants: the local platform enforces the same table).
type access = rules.Access

// Function is one Lambda's size, limits and access.
type Function struct {
	Name    string
	Memory  float64 // MB
	Timeout float64 // seconds
	// Reserved caps its concurrency (0: none) where one must not stampede:
	// Batch's submissions, the sweeps that must not overlap, the site's
	// rebuild.
	Reserved float64
	Access   []access
	// Training: the Batch settings (JOB_QUEUE …) and the rights to submit
	// and follow jobs. Audit: the checkpoint key (AUDIT_KEY_ID), to sign
	// and verify, and the audit records' lock settings. Verify: the key, to
	// verify the trail's checkpoints only.
	Training, Audit, Verify bool
	// Silent: publishes no events (no events:PutEvents).
	Silent bool
}

// Functions are the stack's functions: every functions/<name> (a test checks
// the directory against this list).
func Functions() []Function {
	g := rules.Grants()
	return []Function{
		// 4096 MB and 15 minutes: docs/benchmarks.md derives them (and
		// lambdaenv.DefaultMaxUploadBytes from them).
		{Name: rules.Ingest, Memory: 4096, Timeout: 900, Reserved: 10, Access: g[rules.Ingest]},
		{Name: rules.Train, Memory: 512, Timeout: 60, Reserved: 5, Access: g[rules.Train], Training: true},
		// The gate answers API Gateway, whose integration gives up at 30 s
		// (a decision that runs on is finished, and a retry finds it made);
		// its events (a run trained: the policy's evaluation on the test
		// set) take longer.
		{Name: rules.Gate, Memory: 1024, Timeout: 300, Access: g[rules.Gate], Audit: true},
		{Name: Predict, Memory: 2048, Timeout: 29, Access: g[Predict]},
		{Name: rules.Drift, Memory: 3008, Timeout: 900, Reserved: 2, Access: g[rules.Drift]},
		// One sweep at a time, and shorter than the schedule's period.
		{Name: rules.Reconcile, Memory: 1024, Timeout: 240, Reserved: 1, Training: true, Audit: true,
			Access: g[rules.Reconcile]},
		{Name: rules.Report, Memory: 2048, Timeout: 900, Reserved: 1, Access: g[rules.Report], Verify: true, Silent: true},
	}
}

// functions makes the checkpoint key, a dead-letter queue per function and
// the functions.
func (b *builder) functions() error {
	// The audit trail's checkpoint key: HMAC, usable by the gate's and
	// reconcile's roles alone (granted below, nothing else in the key
	// policy but the account root's administration).
	// Its policy lets the account administer the key but not use it: the
	// roles that sign and verify are named in it (auditKeyUsers), so no
	// other identity can use it whatever its IAM policy says.
	admin := keyAdmin()
	b.auditKey = awskms.NewKey(b.stack, jsii.String("AuditKey"), &awskms.KeyProps{
		Description: jsii.String("openmlops " + b.p.Stage + ": signs the audit trail's checkpoints (HMAC_256)"),
		KeySpec:     awskms.KeySpec_HMAC_256, KeyUsage: awskms.KeyUsage_GENERATE_VERIFY_MAC,
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN, Alias: jsii.String("alias/" + b.name("audit")),
		Policy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{admin}}),
	})

	for _, q := range append(functionNames(), alertsDLQ) {
		b.dlqs[q] = b.queue("DLQ-"+q, q)
	}

	var users, verifiers []awsiam.IPrincipal
	for _, f := range Functions() {
		b.function(f)
		switch {
		case f.Audit:
			users = append(users, b.fns[f.Name].Role())
		case f.Verify:
			verifiers = append(verifiers, b.fns[f.Name].Role())
		}
	}
	b.auditKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AuditKeyUsers"), Principals: &users,
		Actions: jsii.Strings("kms:GenerateMac", "kms:VerifyMac"), Resources: jsii.Strings("*"),
	}), nil)
	// The governance site shows whether each trail verifies: its checkpoints'
	// MACs checked, which only the key can do.
	b.auditKey.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AuditKeyVerifiers"), Principals: &verifiers,
		Actions: jsii.Strings("kms:VerifyMac"), Resources: jsii.Strings("*"),
	}), nil)
	return nil
}

// keyAdmin is the statement of a key policy that lets the account
// administer the key but not use it: who uses it is named beside it.
func keyAdmin() awsiam.PolicyStatement {
	return awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AccountAdministersNotUses"), Principals: &[]awsiam.IPrincipal{awsiam.NewAccountRootPrincipal()},
		Actions: jsii.Strings("kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:ListResourceTags",
			"kms:TagResource", "kms:UntagResource", "kms:EnableKey", "kms:DisableKey", "kms:UpdateKeyDescription",
			"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:ListGrants", "kms:RevokeGrant", "kms:RetireGrant",
			"kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias",
			// CloudFormation turns a key's rotation on and reads it back
			// (EnableKeyRotation: true): without these it cannot.
			"kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:GetKeyRotationStatus", "kms:ListKeyRotations",
			"kms:RotateKeyOnDemand"),
		// In a key policy "*" is the key itself.
		Resources: jsii.Strings("*"),
	})
}

func functionNames() []string {
	var n []string
	for _, f := range Functions() {
		n = append(n, f.Name)
	}
	return n
}

// queue is a dead-letter queue: encrypted, TLS only, kept 14 days.
func (b *builder) queue(id, what string) awssqs.Queue {
	q := awssqs.NewQueue(b.stack, jsii.String(id), &awssqs.QueueProps{
		Encryption: awssqs.QueueEncryption_SQS_MANAGED, EnforceSSL: jsii.Bool(true),
		RetentionPeriod: days(14),
	})
	b.suppress(q, suppression{ID: "AwsSolutions-SQS3",
		Reason: "This queue is the dead-letter queue of " + what + "'s deliveries; an alarm watches its depth."})
	return q
}

func (b *builder) function(f Function) {
	logs := awslogs.NewLogGroup(b.stack, jsii.String("Logs-"+f.Name), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("/aws/lambda/" + b.name(f.Name)), Retention: retention[b.p.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	if f.Name == Predict {
		b.predictLogs = logs
	}
	env := map[string]*string{
		envUploads: b.uploads.BucketName(), envPlatform: b.platform.BucketName(),
		envMonitoring: b.monitoring.BucketName(), envSite: b.site.BucketName(), envBus: b.bus.EventBusName(),
	}
	if f.Audit || f.Verify {
		env[envAuditKey] = b.auditKey.KeyArn()
	}
	if f.Audit {
		env[envLockMode] = jsii.String(b.p.AuditLockMode)
		env[envLockDays] = jsii.String(itoa(b.p.AuditRetentionDays))
	}
	if f.Training {
		t := b.training
		env[envJobQueue] = t.queue.JobQueueArn()
		env[envJobDef] = t.definition.JobDefinitionArn()
		env[envTrainer] = jsii.String(t.image)
		env[envJobRole] = t.jobRole.RoleArn()
		env[envExecRole] = t.execRole.RoleArn()
		env[envTrainerLogs] = t.logs.LogGroupName()
	}
	if f.Name == Predict && b.p.PIIKeyParameter != "" {
		env[envPIIKey] = jsii.String(b.p.PIIKeyParameter)
		env[envPIIMode] = jsii.String("hmac")
	}
	if f.Name == rules.Report {
		env[envDistribution] = b.dist.DistributionId()
	}
	props := &awslambda.FunctionProps{
		FunctionName: jsii.String(b.name(f.Name)),
		Description:  jsii.String("openmlops " + f.Name + " (functions/" + f.Name + ")"),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(), Architecture: awslambda.Architecture_ARM_64(),
		Handler: jsii.String("bootstrap"), Code: awslambda.Code_FromAsset(jsii.String(filepath.Join(b.p.AssetDir, f.Name)), nil),
		MemorySize: jsii.Number(f.Memory), Timeout: awscdk.Duration_Seconds(jsii.Number(f.Timeout)),
		Environment: &env, LogGroup: logs, LoggingFormat: awslambda.LoggingFormat_JSON,
		// Events that fail twice go to the dead-letter queue, as the
		// rules' undeliverable ones do; an alarm watches it.
		RetryAttempts: jsii.Number(2), MaxEventAge: awscdk.Duration_Hours(jsii.Number(6)),
		OnFailure: awslambdadestinations.NewSqsDestination(b.dlqs[f.Name]),
	}
	if f.Reserved > 0 && b.p.ReserveConcurrency {
		props.ReservedConcurrentExecutions = jsii.Number(f.Reserved)
	}
	fn := awslambda.NewFunction(b.stack, jsii.String("Fn-"+f.Name), props)
	b.fns[f.Name] = fn

	for _, a := range f.Access {
		b.grant(fn.Role(), a)
	}
	if !f.Silent {
		b.bus.GrantPutEventsTo(fn, nil)
	}
	if f.Verify {
		b.auditKey.Grant(fn, jsii.String("kms:VerifyMac"))
	}
	if f.Audit {
		b.auditKey.Grant(fn, jsii.String("kms:GenerateMac"), jsii.String("kms:VerifyMac"))
	}
	if f.Training {
		b.training.grantSubmit(b, fn)
	}
	if f.Name == Predict && b.p.PIIKeyParameter != "" {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("ssm:GetParameter"),
			Resources: jsii.Strings(*awscdk.Arn_Format(&awscdk.ArnComponents{Service: jsii.String("ssm"),
				Resource: jsii.String("parameter"), ResourceName: jsii.String(strings.TrimPrefix(b.p.PIIKeyParameter, "/"))}, b.stack)),
		}))
	}
	if f.Name == rules.Report {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Actions: jsii.Strings("cloudfront:CreateInvalidation"),
			Resources: jsii.Strings(*awscdk.Arn_Format(&awscdk.ArnComponents{Service: jsii.String("cloudfront"), Region: jsii.String(""),
				Resource: jsii.String("distribution"), ResourceName: b.dist.DistributionId()}, b.stack)),
		}))
	}
	b.suppress(fn.Role(), suppression{ID: "AwsSolutions-IAM4", Reason: "AWSLambdaBasicExecutionRole: writing the function's own logs.",
		AppliesTo: []any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}})
	if pol := fn.Role().Node().TryFindChild(jsii.String("DefaultPolicy")); pol != nil {
		b.suppress(pol, suppression{ID: "AwsSolutions-IAM5",
			Reason:    "Object ARNs under one key prefix (Grant on exact prefixes, docs/design.md's ownership table).",
			AppliesTo: []any{prefixScoped}})
	}
}

// grant gives role access a: object reads, writes and deletes under the
// prefix, and listing it, with the actions spelled out (no wildcards).
func (b *builder) grant(role awsiam.IRole, a access) {
	bkt := map[rules.Bucket]awss3.Bucket{rules.Uploads: b.uploads, rules.Platform: b.platform, rules.Monitoring: b.monitoring, rules.Site: b.site}[a.Bucket]
	objects := bkt.ArnForObjects(jsii.String(a.Prefix + "*"))
	actions := []string{"s3:GetObject"}
	if a.Write {
		actions = append(actions, "s3:PutObject", "s3:AbortMultipartUpload")
	}
	if a.Delete {
		actions = append(actions, "s3:DeleteObject")
	}
	if a.Tag {
		actions = append(actions, "s3:PutObjectTagging")
	}
	if a.Lock {
		// A put with Object Lock retention (the registry's audit records:
		// AUDIT_LOCK_MODE, AUDIT_LOCK_DAYS) needs it on the key.
		actions = append(actions, "s3:PutObjectRetention")
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings(actions...), Resources: &[]*string{objects}}))
	list := &awsiam.PolicyStatementProps{Actions: jsii.Strings("s3:ListBucket"), Resources: &[]*string{bkt.BucketArn()}}
	if a.Prefix != "" {
		list.Conditions = &map[string]any{"StringLike": map[string]any{"s3:prefix": []string{a.Prefix + "*"}}}
	}
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(list))
}
