package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscertificatemanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfront"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudfrontorigins"
	"github.com/aws/jsii-runtime-go"
)

// SiteCSP is the site's Content-Security-Policy header: the generator's own
// policy (reportgen.CSP: every page carries it as a meta tag too) plus
// frame-ancestors, which only a header can carry. reportgen links the
// site's chart and Markdown libraries, which this module has no use for, so
// the value is spelled here and a test pins it to reportgen's source.
const SiteCSP = siteCSP + "; frame-ancestors 'none'"

const siteCSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-elem 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self'; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'"

// reports puts the site bucket behind CloudFront: origin access control (the
// bucket stays private), HTTPS only, and the security headers on every
// response.
func (b *builder) reports() {
	headers := awscloudfront.NewResponseHeadersPolicy(b.stack, jsii.String("SiteHeaders"), &awscloudfront.ResponseHeadersPolicyProps{
		Comment: jsii.String("openmlops " + b.p.Stage + " governance site: CSP and security headers"),
		SecurityHeadersBehavior: &awscloudfront.ResponseSecurityHeadersBehavior{
			ContentSecurityPolicy: &awscloudfront.ResponseHeadersContentSecurityPolicy{ContentSecurityPolicy: jsii.String(SiteCSP), Override: jsii.Bool(true)},
			ContentTypeOptions:    &awscloudfront.ResponseHeadersContentTypeOptions{Override: jsii.Bool(true)},
			FrameOptions:          &awscloudfront.ResponseHeadersFrameOptions{FrameOption: awscloudfront.HeadersFrameOption_DENY, Override: jsii.Bool(true)},
			ReferrerPolicy: &awscloudfront.ResponseHeadersReferrerPolicy{ReferrerPolicy: awscloudfront.HeadersReferrerPolicy_NO_REFERRER,
				Override: jsii.Bool(true)},
			StrictTransportSecurity: &awscloudfront.ResponseHeadersStrictTransportSecurity{
				AccessControlMaxAge: awscdk.Duration_Days(jsii.Number(365)), IncludeSubdomains: jsii.Bool(true), Override: jsii.Bool(true)},
		},
	})
	props := &awscloudfront.DistributionProps{
		Comment: jsii.String("openmlops " + b.p.Stage + " governance site"),
		DefaultBehavior: &awscloudfront.BehaviorOptions{
			Origin:                awscloudfrontorigins.S3BucketOrigin_WithOriginAccessControl(b.site, nil),
			ViewerProtocolPolicy:  awscloudfront.ViewerProtocolPolicy_REDIRECT_TO_HTTPS,
			ResponseHeadersPolicy: headers,
			CachePolicy:           awscloudfront.CachePolicy_CACHING_OPTIMIZED(),
			AllowedMethods:        awscloudfront.AllowedMethods_ALLOW_GET_HEAD(),
		},
		DefaultRootObject: jsii.String("index.html"),
		HttpVersion:       awscloudfront.HttpVersion_HTTP2_AND_3,
		PriceClass:        awscloudfront.PriceClass_PRICE_CLASS_100,
		EnableLogging:     jsii.Bool(true), LogBucket: b.logs, LogFilePrefix: jsii.String("cloudfront/"),
	}
	if d := b.p.SiteDomain; d.set() {
		props.DomainNames = jsii.Strings(d.Name)
		props.Certificate = awscertificatemanager.Certificate_FromCertificateArn(b.stack, jsii.String("SiteCertificate"), jsii.String(d.CertificateArn))
		// With its own certificate the viewer policy can be raised.
		props.MinimumProtocolVersion = awscloudfront.SecurityPolicyProtocol_TLS_V1_2_2021
	}
	b.dist = awscloudfront.NewDistribution(b.stack, jsii.String("SiteDistribution"), props)
	b.suppress(b.dist,
		suppression{ID: "AwsSolutions-CFR1", Reason: "The site is for the organisation's reviewers wherever they are; access is by URL, and nothing on it is region-restricted."},
		suppression{ID: "AwsSolutions-CFR2", Reason: "A static, read-only site of the registry's public facts; a WAF web ACL is billed by the month. Add one with a custom domain if required."},
	)
	if !b.p.SiteDomain.set() {
		b.suppress(b.dist, suppression{ID: "AwsSolutions-CFR4",
			Reason: "The default *.cloudfront.net certificate fixes the viewer policy at TLSv1 (CloudFront raises it only with a custom domain's certificate: siteDomain); the viewer protocol is HTTPS only."})
	}
}
