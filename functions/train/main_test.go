package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/event/eventtest"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/local/runtimeapi"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

const platform = "platform"

// The real bootstrap binary, built as for Lambda, runs under a Runtime API
// server against the embedded S3, with the environment the stack gives it. AWS
// Batch cannot run here (it needs an account, a compute environment and ECS),
// so MLOPS_BATCH_ENDPOINT points the function's real Batch client at a fake
// speaking Batch's REST-JSON protocol (lambdatest.Batch), which records the
// SubmitJob, ListJobs and DescribeJobs requests; EventBridge is a fake too.
//
// The story: a new version of the credit dataset trains the credit model once,
// however often and however concurrently the event arrives; the job's SUCCEEDED
// event verifies the bundle and announces "Training Succeeded". A retrain
// request makes a second run, whose SubmitJob answer is lost (the function
// times out after Batch accepted the job); the redelivery, after the claim's
// lease, finds the job by name instead of submitting another, and its FAILED
// event announces "Training Failed".
func TestBootstrapUnderRuntimeAPI(t *testing.T) {
	bin, st, eb, env := lambdatest.Bootstrap(t, ".")
	batch := lambdatest.NewBatch(t)
	ctx := context.Background()

	sp, err := credit.Spec()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := specstore.Apply(ctx, st, ingest.NewDatasets(st, platform, ""), platform, sp, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	versioned := ingestCredit(t, st)
	var manifest ingest.Manifest
	readJSON(t, st, ingest.ManifestKey("credit", versioned.versionID), &manifest)

	// The stack's environment, and a short claim lease (RUN_LEASE, 5 minutes
	// by default) so that taking over a stranded claim needs no long wait.
	const lease = 3 * time.Second
	env = append(append(env, batch.Env()...), "RUN_LEASE="+lease.String())
	// Four instances of the function, as Lambda runs concurrent deliveries.
	fns := make([]*lambdatest.Function, 4)
	for i := range fns {
		fns[i] = lambdatest.Start(t, bin, "train", env)
	}
	fn := fns[0]
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	invoke := func(f *lambdatest.Function, payload []byte) {
		t.Helper()
		if _, err := f.Invoke(ictx, payload); err != nil {
			t.Fatalf("invoke: %v\nlogs:\n%s", err, f.Logs())
		}
	}

	_, digest, _ := strings.Cut(lambdatest.TrainerImage, "@") // sha256:<hex>, the trainer's identity
	base := training.BaseHash("credit", versioned.versionID, applied.Hash, digest)
	run1 := training.RunID("credit", base, 1)

	// --- A new dataset version: exactly one job. ---
	invoke(fn, versioned.envelope)
	if ops := opsOf(batch.Calls("")); !reflect.DeepEqual(ops, []string{"ListJobs", "SubmitJob"}) {
		t.Fatalf("Batch calls %v, want ListJobs (nothing by that name yet) then SubmitJob", ops)
	}
	var list wireList
	lambdatest.DecodeStrict(t, batch.Calls("ListJobs")[0].Body, &list)
	if list.JobQueue != lambdatest.BatchJobQueue || len(list.Filters) != 1 || list.Filters[0].Name != "JOB_NAME" ||
		!reflect.DeepEqual(list.Filters[0].Values, []string{run1}) {
		t.Errorf("ListJobs %+v, want the queue filtered by JOB_NAME %s", list, run1)
	}
	var sub lambdatest.SubmitJobRequest
	lambdatest.DecodeStrict(t, batch.Calls("SubmitJob")[0].Body, &sub)
	uri := func(key string) string { return "s3://" + platform + "/" + key }
	if len(manifest.Partitions) != 1 {
		t.Fatalf("manifest partitions %+v", manifest.Partitions)
	}
	wantParams := map[string]string{
		"data":           uri(manifest.Partitions[0].CanonicalKey),
		"contract":       uri(ingest.ContractKey("credit", manifest.ContractHash)),
		"spec":           uri(applied.Key),
		"output":         uri(training.BundlePrefix(run1)),
		"runid":          run1,
		"datasetversion": versioned.versionID,
		"trainer":        digest,
	}
	if sub.JobName != run1 || sub.JobQueue != lambdatest.BatchJobQueue || sub.JobDefinition != lambdatest.BatchJobDefinition {
		t.Errorf("SubmitJob name %s queue %s definition %s, want %s on %s with %s", sub.JobName, sub.JobQueue,
			sub.JobDefinition, run1, lambdatest.BatchJobQueue, lambdatest.BatchJobDefinition)
	}
	if !reflect.DeepEqual(sub.Parameters, wantParams) {
		t.Errorf("SubmitJob parameters\n%v\nwant\n%v", sub.Parameters, wantParams)
	}
	// The inputs the trainer is pointed at exist (the output folder is its to write).
	for _, name := range []string{"data", "contract", "spec"} {
		key := strings.TrimPrefix(sub.Parameters[name], "s3://"+platform+"/")
		if _, err := st.Head(ctx, platform, key); err != nil {
			t.Errorf("parameter %s: %v", name, err)
		}
	}
	o := sub.ContainerOverrides
	if o == nil {
		t.Fatal("SubmitJob without container overrides")
	}
	if !reflect.DeepEqual(o.Command, training.ContractArgs()) {
		t.Errorf("command %q, want the container contract's arguments (the image's entrypoint is the program)", o.Command)
	}
	wantRes := []lambdatest.Resource{{Type: "GPU", Value: "1"}, {Type: "VCPU", Value: "4"}, {Type: "MEMORY", Value: "8192"}}
	if sp.Trainer.GPUs != 1 || sp.Trainer.VCPUs != 4 || sp.Trainer.MemoryMiB != 8192 || !reflect.DeepEqual(o.ResourceRequirements, wantRes) {
		t.Errorf("resources %v, want the spec's %+v", o.ResourceRequirements, sp.Trainer)
	}
	wantEnv := []lambdatest.KV{{Name: "MLOPS_DATASET", Value: "credit"}, {Name: "MLOPS_DATASET_VERSION", Value: versioned.versionID}, {Name: "MLOPS_MODEL", Value: "credit"}, {Name: "MLOPS_RUN_ID", Value: run1}}
	if !reflect.DeepEqual(o.Environment, wantEnv) {
		t.Errorf("environment %v, want %v", o.Environment, wantEnv)
	}
	if sub.Timeout == nil || sub.Timeout.AttemptDurationSeconds != sp.Trainer.TimeoutSeconds {
		t.Errorf("timeout %+v, want the spec's %d s", sub.Timeout, sp.Trainer.TimeoutSeconds)
	}
	wantTags := map[string]string{"mlops:run": run1, "mlops:model": "credit", "mlops:dataset": "credit", "mlops:dataset-version": versioned.versionID}
	propagated := sub.PropagateTags != nil && *sub.PropagateTags
	if !reflect.DeepEqual(sub.Tags, wantTags) || !propagated {
		t.Errorf("tags %v (propagated %v), want %v", sub.Tags, propagated, wantTags)
	}
	jobs := batch.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("jobs %d", len(jobs))
	}
	job1 := jobs[0]
	rec := getRun(t, st, run1)
	if rec.State != training.StateSubmitted || rec.Job.ID != job1.ID || rec.Cause.Kind != training.CauseDatasetVersioned {
		t.Fatalf("run %s: state %s job %s cause %s, want submitted with job %s", run1, rec.State, rec.Job.ID, rec.Cause.Kind, job1.ID)
	}

	// The same event again, then concurrently on every instance: still one job.
	invoke(fn, versioned.envelope)
	concurrently(t, fns, func(f *lambdatest.Function) error { _, err := f.Invoke(ictx, versioned.envelope); return err })
	if n := len(batch.Calls("SubmitJob")); n != 1 || len(batch.Jobs()) != 1 {
		t.Fatalf("duplicate deliveries made %d SubmitJob calls in all, want 1", n)
	}

	// --- The job succeeds: the bundle is verified and announced. ---
	sum := putBundle(t, st, rec)
	batch.SetState(job1.ID, lambdatest.JobState{Status: "SUCCEEDED", StatusReason: "Essential container in task exited",
		ExitCode: new(int), LogStreamName: "mlops-trainer/default/" + strings.ReplaceAll(job1.ID, "-", "")})
	succeeded := stateChange(t, "batch-job-state-change-succeeded", batch.Jobs()[0])
	invoke(fn, succeeded)
	rec = getRun(t, st, run1)
	if rec.State != training.StateSucceeded || rec.Bundle == nil || rec.Bundle.SHA256 != sum ||
		rec.Bundle.Prefix != training.BundlePrefix(run1) || rec.Bundle.Headline != "auc" {
		t.Fatalf("run %s after SUCCEEDED: %s bundle %+v reason %q\nlogs:\n%s", run1, rec.State, rec.Bundle, rec.Reason, fn.Logs())
	}
	var ok event.TrainingSucceededDetail
	e := only(t, eb, event.TrainingSucceeded, &ok)
	if e.Source != event.Source || e.EventBusName != "mlops" || !slices.Contains(e.Resources, uri(training.RunKey(run1))) {
		t.Errorf("entry %s on %s, resources %v", e.Source, e.EventBusName, e.Resources)
	}
	if ok.RunID != run1 || ok.BundlePrefix != training.BundlePrefix(run1) || ok.BundleSHA256 != sum || ok.JobID != job1.ID ||
		ok.Model != "credit" || ok.Dataset != "credit" || ok.DatasetVersion != versioned.versionID || ok.SpecHash != applied.Hash ||
		ok.ContractHash != manifest.ContractHash || ok.Trainer != digest || ok.Bucket != platform || ok.RunKey != training.RunKey(run1) ||
		ok.Headline != "auc" || ok.HeadlineValue != rec.Bundle.HeadlineValue || ok.SchemaVersion != event.SchemaVersion || ok.FinishedAt.IsZero() {
		t.Errorf("Training Succeeded %+v", ok)
	}
	// A redelivery of the final event announces nothing more.
	invoke(fns[1], succeeded)
	only(t, eb, event.TrainingSucceeded, &ok)

	// --- A retrain request: the second run's SubmitJob answer is lost. ---
	retrain := retrainRequest(t, "drift-credit-2026-03-09")
	run2 := training.RunID("credit", base, 2)
	batch.LoseSubmitAnswers(1)
	fn.Timeout = 3 * time.Second // the function's deadline: it gives up waiting for the answer
	_, err = fn.Invoke(ictx, retrain)
	fn.Timeout = time.Minute
	var fe *runtimeapi.FunctionError
	if !errors.As(err, &fe) {
		t.Fatalf("invocation whose SubmitJob answer was lost: %v, want a function error\nlogs:\n%s", err, fn.Logs())
	}
	jobs = batch.Jobs()
	if len(jobs) != 2 || jobs[1].Name != run2 {
		t.Fatalf("jobs %+v, want a second one named %s", jobs, run2)
	}
	job2 := jobs[1]
	rec = getRun(t, st, run2)
	if rec.State != training.StateClaimed || rec.Job.ID != "" || rec.Cause.Kind != training.CauseRetrain {
		t.Fatalf("run %s: %s job %q cause %s, want a claim that never learnt its job", run2, rec.State, rec.Job.ID, rec.Cause.Kind)
	}
	// Once the lease has run out, the redeliveries (concurrent) take the claim
	// over, find the job by name, and submit nothing.
	time.Sleep(time.Until(rec.ClaimedAt.Add(lease + 200*time.Millisecond)))
	lists := len(batch.Calls("ListJobs"))
	concurrently(t, fns, func(f *lambdatest.Function) error { _, err := f.Invoke(ictx, retrain); return err })
	if n := len(batch.Calls("SubmitJob")); n != 2 {
		t.Fatalf("SubmitJob calls %d in all, want 2: the stranded claim's job must be found, not submitted again", n)
	}
	if calls := batch.Calls("ListJobs"); len(calls) <= lists {
		t.Errorf("no ListJobs after the takeover")
	} else {
		lambdatest.DecodeStrict(t, calls[len(calls)-1].Body, &list)
		if !reflect.DeepEqual(list.Filters[0].Values, []string{run2}) {
			t.Errorf("ListJobs %+v, want JOB_NAME %s", list, run2)
		}
	}
	if calls := batch.Calls("DescribeJobs"); len(calls) != 1 || !strings.Contains(string(calls[0].Body), job2.ID) {
		t.Errorf("DescribeJobs calls %v, want one for %s", calls, job2.ID)
	}
	rec = getRun(t, st, run2)
	if rec.State != training.StateSubmitted || rec.Job.ID != job2.ID || rec.Job.Parameters["runid"] != run2 {
		t.Fatalf("run %s after the takeover: %s job %q, want submitted with %s\nlogs:\n%s", run2, rec.State, rec.Job.ID, job2.ID, fn.Logs())
	}

	// --- The second job fails: the run says why. ---
	exit := 137
	batch.SetState(job2.ID, lambdatest.JobState{Status: "FAILED", StatusReason: "Essential container in task exited",
		ExitCode: &exit, Reason: "OutOfMemoryError: Container killed due to memory usage", LogStreamName: "mlops-trainer/default/9e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f"})
	invoke(fns[2], stateChange(t, "batch-job-state-change-failed", batch.Jobs()[1]))
	rec = getRun(t, st, run2)
	if rec.State != training.StateFailed || !strings.Contains(rec.Reason, "OutOfMemoryError") {
		t.Fatalf("run %s after FAILED: %s reason %q", run2, rec.State, rec.Reason)
	}
	var failed event.TrainingFailedDetail
	only(t, eb, event.TrainingFailed, &failed)
	if failed.RunID != run2 || failed.JobID != job2.ID || failed.Attempt != 2 || failed.ExitCode == nil || *failed.ExitCode != 137 ||
		failed.LogLocation != "mlops-trainer/default/9e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f" || failed.Reason != rec.Reason ||
		!strings.HasPrefix(failed.Reason, "Essential container in task exited (OutOfMemoryError: Container killed due to memory usage) (exit code 137)") {
		t.Errorf("Training Failed %+v", failed)
	}

	// --- Garbage is a function error reported to the runtime, not a crash. ---
	for _, p := range []struct{ payload, msg string }{
		{`{"version":"0","detail-type":42}`, "not an EventBridge event"},
		{`{"source":"aws.s3","detail-type":"Object Deleted","detail":{}}`, "unexpected source"},
		{`{"source":"mlops","detail-type":"Dataset Versioned","detail":{"dataset":"credit"}}`, "versionId"},
		{"\x00 garbage", ""},
	} {
		_, err := fn.Invoke(ictx, []byte(p.payload))
		if !errors.As(err, &fe) || !strings.Contains(fe.Message, p.msg) {
			t.Errorf("payload %q: %v, want a function error about %q", p.payload, err, p.msg)
		}
	}
	invoke(fn, succeeded) // the process still serves
	if n := len(batch.Calls("SubmitJob")); n != 2 || len(eb.Entries()) != 2 {
		t.Errorf("in all: %d SubmitJob calls and %d events, want 2 and 2", n, len(eb.Entries()))
	}
	for _, f := range fns {
		if strings.Contains(f.Logs(), "panic") {
			t.Errorf("a function panicked:\n%s", f.Logs())
		}
	}
}

// The function refuses to start without its training settings: a cold-start
// error and a non-zero exit, before it ever asks for an event.
func TestBootstrapRefusesToStartWithoutTrainingSettings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := lambdatest.Build(t, ".")
	srv, _ := lambdatest.S3(t, "uploads", platform)
	eb := lambdatest.NewEventBridge(t)
	batch := lambdatest.NewBatch(t)
	full := append(lambdatest.Env(srv, eb, "uploads", platform), batch.Env()...)
	for _, missing := range []string{"JOB_QUEUE", "JOB_DEFINITION", "TRAINER_IMAGE"} {
		t.Run(missing, func(t *testing.T) {
			rt, err := runtimeapi.Start("arn:aws:lambda:us-east-1:123456789012:function:train", time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			defer rt.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin)
			cmd.Env = []string{"AWS_LAMBDA_RUNTIME_API=" + rt.Addr(), "AWS_LAMBDA_FUNCTION_NAME=train",
				"AWS_EC2_METADATA_DISABLED=true", "HOME=" + t.TempDir()}
			for _, kv := range full {
				if !strings.HasPrefix(kv, missing+"=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if ctx.Err() != nil || !errors.As(err, &exitErr) || exitErr.ExitCode() == 0 {
				t.Fatalf("without %s: %v (context %v), want a non-zero exit\n%s", missing, err, ctx.Err(), out)
			}
			if !bytes.Contains(out, []byte(`"msg":"cold start"`)) || !bytes.Contains(out, []byte(missing)) {
				t.Errorf("without %s, the log says:\n%s", missing, out)
			}
		})
	}
	if n := len(batch.Calls("")); n != 0 {
		t.Errorf("%d Batch calls from functions that never started", n)
	}
}

// version is a dataset version ingest committed, and the "Dataset Versioned"
// event EventBridge delivers for it.
type version struct {
	versionID string
	envelope  []byte
}

// ingestCredit runs the ingest use case in process on the credit CSV, as the
// ingest function would, and returns the event it published in the envelope
// EventBridge delivers.
func ingestCredit(t *testing.T, st *store.Store) version {
	t.Helper()
	ctx := context.Background()
	data := credit.CSV()
	key := "incoming/credit/credit_data.csv"
	info, err := st.Put(ctx, "uploads", key, data, store.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pub := &eventtest.Recorder{}
	svc := ingest.New(st, pub, ingest.Config{UploadsBucket: "uploads", PlatformBucket: platform, TempDir: t.TempDir()})
	out, err := svc.Ingest(ctx, ingest.Upload{Bucket: "uploads", Key: key, ETag: info.ETag, Size: int64(len(data)), EventTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	published := pub.Events()
	if out.Receipt.Status != ingest.Accepted || len(published) != 1 || published[0].DetailType != event.DatasetVersioned {
		t.Fatalf("ingest: %+v, published %+v", out.Receipt, published)
	}
	return version{versionID: out.Receipt.VersionID, envelope: envelope(t, published[0])}
}

// envelope is ev as an EventBridge rule delivers it to the function.
func envelope(t *testing.T, ev event.Event) []byte {
	t.Helper()
	d, err := json.Marshal(ev.Detail)
	if err != nil {
		t.Fatal(err)
	}
	resources := ev.Resources
	if resources == nil {
		resources = []string{}
	}
	b, err := json.Marshal(event.Envelope{Version: "0", ID: rand.Text(),
		DetailType: ev.DetailType, Source: ev.Source, Account: "123456789012", Time: time.Now().UTC().Truncate(time.Second),
		Region: "us-east-1", Resources: resources, Detail: d})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// retrainRequest is the events sample "Retrain Requested", for the credit model.
func retrainRequest(t *testing.T, requestID string) []byte {
	t.Helper()
	var env event.Envelope
	if err := json.Unmarshal(events.Sample("retrain-requested"), &env); err != nil {
		t.Fatal(err)
	}
	var d event.RetrainRequestedDetail
	if err := json.Unmarshal(env.Detail, &d); err != nil {
		t.Fatal(err)
	}
	d.RequestID, d.Model = requestID, "credit"
	return envelope(t, event.Event{Source: env.Source, DetailType: env.DetailType, Resources: env.Resources, Detail: d})
}

// stateChange is the events sample (a "Batch Job State Change" as AWS sends
// it) made to describe the fake's job: its name (the run ID), ID, queue,
// definition, parameters and tags. The container's exit code, reason and log
// stream are the sample's.
func stateChange(t *testing.T, sample string, job lambdatest.BatchJob) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(events.Sample(sample), &env); err != nil {
		t.Fatal(err)
	}
	env["id"] = rand.Text()
	env["time"] = time.Now().UTC().Format(time.RFC3339)
	env["resources"] = []string{job.Arn}
	d := env["detail"].(map[string]any)
	d["jobArn"], d["jobName"], d["jobId"], d["jobQueue"], d["jobDefinition"] = job.Arn, job.Name, job.ID, job.Queue, job.Definition
	d["parameters"], d["tags"] = job.Parameters, job.Tags
	d["createdAt"], d["startedAt"], d["stoppedAt"] = job.CreatedAt, job.StartedAt, job.StoppedAt
	b, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// putBundle writes the committed fixture bundle (verified, with samples the Go
// evaluator reproduces) as the run's bundle: its lineage and test rows are made
// the run's, and the manifest rewritten over them, because the train function
// refuses a bundle that names another run.
func putBundle(t *testing.T, st *store.Store, rec *training.Run) string {
	t.Helper()
	src := filepath.Join("..", "..", "shared", "bundle", "testdata", "bundles", "binary")
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	rewrite := func(name string, edit func(map[string]any)) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rewrite("lineage.json", func(m map[string]any) {
		m["runId"], m["model"], m["dataset"], m["datasetVersion"] = rec.RunID, rec.Model, rec.Dataset, rec.DatasetVersion
		m["contractHash"], m["specHash"] = rec.ContractHash, rec.SpecHash
	})
	rewrite("test_rows.json", func(m map[string]any) { m["datasetVersion"] = rec.DatasetVersion })
	if err := os.Remove(filepath.Join(dir, "manifest.json")); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.OpenDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bundle.WriteManifest(dir, rec.RunID, rec.Model, b.Manifest.Objective, time.Now()); err != nil {
		t.Fatal(err)
	}
	prefix := training.BundlePrefix(rec.RunID)
	var manifest []byte
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if rel == "manifest.json" {
			manifest = b
			return nil
		}
		_, err = st.Put(context.Background(), platform, prefix+filepath.ToSlash(rel), b, store.PutOptions{})
		return err
	})
	if err != nil || manifest == nil {
		t.Fatalf("bundle fixture: %v", err)
	}
	if _, err := st.Put(context.Background(), platform, prefix+"manifest.json", manifest, store.PutOptions{ContentType: "application/json"}); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(manifest)
	return hex.EncodeToString(sum[:])
}

func getRun(t *testing.T, st *store.Store, id string) *training.Run {
	t.Helper()
	r, _, err := training.GetRun(context.Background(), st, platform, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readJSON(t *testing.T, st *store.Store, key string, v any) {
	t.Helper()
	b, _, err := st.ReadAll(context.Background(), platform, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}

// only returns the one entry of detailType published so far, its detail
// decoded strictly into detail.
func only(t *testing.T, eb *lambdatest.EventBridge, detailType string, detail any) lambdatest.Entry {
	t.Helper()
	var found []lambdatest.Entry
	for _, e := range eb.Entries() {
		if e.DetailType == detailType {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %q entries, want 1: %+v", len(found), detailType, eb.Entries())
	}
	lambdatest.DecodeStrict(t, []byte(found[0].Detail), detail)
	return found[0]
}

func concurrently(t *testing.T, fns []*lambdatest.Function, call func(*lambdatest.Function) error) {
	t.Helper()
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i, f := range fns {
		wg.Go(func() { errs[i] = call(f) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("instance %d: %v\nlogs:\n%s", i, err, fns[i].Logs())
		}
	}
}

// wireList is ListJobs' request.
type wireList struct {
	JobQueue string
	Filters  []struct {
		Name   string
		Values []string
	}
}

func opsOf(calls []lambdatest.BatchCall) []string {
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.Op)
	}
	return ops
}
