package lambdaenv

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/aws/awstest"
)

func TestRead(t *testing.T) {
	env := map[string]string{"UPLOADS_BUCKET": "u", "PLATFORM_BUCKET": "p", "EVENT_BUS_NAME": "b"}
	get := func(k string) string { return env[k] }
	s, err := Read(get)
	if err != nil || s.MaxUploadBytes != DefaultMaxUploadBytes || s.S3PathStyle {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	if err := s.Require("UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"); err != nil {
		t.Fatal(err)
	}
	if err := s.Require("SITE_BUCKET"); err == nil || !strings.Contains(err.Error(), "SITE_BUCKET") {
		t.Fatalf("missing SITE_BUCKET: %v", err)
	}
	env["MAX_UPLOAD_BYTES"], env["MLOPS_S3_PATH_STYLE"], env["AUDIT_KEY_ID"], env["DISTRIBUTION_ID"] = "0", "true", "alias/mlops-audit", "E2EXAMPLE"
	if s, err = Read(get); err != nil || s.MaxUploadBytes != 0 || !s.S3PathStyle || s.AuditKeyID != "alias/mlops-audit" || s.DistributionID != "E2EXAMPLE" {
		t.Fatalf("overrides: %+v %v", s, err)
	}
	env["AUDIT_LOCK_MODE"], env["AUDIT_LOCK_DAYS"] = "GOVERNANCE", "3650"
	if s, err = Read(get); err != nil || s.AuditLockMode != "GOVERNANCE" || s.AuditLockDays != 3650 {
		t.Fatalf("audit lock: %+v %v", s, err)
	}
	for mode, days := range map[string]string{"governance": "1", "GOVERNANCE": "0", "COMPLIANCE": "ten", "": "5"} {
		env["AUDIT_LOCK_MODE"], env["AUDIT_LOCK_DAYS"] = mode, days
		if _, err := Read(get); err == nil || !strings.Contains(err.Error(), "AUDIT_LOCK_") {
			t.Errorf("AUDIT_LOCK_MODE=%q AUDIT_LOCK_DAYS=%q: %v", mode, days, err)
		}
	}
	delete(env, "AUDIT_LOCK_MODE")
	delete(env, "AUDIT_LOCK_DAYS")
	for k, v := range map[string]string{"MAX_UPLOAD_BYTES": "-1", "MLOPS_S3_PATH_STYLE": "maybe"} {
		env[k] = v
		if _, err := Read(get); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
		delete(env, k)
	}
}

func TestReadReconcile(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	r, err := ReadReconcile(get)
	if err != nil || r != (Reconcile{PendingGrace: 2 * time.Minute, IncomingGrace: 20 * time.Minute, RunGrace: 5 * time.Minute}) {
		t.Fatalf("defaults: %+v %v", r, err)
	}
	env["RECONCILE_PENDING_GRACE"], env["RECONCILE_INCOMING_GRACE"], env["RECONCILE_RUN_GRACE"] = "0s", "1h", "90s"
	if r, err = ReadReconcile(get); err != nil || r != (Reconcile{IncomingGrace: time.Hour, RunGrace: 90 * time.Second}) {
		t.Fatalf("overrides: %+v %v", r, err)
	}
	for _, k := range []string{"RECONCILE_PENDING_GRACE", "RECONCILE_INCOMING_GRACE", "RECONCILE_RUN_GRACE"} {
		for _, v := range []string{"-1m", "soon"} {
			old := env[k]
			env[k] = v
			if _, err := ReadReconcile(get); err == nil || !strings.Contains(err.Error(), k+"=") {
				t.Errorf("%s=%s: %v", k, v, err)
			}
			env[k] = old
		}
	}
}

func TestReadTraining(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if tr, err := ReadOptionalTraining(get); tr != nil || err != nil {
		t.Fatalf("no JOB_QUEUE: %+v %v", tr, err)
	}
	env["JOB_QUEUE"] = "q"
	if _, err := ReadOptionalTraining(get); err == nil || !strings.Contains(err.Error(), "is required") {
		t.Fatalf("JOB_QUEUE alone: %v", err)
	}
	env["JOB_DEFINITION"], env["TRAINER_IMAGE"], env["RUN_LEASE"] = "d", "repo@sha256:"+strings.Repeat("a", 64), "7m"
	tr, err := ReadOptionalTraining(get)
	if err != nil || tr == nil || tr.JobQueue != "q" || tr.JobDefinition != "d" || tr.RunLease != 7*time.Minute {
		t.Fatalf("all set: %+v %v", tr, err)
	}
	env["RUN_LEASE"] = "0s"
	if _, err := ReadTraining(get); err == nil || !strings.Contains(err.Error(), "RUN_LEASE") {
		t.Fatalf("RUN_LEASE=0s: %v", err)
	}
}

func TestReadPredict(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	p, err := ReadPredict(get)
	if err != nil || p.ModelTTL != 5*time.Second || p.SampleRate != 1 || !p.Shadow || p.UnknownFields != "" || p.PIIKeyParameter != "" {
		t.Fatalf("defaults: %+v %v", p, err)
	}
	env = map[string]string{"MODEL_TTL": "30s", "LOG_SAMPLE_RATE": "0.25", "SHADOW_SCORING": "false", "UNKNOWN_FIELDS": "ignore",
		"OUT_OF_RANGE": "flag", "PII_MODE": "hmac", "PII_KEY_PARAMETER": "/mlops/pii-key"}
	if p, err = ReadPredict(get); err != nil || p.ModelTTL != 30*time.Second || p.SampleRate != 0.25 || p.Shadow ||
		p.UnknownFields != "ignore" || p.OutOfRange != "flag" || p.PIIMode != "hmac" || p.PIIKeyParameter != "/mlops/pii-key" {
		t.Fatalf("overrides: %+v %v", p, err)
	}
	for k, v := range map[string]string{"MODEL_TTL": "soon", "LOG_SAMPLE_RATE": "0", "SHADOW_SCORING": "maybe",
		"UNKNOWN_FIELDS": "keep", "OUT_OF_RANGE": "clip", "PII_MODE": "plain"} {
		old := env[k]
		env[k] = v
		if _, err := ReadPredict(get); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
		env[k] = old
	}
	// Hashing needs a key: without one, personal data could only be dropped.
	delete(env, "PII_KEY_PARAMETER")
	if _, err := ReadPredict(get); err == nil || !strings.Contains(err.Error(), "PII_KEY_PARAMETER") {
		t.Errorf("hmac without a key: %v", err)
	}
}

// PIIKey's SSM call, against a fake SSM that checks what the SDK's own
// client would send: a SigV4-signed JSON 1.1 POST naming GetParameter, the
// parameter and decryption. Errors name the parameter and SSM's error, and
// only a throttled or failed call is tried again.
func TestPIIKeyFromSSM(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	var calls atomic.Int32
	fake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		body, ok := awstest.ReadSigned(t, w, r, map[string]string{"X-Amz-Target": "AmazonSSM.GetParameter",
			"Content-Type": "application/x-amz-json-1.1"}, strings.Contains(r.Header.Get("Authorization"), "/ssm/aws4_request"))
		if !ok {
			return
		}
		var in struct {
			Name           string
			WithDecryption bool
		}
		if err := json.Unmarshal(body, &in); err != nil || !in.WithDecryption {
			t.Errorf("body %s: %v", body, err)
		}
		switch in.Name {
		case "/mlops/pii-key":
			fmt.Fprintf(w, `{"Parameter":{"Name":%q,"Type":"SecureString","Value":%q,"Version":1}}`, in.Name, base64.StdEncoding.EncodeToString(key))
		case "/mlops/short":
			fmt.Fprintf(w, `{"Parameter":{"Value":%q}}`, base64.StdEncoding.EncodeToString(key[:8]))
		case "/mlops/busy":
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"__type":"com.amazonaws.ssm#ParameterNotFound","message":""}`)
		}
	})
	cfg := awstest.Config(t, fake, nil)
	ctx := context.Background()
	got, err := Predict{PIIKeyParameter: "/mlops/pii-key"}.PIIKey(ctx, cfg)
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("PIIKey = %x, %v", got, err)
	}
	if got, err := (Predict{}).PIIKey(ctx, cfg); got != nil || err != nil {
		t.Fatalf("no parameter: %x, %v", got, err)
	}
	for name, want := range map[string]string{"/mlops/none": "ParameterNotFound", "/mlops/short": "8 bytes, want at least 32",
		"/mlops/busy": "ThrottlingException: Rate exceeded"} {
		calls.Store(0)
		_, err := Predict{PIIKeyParameter: name}.PIIKey(ctx, cfg)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error naming it and %q", name, err, want)
		}
		if n, tries := calls.Load(), map[bool]int32{true: 3, false: 1}[name == "/mlops/busy"]; n != tries {
			t.Errorf("%s: %d calls, want %d", name, n, tries)
		}
	}
}
