package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/jsii-runtime-go"
)

// operations makes the alerts topic: alarms, Batch failures, and the
// platform's events for people (approvals pending, drift) go there.
func (b *builder) operations() {
	// The topic is encrypted with a key of its own: AWS's managed key for
	// SNS (alias/aws/sns) cannot be used by CloudWatch alarms or EventBridge
	// rules, whose notifications would then never arrive. The key policy
	// names those two publishers; the account administers it.
	key := awskms.NewKey(b.stack, jsii.String("AlertsKey"), &awskms.KeyProps{
		Description:       jsii.String("openmlops " + b.p.Stage + ": encrypts the alerts topic"),
		EnableKeyRotation: jsii.Bool(true), PendingWindow: awscdk.Duration_Days(jsii.Number(7)),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY, Alias: jsii.String("alias/" + b.name("alerts")),
		Policy: awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{keyAdmin()}}),
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("AlertPublishers"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil),
			awsiam.NewServicePrincipal(jsii.String("events.amazonaws.com"), nil)},
		Actions: jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		// In a key policy "*" is the key itself.
		Resources: jsii.Strings("*"),
	}), nil)
	// The topic names the key by its ARN: given the key itself, the CDK
	// adds its own grants to the key policy for each alarm and rule target,
	// with a wildcard action (kms:GenerateDataKey*); the statement above is
	// the whole of what they need.
	b.alerts = awssns.NewTopic(b.stack, jsii.String("Alerts"), &awssns.TopicProps{
		DisplayName: jsii.String("openmlops " + b.p.Stage), EnforceSSL: jsii.Bool(true),
		MasterKey: awskms.Key_FromKeyArn(b.stack, jsii.String("AlertsKeyRef"), key.KeyArn()),
	})
	// The topic's policy (the CDK writes one for EnforceSSL and for each
	// rule target) replaces SNS's default, which let the account's
	// CloudWatch publish: the alarms need their own statement, from this
	// account's alarms only.
	b.alerts.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AlarmsPublish"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("sns:Publish"), Resources: &[]*string{b.alerts.TopicArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"aws:SourceAccount": b.stack.Account()},
			"ArnLike": map[string]any{"aws:SourceArn": awscdk.Arn_Format(&awscdk.ArnComponents{Service: jsii.String("cloudwatch"),
				Resource: jsii.String("alarm"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME, ResourceName: jsii.String("*")}, b.stack)},
		},
	}))
	for _, e := range b.p.AlarmEmails {
		b.alerts.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(e), nil))
	}
}

// alarms watches what fails quietly: the functions' errors and throttles,
// the dead-letter queues, the APIs' 5xx, and Batch's failed jobs.
func (b *builder) alarms() {
	action := awscloudwatchactions.NewSnsAction(b.alerts)
	alarm := func(id, what string, m awscloudwatch.IMetric) {
		a := awscloudwatch.NewAlarm(b.stack, jsii.String(id), &awscloudwatch.AlarmProps{
			AlarmDescription: jsii.String(what), Metric: m, Threshold: jsii.Number(1), EvaluationPeriods: jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		})
		a.AddAlarmAction(action)
	}
	five := &awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum")}
	for _, f := range Functions() {
		fn := b.fns[f.Name]
		alarm("Errors-"+f.Name, "the "+f.Name+" function failed", fn.MetricErrors(five))
		alarm("Throttles-"+f.Name, "the "+f.Name+" function was throttled", fn.MetricThrottles(five))
	}
	for name, q := range b.dlqs {
		alarm("DLQ-depth-"+name, "events for "+name+" were given up on: read them from its dead-letter queue",
			q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Period: awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Maximum")}))
	}
	alarm("Api5xx-predictions", "the prediction API answered 5xx", b.predictAPI.MetricServerError(five))
	alarm("Api5xx-decisions", "the decisions API answered 5xx", b.decisionsAPI.MetricServerError(five))

	// Batch's failed jobs, on our queue, straight to people: the train
	// function also records the failure on the run.
	failed := awsevents.NewRule(b.stack, jsii.String("Notify-batch-failed"), &awsevents.RuleProps{
		Description: jsii.String("training jobs that failed on the platform's queue"),
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings("aws.batch"), DetailType: jsii.Strings("Batch Job State Change"),
			Detail: &map[string]any{"jobQueue": []*string{b.training.queue.JobQueueArn()}, "status": []string{"FAILED"}}},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(b.alerts, &awseventstargets.SnsTopicProps{
			DeadLetterQueue: b.dlqs[alertsDLQ], RetryAttempts: jsii.Number(ruleRetries), MaxEventAge: awscdk.Duration_Hours(jsii.Number(ruleEventHour))})},
	})
	// And an alarm on them (Batch has no metric of failed jobs): the rule's
	// matches, so that the failures show on the alarms' dashboard too.
	alarm("BatchJobsFailed", "training jobs failed on the platform's queue", awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
		Namespace: jsii.String("AWS/Events"), MetricName: jsii.String("TriggeredRules"),
		DimensionsMap: &map[string]*string{"RuleName": failed.RuleName()},
		Period:        awscdk.Duration_Minutes(jsii.Number(5)), Statistic: jsii.String("Sum"),
	}))
}

// outputs are what the CLI and ops read back (cdk deploy prints them).
func (b *builder) outputs() {
	out := func(id string, v *string, what string) {
		awscdk.NewCfnOutput(b.stack, jsii.String(id), &awscdk.CfnOutputProps{Value: v, Description: jsii.String(what)})
	}
	out("UploadsBucket", b.uploads.BucketName(), "where datasets are uploaded (incoming/<dataset>/) and labels (feedback/<model>/)")
	out("PlatformBucket", b.platform.BucketName(), "the platform's state and artifacts")
	out("MonitoringBucket", b.monitoring.BucketName(), "prediction logs and drift reports")
	out("SiteBucket", b.site.BucketName(), "the governance site's files")
	out("EventBusName", b.bus.EventBusName(), "the platform's event bus")
	url := func(d Domain, def *string) *string {
		if d.set() {
			return jsii.String("https://" + d.Name + "/")
		}
		return def
	}
	out("PredictionApiUrl", url(b.p.PredictionDomain, b.predictAPI.Url()), "the prediction API (SigV4, or JWT where configured)")
	out("DecisionsApiUrl", url(b.p.DecisionsDomain, b.decisionsAPI.Url()), "the decisions API (SigV4)")
	out("SiteUrl", url(b.p.SiteDomain, jsii.String("https://"+*b.dist.DistributionDomainName()+"/")), "the governance site")
	out("DistributionId", b.dist.DistributionId(), "the site's CloudFront distribution")
	out("AlertsTopicArn", b.alerts.TopicArn(), "alarms and approvals: subscribe here")
	out("JobQueueArn", b.training.queue.JobQueueArn(), "the training job queue")
	out("AuditKeyArn", b.auditKey.KeyArn(), "the audit checkpoints' HMAC key")
}
