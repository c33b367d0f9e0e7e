package trainer_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/trainer"
)

// Install leaves the folder holding the trainer: every file of Files, nothing
// left from an older trainer's package, and nothing rewritten that is already
// right; the folder's other files, and Python's caches, stay.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	check := func() {
		t.Helper()
		must(t, fs.WalkDir(trainer.Files, ".", func(name string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			want, _ := trainer.Files.ReadFile(name)
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: not the trainer's (%v)", name, err)
			}
			return nil
		}))
	}
	check()
	before, err := os.Stat(filepath.Join(dir, "mlops_trainer", "metrics.py"))
	must(t, err)

	pkg := filepath.Join(dir, "mlops_trainer")
	must(t, os.WriteFile(filepath.Join(pkg, "old_module.py"), []byte("x = 1\n"), 0o600))
	must(t, os.MkdirAll(filepath.Join(pkg, "__pycache__"), 0o700))
	must(t, os.WriteFile(filepath.Join(pkg, "__pycache__", "cli.cpython-311.pyc"), []byte("pyc"), 0o600))
	must(t, os.WriteFile(filepath.Join(pkg, "split.py"), []byte("edited\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "part-0.csv.gz"), []byte("data"), 0o600))
	must(t, trainer.Install(dir))
	check()
	if _, err := os.Stat(filepath.Join(pkg, "old_module.py")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a module the trainer no longer has is still there (%v)", err)
	}
	for _, keep := range []string{filepath.Join(pkg, "__pycache__", "cli.cpython-311.pyc"), filepath.Join(dir, "part-0.csv.gz")} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
	after, err := os.Stat(filepath.Join(dir, "mlops_trainer", "metrics.py"))
	must(t, err)
	if !os.SameFile(before, after) || !after.ModTime().Equal(before.ModTime()) {
		t.Error("an unchanged module was rewritten")
	}
	if entries, _ := filepath.Glob(filepath.Join(pkg, ".*")); len(entries) > 0 {
		t.Errorf("temporary files left: %q", entries)
	}
}

// The installed trainer runs from any working directory, as python3 train.py
// and as python3 <folder>, with python3 -I too (which leaves the script's
// folder off sys.path); reading its arguments needs nothing beyond the
// standard library.
func TestInstalledTrainerRunsFromAnywhere(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	for _, args := range [][]string{{filepath.Join(dir, "train.py")}, {dir}, {"-I", filepath.Join(dir, "train.py")}, {"-I", dir}} {
		cmd := exec.Command(python, append(args, "--help")...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--dataset-version") {
			t.Errorf("python3 %s --help: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// A Python that cannot import xgboost (here /usr/bin/python3 -S: no
// dist-packages) fails with exit code 1 and says so in error.json, naming the
// interpreter and the fix, so the run's reason is more than "exit code 1".
func TestTrainerWithoutXGBoostSaysSo(t *testing.T) {
	if _, err := os.Stat(python); err != nil {
		t.Skipf("%s: %v", python, err)
	}
	if exec.Command(python, "-S", "-c", "import xgboost").Run() == nil {
		t.Skipf("%s -S still imports xgboost", python)
	}
	t.Parallel()
	dir := t.TempDir()
	must(t, trainer.Install(dir))
	out := filepath.Join(dir, "bundle")
	cmd := exec.Command(python, "-S", filepath.Join(dir, "train.py"), "--data", filepath.Join(dir, "part-0.csv.gz"),
		"--contract", filepath.Join(dir, "contract.json"), "--spec", filepath.Join(dir, "spec.json"),
		"--output", out+"/", "--run-id", "credit-test-1", "--dataset-version", "v1", "--trainer", "local-test")
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("exit: %v, want code 1\n%s", err, stderr.String())
	}
	raw, err := os.ReadFile(filepath.Join(out, bundle.ErrorFile))
	must(t, err)
	var rep bundle.ErrorReport
	must(t, json.Unmarshal(raw, &rep))
	for _, want := range []string{python + " cannot import", "xgboost", "python3-xgboost"} {
		if !strings.Contains(rep.Error, want) {
			t.Errorf("error.json %s: want %q in the error", raw, want)
		}
	}
	if rep.Kind != bundle.ErrorInternal || strings.Contains(stderr.String(), "Traceback") {
		t.Errorf("error.json %s, stderr:\n%s", raw, stderr.String())
	}
}
