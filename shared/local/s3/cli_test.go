package s3

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const awsCLI = "/usr/bin/aws"

// The real aws CLI (v2, Debian's) against the endpoint: it signs with a hex payload
// digest and Content-MD5, and goes multipart above 8 MiB.
func TestAWSCLI(t *testing.T) {
	if _, err := os.Stat(awsCLI); err != nil {
		if testing.Short() {
			t.Skip("aws CLI not installed")
		}
		t.Fatalf("aws CLI not installed at %s (CI installs awscli): %v", awsCLI, err)
	}
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	home, work := t.TempDir(), t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(awsCLI, append([]string{"--endpoint-url", s.URL()}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_ACCESS_KEY_ID=" + testKeyID, "AWS_SECRET_ACCESS_KEY=" + testSecret,
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER="}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
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
