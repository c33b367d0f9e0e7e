package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsbatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/customresources"
	"github.com/aws/jsii-runtime-go"
	"github.com/openmlops/mlops/shared/rules"
)

// JobTimeout bounds one training job; Batch stops it after this.
const JobTimeout = 4 * 3600 // seconds

// training is the Batch side of the platform.
type training struct {
	vpc               awsec2.Vpc
	queue             awsbatch.JobQueue
	definition        awsbatch.EcsJobDefinition
	jobRole, execRole awsiam.Role
	logs              awslogs.LogGroup
	image             string // pinned by digest (a token when built here)
}

// batch makes the network, the GPU compute environment, the queue and the
// reference trainer's job definition.
func (b *builder) batch() {
	t := &training{}
	b.training = t

	// The network costs nothing idle: no NAT gateway, no interface endpoint.
	// The instances sit in public subnets (they need to reach ECR, Batch and
	// CloudWatch Logs) behind a security group that admits nothing; S3, where
	// the data goes, through a gateway endpoint (free). PrivateSubnets moves
	// them behind a NAT gateway, which is billed by the hour.
	subnets := []*awsec2.SubnetConfiguration{{Name: jsii.String("public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(20)}}
	nat := 0.0
	selection := &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC}
	if b.p.PrivateSubnets {
		subnets = append(subnets, &awsec2.SubnetConfiguration{Name: jsii.String("private"),
			SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)})
		nat = 1
		selection = &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS}
	}
	t.vpc = awsec2.NewVpc(b.stack, jsii.String("Training"), &awsec2.VpcProps{
		MaxAzs: jsii.Number(2), NatGateways: jsii.Number(nat), SubnetConfiguration: &subnets,
		RestrictDefaultSecurityGroup: jsii.Bool(false),
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"S3": {Service: awsec2.GatewayVpcEndpointAwsService_S3()}},
		FlowLogs: &map[string]*awsec2.FlowLogOptions{"ToS3": {
			Destination: awsec2.FlowLogDestination_ToS3(b.logs, jsii.String("vpc-flow-logs/"), nil),
			TrafficType: awsec2.FlowLogTrafficType_REJECT}},
	})
	sg := awsec2.NewSecurityGroup(b.stack, jsii.String("TrainingInstances"), &awsec2.SecurityGroupProps{
		Vpc: t.vpc, AllowAllOutbound: jsii.Bool(true),
		Description: jsii.String("training instances: no inbound rule; out to ECR, Batch, CloudWatch Logs and S3"),
	})

	types := make([]awsec2.InstanceType, 0, len(b.p.GPUInstanceTypes))
	for _, it := range b.p.GPUInstanceTypes {
		types = append(types, awsec2.NewInstanceType(jsii.String(it)))
	}
	ceProps := &awsbatch.ManagedEc2EcsComputeEnvironmentProps{
		Vpc: t.vpc, VpcSubnets: selection, SecurityGroups: &[]awsec2.ISecurityGroup{sg},
		InstanceTypes: &types, UseOptimalInstanceClasses: jsii.Bool(false),
		// Nothing runs, nothing is billed: Batch scales to zero between jobs.
		MinvCpus: jsii.Number(0), MaxvCpus: jsii.Number(b.p.MaxVCPUs),
		Images: &[]*awsbatch.EcsMachineImage{{ImageType: awsbatch.EcsMachineImageType_ECS_AL2023_NVIDIA}},
		Spot:   jsii.Bool(b.p.Spot),
	}
	if b.p.Spot {
		ceProps.AllocationStrategy = awsbatch.AllocationStrategy_SPOT_PRICE_CAPACITY_OPTIMIZED
	}
	ce := awsbatch.NewManagedEc2EcsComputeEnvironment(b.stack, jsii.String("GPU"), ceProps)
	if role := ce.Node().TryFindChild(jsii.String("InstanceProfileRole")); role != nil {
		b.suppress(role, suppression{ID: "AwsSolutions-IAM4",
			Reason:    "AmazonEC2ContainerServiceforEC2Role: the ECS agent on Batch's instances registers them and pulls images.",
			AppliesTo: []any{"Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"}})
	}
	t.queue = awsbatch.NewJobQueue(b.stack, jsii.String("Queue"), &awsbatch.JobQueueProps{
		JobQueueName:        jsii.String(b.name("training")),
		ComputeEnvironments: &[]*awsbatch.OrderedComputeEnvironment{{ComputeEnvironment: ce, Order: jsii.Number(1)}},
	})

	t.logs = awslogs.NewLogGroup(b.stack, jsii.String("TrainerLogs"), &awslogs.LogGroupProps{
		LogGroupName: jsii.String("/aws/batch/" + b.name("trainer")), Retention: retention[b.p.LogRetentionDays],
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	t.execRole = awsiam.NewRole(b.stack, jsii.String("TrainerExecution"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("pulls the trainer's image and writes its logs"),
	})
	t.logs.GrantWrite(t.execRole)
	// The job role: read the dataset version, contract and spec, write the
	// run's bundle (rules.Grants' trainer entry, which the local platform
	// holds its jobs to as well). Batch substitutes no run id into a role,
	// so the write is on runs/; the train function verifies every bundle it
	// accepts against the run's manifest (training.BundleVerifier), so a job
	// writing another run's prefix gets that run failed, not a forged model.
	t.jobRole = awsiam.NewRole(b.stack, jsii.String("TrainerJob"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("the trainer: reads datasets/, contracts/ and specs/, writes runs/"),
	})
	for _, a := range rules.Grants()[rules.Trainer] {
		b.grant(t.jobRole, a)
	}

	b.suppress(t.jobRole.Node().FindChild(jsii.String("DefaultPolicy")), suppression{ID: "AwsSolutions-IAM5",
		Reason: "Object ARNs under one key prefix: the trainer reads datasets/, contracts/, specs/ and writes runs/.", AppliesTo: []any{prefixScoped}})

	var image awsecs.ContainerImage
	if b.p.TrainerImage != "" {
		t.image = b.p.TrainerImage
		image = awsecs.ContainerImage_FromRegistry(jsii.String(t.image), nil)
		// A registry the stack does not know: ECR pulls need the image's
		// repository granted to the execution role by its owner.
	} else {
		asset := awsecrassets.NewDockerImageAsset(b.stack, jsii.String("TrainerImage"), &awsecrassets.DockerImageAssetProps{
			Directory: jsii.String(b.p.TrainerDir), Platform: awsecrassets.Platform_LINUX_AMD64(),
			// The image needs the program only (the Dockerfile copies it):
			// the Go tests beside it would change the asset's hash, and,
			// staged under cdk.out/, be Go packages of this module.
			Exclude: jsii.Strings("**/*.go", "trainertest", "test_*.py"),
		})
		asset.Repository().GrantPull(t.execRole)
		b.suppress(t.execRole.Node().FindChild(jsii.String("DefaultPolicy")), suppression{ID: "AwsSolutions-IAM5",
			Reason:    "ecr:GetAuthorizationToken: the AWS API requires Resource \"*\" (the token is for the registry, not a repository); the pulls are on the trainer's repository only.",
			AppliesTo: []any{"Resource::*"}})
		t.image = *asset.Repository().RepositoryUri() + "@" + b.imageDigest(asset)
		image = awsecs.ContainerImage_FromRegistry(jsii.String(t.image), nil)
	}

	t.definition = awsbatch.NewEcsJobDefinition(b.stack, jsii.String("Trainer"), &awsbatch.EcsJobDefinitionProps{
		JobDefinitionName: jsii.String("mlops-trainer-" + b.p.Stage),
		Container: awsbatch.NewEcsEc2ContainerDefinition(b.stack, jsii.String("TrainerContainer"), &awsbatch.EcsEc2ContainerDefinitionProps{
			Image: image, Cpu: jsii.Number(4), Memory: awscdk.Size_Gibibytes(jsii.Number(15)), Gpu: jsii.Number(1),
			JobRole: t.jobRole, ExecutionRole: t.execRole, ReadonlyRootFilesystem: jsii.Bool(false),
			Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: t.logs, StreamPrefix: jsii.String("trainer")}),
		}),
		// Spot reclaims only: any other failure is the job's own, and the
		// train function reports it rather than paying for it again.
		RetryAttempts: jsii.Number(3),
		RetryStrategies: &[]awsbatch.RetryStrategy{
			awsbatch.RetryStrategy_Of(awsbatch.Action_RETRY, awsbatch.Reason_SPOT_INSTANCE_RECLAIMED()),
			awsbatch.RetryStrategy_Of(awsbatch.Action_EXIT, awsbatch.Reason_Custom(&awsbatch.CustomReason{OnReason: jsii.String("*")})),
		},
		Timeout:       awscdk.Duration_Seconds(jsii.Number(JobTimeout)),
		PropagateTags: jsii.Bool(true),
	})
}

// imageDigest is the digest of the image cdk deploy pushed for asset, read
// from ECR during the deployment: the training service accepts only images
// pinned by digest, and an asset is known by its tag.
func (b *builder) imageDigest(asset awsecrassets.DockerImageAsset) string {
	call := &customresources.AwsSdkCall{
		Service: jsii.String("ECR"), Action: jsii.String("describeImages"),
		Parameters: map[string]any{"repositoryName": asset.Repository().RepositoryName(),
			"imageIds": []map[string]any{{"imageTag": asset.ImageTag()}}},
		PhysicalResourceId: customresources.PhysicalResourceId_Of(asset.ImageTag()),
		OutputPaths:        jsii.Strings("imageDetails.0.imageDigest"),
	}
	cr := customresources.NewAwsCustomResource(b.stack, jsii.String("TrainerImageDigest"), &customresources.AwsCustomResourceProps{
		OnCreate: call, OnUpdate: call, InstallLatestAwsSdk: jsii.Bool(false),
		Policy: customresources.AwsCustomResourcePolicy_FromStatements(&[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("ecr:DescribeImages"),
				Resources: &[]*string{asset.Repository().RepositoryArn()}})}),
	})
	return *cr.GetResponseField(jsii.String("imageDetails.0.imageDigest"))
}

// grantSubmit lets fn submit and follow training jobs, and register the
// definitions of other trainer images (shared/aws/batch names them
// mlops-trainer-<hash>).
func (t *training) grantSubmit(b *builder, fn awslambda.Function) {
	defs := awscdk.Arn_Format(&awscdk.ArnComponents{Service: jsii.String("batch"), Resource: jsii.String("job-definition"),
		ResourceName: jsii.String("mlops-trainer*")}, b.stack)
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("batch:SubmitJob", "batch:RegisterJobDefinition", "batch:TagResource"),
		Resources: &[]*string{t.queue.JobQueueArn(), defs},
	}))
	// Batch's Describe* and ListJobs support no resource-level permissions:
	// the AWS API requires Resource "*" for them.
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions:   jsii.Strings("batch:DescribeJobs", "batch:ListJobs", "batch:DescribeJobDefinitions"),
		Resources: jsii.Strings("*"),
	}))
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Actions: jsii.Strings("iam:PassRole"), Resources: &[]*string{t.jobRole.RoleArn(), t.execRole.RoleArn()},
	}))
	b.suppress(fn.Role().Node().FindChild(jsii.String("DefaultPolicy")),
		suppression{ID: "AwsSolutions-IAM5", AppliesTo: []any{"Resource::*"},
			Reason: "batch:DescribeJobs, batch:ListJobs and batch:DescribeJobDefinitions support no resource-level permissions: the AWS API requires Resource \"*\"."},
		suppression{ID: "AwsSolutions-IAM5", AppliesTo: []any{map[string]string{"regex": `/^Resource::arn:<AWS::Partition>:batch:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|[0-9]{12}):job-definition\/mlops-trainer\*$/g`}},
			Reason: "The trainer's job definitions: the reference one and those shared/aws/batch registers per trainer image (mlops-trainer-<hash>), every revision."})
}
