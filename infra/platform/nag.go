package platform

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// A cdk-nag finding acknowledged on one resource, with the reason a reviewer
// is to judge. The suppressions travel in the template as cdk-nag's own
// resource metadata ({"cdk_nag": {"rules_to_suppress": [...]}}), which
// infra/nag/check.mjs reads back when it runs the AwsSolutions pack.
type suppression struct {
	ID     string
	Reason string
	// AppliesTo narrows it to findings on these actions or resources
	// ("Resource::<Bucket.Arn>/datasets/*"); a {"regex": ...} entry matches
	// several.
	AppliesTo []any
}

type nagEntry struct {
	res  awscdk.CfnResource
	list []suppression
}

// suppress acknowledges findings on c's CloudFormation resource (c itself, or
// its default child for an L2 construct).
func (b *builder) suppress(c constructs.IConstruct, s ...suppression) {
	res := cfnOf(c)
	if res == nil {
		panic("platform: suppress: " + *c.Node().Path() + " has no CloudFormation resource")
	}
	path := *res.Node().Path()
	e := b.nag[path]
	if e == nil {
		e = &nagEntry{res: res}
		b.nag[path] = e
	}
	e.list = append(e.list, s...)
}

func cfnOf(c constructs.IConstruct) awscdk.CfnResource {
	if r, ok := c.(awscdk.CfnResource); ok {
		return r
	}
	if d := c.Node().DefaultChild(); d != nil {
		if r, ok := d.(awscdk.CfnResource); ok {
			return r
		}
	}
	return nil
}

// writeSuppressions writes each resource's list into its metadata.
func (b *builder) writeSuppressions() {
	for _, e := range b.nag {
		rules := make([]map[string]any, 0, len(e.list))
		for _, s := range e.list {
			r := map[string]any{"id": s.ID, "reason": s.Reason}
			if len(s.AppliesTo) > 0 {
				r["applies_to"] = s.AppliesTo
			}
			rules = append(rules, r)
		}
		e.res.AddMetadata(jsii.String("cdk_nag"), map[string]any{"rules_to_suppress": rules})
	}
}

// prefixScoped matches the IAM5 findings on object ARNs under a prefix
// (Resource::<Bucket.Arn>/datasets/*): the Grant* helpers' only wildcards.
var prefixScoped = map[string]string{"regex": `/^Resource::<[A-Za-z0-9]+\.Arn>\/[a-z0-9_\/-]*\*$/g`}
