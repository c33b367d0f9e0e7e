package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

// waitVersionState polls `mlops models show NAME@V -o json` until the version
// reaches state (the gate runs after training.succeeded, asynchronously).
func waitVersionState(t *testing.T, dir, model, v string, state registry.State) registry.Version {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last result
	for time.Now().Before(deadline) {
		last = mlops(t, "models", "show", model+"@"+v, "--dir", dir, "-o", "json")
		var got registry.Version
		if last.code == 0 && json.Unmarshal([]byte(last.stdout), &got) == nil && got.State == state {
			return got
		}
		time.Sleep(100 * time.Millisecond)
	}
	h := mlops(t, "models", "history", model, "--dir", dir)
	t.Fatalf("%s@%s never reached %s: %+v\nhistory:\n%s", model, v, state, last, h.stdout)
	return registry.Version{}
}

// firstRows writes the header and the first n rows of src to a file in dir.
func firstRows(t *testing.T, src string, n int, dir string) string {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for i := 0; i <= n && sc.Scan(); i++ {
		b.WriteString(sc.Text() + "\n")
	}
	out := filepath.Join(dir, "credit_first.csv")
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

var acceptedLine = regexp.MustCompile(`accepted: credit@([0-9a-zA-Z]+) `)

// The registry from the command line, through the HTTPS API: a trained model
// waits for approval, is approved and becomes champion; a degraded second
// version is rejected by the policy; a third replaces the champion and is
// rolled back; retirement, error cases, the audit trail with its hashes, and a
// deleted audit record found by verify.
func TestRegistryWithReferenceTrainer(t *testing.T) {
	needXGBoost(t)
	dir := startPlatformWith(t, local.Config{})
	applyCreditAndUpload(t, dir)
	// runs wait returns once the gate has decided the run's version.
	if r := mlops(t, "runs", "wait", "--model", "credit", "--dir", dir, "--timeout", "5m"); r.code != 0 || !strings.Contains(r.stdout, "\nversion    1 (pending_approval)\n") {
		t.Fatalf("runs wait: %+v", r)
	}
	v1 := waitVersionState(t, dir, "credit", "1", registry.StatePendingApproval)

	r := mlops(t, "models", "show", "credit", "--dir", dir)
	for _, s := range []string{"model credit: champion none, 1 versions", "VERSION  STATE", "HEADLINE METRIC",
		"1        pending_approval  " + v1.RunID, "auc 0.", v1.BundleSHA256[:12]} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Fatalf("models show credit: no %q in %+v", s, r)
		}
	}
	r = mlops(t, "models", "show", "credit@1", "--dir", dir)
	for _, s := range []string{"state       pending_approval\n", "bundle      sha256 " + v1.BundleSHA256, "checks      policy ",
		": pass (", "events      ", "pending: audit/credit/"} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Fatalf("models show credit@1: no %q in %+v", s, r)
		}
	}
	r = mlops(t, "models", "list", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "MODEL   CHAMPION  VERSIONS  LATEST") || !strings.Contains(r.stdout, "credit  none      1         1 (pending_approval)") {
		t.Fatalf("models list: %+v", r)
	}

	// Usage errors, before anything is sent.
	for _, args := range [][]string{
		{"models", "approve", "credit", "1"},                      // no reason
		{"models", "approve", "credit", "1", "--reason", "  "},    // blank reason
		{"models", "approve", "credit", "zero", "--reason", "ok"}, // bad version
		{"models", "approve", "credit", "0", "--reason", "ok"},    // bad version
		{"models", "show", "credit@x"},                            // bad version
		{"models", "show", "Credit!"},                             // bad name
		{"models", "rollback", "credit"},                          // no reason
		{"models", "retire", "credit", "1"},                       // no reason
		{"models", "history", "credit", "-o", "yaml"},             // bad output
		{"models", "reject", "credit", "--reason", "x"},           // no version
	} {
		if r := mlops(t, append(args, "--dir", dir)...); r.code != 2 {
			t.Errorf("%v: want exit 2, got %+v", args, r)
		}
	}
	// Refusals: 404 and 409 from the API are exit 1 with its message.
	if r := mlops(t, "models", "show", "nosuch", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "nosuch") || !strings.Contains(r.stderr, "HTTP 404") {
		t.Errorf("unknown model: %+v", r)
	}
	for _, args := range [][]string{{"history", "nosuch"}, {"verify", "nosuch"}, {"show", "nosuch@1"}} {
		if r := mlops(t, append([]string{"models"}, append(args, "--dir", dir)...)...); r.code != 1 || !strings.Contains(r.stderr, "nosuch") {
			t.Errorf("%v: want exit 1 naming the model, got %+v", args, r)
		}
	}
	if r := mlops(t, "models", "approve", "credit", "9", "--reason", "ok", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "HTTP 404") {
		t.Errorf("unknown version: %+v", r)
	}
	if r := mlops(t, "models", "promote", "credit", "1", "--reason", "skip approval", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "pending_approval") {
		t.Errorf("promote a pending version: %+v", r)
	}

	// A wrong token is refused (exit 1), naming the token; no API is exit 3.
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	bad := ep
	bad.API.Token = "not-the-token"
	badFile := filepath.Join(t.TempDir(), "endpoint.json")
	writeEndpointFile(t, badFile, bad)
	if r := mlops(t, "models", "list", "--endpoint-file", badFile); r.code != 1 || !strings.Contains(r.stderr, "token") || !strings.Contains(r.stderr, "HTTP 401") {
		t.Errorf("wrong token: %+v", r)
	}
	gone := ep
	gone.API.URL = "https://127.0.0.1:1"
	goneFile := filepath.Join(t.TempDir(), "endpoint.json")
	writeEndpointFile(t, goneFile, gone)
	if r := mlops(t, "models", "list", "--endpoint-file", goneFile); r.code != 3 || !strings.Contains(r.stderr, "did not answer") {
		t.Errorf("unreachable API: %+v", r)
	}

	// An approval binds to a hash the person saw: at a terminal it is asked for,
	// and anything but yes approves nothing; a malformed hash is a usage error
	// (and a named hash that is not the version's is refused: below, for v3).
	r = mlopsAt(t, "n\n", "models", "approve", "credit", "1", "--reason", "ok", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "bundle sha256 "+v1.BundleSHA256+"? [y/N]") || !strings.Contains(r.stderr, "not confirmed") ||
		!strings.Contains(r.stdout, "policy ") {
		t.Fatalf("approve, not confirmed: %+v", r)
	}
	if r := mlops(t, "models", "approve", "credit", "1", "--reason", "ok", "--bundle-sha256", "abc", "--dir", dir); r.code != 2 {
		t.Fatalf("approve with a malformed hash: %+v", r)
	}
	waitVersionState(t, dir, "credit", "1", registry.StatePendingApproval)

	// Approve: promoted at once (the credit policy does not separate promotion).
	r = mlops(t, "models", "approve", "credit", "1", "--reason", "ok", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "bundle sha256 "+v1.BundleSHA256) ||
		!strings.Contains(r.stdout, "credit version 1: approved and promoted: champion") || !strings.Contains(r.stdout, "champion: 1") {
		t.Fatalf("approve: %+v", r)
	}
	waitVersionState(t, dir, "credit", "1", registry.StateChampion)
	checkPredict(t, dir)

	r = mlops(t, "models", "history", "credit", "--dir", dir)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "SEQ ") || !strings.Contains(r.stdout, "SHA256") || !strings.Contains(r.stdout, "PREV") {
		t.Fatalf("history: %+v", r)
	}
	r = mlops(t, "models", "history", "credit", "--dir", dir, "-o", "json")
	var hist []registry.Entry
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &hist) != nil {
		t.Fatalf("history -o json: %+v", r)
	}
	var kinds []registry.Kind
	for i, e := range hist {
		kinds = append(kinds, e.Kind)
		if e.Seq != i+1 || len(e.SHA256) != 64 || (i > 0 && (e.Prev == nil || e.Prev.SHA256 != hist[i-1].SHA256)) {
			t.Fatalf("history record %d: %+v", i, e)
		}
	}
	want := []registry.Kind{registry.KindRegistered, registry.KindChecked, registry.KindPending, registry.KindApproved, registry.KindPromoted}
	if strings.Join(kindStrings(kinds), ",") != strings.Join(kindStrings(want), ",") {
		t.Fatalf("history kinds %v, want %v", kinds, want)
	}
	text := mlops(t, "models", "history", "credit", "--dir", dir).stdout
	lines := strings.Split(strings.TrimSpace(text), "\n")
	if len(lines) != len(hist)+1 {
		t.Fatalf("history has %d lines for %d records:\n%s", len(lines), len(hist), text)
	}
	for i, e := range hist {
		l := lines[i+1]
		if !strings.Contains(l, " "+string(e.Kind)+" ") || !strings.Contains(l, e.SHA256) || (e.Prev != nil && !strings.Contains(l, e.Prev.SHA256)) {
			t.Fatalf("history line %d %q does not show record %+v", i+1, l, e)
		}
	}
	if r := mlops(t, "models", "verify", "credit", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "audit trail OK (5 records") {
		t.Fatalf("verify: %+v", r)
	}

	// A second dataset version, the first 2000 rows, trains version 2, which
	// the policy rejects (too few test rows, worse than the champion), with
	// the reasons; approving it is refused.
	r = mlops(t, "upload", firstRows(t, creditCSV, 2000, t.TempDir()), "--dataset", "credit", "--dir", dir, "--wait", "-q", "--timeout", "1m")
	m := acceptedLine.FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil {
		t.Fatalf("second upload: %+v", r)
	}
	// The run did its job (exit 0); the gate's verdict is the state, on
	// stderr beside the JSON.
	if r := mlops(t, "runs", "wait", "--model", "credit", "--dataset-version", m[1], "--dir", dir, "--timeout", "5m", "-o", "json"); r.code != 0 ||
		!strings.Contains(r.stdout, `"state": "succeeded"`) || r.stderr != "version    2 (rejected)\n" {
		t.Fatalf("runs wait v2: %+v", r)
	}
	waitVersionState(t, dir, "credit", "2", registry.StateRejected)
	if r := mlops(t, "models", "show", "credit@2", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, ": fail (") ||
		!strings.Contains(r.stdout, "decision    audit/credit/") {
		t.Fatalf("show the rejected version: %+v", r)
	}
	if r := mlops(t, "models", "history", "credit", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "min test rows") {
		t.Fatalf("history does not give the rejection's reasons: %+v", r)
	}
	if r := mlops(t, "models", "approve", "credit", "2", "--reason", "anyway", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "rejected") {
		t.Fatalf("approve a rejected version: %+v", r)
	}

	// A retrain on the first dataset version trains version 3, which waits;
	// approving it archives version 1.
	if r := mlops(t, "runs", "retrain", "credit", "--dataset-version", v1.DatasetVersion, "--reason", "a second good version",
		"--dir", dir, "--wait", "--timeout", "5m"); r.code != 0 || !strings.Contains(r.stdout, "\nversion    3 (pending_approval)\n") {
		t.Fatalf("retrain: %+v", r)
	}
	waitVersionState(t, dir, "credit", "3", registry.StatePendingApproval)
	v3 := waitVersionState(t, dir, "credit", "3", registry.StatePendingApproval)
	other := strings.Repeat("ab", 32)
	if r := mlops(t, "models", "approve", "credit", "3", "--reason", "ok", "--bundle-sha256", other, "--dir", dir); r.code != 1 ||
		!strings.Contains(r.stdout, "not the "+other) {
		t.Fatalf("approve bound to another hash: %+v", r)
	}
	if r := mlopsAt(t, "yes\n", "models", "approve", "credit", "3", "--reason", "retrained", "--dir", dir); r.code != 0 ||
		!strings.Contains(r.stdout, "champion: 3") || !strings.Contains(r.stdout, "approval bound to bundle sha256 "+v3.BundleSHA256) {
		t.Fatalf("approve v3, confirmed at a terminal: %+v", r)
	}
	waitVersionState(t, dir, "credit", "1", registry.StateArchived)
	waitVersionState(t, dir, "credit", "3", registry.StateChampion)

	// Rollback: version 1 is champion again, version 3 archived.
	if r := mlops(t, "models", "rollback", "credit", "--dir", dir); r.code != 2 {
		t.Fatalf("rollback without a reason: %+v", r)
	}
	r = mlops(t, "models", "rollback", "credit", "--reason", "back", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back from version 3 (archived) to version 1 (champion)") {
		t.Fatalf("rollback: %+v", r)
	}
	waitVersionState(t, dir, "credit", "1", registry.StateChampion)
	waitVersionState(t, dir, "credit", "3", registry.StateArchived)

	// Retire: versions 2 and 3 are retired; the champion only with --force.
	for _, v := range []string{"2", "3"} {
		if r := mlops(t, "models", "retire", "credit", v, "--reason", "old", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "credit version "+v+": retired") {
			t.Fatalf("retire v%s: %+v", v, r)
		}
	}
	if r := mlops(t, "models", "promote", "credit", "3", "--reason", "again", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "retired") {
		t.Fatalf("promote a retired version: %+v", r)
	}
	if r := mlops(t, "models", "retire", "credit", "1", "--reason", "x", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("retire the champion without --force: %+v", r)
	}
	r = mlops(t, "models", "list", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "credit  1         3         3 (retired)") {
		t.Fatalf("models list: %+v", r)
	}
	r = mlops(t, "models", "retire", "credit", "1", "--reason", "x", "--force", "--dir", dir, "-o", "json")
	var res struct {
		Champion int `json:"champion"`
		Version  struct {
			State string `json:"state"`
		} `json:"version"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Champion != 0 || res.Version.State != "retired" {
		t.Fatalf("retire the champion with --force: %+v", r)
	}
	if r := mlops(t, "models", "rollback", "credit", "--reason", "x", "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "no champion") {
		t.Fatalf("rollback with no champion: %+v", r)
	}
	// Nothing serves a model with no champion, and the endpoint says why.
	rows := firstRows(t, "../../examples/credit/credit_data.csv", 2, t.TempDir())
	r = mlops(t, "predict", "credit", "--data", rows, "--dir", dir)
	for deadline := time.Now().Add(10 * time.Second); r.code == 0 && time.Now().Before(deadline); { // within 2·TTL
		time.Sleep(100 * time.Millisecond)
		r = mlops(t, "predict", "credit", "--data", rows, "--dir", dir)
	}
	if r.code != 1 || !strings.Contains(r.stderr, "no champion") ||
		!strings.Contains(r.stderr, "HTTP 503") {
		t.Fatalf("predict with no champion: %+v", r)
	}
	if r := mlops(t, "models", "verify", "credit", "--dir", dir, "-o", "json"); r.code != 0 || !strings.Contains(r.stdout, `"ok": true`) {
		t.Fatalf("verify -o json: %+v", r)
	}

	// Reject: a person turns down a version waiting for approval.
	if r := mlops(t, "runs", "retrain", "credit", "--dataset-version", v1.DatasetVersion, "--reason", "one more",
		"--dir", dir, "--wait", "--timeout", "5m"); r.code != 0 {
		t.Fatalf("retrain: %+v", r)
	}
	waitVersionState(t, dir, "credit", "4", registry.StatePendingApproval)
	if r := mlops(t, "models", "reject", "credit", "4", "--dir", dir); r.code != 2 {
		t.Fatalf("reject without a reason: %+v", r)
	}
	if r := mlops(t, "models", "reject", "credit", "4", "--reason", "not needed", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "credit version 4: rejected") {
		t.Fatalf("reject v4: %+v", r)
	}
	if r := mlops(t, "models", "reject", "credit", "4", "--reason", "not needed", "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "decided before") {
		t.Fatalf("reject v4 again: %+v", r)
	}
	if r := mlops(t, "models", "verify", "credit", "--dir", dir); r.code != 0 {
		t.Fatalf("verify: %+v", r)
	}

	cl, err := (&globals{dir: dir}).connect()
	if err != nil {
		t.Fatal(err)
	}
	// Waits that time out say what they waited for (exit 3): a run that
	// never appears, and a succeeded run the gate never saw (its record
	// copied from version 1's under another run ID, with no event).
	if r := mlops(t, "runs", "wait", "--model", "nosuch", "--dir", dir, "--timeout", "300ms"); r.code != 3 ||
		!strings.Contains(r.stderr, "timed out after 300ms waiting for a run of nosuch to end") {
		t.Errorf("wait for a run that never comes: %+v", r)
	}
	run1, _, err := training.GetRun(context.Background(), cl.store, ep.Buckets.Platform, v1.RunID)
	if err != nil {
		t.Fatal(err)
	}
	ghost := *run1
	ghost.Base = "ffffffffffffffff"
	ghost.RunID = "credit-" + ghost.Base + "-1"
	ghost.Job.Name = ghost.RunID
	b := *ghost.Bundle
	b.Prefix = training.BundlePrefix(ghost.RunID)
	ghost.Bundle = &b
	body, _ := json.Marshal(ghost)
	if _, err := cl.store.Create(context.Background(), ep.Buckets.Platform, training.RunKey(ghost.RunID), body, store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if r := mlops(t, "runs", "wait", ghost.RunID, "--dir", dir, "--timeout", "500ms"); r.code != 3 || !strings.Contains(r.stdout, "state      succeeded") ||
		!strings.Contains(r.stderr, "timed out after 500ms: run "+ghost.RunID+" succeeded, but the gate has not registered it") {
		t.Errorf("wait for a run the gate never saw: %+v", r)
	}

	// Tampering: an audit record deleted straight from S3 breaks the chain,
	// and verify names it.
	victim := hist[2].Key // the pending record
	if err := cl.store.Delete(context.Background(), ep.Buckets.Platform, victim, ""); err != nil {
		t.Fatal(err)
	}
	r = mlops(t, "models", "verify", "credit", "--dir", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "BROKEN") || !strings.Contains(r.stdout, victim) {
		t.Fatalf("verify after deleting %s: %+v", victim, r)
	}
}

func kindStrings(ks []registry.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func writeEndpointFile(t *testing.T, path string, ep local.Endpoint) {
	t.Helper()
	b, err := json.Marshal(ep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// The decisions API's errors become exit statuses by their code, never by
// their text.
func TestAPIErrorsExitStatus(t *testing.T) {
	for _, c := range []struct {
		err  error
		code int
		text string
	}{
		{decisions.Errorf(decisions.CodeBadRequest, "a reason is required"), exitUsage, "a reason is required (HTTP 400)"},
		{decisions.Errorf(decisions.CodeUnauthorized, "no token"), exitFailed, "the API refused the token: no token (HTTP 401)"},
		{decisions.Errorf(decisions.CodeForbidden, "bob may not approve"), exitFailed, "not allowed: bob may not approve (HTTP 403)"},
		{decisions.Errorf(decisions.CodeNotFound, "model x has no versions"), exitFailed, "model x has no versions (HTTP 404)"},
		{decisions.Errorf(decisions.CodeIllegalTransition, "cannot promote"), exitFailed, "cannot promote (HTTP 409)"},
		{&decisions.Error{Status: 429, Message: "Too Many Requests"}, exitFailed, "Too Many Requests (HTTP 429)"},
		{&decisions.Error{Status: 500, Code: decisions.CodeInternal, Message: "internal error", RequestID: "abc"}, exitProblem,
			"the platform failed: internal error, request id abc (HTTP 500)"},
		{errors.New("the decisions API at https://127.0.0.1:1 did not answer"), exitProblem, "did not answer"},
	} {
		var ee *exitError
		err := apiErr(c.err)
		if !errors.As(err, &ee) || ee.code != c.code || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%v: exit %v %q, want %d %q", c.err, ee, err, c.code, c.text)
		}
	}
}

// mlopsAt runs the CLI as a person at a terminal who types input.
func mlopsAt(t *testing.T, input string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), args, strings.NewReader(input), true, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// checkPredict scores records with credit's champion (version 1) through
// mlops predict: CSV and JSON files, standard input, --explain and -o json;
// records the contract refuses exit 1 naming each problem, usage errors 2.
func checkPredict(t *testing.T, dir string) {
	t.Helper()
	csvPath := firstRows(t, "../../examples/credit/credit_data.csv", 3, t.TempDir())
	// The endpoint serves a new champion within 2·TTL of its promotion (the
	// bus tells it sooner, asynchronously): until then it says there is none.
	r := mlops(t, "predict", "credit", "--data", csvPath, "--explain", "--dir", dir)
	for deadline := time.Now().Add(10 * time.Second); r.code != 0 && strings.Contains(r.stderr, "no champion") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		r = mlops(t, "predict", "credit", "--data", csvPath, "--explain", "--dir", dir)
	}
	if r.code != 0 || !strings.Contains(r.stdout, "p_bad") || !strings.Contains(r.stdout, "TOP REASONS") ||
		!strings.Contains(r.stdout, "model credit version 1, request ") || strings.Count(r.stdout, "\n") != 5 {
		t.Fatalf("predict --explain: %+v", r)
	}
	r = mlops(t, "predict", "credit", "--data", csvPath, "-o", "json", "--dir", dir)
	var resp predict.Response
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &resp) != nil || len(resp.Predictions) != 3 || resp.ModelVersion != 1 {
		t.Fatalf("predict -o json: %+v", r)
	}
	applicant := `[{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance",
		"Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}]`
	jsonPath := filepath.Join(t.TempDir(), "applicant.json")
	if err := os.WriteFile(jsonPath, []byte(applicant), 0o600); err != nil {
		t.Fatal(err)
	}
	r = mlops(t, "predict", "credit", "--data", jsonPath, "-o", "json", "--dir", dir)
	var one predict.Response
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &one) != nil || len(one.Predictions) != 1 {
		t.Fatalf("predict a JSON file: %+v", r)
	}
	// The same applicant is the first row of the CSV: the same answer.
	if a, b := one.Predictions[0].Outputs, resp.Predictions[0].Outputs; len(a) != len(b) || string(a[0].Value) != string(b[0].Value) {
		t.Fatalf("JSON and CSV disagree: %s vs %s", a, b)
	}
	bad := `{"instances": [{"Seniority": "nine", "Home": "castle"}, {"Age": 300}]}`
	r = mlopsIn(t, bad, "predict", "credit", "--data", "-", "--dir", dir)
	for _, s := range []string{"the records were refused", "instances[0].Seniority", "instances[0].Home", "instances[1].Age", "HTTP 400"} {
		if r.code != 1 || !strings.Contains(r.stderr, s) {
			t.Fatalf("predict refused records: no %q in %+v", s, r)
		}
	}
	for _, args := range [][]string{
		{"predict", "credit"},                           // no data
		{"predict", "credit", "--data", "/nonexistent"}, // no file
		{"predict", "Credit!", "--data", csvPath},       // bad name
	} {
		if r := mlops(t, append(args, "--dir", dir)...); r.code != 2 {
			t.Errorf("%v: want exit 2, got %+v", args, r)
		}
	}
	if r := mlops(t, "predict", "nosuch", "--data", csvPath, "--dir", dir); r.code != 1 || !strings.Contains(r.stderr, "no such model") {
		t.Fatalf("predict an unknown model: %+v", r)
	}
}
