package platform

// The environment variables the stack sets on the functions, as
// shared/aws/lambdaenv reads them. That package links the AWS SDK and the
// Lambda runtime, which this module has no use for, so the names are spelled
// here and pinned to lambdaenv's by a test that reads its source.
const (
	envUploads     = "UPLOADS_BUCKET"
	envPlatform    = "PLATFORM_BUCKET"
	envMonitoring  = "MONITORING_BUCKET"
	envSite        = "SITE_BUCKET"
	envBus         = "EVENT_BUS_NAME"
	envAuditKey    = "AUDIT_KEY_ID"
	envJobQueue    = "JOB_QUEUE"
	envJobDef      = "JOB_DEFINITION"
	envTrainer     = "TRAINER_IMAGE"
	envJobRole     = "TRAINER_JOB_ROLE_ARN"
	envExecRole    = "TRAINER_EXECUTION_ROLE_ARN"
	envTrainerLogs = "TRAINER_LOG_GROUP"
	envPIIKey      = "PII_KEY_PARAMETER"
	envPIIMode     = "PII_MODE"
	// envDistribution is the report function's (the report issue's branch).
	envDistribution = "DISTRIBUTION_ID"
	// envLockMode and envLockDays are the registry's per-record Object Lock
	// retention on the audit trail (shared/registry.Lock, read by lambdaenv).
	envLockMode = "AUDIT_LOCK_MODE"
	envLockDays = "AUDIT_LOCK_DAYS"
)
