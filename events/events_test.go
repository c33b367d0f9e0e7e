package events

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/openmlops/mlops/shared/event"
)

// roundTrip decodes a sample into typed values and re-encodes it; decode
// fills the typed values and encode rebuilds the JSON from them alone.
type roundTrip struct {
	decode func(t *testing.T, data []byte)
	encode func(t *testing.T) []byte
}

// envelopeTrip round-trips an EventBridge envelope whose detail decodes into D.
func envelopeTrip[D any](env *event.Envelope, detail *D) roundTrip {
	return roundTrip{
		decode: func(t *testing.T, data []byte) {
			t.Helper()
			mustUnmarshal(t, data, env)
			mustUnmarshal(t, env.Detail, detail)
		},
		encode: func(t *testing.T) []byte {
			t.Helper()
			d := mustMarshal(t, detail)
			e := *env
			e.Detail = d
			return mustMarshal(t, e)
		},
	}
}

func mustUnmarshal(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(string(data)))
	// Unknown fields are exactly what a lossy type would silently drop.
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode into %T: %v", v, err)
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return data
}

func decodeAny(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return v
}

func TestSamplesRoundTrip(t *testing.T) {
	var (
		s3Env, mpEnv, schedEnv, verEnv, rejEnv event.Envelope
		s3Detail, mpDetail                     event.S3ObjectCreatedDetail
		schedDetail                            struct{}
		verDetail                              event.DatasetVersionedDetail
		rejDetail                              event.DatasetRejectedDetail
		classic                                lambdaevents.S3Event
		okEnv, failEnv, retrainEnv             event.Envelope
		okDetail                               event.TrainingSucceededDetail
		failDetail                             event.TrainingFailedDetail
		retrainDetail                          event.RetrainRequestedDetail
		promotedEnv, pendingEnv                event.Envelope
		promotedDetail, pendingDetail          event.ModelDetail
		loadFailedEnv                          event.Envelope
		loadFailedDetail                       event.ModelLoadFailedDetail
		driftEnv                               event.Envelope
		driftDetail                            event.DriftDetectedDetail
		apigw, apigwPredict                    lambdaevents.APIGatewayV2HTTPRequest
	)
	trips := map[string]roundTrip{
		"s3-object-created":           envelopeTrip(&s3Env, &s3Detail),
		"s3-object-created-multipart": envelopeTrip(&mpEnv, &mpDetail),
		"schedule":                    envelopeTrip(&schedEnv, &schedDetail),
		"dataset-versioned":           envelopeTrip(&verEnv, &verDetail),
		"dataset-rejected":            envelopeTrip(&rejEnv, &rejDetail),
		"training-succeeded":          envelopeTrip(&okEnv, &okDetail),
		"training-failed":             envelopeTrip(&failEnv, &failDetail),
		"retrain-requested":           envelopeTrip(&retrainEnv, &retrainDetail),
		"model-promoted":              envelopeTrip(&promotedEnv, &promotedDetail),
		"promotion-pending":           envelopeTrip(&pendingEnv, &pendingDetail),
		"model-load-failed":           envelopeTrip(&loadFailedEnv, &loadFailedDetail),
		"drift-detected":              envelopeTrip(&driftEnv, &driftDetail),
		// The SDK's type writes absent IAM-authorizer fields (cognitoIdentity,
		// principalOrgId) as empty values where API Gateway sends null, so the
		// trip is checked at the type: what decodes re-encodes to the same value.
		"apigw-approve": apigwTrip("apigw-approve", &apigw),
		"apigw-predict": apigwTrip("apigw-predict", &apigwPredict),
		// Batch samples round-trip through the whole AWS shape (batch_test.go).
		"batch-job-state-change-running":   batchTrip(),
		"batch-job-state-change-succeeded": batchTrip(),
		"batch-job-state-change-failed":    batchTrip(),
		"s3-notification": {
			decode: func(t *testing.T, data []byte) { mustUnmarshal(t, data, &classic) },
			encode: func(t *testing.T) []byte { return mustMarshal(t, classic) },
		},
	}
	for _, name := range Names() {
		if _, ok := trips[name]; !ok {
			t.Errorf("sample %s has no round-trip test", name)
		}
	}
	for name, rt := range trips {
		t.Run(name, func(t *testing.T) {
			orig := Sample(name)
			rt.decode(t, orig)
			again := decodeAny(t, rt.encode(t))
			if name == "s3-notification" {
				// aws-lambda-go adds urlDecodedKey, derived from key; it is not part of S3's payload.
				obj := again.(map[string]any)["Records"].([]any)[0].(map[string]any)["s3"].(map[string]any)["object"].(map[string]any)
				if obj["urlDecodedKey"] != "incoming/credit/credit_data.csv" {
					t.Errorf("urlDecodedKey = %v", obj["urlDecodedKey"])
				}
				delete(obj, "urlDecodedKey")
			}
			if want := decodeAny(t, orig); !reflect.DeepEqual(again, want) {
				got, _ := json.MarshalIndent(again, "", "  ")
				t.Errorf("round trip changed the sample:\n%s\nwant\n%s", got, orig)
			}
		})
	}

	// The samples say what they are.
	if s3Env.Source != event.S3Source || s3Env.DetailType != event.S3ObjectCreated || s3Detail.Reason != "PutObject" {
		t.Errorf("s3-object-created: %s/%s reason %s", s3Env.Source, s3Env.DetailType, s3Detail.Reason)
	}
	if s3Detail.Bucket.Name != "mlops-uploads" || s3Detail.Object.Key != "incoming/credit/credit_data.csv" {
		t.Errorf("s3-object-created names %s/%s", s3Detail.Bucket.Name, s3Detail.Object.Key)
	}
	if mpDetail.Reason != "CompleteMultipartUpload" || !strings.HasSuffix(mpDetail.Object.ETag, "-3") {
		t.Errorf("multipart sample: reason %s etag %s, want a multipart ETag", mpDetail.Reason, mpDetail.Object.ETag)
	}
	if schedEnv.Source != event.ScheduledSource || schedEnv.DetailType != event.ScheduledEventType {
		t.Errorf("schedule: %s/%s", schedEnv.Source, schedEnv.DetailType)
	}
	if verEnv.Source != event.Source || verEnv.DetailType != event.DatasetVersioned || verDetail.SchemaVersion != event.SchemaVersion {
		t.Errorf("dataset-versioned: %s/%s schema %s", verEnv.Source, verEnv.DetailType, verDetail.SchemaVersion)
	}
	if rejEnv.Source != event.Source || rejEnv.DetailType != event.DatasetRejected || len(rejDetail.Reasons) == 0 {
		t.Errorf("dataset-rejected: %s/%s reasons %v", rejEnv.Source, rejEnv.DetailType, rejDetail.Reasons)
	}

	if okEnv.Source != event.Source || okEnv.DetailType != event.TrainingSucceeded || okDetail.SchemaVersion != event.SchemaVersion ||
		okDetail.BundlePrefix != "runs/"+okDetail.RunID+"/bundle/" || okDetail.RunKey != "runs/"+okDetail.RunID+"/run.json" ||
		len(okDetail.BundleSHA256) != 64 || okDetail.Headline == "" {
		t.Errorf("training-succeeded: %s/%s %+v", okEnv.Source, okEnv.DetailType, okDetail)
	}
	if failEnv.Source != event.Source || failEnv.DetailType != event.TrainingFailed || failDetail.SchemaVersion != event.SchemaVersion ||
		failDetail.RunKey != "runs/"+failDetail.RunID+"/run.json" || failDetail.Reason == "" || failDetail.ExitCode == nil {
		t.Errorf("training-failed: %s/%s %+v", failEnv.Source, failEnv.DetailType, failDetail)
	}
	if retrainEnv.Source != event.Source || retrainEnv.DetailType != event.RetrainRequested ||
		retrainDetail.SchemaVersion != event.SchemaVersion || retrainDetail.RequestID == "" || retrainDetail.Model == "" {
		t.Errorf("retrain-requested: %s/%s %+v", retrainEnv.Source, retrainEnv.DetailType, retrainDetail)
	}

	// The classic notification and the EventBridge event describe the same upload.
	if len(classic.Records) != 1 {
		t.Fatalf("s3-notification has %d records, want 1", len(classic.Records))
	}
	r := classic.Records[0]
	if r.EventName != "ObjectCreated:Put" {
		t.Errorf("eventName = %s", r.EventName)
	}
	same := []struct{ field, classic, eventBridge string }{
		{"bucket", r.S3.Bucket.Name, s3Detail.Bucket.Name},
		{"key", r.S3.Object.Key, s3Detail.Object.Key},
		{"etag", r.S3.Object.ETag, s3Detail.Object.ETag},
		{"version id", r.S3.Object.VersionID, s3Detail.Object.VersionID},
		{"sequencer", r.S3.Object.Sequencer, s3Detail.Object.Sequencer},
		{"request id", r.ResponseElements["x-amz-request-id"], s3Detail.RequestID},
		{"source ip", r.RequestParameters.SourceIPAddress, s3Detail.SourceIPAddress},
		{"region", r.AWSRegion, s3Env.Region},
	}
	for _, s := range same {
		if s.classic != s.eventBridge {
			t.Errorf("%s: classic %q, EventBridge %q", s.field, s.classic, s.eventBridge)
		}
	}
	if r.S3.Object.Size != s3Detail.Object.Size {
		t.Errorf("size: classic %d, EventBridge %d", r.S3.Object.Size, s3Detail.Object.Size)
	}
	if !slices.Contains(s3Env.Resources, r.S3.Bucket.Arn) {
		t.Errorf("EventBridge resources %v lack the bucket ARN %s", s3Env.Resources, r.S3.Bucket.Arn)
	}
}

func TestSample(t *testing.T) {
	a, b := Sample("schedule"), Sample("schedule.json")
	if len(a) == 0 || string(a) != string(b) {
		t.Fatal("Sample with and without .json differ")
	}
	a[0] = 'X'
	if Sample("schedule")[0] == 'X' {
		t.Error("Sample returned shared bytes")
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "s3-notification") {
			t.Errorf("unknown sample: panic %v, want one listing the samples", p)
		}
	}()
	Sample("nope")
}

// TestTrainingSamplesFollowBatchSamples checks that the training outcomes
// announce the jobs of the Batch samples, as the train function would: the
// run is the job's name, and a failure carries the job's reasons, exit code
// and log stream.
func TestTrainingSamplesFollowBatchSamples(t *testing.T) {
	decode := func(name string, detail any) event.Envelope {
		t.Helper()
		var env event.Envelope
		mustUnmarshal(t, Sample(name), &env)
		if err := json.Unmarshal(env.Detail, detail); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return env
	}
	var okJob, failJob event.BatchJobDetail
	var ok event.TrainingSucceededDetail
	var failed event.TrainingFailedDetail
	okJobEnv := decode("batch-job-state-change-succeeded", &okJob)
	decode("batch-job-state-change-failed", &failJob)
	okEnv := decode("training-succeeded", &ok)
	failEnv := decode("training-failed", &failed)

	if ok.RunID != okJob.JobName || ok.JobID != okJob.JobID || ok.DatasetVersion != okJob.Parameters["datasetversion"] ||
		ok.Trainer != okJob.Parameters["trainer"] || "s3://"+ok.Bucket+"/"+ok.BundlePrefix != okJob.Parameters["output"] ||
		"s3://"+ok.Bucket+"/specs/"+ok.Model+"/"+ok.SpecHash+".json" != okJob.Parameters["spec"] {
		t.Errorf("training-succeeded %+v does not announce the job %s (%s) with parameters %v", ok, okJob.JobName, okJob.JobID, okJob.Parameters)
	}
	if !okEnv.Time.After(okJobEnv.Time) || ok.FinishedAt.Before(okJobEnv.Time) {
		t.Errorf("training-succeeded at %s (finished %s), the job's event at %s", okEnv.Time, ok.FinishedAt, okJobEnv.Time)
	}
	if len(okEnv.Resources) != 1 || okEnv.Resources[0] != "s3://"+ok.Bucket+"/"+ok.RunKey {
		t.Errorf("training-succeeded resources %v", okEnv.Resources)
	}

	c := failJob.Container
	if failed.RunID != failJob.JobName || failed.JobID != failJob.JobID || failed.DatasetVersion != failJob.Parameters["datasetversion"] ||
		failed.LogLocation != c.LogStreamName || failed.ExitCode == nil || c.ExitCode == nil || *failed.ExitCode != *c.ExitCode {
		t.Errorf("training-failed %+v does not announce the job %s (%s)", failed, failJob.JobName, failJob.JobID)
	}
	for _, part := range []string{failJob.StatusReason, c.Reason, fmt.Sprintf("exit code %d", *c.ExitCode)} {
		if !strings.Contains(failed.Reason, part) {
			t.Errorf("training-failed reason %q lacks %q", failed.Reason, part)
		}
	}
	if len(failEnv.Resources) != 1 || failEnv.Resources[0] != "s3://"+failed.Bucket+"/"+failed.RunKey {
		t.Errorf("training-failed resources %v", failEnv.Resources)
	}
}

// apigwTrip round-trips an API Gateway (HTTP API, payload 2.0) request. The
// SDK's type writes absent IAM-authorizer fields (cognitoIdentity,
// principalOrgId) as empty values where API Gateway sends null, so the trip
// is checked at the type: what decodes re-encodes to the same value.
func apigwTrip(name string, req *lambdaevents.APIGatewayV2HTTPRequest) roundTrip {
	return roundTrip{
		decode: func(t *testing.T, data []byte) { mustUnmarshal(t, data, req) },
		encode: func(t *testing.T) []byte {
			var again lambdaevents.APIGatewayV2HTTPRequest
			mustUnmarshal(t, mustMarshal(t, *req), &again)
			if !reflect.DeepEqual(again, *req) {
				t.Errorf("%s does not survive a round trip through its type", name)
			}
			if req.RequestContext.Authorizer == nil || req.RequestContext.Authorizer.IAM == nil ||
				req.RequestContext.Authorizer.IAM.UserARN == "" {
				t.Errorf("%s carries no IAM caller", name)
			}
			return Sample(name)
		},
	}
}
