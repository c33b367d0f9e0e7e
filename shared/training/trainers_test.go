package training_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
)

// writeTree writes files (slash-separated path → contents) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func commandID(t *testing.T, cmd ...string) string {
	t.Helper()
	tr, err := training.CommandTrainers{Default: cmd}.Resolve(&spec.Spec{Name: "m"})
	if err != nil {
		t.Fatal(err)
	}
	return tr.ID
}

// A word naming a folder is the folder's tree: the same files anywhere are the
// same trainer, and a changed, added, removed or renamed module is another;
// Python's caches and dot files are not the program.
func TestCommandTrainersHashFolderTrees(t *testing.T) {
	program := map[string]string{
		"__main__.py":        "from train import main\n",
		"train.py":           "print('hi')\n",
		"pkg/__init__.py":    "",
		"pkg/metrics.py":     "def auc(): pass\n",
		"pkg/sub/helpers.py": "X = 1\n",
	}
	dir1, dir2 := t.TempDir(), t.TempDir()
	writeTree(t, dir1, program)
	writeTree(t, dir2, program)
	a := commandID(t, "/usr/bin/python3", dir1)
	if b := commandID(t, "/usr/bin/python3", dir2); a != b {
		t.Fatalf("the same tree in two folders: %s and %s", a, b)
	}
	if commandID(t, "/usr/bin/python3", dir1+string(filepath.Separator)) != a {
		t.Error("a trailing separator changed the identity")
	}
	writeTree(t, dir2, map[string]string{"pkg/__pycache__/metrics.cpython-311.pyc": "cache", ".git/HEAD": "ref",
		"pkg/.metrics.py.swp": "editor"})
	if b := commandID(t, "/usr/bin/python3", dir2); a != b {
		t.Error("Python's cache or a dot file changed the identity")
	}

	seen := map[string]string{a: "the program"}
	change := func(what string, edit func(dir string)) {
		t.Helper()
		dir := t.TempDir()
		writeTree(t, dir, program)
		edit(dir)
		id := commandID(t, "/usr/bin/python3", dir)
		if prev, ok := seen[id]; ok {
			t.Errorf("%s: the identity of %s", what, prev)
		}
		seen[id] = what
	}
	change("a changed module", func(dir string) { writeTree(t, dir, map[string]string{"pkg/metrics.py": "def auc(): return 1\n"}) })
	change("a changed module in a sub-folder", func(dir string) { writeTree(t, dir, map[string]string{"pkg/sub/helpers.py": "X = 2\n"}) })
	change("an added module", func(dir string) { writeTree(t, dir, map[string]string{"pkg/extra.py": ""}) })
	change("a removed module", func(dir string) {
		if err := os.Remove(filepath.Join(dir, "pkg", "metrics.py")); err != nil {
			t.Fatal(err)
		}
	})
	change("a renamed module", func(dir string) {
		if err := os.Rename(filepath.Join(dir, "pkg", "metrics.py"), filepath.Join(dir, "pkg", "scores.py")); err != nil {
			t.Fatal(err)
		}
	})
	change("a module moved to another folder", func(dir string) {
		if err := os.Rename(filepath.Join(dir, "pkg", "sub", "helpers.py"), filepath.Join(dir, "pkg", "helpers.py")); err != nil {
			t.Fatal(err)
		}
	})

	// The folder is not the word naming it, nor the file it holds.
	if commandID(t, "/usr/bin/python3", filepath.Join(dir1, "train.py")) == a {
		t.Error("the folder and its train.py have one identity")
	}
	if commandID(t, "/usr/bin/python3", "-I", dir1) == a {
		t.Error("another argument kept the identity")
	}
}

// A symbolic link to a file is the file: editing the file it names is a new
// trainer.
func TestCommandTrainersTreeFollowsFileLinks(t *testing.T) {
	dir, elsewhere := t.TempDir(), t.TempDir()
	writeTree(t, dir, map[string]string{"train.py": "print('hi')\n"})
	writeTree(t, elsewhere, map[string]string{"helpers.py": "X = 1\n"})
	if err := os.Symlink(filepath.Join(elsewhere, "helpers.py"), filepath.Join(dir, "helpers.py")); err != nil {
		t.Skipf("no symbolic links here: %v", err)
	}
	a := commandID(t, "/usr/bin/python3", dir)
	writeTree(t, elsewhere, map[string]string{"helpers.py": "X = 2\n"})
	if commandID(t, "/usr/bin/python3", dir) == a {
		t.Error("editing a linked module kept the identity")
	}
}

// A word naming a folder far larger than a program is reported, not hashed
// for minutes on every dataset version.
func TestCommandTrainersRefuseHugeFolders(t *testing.T) {
	if testing.Short() {
		t.Skip("writes ten thousand files")
	}
	dir := t.TempDir()
	files := map[string]string{}
	for i := 0; i <= 10000; i++ {
		files["d"+strconv.Itoa(i%10)+"/f"+strconv.Itoa(i)] = ""
	}
	writeTree(t, dir, files)
	_, err := training.CommandTrainers{Default: []string{"/usr/bin/python3", dir}}.Resolve(&spec.Spec{Name: "m"})
	if err == nil || !strings.Contains(err.Error(), "more than 10000 files") || !strings.Contains(err.Error(), "model m") {
		t.Fatalf("err %v", err)
	}
}
