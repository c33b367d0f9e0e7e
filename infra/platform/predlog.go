package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	fh "github.com/aws/aws-cdk-go/awscdk/v2/awskinesisfirehose"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
)

// predictionLog carries the predict function's record lines from its log
// group to the monitoring bucket: a subscription filter that lets only the
// records through, and a Firehose stream that partitions them by model and
// day, as docs/prediction-log.md lays out (the values are shared/predlog's,
// which the drift reader uses too; spelled in predlogValues, pinned to
// predlog's source by a test). Firehose bills by the GB ingested: nothing
// at idle.
func (b *builder) predictionLog() {
	monitoring := b.monitoring
	deliver := awsiam.NewRole(b.stack, jsii.String("PredictionLogDelivery"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("firehose.amazonaws.com"), nil),
		Description: jsii.String("Firehose: writes prediction records under predictions/ (and failures under predictions-errors/)"),
	})
	deliver.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"),
		Resources: &[]*string{monitoring.ArnForObjects(jsii.String("predictions/*")),
			monitoring.ArnForObjects(jsii.String("predictions-errors/*"))},
	}))
	deliver.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"),
		Resources: &[]*string{monitoring.BucketArn()},
	}))
	b.suppress(deliver.Node().FindChild(jsii.String("DefaultPolicy")), suppression{ID: "AwsSolutions-IAM5",
		Reason: "Object ARNs under one key prefix: the prediction records' and Firehose's failures'.", AppliesTo: []any{prefixScoped}})

	param := func(k, v string) *fh.CfnDeliveryStream_ProcessorParameterProperty {
		return &fh.CfnDeliveryStream_ProcessorParameterProperty{ParameterName: jsii.String(k), ParameterValue: jsii.String(v)}
	}
	processor := func(typ string, ps ...*fh.CfnDeliveryStream_ProcessorParameterProperty) *fh.CfnDeliveryStream_ProcessorProperty {
		p := &fh.CfnDeliveryStream_ProcessorProperty{Type: jsii.String(typ)}
		if len(ps) > 0 {
			p.Parameters = &ps
		}
		return p
	}
	stream := fh.NewCfnDeliveryStream(b.stack, jsii.String("PredictionLog"), &fh.CfnDeliveryStreamProps{
		DeliveryStreamType: jsii.String("DirectPut"),
		DeliveryStreamEncryptionConfigurationInput: &fh.CfnDeliveryStream_DeliveryStreamEncryptionConfigurationInputProperty{
			KeyType: jsii.String("AWS_OWNED_CMK")},
		ExtendedS3DestinationConfiguration: &fh.CfnDeliveryStream_ExtendedS3DestinationConfigurationProperty{
			BucketArn: monitoring.BucketArn(), RoleArn: deliver.RoleArn(),
			Prefix: jsii.String(predlogValues.FirehosePrefix), ErrorOutputPrefix: jsii.String(predlogValues.FirehoseErrorPrefix),
			CompressionFormat: jsii.String("GZIP"), FileExtension: jsii.String(predlogValues.FirehoseFileExtension),
			// Dynamic partitioning's smallest buffer.
			BufferingHints: &fh.CfnDeliveryStream_BufferingHintsProperty{IntervalInSeconds: jsii.Number(60), SizeInMBs: jsii.Number(64)},
			DynamicPartitioningConfiguration: &fh.CfnDeliveryStream_DynamicPartitioningConfigurationProperty{Enabled: jsii.Bool(true),
				RetryOptions: &fh.CfnDeliveryStream_RetryOptionsProperty{DurationInSeconds: jsii.Number(300)}},
			ProcessingConfiguration: &fh.CfnDeliveryStream_ProcessingConfigurationProperty{Enabled: jsii.Bool(true),
				Processors: &[]*fh.CfnDeliveryStream_ProcessorProperty{
					processor("Decompression", param("CompressionFormat", "GZIP")),
					processor("CloudWatchLogProcessing", param("DataMessageExtraction", "true")),
					processor("AppendDelimiterToRecord"),
					processor("MetadataExtraction", param("MetadataExtractionQuery", predlogValues.FirehoseJQ),
						param("JsonParsingEngine", "JQ-1.6")),
				}},
		},
	})
	stream.Node().AddDependency(deliver)

	// CloudWatch Logs puts the filtered lines into the stream.
	put := awsiam.NewRole(b.stack, jsii.String("PredictionLogSubscription"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("logs.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringLike": map[string]any{"aws:SourceArn": awscdk.Arn_Format(&awscdk.ArnComponents{
				Service: jsii.String("logs"), Resource: jsii.String("log-group"), ArnFormat: awscdk.ArnFormat_COLON_RESOURCE_NAME,
				ResourceName: jsii.String("/aws/lambda/" + b.name(Predict) + ":*")}, b.stack)}}}),
		Description: jsii.String("CloudWatch Logs: puts the predict function's record lines into the prediction log stream"),
	})
	put.AddToPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("firehose:PutRecord", "firehose:PutRecordBatch"), Resources: &[]*string{stream.AttrArn()},
	}))
	filter := awslogs.NewCfnSubscriptionFilter(b.stack, jsii.String("PredictionRecords"), &awslogs.CfnSubscriptionFilterProps{
		LogGroupName: b.predictLogs.LogGroupName(), FilterPattern: jsii.String(predlogValues.SubscriptionFilterPattern),
		DestinationArn: stream.AttrArn(), RoleArn: put.RoleArn(),
	})
	filter.Node().AddDependency(put)
}

// predlogValues are shared/predlog's constants for the Lambda path. That
// package links the S3 client, which this module has no use for; a test
// reads them from its source.
var predlogValues = struct {
	SubscriptionFilterPattern, FirehoseJQ, FirehosePrefix, FirehoseErrorPrefix, FirehoseFileExtension string
}{
	SubscriptionFilterPattern: `{ $.schema = "mlops.prediction/1" }`,
	FirehoseJQ:                `{model: .model, day: .time[0:10]}`,
	FirehosePrefix:            "predictions/!{partitionKeyFromQuery:model}/dt=!{partitionKeyFromQuery:day}/",
	FirehoseErrorPrefix:       "predictions-errors/!{firehose:error-output-type}/!{timestamp:yyyy-MM-dd}/",
	FirehoseFileExtension:     ".jsonl.gz",
}
