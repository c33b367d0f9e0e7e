package s3

import (
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/johannesboyne/gofakes3"
)

// How a key maps to the filesystem. S3 keys are opaque strings of 1 to 1024 bytes of UTF-8;
// a filesystem path is not, so a key is stored in one of two places (see docs in backend):
//
//   - buckets/<bucket>/<key>, s3afero's layout, with its metadata under metadata/<bucket>/,
//     for the keys that are already a clean relative path there ("nested" keys: what every
//     object of earlier versions of this package is stored as);
//   - encoded/<bucket>/<hex of the key, cut in directories of encodedChunk digits>.object
//     for every other key, and for a nested key whose path is taken by a directory or runs
//     through a file (the keys "a" and "a/b" cannot both be nested).
//
// The hex encoding is reversible, made only of [0-9a-f], and sorts as the keys do; its
// directory names are exactly encodedChunk long and carry no dot, its file names are shorter
// or equal and end in encodedExt, so no file ever needs the path of a directory.
const (
	encodedDir   = "encoded"
	encodedExt   = ".object"
	encodedChunk = 200 // hex digits per path element: 200+len(encodedExt) < 255
	// maxNestedKey keeps s3afero's metadata file name (key with '/' turned into '_', '-', 32
	// hex digits) within the 255 bytes of a file name. Earlier versions could store no longer key.
	maxNestedKey = 255 - 33
)

// validKey is S3's rule for an object key.
func validKey(key string) error {
	switch {
	case len(key) > maxKeyLength:
		return newError(http.StatusBadRequest, "KeyTooLongError", "Your key is too long")
	case key == "" || !utf8.ValidString(key):
		return newError(http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI.")
	}
	return nil
}

// nestedKey reports whether key can live at buckets/<bucket>/<key>: a path of non-empty
// segments other than "." and "..", nothing a file name cannot hold, short enough for s3afero.
func nestedKey(key string) bool {
	if key == "" || len(key) > maxNestedKey || !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 ||
		(filepath.Separator != '/' && strings.ContainsRune(key, filepath.Separator)) {
		return false
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// encodeKey is the path of key's file under encoded/<bucket>, slash-separated.
func encodeKey(key string) string {
	h := hex.EncodeToString([]byte(key))
	var b strings.Builder
	for len(h) > encodedChunk {
		b.WriteString(h[:encodedChunk])
		b.WriteByte('/')
		h = h[encodedChunk:]
	}
	b.WriteString(h)
	b.WriteString(encodedExt)
	return b.String()
}

// decodeKey inverts encodeKey; it refuses any path encodeKey would not have produced.
func decodeKey(rel string) (string, error) {
	name, ok := strings.CutSuffix(rel, encodedExt)
	if !ok {
		return "", fmt.Errorf("%q is not an encoded key", rel)
	}
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if (i < len(parts)-1 && len(p) != encodedChunk) || p == "" || len(p) > encodedChunk {
			return "", fmt.Errorf("%q is not an encoded key", rel)
		}
	}
	h := strings.Join(parts, "")
	if h != strings.ToLower(h) {
		return "", fmt.Errorf("%q is not an encoded key", rel)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return "", fmt.Errorf("%q is not an encoded key: %w", rel, err)
	}
	return string(b), nil
}

// within is the last check before a key's path is used: whatever the encoding, the path must
// lie strictly inside dir.
func within(dir, p string) error {
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == "." || !filepath.IsLocal(rel) {
		return fmt.Errorf("path %q escapes %q", p, dir)
	}
	return nil
}

// bucketPath is a bucket's directory under top (Dir/buckets, Dir/metadata or Dir/encoded).
func bucketPath(top, bucket string) (string, error) {
	if err := gofakes3.ValidateBucketName(bucket); err != nil {
		return "", gofakes3.BucketNotFound(bucket)
	}
	p := filepath.Join(top, bucket)
	return p, within(top, p)
}

// foldsNames reports whether the filesystem of dir finds a file under another name than its
// own: case-insensitive (macOS, Windows) or normalization-insensitive (APFS). There, Lstat
// finds "a" when asked for "A", and nested keys must be checked against the names stored.
func foldsNames(dir string) bool {
	f, err := os.CreateTemp(dir, "fold-probe-a\u00e9-")
	if err != nil {
		return false
	}
	name := f.Name()
	_ = f.Close()
	defer os.Remove(name)
	base := filepath.Base(name)
	for _, v := range []string{strings.ToUpper(base), strings.Replace(base, "\u00e9", "e\u0301", 1)} {
		if _, err := os.Lstat(filepath.Join(dir, v)); err == nil {
			return true
		}
	}
	return false
}

// exactNames reports whether every element of p below top is stored under exactly its name.
func exactNames(top, p string) bool {
	for ; p != top; p = filepath.Dir(p) {
		if within(top, p) != nil {
			return false
		}
		names, err := readNames(filepath.Dir(p))
		if err != nil || !slices.Contains(names, filepath.Base(p)) {
			return false
		}
	}
	return true
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return f.Readdirnames(-1)
}

// s3aferoMetaName is the file s3afero keeps a nested key's metadata in, under metadata/<bucket>
// (s3afero's metaStore.metaPath, which it does not export).
func s3aferoMetaName(key string) string {
	h := fnv.New128a()
	h.Write([]byte(key))
	flat := strings.ReplaceAll(strings.ReplaceAll(key, "/", "_"), "\\", "_")
	return flat + "-" + hex.EncodeToString(h.Sum(nil))
}
