package training

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/openmlops/mlops/shared/spec"
)

var digestPattern = regexp.MustCompile(`@sha256:([0-9a-f]{64})$`)

// ImageTrainers resolves trainers in AWS: a spec's image, else Default (the
// reference trainer), each pinned by digest; the digest is the trainer's identity,
// so a new image is a new run while a retag of the same image is not.
type ImageTrainers struct {
	Default string // <repo>@sha256:<hex>
}

// Resolve implements Trainers.
func (t ImageTrainers) Resolve(s *spec.Spec) (Trainer, error) {
	image := s.Trainer.Image
	if image == "" {
		image = t.Default
	}
	m := digestPattern.FindStringSubmatch(image)
	if m == nil {
		return Trainer{}, fmt.Errorf("model %s: trainer image %q must be pinned by digest (<repo>@sha256:<64 hex>)", s.Name, image)
	}
	// The image's entrypoint is the program; the job gets only the contract's arguments.
	return Trainer{ID: "sha256:" + m[1], Image: image}, nil
}

// CommandTrainers resolves trainers locally: a spec's command, else Default (the
// reference trainer: /usr/bin/python3 <state dir>/trainer, the folder Python runs
// as a program). The identity is the hash of the command's words, with the
// contents of the files it names in place of their names and, for a word that
// names a directory, the tree under it (treeHash): editing train.py, or any module
// of the trainer's package, makes a new run of the same data, while restarting the
// platform, or moving its directory, does not.
type CommandTrainers struct {
	Default []string
}

// Resolve implements Trainers.
func (t CommandTrainers) Resolve(s *spec.Spec) (Trainer, error) {
	cmd := s.Trainer.Command
	if len(cmd) == 0 {
		cmd = t.Default
	}
	if len(cmd) == 0 {
		return Trainer{}, fmt.Errorf("model %s: no trainer command", s.Name)
	}
	h := sha256.New()
	for _, w := range cmd {
		hashed, err := hashPath(h, w)
		if err != nil {
			return Trainer{}, fmt.Errorf("model %s: trainer %s: %w", s.Name, strings.Join(cmd, " "), err)
		}
		if !hashed {
			fmt.Fprintf(h, "word %d:%s\x00", len(w), w)
		}
	}
	return Trainer{ID: "local-" + hex.EncodeToString(h.Sum(nil))[:32], Command: append([]string(nil), cmd...)}, nil
}

// hashPath adds what path names to h: a regular file's contents, or a
// directory's tree; false when path names neither (an argument, not a file).
func hashPath(h io.Writer, path string) (bool, error) {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return false, nil
	case fi.IsDir():
		sum, err := treeHash(path)
		if err != nil {
			return false, err
		}
		fmt.Fprintf(h, "tree %x\x00", sum)
		return true, nil
	case fi.Mode().IsRegular():
		return true, hashFile(h, path, fi.Size())
	}
	return false, nil
}

// hashFile adds the contents of path to h (by content, not name: the same
// trainer in another state directory is the same trainer).
func hashFile(h io.Writer, path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %d:", size)
	_, err = io.Copy(h, f)
	return err
}

// Bounds of a trainer's tree: a word naming a large directory (a home folder, a
// data folder) is a mistake to report, not minutes of hashing on every dataset
// version.
const (
	maxTreeFiles = 10000
	maxTreeBytes = 1 << 30
)

// treeHash is the SHA-256 of the tree under dir: every file's path relative to
// dir (slash-separated) and the SHA-256 of its contents, in lexical order, so the
// same tree anywhere hashes the same and a changed, added, removed or renamed
// file changes the hash. Symbolic links to files count as the files; Python's
// __pycache__ folders (written as the trainer runs) and names starting with "."
// (.git, editors' files) are not the program and are left out.
func treeHash(dir string) ([]byte, error) {
	tree := sha256.New()
	files, total := 0, int64(0)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		if name := d.Name(); strings.HasPrefix(name, ".") || d.IsDir() && name == "__pycache__" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		fi, err := os.Stat(path) // follows a link
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		if files++; files > maxTreeFiles {
			return fmt.Errorf("more than %d files", maxTreeFiles)
		}
		if total += fi.Size(); total > maxTreeBytes {
			return fmt.Errorf("more than %d MiB", maxTreeBytes>>20)
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		f := sha256.New()
		if err := hashFile(f, path, fi.Size()); err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		fmt.Fprintf(tree, "%d:%s %x\x00", len(rel), rel, f.Sum(nil))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("the folder %s: %w (a trainer folder holds the program: name its files, or a folder that holds only them)", dir, err)
	}
	return tree.Sum(nil), nil
}
