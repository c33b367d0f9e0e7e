package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/jsii-runtime-go"

	"github.com/openmlops/mlops/shared/rules"
)

// Encryption is SSE-S3 on every bucket, not KMS: it encrypts at rest with
// AES-256 at no charge, while a customer key costs a month's fee per key and
// a request fee per object operation (the canonical CSVs, the prediction logs
// and the site are many small objects), and would need kms:Decrypt grants for
// every reader: CloudFront's origin access, Firehose, the Batch job role, and
// each data scientist's aws CLI. What the threat model protects with keys is
// the audit trail's integrity, and that has its own KMS key (HMAC
// checkpoints, AUDIT_KEY_ID) plus Object Lock; a CMK on the bucket would not
// stop a principal allowed to write from writing.
const encryption = awss3.BucketEncryption_S3_MANAGED

// storage makes the access-log bucket and the four platform buckets.
func (b *builder) storage() {
	p := b.p
	// The access logs' own bucket: server access logging cannot encrypt
	// with KMS, and logging it into itself would loop. S3's log delivery
	// (the LogDeliveryWrite ACL) and CloudFront's standard logs both write
	// with ACLs, so it keeps them: ObjectWriter.
	b.logs = awss3.NewBucket(b.stack, jsii.String("AccessLogs"), &awss3.BucketProps{
		BlockPublicAccess: awss3.BlockPublicAccess_BLOCK_ALL(), EnforceSSL: jsii.Bool(true), Encryption: encryption,
		ObjectOwnership: awss3.ObjectOwnership_OBJECT_WRITER, RemovalPolicy: b.removal(),
		LifecycleRules: &[]*awss3.LifecycleRule{{Id: jsii.String("expire-logs"), Expiration: days(p.AccessLogDays),
			AbortIncompleteMultipartUploadAfter: days(1)}},
	})
	b.suppress(b.logs, suppression{ID: "AwsSolutions-S1",
		Reason: "This is the access-log bucket: logging it into itself would log its own log deliveries without end."})

	bucket := func(id, logPrefix string, props *awss3.BucketProps) awss3.Bucket {
		props.BlockPublicAccess = awss3.BlockPublicAccess_BLOCK_ALL()
		props.EnforceSSL = jsii.Bool(true)
		props.Encryption = encryption
		props.ObjectOwnership = awss3.ObjectOwnership_BUCKET_OWNER_ENFORCED
		props.ServerAccessLogsBucket = b.logs
		props.ServerAccessLogsPrefix = jsii.String(logPrefix)
		props.RemovalPolicy = b.removal()
		return awss3.NewBucket(b.stack, jsii.String(id), props)
	}
	abort := &awss3.LifecycleRule{Id: jsii.String("abort-multipart"), AbortIncompleteMultipartUploadAfter: days(7)}

	// Uploads: what people send. EventBridge notifications start ingest
	// (incoming/) and the feedback join (feedback/); rejected uploads are
	// kept QuarantineDays for their owners to read the report.
	b.uploads = bucket("Uploads", "uploads/", &awss3.BucketProps{
		EventBridgeEnabled: jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{abort,
			{Id: jsii.String("expire-quarantine"), Prefix: jsii.String("quarantine/"), Expiration: days(p.QuarantineDays)}},
	})

	// Platform: the state and artifacts (datasets, runs and bundles, the
	// registry, the audit trail). Versioned, so an overwritten pointer or a
	// deleted object can be recovered for 90 days; EventBridge notifications
	// for the requests written as objects (requests/retrain/, requests/drift/).
	//
	// Object Lock is enabled, with no default retention. A default retention
	// is bucket-wide: it would hold every version of every object (each
	// rewrite of a pointer such as datasets/<d>/latest or audit/<m>/head,
	// every staging object) for the whole period, billing their storage and
	// blocking the noncurrent-version expiry below. A separate audit bucket
	// would need the registry to write there. So retention is for the
	// registry to set on each create-once record (audit/<model>/<seq>-*.json
	// and its checkpoint) with AUDIT_LOCK_MODE and AUDIT_LOCK_DAYS, beside
	// the bucket policy (only the gate and reconcile roles write audit/),
	// versioning, and the KMS-signed checkpoints.
	b.platform = bucket("Platform", "platform/", &awss3.BucketProps{
		Versioned: jsii.Bool(true), ObjectLockEnabled: jsii.Bool(true), EventBridgeEnabled: jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{abort,
			{Id: jsii.String("expire-noncurrent"), NoncurrentVersionExpiration: days(90), ExpiredObjectDeleteMarker: jsii.Bool(true)},
			// Retired models' bundles, which the gate tags mlops:retired=true
			// when it retires a version (shared/gate tagRetired), move to
			// Glacier Instant Retrieval: kept (the trail names them) and still
			// readable at once, never served again.
			{Id: jsii.String("archive-retired"), Prefix: jsii.String("runs/"),
				TagFilters:  &map[string]any{rules.RetiredTag: "true"},
				Transitions: &[]*awss3.Transition{{StorageClass: awss3.StorageClass_GLACIER_INSTANT_RETRIEVAL(), TransitionAfter: days(30)}}},
		},
	})

	// Monitoring: prediction logs (predictions/, kept PredictionDays),
	// Firehose's failed records, drift reports and joined labels.
	b.monitoring = bucket("Monitoring", "monitoring/", &awss3.BucketProps{
		EventBridgeEnabled: jsii.Bool(true),
		LifecycleRules: &[]*awss3.LifecycleRule{abort,
			{Id: jsii.String("expire-predictions"), Prefix: jsii.String("predictions/"), Expiration: days(p.PredictionDays)},
			{Id: jsii.String("expire-prediction-errors"), Prefix: jsii.String("predictions-errors/"), Expiration: days(30)},
		},
	})

	// Site: the generated governance site, served only through CloudFront.
	b.site = bucket("Site", "site/", &awss3.BucketProps{LifecycleRules: &[]*awss3.LifecycleRule{abort}})
}

// bucketPolicies lets only the gate's and reconcile's roles write models/
// and audit/: a Deny on every other principal, so that an identity policy
// elsewhere in the account allowing s3:PutObject on the bucket cannot.
func (b *builder) bucketPolicies() {
	var arns []*string
	for _, f := range []string{rules.Gate, rules.Reconcile} {
		arns = append(arns, b.fns[f].Role().RoleArn())
	}
	for _, prefix := range []string{"models/", "audit/"} {
		b.platform.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:    jsii.String("OnlyRegistryWrites" + map[string]string{"models/": "Models", "audit/": "Audit"}[prefix]),
			Effect: awsiam.Effect_DENY, Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions: jsii.Strings("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion",
				"s3:PutObjectRetention", "s3:PutObjectLegalHold", "s3:BypassGovernanceRetention"),
			Resources:  &[]*string{b.platform.ArnForObjects(jsii.String(prefix + "*"))},
			Conditions: &map[string]any{"ArnNotEquals": map[string]any{"aws:PrincipalArn": arns}},
		}))
	}
}
