// Package pythontest holds what tests that run Debian's Python share: the
// interpreter (the one the local platform runs train.py with, which has
// python3-xgboost), whether it can import xgboost, and directories a generator
// script fills once per test binary. It imports nothing of the platform, so
// that any package's tests can use it.
package pythontest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Python is the interpreter the local platform runs train.py with: Debian's,
// the one that has python3-xgboost.
const Python = "/usr/bin/python3"

var (
	xgbOnce sync.Once
	xgbErr  error
)

// XGBoost reports why Python cannot import xgboost and numpy (the error and
// what Python printed), or nil where it can. It asks once per test binary.
func XGBoost() error {
	xgbOnce.Do(func() {
		if out, err := exec.Command(Python, "-c", "import xgboost, numpy").CombinedOutput(); err != nil {
			xgbErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	return xgbErr
}

// Generated is a directory that a Python script (Script, run with the
// directory and then Args) fills once per test binary.
type Generated struct {
	Script string   // the generator, e.g. testdata/gen_models.py
	Args   []string // after the directory
	Prefix string   // of the temporary directory's name
	// Fallback, where there is one, is what covers the tests without
	// xgboost (say, committed fixtures): they are skipped, not failed.
	Fallback string

	once sync.Once
	dir  string
	err  error
}

// For is Dir for tb. It skips tb with -short (training takes a while); where
// Python cannot import xgboost it skips tb if there is a Fallback, else fails
// it; it fails tb if the script fails.
func (g *Generated) For(tb testing.TB) string {
	tb.Helper()
	fallback := ""
	if g.Fallback != "" {
		fallback = "; " + g.Fallback
	}
	if testing.Short() {
		tb.Skipf("training with xgboost (%s) is skipped with -short%s", g.Script, fallback)
	}
	if err := XGBoost(); err != nil {
		if g.Fallback != "" {
			tb.Skipf("%s cannot import xgboost and numpy (%v)%s", Python, err, fallback)
		}
		tb.Fatalf("%s cannot import xgboost and numpy (%v): install python3-xgboost, or run with -short", Python, err)
	}
	dir, err := g.Dir()
	if err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Dir runs the script the first time and returns its directory, or why it
// could not be filled (the script's standard error included).
func (g *Generated) Dir() (string, error) {
	g.once.Do(func() {
		if g.dir, g.err = os.MkdirTemp("", g.Prefix); g.err != nil {
			return
		}
		cmd := exec.Command(Python, append([]string{g.Script, g.dir}, g.Args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			g.err = fmt.Errorf("%s: %w: %s", filepath.Base(g.Script), err, stderr.String())
		}
	})
	return g.dir, g.err
}

// Remove deletes the directory, if Dir made one: for TestMain.
func (g *Generated) Remove() {
	if g.dir != "" {
		_ = os.RemoveAll(g.dir)
	}
}

var (
	scipyOnce sync.Once
	scipyErr  error
)

// SciPy reports why Python cannot import scipy and numpy (the error and what
// Python printed), or nil where it can. It asks once per test binary.
func SciPy() error {
	scipyOnce.Do(func() {
		if out, err := exec.Command(Python, "-c", "import scipy.stats, scipy.spatial, numpy").CombinedOutput(); err != nil {
			scipyErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	return scipyErr
}
