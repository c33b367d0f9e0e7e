package training

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
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
// reference trainer: /usr/bin/python3 <state dir>/trainer/train.py). The identity
// is the hash of the command's words, with the contents of the files it names in
// place of their names, so editing train.py makes a new run of the same data while
// restarting the platform, or moving its directory, does not.
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
		isFile, err := hashFile(h, w)
		if err != nil {
			return Trainer{}, fmt.Errorf("model %s: trainer %s: %w", s.Name, strings.Join(cmd, " "), err)
		}
		if !isFile {
			fmt.Fprintf(h, "word %d:%s\x00", len(w), w)
		}
	}
	return Trainer{ID: "local-" + hex.EncodeToString(h.Sum(nil))[:32], Command: append([]string(nil), cmd...)}, nil
}

// hashFile adds the contents of path to h when path names a regular file (by
// content, not name: the same trainer in another state directory is the same
// trainer).
func hashFile(h io.Writer, path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() {
		return false, nil // an argument, not a file
	}
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	fmt.Fprintf(h, "file %d:", fi.Size())
	_, err = io.Copy(h, f)
	return true, err
}
