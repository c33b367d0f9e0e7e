package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/local"
)

// readmeBlocks returns the ```sh blocks of the README section whose heading
// is heading, up to the next heading of any level (a line starting with
// "#"s and a space outside a code block: a shell comment inside one is not).
func readmeBlocks(t *testing.T, readme, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	isHeading := regexp.MustCompile(`^#{1,6} `)
	var blocks []string
	var cur *strings.Builder
	in, fenced := false, false
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case !fenced && isHeading.MatchString(line):
			if in {
				return blocks
			}
			in = line == heading
		case strings.HasPrefix(line, "```"):
			fenced = !fenced
			if in && fenced && line == "```sh" {
				cur = &strings.Builder{}
			} else if in && !fenced && cur != nil {
				blocks, cur = append(blocks, cur.String()), nil
			}
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if !in {
		t.Fatalf("README: no section %q", heading)
	}
	return blocks
}

// shellWords splits a command line as a POSIX shell would for the plain
// commands the README shows: words, double- and single-quoted strings, and a
// comment to the end of the line.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '#' && !inWord:
			return words
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, cur.String()), false
				cur.Reset()
			}
		case c == '"' || c == '\'':
			end := strings.IndexByte(line[i+1:], c)
			if end < 0 {
				t.Fatalf("unbalanced quote in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+end])
			i, inWord = i+1+end, true
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

var exportLine = regexp.MustCompile(`^export ([A-Z_]+)='([^']*)'$`)

// The README's section for operators of a deployed stack ("Deploying to AWS",
// "Use") runs as written, with MLOPS_STACK naming the stack: every mlops
// command in order (RUN replaced by the run the upload trained; other
// commands in bash), in a folder holding a copy of examples/, then the aws
// CLI and curl block in bash (curl's own --aws-sigv4 signing), both against
// the stand-ins for AWS that TestStackCommandsAgainstStandIns uses: a fake
// CloudFormation, the embedded S3 and a SigV4-verifying HTTPS server in front
// of the local API, whose caller is an IAM role's session, as API Gateway's
// IAM authorizer names it. make synth, cdk bootstrap, deploy and destroy need
// AWS; make synth runs in CI (.ci/run).
func TestReadmeOpsCommandsAgainstStandIns(t *testing.T) {
	needXGBoost(t)
	aws := "/usr/bin/aws"
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is required (scripts/setup.sh test installs it)")
	}
	if _, err := os.Stat(aws); err != nil {
		t.Fatal("the aws CLI is required (scripts/setup.sh test installs it)")
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, filepath.Join(root, "README.md"), "### Use")
	if len(blocks) != 2 {
		t.Fatalf("README's Use section: %d sh blocks, want 2 (mlops; aws CLI and curl)", len(blocks))
	}
	// The approver the README's policy edit names: a session of the role.
	dir := startPlatformWith(t, local.Config{Principal: "arn:aws:sts::123456789012:assumed-role/ModelRiskApprover/alice"})
	stackStandIns(t, dir)
	ep, err := local.ReadEndpoint(filepath.Join(dir, local.EndpointFile))
	if err != nil {
		t.Fatal(err)
	}
	// The README's paths are a checkout's: a copy of examples/, so that
	// what the commands do to the files stays in the copy.
	checkout := t.TempDir()
	if err := os.CopyFS(filepath.Join(checkout, "examples"), os.DirFS(filepath.Join(root, "examples"))); err != nil {
		t.Fatal(err)
	}
	t.Chdir(checkout)

	// The mlops block, command by command.
	var run string
	var ran []string
	env := map[string]string{}
	for _, line := range strings.Split(blocks[0], "\n") {
		words := shellWords(t, line)
		switch {
		case len(words) == 0:
			continue
		case words[0] == "export":
			// The operator's profile, region and stack: here the stand-ins'.
			if !strings.Contains(line, "MLOPS_STACK=") {
				t.Errorf("the README's export names no MLOPS_STACK: %q", line)
			}
			t.Setenv(envStack, testStack)
			continue
		case words[0] == "eval" && len(words) == 2 && words[1] == "$(mlops env)":
			words = []string{"mlops", "env"}
		case words[0] != "mlops":
			out, err := exec.Command("bash", "-euo", "pipefail", "-c", line).CombinedOutput()
			if err != nil {
				t.Fatalf("README: %s\n%v\n%s", line, err, out)
			}
			ran = append(ran, words[0])
			continue
		}
		args := words[1:]
		for i, a := range args {
			if a == "RUN" {
				if run == "" {
					t.Fatalf("%q: no run yet", line)
				}
				args[i] = run
			}
		}
		r := mlops(t, args...)
		ran = append(ran, strings.Join(args[:min(2, len(args))], " "))
		if r.code != 0 {
			t.Fatalf("README: %s\nexit %d\nstdout: %s\nstderr: %s", line, r.code, r.stdout, r.stderr)
		}
		switch strings.Join(args[:min(2, len(args))], " ") {
		case "runs wait":
			run, _ = shownRun(t, r.stdout)
		case "models approve":
			if !strings.Contains(r.stdout, "champion") {
				t.Errorf("approve: %+v", r)
			}
		case "predict credit":
			// Every applicant of the file scored, by the champion.
			if !strings.HasPrefix(r.stdout, "#  ") || !strings.Contains(r.stdout, "\n4453  ") ||
				!strings.Contains(r.stdout, "model credit version 1, request ") {
				t.Errorf("predict: %.300s … %s", r.stdout, r.stderr)
			}
		case "runs logs":
			if !strings.Contains(r.stdout+r.stderr, run) {
				t.Errorf("runs logs: %+v", r)
			}
		case "env":
			for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				m := exportLine.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("env: %q is not an export", l)
				}
				env[m[1]] = m[2]
			}
		}
	}
	if run == "" || len(ran) < 11 || env["MLOPS_PREDICTION_API_URL"] == "" || env["MLOPS_UPLOADS_BUCKET"] != ep.Buckets.Uploads {
		t.Fatalf("after the CLI block: run %q, env %v (ran %v)", run, env, ran)
	}

	// The aws CLI and curl block, in bash, in a folder holding credit.csv;
	// its placeholder filled with the champion's bundle hash; aws pointed at the embedded S3 (Debian's aws CLI predates
	// AWS_ENDPOINT_URL_S3). curl fails on an HTTP error (.curlrc), and so
	// does the script.
	var v struct {
		BundleSHA256 string `json:"bundleSha256"`
	}
	if r := mlops(t, "models", "show", "credit@1", "-o", "json"); r.code != 0 || json.Unmarshal([]byte(r.stdout), &v) != nil || v.BundleSHA256 == "" {
		t.Fatalf("models show credit@1: %+v", r)
	}
	work := t.TempDir()
	data, err := os.ReadFile(filepath.Join(root, "examples", "credit", "credit_data.csv"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "credit.csv"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, ".curlrc"), []byte("fail-with-body\nsilent\nshow-error\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := strings.ReplaceAll(blocks[1], "<sha>", v.BundleSHA256)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", "aws() { \"$AWS_CLI\" --endpoint-url \"$S3_URL\" \"$@\"; }\n"+script)
	cmd.Dir = work
	for _, kv := range os.Environ() {
		// An empty AWS_PROFILE names a profile to the aws CLI: leave it out.
		if kv != "AWS_PROFILE=" && kv != "AWS_SESSION_TOKEN=" {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, val := range env {
		cmd.Env = append(cmd.Env, k+"="+val)
	}
	caFile := os.Getenv(envStackAPICACert) // the stand-in's certificate, as the CLI trusts it
	cmd.Env = append(cmd.Env, "AWS_CLI="+aws, "CURL_HOME="+work, "CURL_CA_BUNDLE="+caFile,
		"S3_URL="+ep.S3.URL)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("README's aws CLI and curl block: %v\n%s", err, out)
	}
	for _, want := range []string{"upload: ./credit.csv to s3://" + ep.Buckets.Uploads + "/incoming/credit/credit.csv",
		`"champion":1`, `"status":"ok"`} {
		if !strings.Contains(strings.ReplaceAll(string(out), " ", ""), strings.ReplaceAll(want, " ", "")) {
			t.Errorf("README's aws CLI and curl block: no %q in\n%s", want, out)
		}
	}
}
