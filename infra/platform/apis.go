package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2authorizers"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"

	"github.com/openmlops/mlops/shared/rules"
)

// Throttling of each API's default stage: the account's API Gateway quota
// is shared by every API in the region, and a runaway client of one must not
// starve the other.
const (
	predictRate, predictBurst     = 500, 1000
	decisionsRate, decisionsBurst = 10, 20
)

// accessLogFormat is one JSON object per request: who, what, how it ended.
const accessLogFormat = `{"requestId":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"caller":"$context.identity.caller","userArn":"$context.identity.userArn","time":"$context.requestTime",` +
	`"method":"$context.httpMethod","path":"$context.path","status":"$context.status",` +
	`"latency":"$context.responseLatency","integrationError":"$context.integrationErrorMessage",` +
	`"authorizerError":"$context.authorizer.error"}`

// apis makes the two HTTP APIs: predictions (IAM, or JWT where configured;
// an unauthenticated GET /healthz) and decisions (IAM only), so that a caller
// who may predict cannot decide, and the reverse.
func (b *builder) apis() {
	var auth awsapigatewayv2.IHttpRouteAuthorizer = awsapigatewayv2authorizers.NewHttpIamAuthorizer()
	if b.p.JWTIssuer != "" {
		auth = awsapigatewayv2authorizers.NewHttpJwtAuthorizer(jsii.String("Jwt"), jsii.String(b.p.JWTIssuer),
			&awsapigatewayv2authorizers.HttpJwtAuthorizerProps{JwtAudience: jsii.Strings(b.p.JWTAudience...)})
	}
	predict := b.api("PredictionApi", Predict, auth, predictRate, predictBurst, b.p.PredictionDomain)
	// The one route without authorization: it says the function runs and
	// nothing about any model (functions/predict serves it).
	health := predict.AddRoutes(&awsapigatewayv2.AddRoutesOptions{Path: jsii.String("/healthz"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_GET},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("Health"), b.fns[Predict], nil),
		Authorizer:  awsapigatewayv2.NewHttpNoneAuthorizer()})
	for _, route := range *health {
		b.suppress(route, suppression{ID: "AwsSolutions-APIG4",
			Reason: "GET /healthz is the unauthenticated health check: it answers {\"status\":\"ok\"} and says nothing about any model."})
	}
	b.predictAPI = predict
	b.decisionsAPI = b.api("DecisionsApi", rules.Gate, awsapigatewayv2authorizers.NewHttpIamAuthorizer(), decisionsRate, decisionsBurst,
		b.p.DecisionsDomain)
}

// api is an HTTP API whose every path goes to fn behind auth, with an access
// log and throttling on its default stage.
func (b *builder) api(id, fn string, auth awsapigatewayv2.IHttpRouteAuthorizer, rate, burst float64, domain Domain) awsapigatewayv2.HttpApi {
	props := &awsapigatewayv2.HttpApiProps{
		ApiName:           jsii.String(b.name(map[string]string{Predict: "predictions", rules.Gate: "decisions"}[fn])),
		Description:       jsii.String("openmlops " + b.p.Stage + ": the " + fn + " function's routes"),
		DefaultAuthorizer: auth,
	}
	if domain.set() {
		// TLS 1.2 at least (the domain's default security policy).
		dn := awsapigatewayv2.NewDomainName(b.stack, jsii.String(id+"Domain"), &awsapigatewayv2.DomainNameProps{
			DomainName:  jsii.String(domain.Name),
			Certificate: awscertificatemanager.Certificate_FromCertificateArn(b.stack, jsii.String(id+"Certificate"), jsii.String(domain.CertificateArn)),
		})
		props.DefaultDomainMapping = &awsapigatewayv2.DomainMappingOptions{DomainName: dn}
		// Callers use the custom name: the execute-api one would bypass it.
		props.DisableExecuteApiEndpoint = jsii.Bool(true)
	}
	api := awsapigatewayv2.NewHttpApi(b.stack, jsii.String(id), props)
	api.AddRoutes(&awsapigatewayv2.AddRoutesOptions{Path: jsii.String("/{proxy+}"),
		Methods:     &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_ANY},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String(id+"Proxy"), b.fns[fn], nil)})
	logs := awslogs.NewLogGroup(b.stack, jsii.String(id+"Access"), &awslogs.LogGroupProps{
		Retention: retention[b.p.LogRetentionDays], RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	stage := api.DefaultStage().Node().DefaultChild().(awsapigatewayv2.CfnStage)
	stage.SetAccessLogSettings(&awsapigatewayv2.CfnStage_AccessLogSettingsProperty{
		DestinationArn: logs.LogGroupArn(), Format: jsii.String(accessLogFormat)})
	stage.SetDefaultRouteSettings(&awsapigatewayv2.CfnStage_RouteSettingsProperty{
		ThrottlingRateLimit: jsii.Number(rate), ThrottlingBurstLimit: jsii.Number(burst)})
	return api
}
