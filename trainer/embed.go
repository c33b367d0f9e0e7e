// Package trainer holds the platform's reference trainer: the Python + XGBoost 1.7
// program (train.py, its entry point, and the mlops_trainer package beside it)
// that turns a dataset version (canonical CSV partitions), its contract and a
// model spec into a model bundle (shared/bundle). trainer/README.md is its
// container contract; trainer/Dockerfile builds the GPU image AWS Batch runs.
package trainer

import (
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Files is the trainer's program: train.py, __main__.py (python3 <folder> runs
// it as train.py) and mlops_trainer/*.py. The local platform installs it into a
// folder and runs that folder with /usr/bin/python3 (Debian's python3-xgboost),
// followed by the container contract's arguments (training.ContractArgs); the
// folder's tree identifies the local trainer the way an image digest does in AWS.
//
//go:embed train.py __main__.py mlops_trainer/*.py
var Files embed.FS

// packageDir is the folder of the trainer's modules, beside train.py.
const packageDir = "mlops_trainer"

// Install writes Files into dir (made if need be): python3 dir/train.py, or
// python3 dir, is then the trainer. Files whose bytes are already there are
// left alone, others replaced by a rename (a trainer starting meanwhile reads
// the old file or the new one); files in dir/mlops_trainer that Files does not
// have are removed, since they would be importable and part of the trainer's
// identity. Anything else in dir is left as it is.
func Install(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, packageDir), 0o700); err != nil {
		return fmt.Errorf("install the trainer: %w", err)
	}
	err := fs.WalkDir(Files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		want, err := Files.ReadFile(name)
		if err != nil {
			return err
		}
		return writeIfChanged(filepath.Join(dir, filepath.FromSlash(name)), want)
	})
	if err != nil {
		return fmt.Errorf("install the trainer: %w", err)
	}
	entries, err := os.ReadDir(filepath.Join(dir, packageDir))
	if err != nil {
		return fmt.Errorf("install the trainer: %w", err)
	}
	for _, e := range entries {
		if e.Name() == "__pycache__" {
			continue // Python's, kept up to date by Python
		}
		if _, err := fs.Stat(Files, path.Join(packageDir, e.Name())); err == nil {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, packageDir, e.Name())); err != nil {
			return fmt.Errorf("install the trainer: remove what an older trainer left: %w", err)
		}
	}
	return nil
}

func writeIfChanged(name string, want []byte) error {
	if cur, err := os.ReadFile(name); err == nil && bytes.Equal(cur, want) {
		return nil
	}
	// A dot name: neither importable nor part of the tree's identity, should
	// it be left behind.
	tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
	if err := os.WriteFile(tmp, want, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, name); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}
