package s3

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const awsCLI = "/usr/bin/aws"

// The real aws CLI (v2, Debian's) against the endpoint: it signs with a hex payload
// digest and Content-MD5, and goes multipart above 8 MiB.
func TestAWSCLI(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	run := awsCLIRunner(t, s)
	work := t.TempDir()
	small := filepath.Join(work, "small.csv")
	big := filepath.Join(work, "big.bin")
	_ = os.WriteFile(small, []byte("a,b\n1,2\n"), 0o600)
	data := make([]byte, 20<<20+123)
	_, _ = rand.Read(data)
	_ = os.WriteFile(big, data, 0o600)
	for _, f := range []string{small, big} {
		if out, err := run("s3", "cp", f, "s3://uploads/incoming/credit/"+filepath.Base(f)); err != nil {
			t.Fatalf("upload %s: %v\n%s", f, err, out)
		}
		dst := filepath.Join(work, "back-"+filepath.Base(f))
		if out, err := run("s3", "cp", "s3://uploads/incoming/credit/"+filepath.Base(f), dst); err != nil {
			t.Fatalf("download %s: %v\n%s", f, err, out)
		}
		want, _ := os.ReadFile(f)
		got, _ := os.ReadFile(dst)
		if !bytes.Equal(want, got) {
			t.Fatalf("%s: round trip differs (%d vs %d bytes)", f, len(want), len(got))
		}
	}
	out, err := run("s3", "ls", "s3://uploads/incoming/credit/")
	if err != nil || !strings.Contains(out, "small.csv") || !strings.Contains(out, "big.bin") {
		t.Fatalf("ls: %v\n%s", err, out)
	}
	reasons := map[string]int{}
	for _, ev := range rec.all() {
		switch {
		case strings.Contains(string(ev.Detail), `"reason":"PutObject"`):
			reasons["PutObject"]++
		case strings.Contains(string(ev.Detail), `"reason":"CompleteMultipartUpload"`):
			reasons["CompleteMultipartUpload"]++
		}
	}
	if reasons["PutObject"] != 1 || reasons["CompleteMultipartUpload"] != 1 {
		t.Fatalf("events: %v", reasons)
	}
	// put-object --if-none-match arrived in later CLI versions than Debian's 2.9.
	out, err = run("s3api", "put-object", "--bucket", "uploads", "--key", "incoming/credit/small.csv", "--body", small, "--if-none-match", "*")
	switch {
	case strings.Contains(out, "Unknown options"):
		t.Log("this aws CLI has no put-object --if-none-match; skipped")
	case err == nil || !strings.Contains(out, "PreconditionFailed"):
		t.Fatalf("if-none-match on an existing key: %v\n%s", err, out)
	}
}

// awsCLIRunner runs the aws CLI against s, with nothing of the user's configuration.
func awsCLIRunner(t *testing.T, s *Server) func(args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(awsCLI); err != nil {
		if testing.Short() {
			t.Skip("aws CLI not installed")
		}
		t.Fatalf("aws CLI not installed at %s (CI installs awscli): %v", awsCLI, err)
	}
	home := t.TempDir()
	return func(args ...string) (string, error) {
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", s.URL()}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + testKeyID, "AWS_SECRET_ACCESS_KEY=" + testSecret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// Issue 10: through the real CLI, keys with ".." were resolved as paths and landed beside
// the bucket directories, in another bucket, or outside the data directory. They are
// literal keys of their bucket.
func TestAWSCLIKeysStayInBucket(t *testing.T) {
	dir := t.TempDir()
	s := startServerWith(t, dir, nil, "mlops-platform", "mlops-uploads")
	run := awsCLIRunner(t, s)
	work := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if out, err := run("s3api", "put-object", "--bucket", "mlops-platform", "--key", "audit/x", "--body", file("audit", "the platform's audit")); err != nil {
		t.Fatalf("put audit/x: %v\n%s", err, out)
	}
	keys := []string{"../escape.txt", "a/../../escape.txt", "../mlops-platform/audit/x", "../../../../../../tmp/escape.txt", "./x", "a//b", "..", "dir/", "100% ü"}
	for i, k := range keys {
		if out, err := run("s3api", "put-object", "--bucket", "mlops-uploads", "--key", k, "--body", file(fmt.Sprint("in", i), "literal "+k)); err != nil {
			t.Fatalf("put %q: %v\n%s", k, err, out)
		}
	}
	onlyBucketDirs(t, dir, "mlops-platform", "mlops-uploads")
	for _, p := range []string{filepath.Join(filepath.Dir(dir), "escape.txt"), filepath.Join(dir, "escape.txt"), filepath.Join(dir, "buckets", "escape.txt")} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s was written", p)
		}
	}
	for i, k := range keys {
		dst := filepath.Join(work, fmt.Sprint("out", i))
		if out, err := run("s3api", "get-object", "--bucket", "mlops-uploads", "--key", k, dst); err != nil {
			t.Fatalf("get %q: %v\n%s", k, err, out)
		}
		if b, _ := os.ReadFile(dst); string(b) != "literal "+k {
			t.Fatalf("get %q: %q", k, b)
		}
	}
	dst := filepath.Join(work, "audit-back")
	if out, err := run("s3api", "get-object", "--bucket", "mlops-platform", "--key", "audit/x", dst); err != nil {
		t.Fatalf("get audit/x: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(dst); string(b) != "the platform's audit" {
		t.Fatalf("the platform's audit/x is now %q", b)
	}
	listKeys := func(bucket string) []string {
		out, err := run("s3api", "list-objects-v2", "--bucket", bucket, "--output", "json")
		if err != nil {
			t.Fatalf("list %s: %v\n%s", bucket, err, out)
		}
		var res struct{ Contents []struct{ Key string } }
		if strings.TrimSpace(out) == "" {
			return nil // the CLI prints nothing for an empty bucket
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("list %s: %v\n%s", bucket, err, out)
		}
		var got []string
		for _, c := range res.Contents {
			got = append(got, c.Key)
		}
		return got
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := listKeys("mlops-uploads"); !slices.Equal(got, want) {
		t.Fatalf("mlops-uploads lists %q, want %q", got, want)
	}
	if got := listKeys("mlops-platform"); !slices.Equal(got, []string{"audit/x"}) {
		t.Fatalf("mlops-platform lists %q", got)
	}
	if out, err := run("s3", "ls", "--recursive", "s3://mlops-platform/"); err != nil || !strings.Contains(out, "audit/x") {
		t.Fatalf("s3 ls: %v\n%s", err, out)
	}
	for _, k := range keys {
		if out, err := run("s3api", "delete-object", "--bucket", "mlops-uploads", "--key", k); err != nil {
			t.Fatalf("delete %q: %v\n%s", k, err, out)
		}
	}
	if got := listKeys("mlops-uploads"); len(got) != 0 {
		t.Fatalf("left after delete: %q", got)
	}
}
