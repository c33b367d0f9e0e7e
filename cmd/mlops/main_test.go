package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/local"
)

const (
	creditCSV      = "../../examples/credit/credit_data.csv"
	creditBroken   = "../../examples/credit/credit_broken.csv"
	creditContract = "../../examples/credit/credit.odcs.yaml"
)

type result struct {
	code           int
	stdout, stderr string
}

func mlops(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// mlopsIn runs the CLI with stdin, not a terminal.
func mlopsIn(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := runWith(context.Background(), args, strings.NewReader(stdin), false, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// startPlatform starts a local platform with the defaults of startPlatformWith.
func startPlatform(t *testing.T) string {
	t.Helper()
	return startPlatformWith(t, local.Config{})
}

func TestValidateExitCodes(t *testing.T) {
	if r := mlops(t, "validate", creditCSV, "--contract", creditContract); r.code != 0 || !strings.Contains(r.stdout, "valid (4454 rows") {
		t.Fatalf("valid file: %+v", r)
	}
	r := mlops(t, "validate", creditBroken, "--contract", creditContract)
	if r.code != 1 || !strings.Contains(r.stdout, `column "Age": expected an integer, got "forty" (row 5, line 6)`) {
		t.Fatalf("invalid file: %+v", r)
	}
	r = mlops(t, "validate", creditBroken, "--contract", creditContract, "-o", "json")
	var doc struct {
		Valid      bool
		Violations []struct{ Rule, Column string }
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &doc) != nil || doc.Valid || len(doc.Violations) < 5 {
		t.Fatalf("json: %+v", r)
	}
	for _, args := range [][]string{
		{"validate", creditCSV},                    // no --contract
		{"validate", "--contract", creditContract}, // no file
		{"validate", creditCSV, "--contract", creditContract, "-o", "yaml"},
		{"validate", creditCSV, "--contract", creditCSV}, // not a contract
		{"validate", creditCSV, "--contract", creditContract, "--bogus"},
		{"nosuchcommand"},
	} {
		if r := mlops(t, args...); r.code != 2 || r.stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want usage error 2", args, r.code, r.stderr)
		}
	}
}

func TestInferProposesAContractThatParses(t *testing.T) {
	r := mlops(t, "contract", "infer", creditCSV, "--dataset", "credit")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	c, err := contract.Parse("inferred.yaml", []byte(r.stdout))
	if err != nil {
		t.Fatalf("inferred contract does not parse: %v\n%s", err, r.stdout)
	}
	if c.Dataset != "credit" || len(c.Columns) != 14 || c.Target != "Status" {
		t.Fatalf("inferred: dataset %q, %d columns, target %q", c.Dataset, len(c.Columns), c.Target)
	}
	// The file it proposes accepts the file it came from.
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte(r.stdout), 0o644)
	if r := mlops(t, "validate", creditCSV, "--contract", path); r.code != 0 {
		t.Fatalf("inferred contract rejects its own data: %+v", r)
	}
}

// The whole flow a user follows, through S3 like any client, and the endpoint
// file found each of the documented ways.
func TestUploadFlowAgainstLocalPlatform(t *testing.T) {
	dir := startPlatform(t)
	if r := mlops(t, "upload", creditCSV, "--dataset", "credit", "--dir", dir, "--wait", "-q", "--timeout", "30s"); r.code != 1 ||
		!strings.Contains(r.stdout, "no_contract") {
		t.Fatalf("upload before any contract: %+v", r)
	}
	r := mlops(t, "contract", "apply", creditContract, "--dataset", "credit", "--dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "now current") {
		t.Fatalf("apply: %+v", r)
	}
	if r := mlops(t, "contract", "apply", creditContract, "--dir", dir); r.code != 0 || !strings.Contains(r.stdout, "unchanged") {
		t.Fatalf("apply again: %+v", r)
	}
	if r := mlops(t, "contract", "apply", creditContract, "--dataset", "other", "--dir", dir); r.code != 2 {
		t.Fatalf("apply under another name: %+v", r)
	}
	r = mlops(t, "upload", creditCSV, "--dataset", "credit", "--dir", dir, "--wait", "-q", "--timeout", "30s")
	if r.code != 0 || !strings.Contains(r.stdout, "accepted: credit@") || !strings.Contains(r.stdout, "4454 rows") {
		t.Fatalf("upload: %+v", r)
	}
	r = mlops(t, "upload", creditBroken, "--dataset", "credit", "--dir", dir, "--wait", "-q", "-o", "json", "--timeout", "30s")
	var rej struct {
		Status string
		Report struct{ Violations []struct{ Rule string } }
	}
	if r.code != 1 || json.Unmarshal([]byte(r.stdout), &rej) != nil || rej.Status != "rejected" || len(rej.Report.Violations) == 0 {
		t.Fatalf("broken upload: %+v", r)
	}

	// --endpoint-file wins over --dir, which wins over MLOPS_DIR.
	t.Setenv("MLOPS_DIR", filepath.Join(t.TempDir(), "nowhere"))
	if r := mlops(t, "datasets", "list"); r.code != 3 || !strings.Contains(r.stderr, "mlops up") {
		t.Fatalf("MLOPS_DIR without a platform: %+v", r)
	}
	t.Setenv("MLOPS_DIR", dir)
	r = mlops(t, "datasets", "list", "-o", "json")
	var rows []struct {
		Name, LatestVersion string
		Rows                int64
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &rows) != nil || len(rows) != 1 || rows[0].Rows != 4454 {
		t.Fatalf("list via MLOPS_DIR: %+v", r)
	}
	if r := mlops(t, "datasets", "list", "--dir", "/nonexistent"); r.code != 3 {
		t.Fatalf("--dir must win over MLOPS_DIR: %+v", r)
	}
	if r := mlops(t, "datasets", "list", "--dir", "/nonexistent", "--endpoint-file", filepath.Join(dir, "endpoint.json")); r.code != 0 {
		t.Fatalf("--endpoint-file must win over --dir: %+v", r)
	}

	r = mlops(t, "datasets", "show", "credit@"+rows[0].LatestVersion)
	if r.code != 0 || !strings.Contains(r.stdout, "Income") || !strings.Contains(r.stdout, "381") {
		t.Fatalf("show version: %+v", r)
	}
	if r := mlops(t, "datasets", "show", "credit"); r.code != 0 || !strings.Contains(r.stdout, "latest") {
		t.Fatalf("show versions: %+v", r)
	}
	if r := mlops(t, "datasets", "show", "credit@nope"); r.code != 1 {
		t.Fatalf("missing version: %+v", r)
	}
	r = mlops(t, "datasets", "rejections", "credit")
	if r.code != 0 || !strings.Contains(r.stdout, "credit_broken.csv") || !strings.Contains(r.stdout, "type:Age") ||
		!strings.Contains(r.stdout, "credit_data.csv") || !strings.Contains(r.stdout, "no_contract") {
		t.Fatalf("rejections: %+v", r)
	}
	if r := mlops(t, "datasets", "rejections", "other", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("no rejections: %+v", r)
	}
	if r := mlops(t, "contract", "show", "credit"); r.code != 0 || !strings.Contains(r.stdout, "apiVersion") {
		t.Fatalf("contract show: %+v", r)
	}
	if r := mlops(t, "env"); r.code != 0 || !strings.Contains(r.stdout, "export AWS_SECRET_ACCESS_KEY=") {
		t.Fatalf("env: %+v", r)
	}
}

// Every command explains itself with an example.
func TestEveryCommandHasHelpWithExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && c.Name() != "completion" && !strings.HasPrefix(c.CommandPath(), "mlops completion") {
			if c.Example == "" {
				t.Errorf("%q has no example", c.CommandPath())
			}
			args := append(strings.Fields(c.CommandPath())[1:], "--help")
			if r := mlops(t, args...); r.code != 0 || !strings.Contains(r.stdout, "Examples:") {
				t.Errorf("%v: %+v", args, r)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot())
}
