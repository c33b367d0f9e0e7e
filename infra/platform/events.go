package platform

import (
	"fmt"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/jsii-runtime-go"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/rules"
)

// Retries of an event delivery to a function before it goes to the
// function's dead-letter queue.
const (
	ruleRetries   = 8
	ruleEventHour = 24
)

// events makes the platform's own bus.
func (b *builder) events() {
	b.bus = awsevents.NewEventBus(b.stack, jsii.String("Bus"), &awsevents.EventBusProps{EventBusName: jsii.String(b.busName())})
}

func (b *builder) busName() string { return b.name("events") }

// Names are the deployment's names the rules are built from.
func (b *builder) names() rules.Names {
	return rules.Names{UploadsBucket: *b.uploads.BucketName(), PlatformBucket: *b.platform.BucketName(),
		MonitoringBucket: *b.monitoring.BucketName(), EventBus: b.busName(), JobQueue: *b.training.queue.JobQueueArn()}
}

// rules makes one EventBridge rule for each of rules.All, on its bus, to its
// function, with retries and the function's dead-letter queue; then the
// schedules, and the notifications people get.
func (b *builder) rules() error {
	for _, r := range rules.All(b.names()) {
		if p := r.Pattern.JSON(); strings.Contains(p, `""`) {
			return fmt.Errorf("rule %s: an empty name in its pattern %s: rules.Names has a field the stack does not set (events.go, names)", r.Name, p)
		}
		if _, ok := b.fns[r.Function]; !ok {
			return fmt.Errorf("rule %s: no function %q in the stack (Functions lacks it)", r.Name, r.Function)
		}
		props := &awsevents.RuleProps{
			Description:  jsii.String("shared/rules " + r.Name + ": to the " + r.Function + " function"),
			EventPattern: eventPattern(r.Pattern),
			Targets:      &[]awsevents.IRuleTarget{b.target(r.Function)},
		}
		switch r.Bus {
		case rules.DefaultBus: // S3's and Batch's events: the default bus
		case b.busName():
			props.EventBus = b.bus
		default:
			return fmt.Errorf("rule %s: bus %q is neither the default bus nor the platform's (%s)", r.Name, r.Bus, b.busName())
		}
		awsevents.NewRule(b.stack, jsii.String("Rule-"+r.Name), props)
	}

	schedule := func(id, fn, expr, why string) {
		awsevents.NewRule(b.stack, jsii.String(id), &awsevents.RuleProps{
			Description: jsii.String(why), Schedule: awsevents.Schedule_Expression(jsii.String(expr)),
			Targets: &[]awsevents.IRuleTarget{b.target(fn)},
		})
	}
	schedule("Schedule-drift", rules.Drift, rules.DriftSchedule, "nightly drift over the previous day's traffic")
	schedule("Schedule-reconcile", rules.Reconcile, fmt.Sprintf("rate(%d minutes)", int(b.p.ReconcileEvery.Minutes())),
		"reconcile: take over unfinished work, announce lost events")
	schedule("Schedule-report", rules.Report, rules.ReportSchedule, "nightly rebuild of the governance site")

	// What people act on, from the platform's bus to the alerts topic.
	awsevents.NewRule(b.stack, jsii.String("Notify-people"), &awsevents.RuleProps{
		Description: jsii.String("platform events for people: approvals, failures, drift"), EventBus: b.bus,
		EventPattern: &awsevents.EventPattern{Source: jsii.Strings(event.Source),
			DetailType: jsii.Strings(event.PromotionPending, event.TrainingFailed, event.DatasetRejected,
				event.ModelLoadFailed, event.DriftDetected)},
		Targets: &[]awsevents.IRuleTarget{awseventstargets.NewSnsTopic(b.alerts, &awseventstargets.SnsTopicProps{
			DeadLetterQueue: b.dlqs[alertsDLQ], RetryAttempts: jsii.Number(ruleRetries), MaxEventAge: awscdk.Duration_Hours(jsii.Number(ruleEventHour))})},
	})
	return nil
}

// target is fn as a rule target, with retries and its dead-letter queue.
func (b *builder) target(fn string) awsevents.IRuleTarget {
	return awseventstargets.NewLambdaFunction(b.fns[fn], &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: b.dlqs[fn], RetryAttempts: jsii.Number(ruleRetries),
		MaxEventAge: awscdk.Duration_Hours(jsii.Number(ruleEventHour)),
	})
}

// eventPattern is p in the CDK's shape: the same fields, the same values.
func eventPattern(p rules.Pattern) *awsevents.EventPattern {
	ep := &awsevents.EventPattern{Source: jsii.Strings(p.Source...)}
	if len(p.DetailType) > 0 {
		ep.DetailType = jsii.Strings(p.DetailType...)
	}
	if p.Detail != nil {
		d := map[string]any(p.Detail)
		ep.Detail = &d
	}
	return ep
}
