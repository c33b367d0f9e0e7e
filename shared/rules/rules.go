// Package rules is the one definition of the EventBridge rules that route
// events to the platform's functions. The local platform subscribes its bus
// from All, and the CDK stack (its own module under infra/) builds its rules
// from the same values, so the two cannot drift apart.
//
// It imports the standard library only: the stack's module depends on this
// package, not on the SDKs and libraries the functions use. The event names
// and key prefixes it spells out are pinned to shared/event, shared/ingest and
// shared/training by its tests.
package rules

import "encoding/json"

// The functions rules route to, by their names in the stack.
const (
	Ingest    = "ingest"
	Train     = "train"
	Gate      = "gate"
	Reconcile = "reconcile"
	Drift     = "drift"
	Report    = "report"
)

// DriftSchedule is when the stack runs the drift function every night (an
// EventBridge schedule expression, UTC): the previous day's traffic is
// complete by then, Firehose's buffer included.
const DriftSchedule = "cron(30 1 * * ? *)"

// ReportSchedule is when the stack rebuilds the whole governance site every
// night: after the drift run (DriftSchedule), so that the night's reports
// are on it, and so that pages no longer produced are deleted.
const ReportSchedule = "cron(0 2 * * ? *)"

// RetiredTag is the object tag (with the value "true") the gate puts on
// every object of a retired version's bundle, and the one the stack's
// archive-retired lifecycle rule selects to move those objects to archival
// storage: kept, as the audit trail names them, but never served again.
const RetiredTag = "mlops:retired"

// DefaultBus is the name of the account's default event bus. In AWS, S3 (with
// EventBridge notifications on) and Batch put their events there, while the
// platform publishes its own to its custom bus (Names.EventBus), so a rule on
// one never sees the other's events. The local platform has one bus for both.
const DefaultBus = "default"

// Names are the deployment's names: the buckets the patterns filter on, and
// the buses the rules are on.
type Names struct {
	UploadsBucket  string // where datasets arrive, under incoming/
	PlatformBucket string // where retrain requests are written, under requests/retrain/
	// MonitoringBucket is where the drift reports are written, under drift/.
	MonitoringBucket string
	EventBus         string // the platform's own bus (EVENT_BUS_NAME)
	// JobQueue is the training job queue's ARN: Batch reports every queue's
	// jobs on the default bus, and the train function follows only its own.
	// Empty matches any queue (the local runner's jobs).
	JobQueue string
}

// Pattern is an EventBridge event pattern, with the fields the platform's
// rules use; the stack copies them into its EventPattern, and JSON gives the
// pattern as EventBridge (and the local bus) read it.
type Pattern struct {
	Source     []string       `json:"source"`
	DetailType []string       `json:"detail-type,omitempty"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// JSON is the pattern as EventBridge's PutRule takes it.
func (p Pattern) JSON() string {
	b, err := json.Marshal(p)
	if err != nil {
		// Strings, slices and maps of them always encode.
		panic("rules: encode pattern: " + err.Error())
	}
	return string(b)
}

// Rule routes the events its pattern matches on its bus to one function.
type Rule struct {
	Name     string // unique; the local bus's rule name and the stack's construct id
	Function string // the target
	Bus      string // the event bus's name: DefaultBus or Names.EventBus
	Pattern  Pattern
}

// Event sources and detail types the rules match; the values are
// shared/event's (see the tests).
const (
	sourcePlatform      = "mlops"
	sourceS3            = "aws.s3"
	sourceBatch         = "aws.batch"
	objectCreated       = "Object Created"
	batchJobStateChange = "Batch Job State Change"
	datasetVersioned    = "Dataset Versioned"
	datasetRejected     = "Dataset Rejected"
	retrainRequested    = "Retrain Requested"
	trainingSucceeded   = "Training Succeeded"
	trainingFailed      = "Training Failed"
	modelRegistered     = "Model Registered"
	promotionPending    = "Promotion Pending"
	modelPromoted       = "Model Promoted"
	modelRejected       = "Model Rejected"
	modelRolledBack     = "Model Rolled Back"
	modelRetired        = "Model Retired"
	driftDetected       = "Drift Detected"
)

// ReportEvents are the platform events that change the governance site.
var ReportEvents = []string{datasetVersioned, datasetRejected, trainingSucceeded, trainingFailed, modelRegistered,
	promotionPending, modelPromoted, modelRejected, modelRolledBack, modelRetired, driftDetected}

// Key prefixes the rules match; the values are shared/ingest's and
// shared/training's (see the tests).
const (
	IncomingPrefix = "incoming/"         // uploads to ingest
	RequestsPrefix = "requests/retrain/" // retrain requests written as objects
	DriftRequests  = "requests/drift/"   // on-demand drift runs written as objects
	FeedbackPrefix = "feedback/"         // labels uploaded for logged predictions
	DriftReports   = "drift/"            // drift reports, in the monitoring bucket
	Datasheets     = "datasheets/"       // datasets' datasheets, in the platform bucket
	ReportRequests = "requests/report/"  // full rebuilds of the site asked for (mlops report publish)
)

// All is every rule, in a fixed order. Reconcile, the nightly drift run and
// the nightly site rebuild run on schedules (DriftSchedule, ReportSchedule),
// not on events, so those are not here.
func All(n Names) []Rule {
	jobs := Pattern{Source: []string{sourceBatch}, DetailType: []string{batchJobStateChange}}
	if n.JobQueue != "" {
		jobs.Detail = map[string]any{"jobQueue": []string{n.JobQueue}}
	}
	return []Rule{
		{Name: "ingest-uploads", Function: Ingest, Bus: DefaultBus, Pattern: objectCreatedUnder(n.UploadsBucket, IncomingPrefix)},
		{Name: "train-datasets", Function: Train, Bus: n.EventBus,
			Pattern: Pattern{Source: []string{sourcePlatform}, DetailType: []string{datasetVersioned, retrainRequested}}},
		{Name: "train-jobs", Function: Train, Bus: DefaultBus, Pattern: jobs},
		{Name: "train-requests", Function: Train, Bus: DefaultBus, Pattern: objectCreatedUnder(n.PlatformBucket, RequestsPrefix)},
		{Name: "gate-trained", Function: Gate, Bus: n.EventBus,
			Pattern: Pattern{Source: []string{sourcePlatform}, DetailType: []string{trainingSucceeded}}},
		{Name: "drift-feedback", Function: Drift, Bus: DefaultBus, Pattern: objectCreatedUnder(n.UploadsBucket, FeedbackPrefix)},
		{Name: "drift-requests", Function: Drift, Bus: DefaultBus, Pattern: objectCreatedUnder(n.PlatformBucket, DriftRequests)},
		{Name: "report-events", Function: Report, Bus: n.EventBus,
			Pattern: Pattern{Source: []string{sourcePlatform}, DetailType: append([]string{}, ReportEvents...)}},
		// A drift report is written without any event when there is no
		// drift: its arrival is the event.
		{Name: "report-drift", Function: Report, Bus: DefaultBus, Pattern: objectCreatedUnder(n.MonitoringBucket, DriftReports)},
		{Name: "report-datasheets", Function: Report, Bus: DefaultBus, Pattern: objectCreatedUnder(n.PlatformBucket, Datasheets)},
		{Name: "report-requests", Function: Report, Bus: DefaultBus, Pattern: objectCreatedUnder(n.PlatformBucket, ReportRequests)},
	}
}

// objectCreatedUnder matches S3's "Object Created" for keys under prefix in bucket.
func objectCreatedUnder(bucket, prefix string) Pattern {
	return Pattern{Source: []string{sourceS3}, DetailType: []string{objectCreated},
		Detail: map[string]any{
			"bucket": map[string]any{"name": []string{bucket}},
			"object": map[string]any{"key": []any{map[string]string{"prefix": prefix}}},
		}}
}
