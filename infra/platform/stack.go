package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awss3"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// builder holds what the stack's parts refer to one another by.
type builder struct {
	stack awscdk.Stack
	p     PlatformStackProps

	logs, uploads, platform, monitoring, site awss3.Bucket

	bus      awsevents.EventBus
	auditKey awskms.Key
	alerts   awssns.Topic
	dist     awscloudfront.Distribution
	training *training

	predictAPI, decisionsAPI awsapigatewayv2.HttpApi

	fns         map[string]awslambda.Function
	predictLogs awslogs.LogGroup
	dlqs        map[string]awssqs.Queue

	nag map[string]*nagEntry // suppressions by construct path, written last
}

// NewPlatformStack builds the platform's stack in scope. It fails (before
// adding anything) on props Validate rejects and on a missing function asset.
func NewPlatformStack(scope constructs.Construct, id string, props *PlatformStackProps) (stack awscdk.Stack, err error) {
	// The CDK reports a construct's invalid configuration by throwing, which
	// jsii turns into a panic: it leaves here as an error.
	defer func() {
		if r := recover(); r != nil {
			stack, err = nil, fmt.Errorf("platform stack %s: %v", id, r)
		}
	}()
	if props == nil {
		return nil, fmt.Errorf("platform stack %s: no props", id)
	}
	p := *props
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("platform stack %s: %w", id, err)
	}
	for _, f := range Functions() {
		boot := filepath.Join(p.AssetDir, f.Name, "bootstrap")
		if st, err := os.Stat(boot); err != nil || !st.Mode().IsRegular() {
			return nil, fmt.Errorf("platform stack %s: function %s: no %s (run make functions)", id, f.Name, boot)
		}
	}
	if p.TrainerImage == "" {
		if _, err := os.Stat(filepath.Join(p.TrainerDir, "Dockerfile")); err != nil {
			return nil, fmt.Errorf("platform stack %s: trainerDir %s: no Dockerfile", id, p.TrainerDir)
		}
	}
	sp := p.StackProps
	if sp.Description == nil {
		sp.Description = jsii.String("openmlops platform (" + p.Stage + "): storage, events, functions, training, APIs, reports")
	}
	b := &builder{stack: awscdk.NewStack(scope, jsii.String(id), &sp), p: p,
		fns: map[string]awslambda.Function{}, dlqs: map[string]awssqs.Queue{}, nag: map[string]*nagEntry{}}
	awscdk.Tags_Of(b.stack).Add(jsii.String("mlops:stage"), jsii.String(p.Stage), nil)
	awscdk.Tags_Of(b.stack).Add(jsii.String("mlops:component"), jsii.String("platform"), nil)

	b.operations() // the alerts topic first: everything after alarms to it
	b.storage()
	b.events()
	b.batch()
	b.reports()
	if err := b.functions(); err != nil {
		return nil, fmt.Errorf("platform stack %s: %w", id, err)
	}
	if err := b.rules(); err != nil {
		return nil, fmt.Errorf("platform stack %s: %w", id, err)
	}
	b.bucketPolicies()
	b.apis()
	b.predictionLog()
	b.alarms()
	b.outputs()
	b.cdkInternals()
	b.writeSuppressions()
	return b.stack, nil
}

// name is a name unique in the account: the stage's.
func (b *builder) name(base string) string { return "mlops-" + b.p.Stage + "-" + base }

func (b *builder) removal() awscdk.RemovalPolicy {
	if b.p.RetainData {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

func days(n int) awscdk.Duration { return awscdk.Duration_Days(jsii.Number(n)) }

func itoa(n int) string { return strconv.Itoa(n) }

// cdkInternals acknowledges the findings on the functions the CDK itself
// adds: the handler that turns on the buckets' EventBridge notifications and
// the custom resource that reads the trainer image's digest. Both run only
// during deployments.
func (b *builder) cdkInternals() {
	for _, c := range *b.stack.Node().Children() {
		id := *c.Node().Id()
		if !strings.HasPrefix(id, "BucketNotificationsHandler") && !strings.HasPrefix(id, "AWS679f53fac002430cb0da5b7982bd2287") {
			continue
		}
		for _, d := range *c.Node().FindAll(constructs.ConstructOrder_PREORDER) {
			res := cfnOf(d)
			if res == nil || res.Node().Scope() == nil {
				continue
			}
			switch *res.CfnResourceType() {
			case "AWS::Lambda::Function":
				b.suppress(res, suppression{ID: "AwsSolutions-L1",
					Reason: "A CDK-provided deployment-time function (" + id + "); its runtime is the CDK release's choice and it runs only during deployments."})
			case "AWS::IAM::Role":
				b.suppress(res, suppression{ID: "AwsSolutions-IAM4", Reason: "AWSLambdaBasicExecutionRole on a CDK-provided deployment-time function: its own logs.",
					AppliesTo: []any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}})
			}
		}
	}
}
