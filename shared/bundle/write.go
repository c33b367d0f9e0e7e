package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// WriteManifest finishes a bundle a Go program wrote into dir: it hashes every
// file under dir (recursively, except a manifest.json at its root), and writes
// manifest.json last, atomically (a temporary file renamed into place), so that
// a reader never sees a manifest without its files. It refuses what Open would
// refuse: a missing required file, a path Open would not accept, a symbolic
// link or other non-regular file, an unknown objective.
func WriteManifest(dir string, runID, model, objective string, createdAt time.Time) (Manifest, error) {
	m := Manifest{Format: Format, RunID: runID, Model: model, Objective: objective, CreatedAt: createdAt.UTC()}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() || rel == ManifestFile {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", rel)
		}
		if err := CheckPath(rel); err != nil {
			return err
		}
		f, err := hashFile(path, rel)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, f)
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle: write manifest in %s: %w", dir, err)
	}
	slices.SortFunc(m.Files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	if err := m.validate(); err != nil {
		return Manifest{}, fmt.Errorf("bundle: write manifest in %s: %w", dir, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return Manifest{}, fmt.Errorf("bundle: encode manifest: %w", err)
	}
	if err := writeAtomic(filepath.Join(dir, ManifestFile), append(data, '\n')); err != nil {
		return Manifest{}, fmt.Errorf("bundle: write manifest in %s: %w", dir, err)
	}
	return m, nil
}

func hashFile(path, rel string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("read %s: %w", rel, err)
	}
	return File{Path: rel, SHA256: hex.EncodeToString(h.Sum(nil)), Bytes: n}, nil
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".manifest-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// CreateTemp makes the file 0600; a manifest is no secret.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
