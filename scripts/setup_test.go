// Package scripts holds the tests of the project's shell scripts.
package scripts

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// machine is a stand-in for a fresh or a complete machine: a PATH with only
// the basic tools (and, when complete, stand-ins for the programs setup.sh looks
// for), a Python whose module path holds only what the test puts there, an
// empty GOBIN, and no aws CLI.
type machine struct {
	t                       *testing.T
	bin, gobin, pylib, root string
	env                     []string
}

func newMachine(t *testing.T) *machine {
	t.Helper()
	root := t.TempDir()
	m := &machine{t: t, root: root, bin: filepath.Join(root, "bin"), gobin: filepath.Join(root, "gobin"), pylib: filepath.Join(root, "pylib")}
	for _, d := range []string{m.bin, m.gobin, m.pylib} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The tools the script itself runs; nothing it looks for.
	for _, tool := range []string{"bash", "sed", "cat", "grep", "cut", "id", "mktemp", "rm", "sha256sum", "dirname", "mkdir", "go", "env"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(m.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	// A Python that sees only pylib: -S leaves out site- and dist-packages.
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	m.script("python3", "#!/bin/sh\nPYTHONPATH="+m.pylib+" exec /usr/bin/python3 -S \"$@\"\n")
	home, _ := os.UserHomeDir()
	m.env = []string{"PATH=" + m.bin, "HOME=" + home, "GOBIN=" + m.gobin, "GOFLAGS=-mod=mod",
		"MLOPS_PYTHON=" + filepath.Join(m.bin, "python3"), "AWS_CLI=" + filepath.Join(root, "aws"), "SETUP_ROOT=" + root}
	// The checkout's npm folders, as a clone has them: a lockfile, no node_modules.
	if err := os.MkdirAll(filepath.Join(root, infraNag), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, infraNag, "package-lock.json"), []byte(`{"lockfileVersion": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if cache := os.Getenv("GOCACHE"); cache != "" {
		m.env = append(m.env, "GOCACHE="+cache)
	}
	return m
}

// infraNag is the npm folder setup.sh installs for the infra tests.
const infraNag = "infra/nag"

func (m *machine) script(name, body string) string {
	m.t.Helper()
	p := filepath.Join(m.bin, name)
	if err := os.WriteFile(p, []byte(body), 0o755); err != nil {
		m.t.Fatal(err)
	}
	return p
}

// complete gives the machine everything the script looks for.
func (m *machine) complete() {
	m.t.Helper()
	for _, mod := range []string{"xgboost", "numpy", "pandas", "scipy", "boto3", "fastapi", "uvicorn"} {
		if err := os.MkdirAll(filepath.Join(m.pylib, mod), 0o755); err != nil {
			m.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(m.pylib, mod, "__init__.py"), nil, 0o644); err != nil {
			m.t.Fatal(err)
		}
	}
	for _, c := range []string{"make", "curl", "shellcheck", "git", "wrk", "chromium", "hugo", "node", "npm"} {
		m.script(c, "#!/bin/sh\nexit 0\n")
	}
	// infra/nag installed from its lockfile: the stamp setup.sh leaves.
	lock, err := os.ReadFile(filepath.Join(m.root, infraNag, "package-lock.json"))
	if err != nil {
		m.t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(m.root, infraNag, "node_modules"), 0o755); err != nil {
		m.t.Fatal(err)
	}
	sum := sha256.Sum256(lock)
	if err := os.WriteFile(filepath.Join(m.root, infraNag, "node_modules", ".setup-lock.sha256"), []byte(hex.EncodeToString(sum[:])+"\n"), 0o644); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.root, "aws"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		m.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.gobin, "staticcheck"), []byte("#!/bin/sh\necho 'staticcheck 2025.1.1 (v0.8.2)'\n"), 0o755); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machine) run(extraEnv []string, args ...string) (stdout, stderr string, code int) {
	m.t.Helper()
	cmd := exec.Command(filepath.Join(m.bin, "bash"), append([]string{"setup.sh"}, args...)...)
	cmd.Env = append(append([]string{}, m.env...), extraEnv...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		m.t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// packages lists the names the script says it would install (the word after
// "would install").
func packages(out string) []string {
	var names []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		for _, p := range []string{"setup: would install ", "setup: would go install ", "setup: would npm ci in "} {
			if rest, ok := strings.CutPrefix(l, p); ok {
				names = append(names, strings.Fields(rest)[0])
			}
		}
	}
	sort.Strings(names)
	return names
}

func TestFreshMachineReportsExactlyWhatIsMissing(t *testing.T) {
	m := newMachine(t)
	for _, c := range []struct {
		groups []string
		want   []string
	}{
		{[]string{"demo"}, []string{"awscli", "curl", "python3-numpy", "python3-xgboost"}},
		{[]string{"test"}, []string{"awscli", "chromium", "curl", infraNag, "make", "nodejs", "npm", "python3-boto3", "python3-numpy", "python3-pandas", "python3-scipy", "python3-xgboost", "wrk"}},
		{[]string{"lint"}, []string{"git", "honnef.co/go/tools/cmd/staticcheck@v0.8.2", "shellcheck"}},
		{[]string{"bench"}, []string{"hugo", "python3-fastapi", "python3-numpy", "python3-pandas", "python3-uvicorn", "python3-xgboost", "wrk"}},
		// An operator's make synth and make deploy: the CDK and nothing of the tests'.
		{[]string{"infra"}, []string{infraNag, "nodejs", "npm"}},
		{[]string{"all"}, []string{"awscli", "chromium", "curl", "git", "honnef.co/go/tools/cmd/staticcheck@v0.8.2", "hugo", infraNag, "make", "nodejs", "npm", "python3-boto3",
			"python3-fastapi", "python3-numpy", "python3-pandas", "python3-scipy", "python3-uvicorn", "python3-xgboost", "shellcheck", "wrk"}},
	} {
		out, errOut, code := m.run(nil, append([]string{"--dry-run"}, c.groups...)...)
		if code != 0 || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", c.groups, code, errOut)
		}
		if got := packages(out); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%v: would install %v, want %v\n%s", c.groups, got, c.want, out)
		}
		// Each line says why: the group and what was looked up.
		if c.groups[0] == "demo" && (!strings.Contains(out, "python3-xgboost (demo: ") || !strings.Contains(out, "cannot find module xgboost")) {
			t.Errorf("%v: lines do not say why:\n%s", c.groups, out)
		}
	}
}

func TestCompleteMachineHasNothingToDo(t *testing.T) {
	m := newMachine(t)
	m.complete()
	start := time.Now()
	out, errOut, code := m.run(nil, "all")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	t.Logf("nothing to do in %v", time.Since(start))
	// One module missing is one line.
	if err := os.RemoveAll(filepath.Join(m.pylib, "scipy")); err != nil {
		t.Fatal(err)
	}
	out, _, _ = m.run(nil, "--dry-run", "test")
	if got := packages(out); !reflect.DeepEqual(got, []string{"python3-scipy"}) {
		t.Errorf("would install %v, want [python3-scipy]", got)
	}
	// A stale Go tool is installed again.
	if err := os.WriteFile(filepath.Join(m.gobin, "staticcheck"), []byte("#!/bin/sh\necho 'staticcheck 2024.1 (v0.5.0)'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	out, _, _ = m.run(nil, "--dry-run", "lint")
	if got := packages(out); !reflect.DeepEqual(got, []string{"honnef.co/go/tools/cmd/staticcheck@v0.8.2"}) {
		t.Errorf("stale staticcheck: would install %v", got)
	}
}

// Without apt-get the script names every missing package and how to get it, and
// stops before installing anything (the Go tool is not installed either).
func TestNoAptGetNamesWhatIsMissingAndStops(t *testing.T) {
	m := newMachine(t)
	_, errOut, code := m.run(nil, "all")
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, p := range []string{"python3-xgboost", "python3-numpy", "awscli", "python3-pandas", "python3-scipy", "python3-boto3", "shellcheck", "no apt-get", "apt-get install "} {
		if !strings.Contains(errOut, p) {
			t.Errorf("stderr lacks %q:\n%s", p, errOut)
		}
	}
	if entries, _ := os.ReadDir(m.gobin); len(entries) != 0 {
		t.Errorf("something was installed before stopping: %v", entries)
	}
}

// With apt-get (a stand-in that records its calls) as root, the package lists
// are refreshed once and exactly the missing packages installed, one line each
// saying why; not as root, sudo -n is used, or the script stops with the list.
func TestInstallsOnlyWhatIsMissing(t *testing.T) {
	m := newMachine(t)
	m.complete()
	for _, mod := range []string{"xgboost", "scipy"} {
		if err := os.RemoveAll(filepath.Join(m.pylib, mod)); err != nil {
			t.Fatal(err)
		}
	}
	log := filepath.Join(m.root, "apt.log")
	apt := m.script("fake-apt-get", "#!/bin/sh\necho \"$*\" >>"+log+"\n")
	out, errOut, code := m.run([]string{"SETUP_APT_GET=" + apt}, "demo", "test")
	if os.Geteuid() != 0 {
		// No sudo on this PATH: the script must stop and say what is missing.
		if code != 1 || !strings.Contains(errOut, "not root") || !strings.Contains(errOut, "python3-xgboost") {
			t.Fatalf("not root: exit %d, stderr %q", code, errOut)
		}
		return
	}
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	calls, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "update -qq\ninstall -y -qq --no-install-recommends python3-xgboost python3-scipy\n"
	if string(calls) != want {
		t.Errorf("apt-get calls:\n%s\nwant:\n%s", calls, want)
	}
	if n := strings.Count(out, "setup: installing "); n != 2 || !strings.Contains(out, "python3-xgboost (demo: ") {
		t.Errorf("want one line per package, with why:\n%s", out)
	}
}

// npm packages come from a committed lockfile with `npm ci`, once: a stamp of the
// lockfile's hash in node_modules says it is done, and a changed lockfile redoes it.
func TestNpmFolderInstalledOnceFromItsLockfile(t *testing.T) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("no npm")
	}
	m := newMachine(t)
	m.complete()
	// The real npm and node in place of complete's stand-ins.
	for _, f := range []string{"npm", "node"} {
		_ = os.Remove(filepath.Join(m.bin, f))
	}
	if err := os.Symlink(npm, filepath.Join(m.bin, "npm")); err != nil {
		t.Fatal(err)
	}
	if node, err := exec.LookPath("node"); err == nil {
		_ = os.Symlink(node, filepath.Join(m.bin, "node"))
	}
	dir := filepath.Join(m.root, "site")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A package with no dependencies: npm ci needs no registry for it.
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name": "site", "version": "1.0.0", "private": true}`)
	write("package-lock.json", `{"name": "site", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "site", "version": "1.0.0"}}}`)
	extra := []string{"SETUP_EXTRA_DEPS=test npm " + dir + " - the site's assets"}
	out, errOut, code := m.run(extra, "--dry-run", "test")
	if code != 0 || !reflect.DeepEqual(packages(out), []string{dir}) {
		t.Fatalf("dry run: exit %d %q %q", code, out, errOut)
	}
	out, errOut, code = m.run(extra, "test")
	if code != 0 || !strings.Contains(out, "setup: npm ci in "+dir) {
		t.Fatalf("install: exit %d %q %q", code, out, errOut)
	}
	if out, errOut, code = m.run(extra, "test"); code != 0 || out != "" || errOut != "" {
		t.Fatalf("second run should do nothing: exit %d %q %q", code, out, errOut)
	}
	write("package-lock.json", `{"name": "site", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": {"": {"name": "site", "version": "1.0.0", "license": "MIT"}}}`)
	if out, _, _ = m.run(extra, "--dry-run", "test"); !reflect.DeepEqual(packages(out), []string{dir}) {
		t.Fatalf("a changed lockfile should be installed again: %q", out)
	}
}
