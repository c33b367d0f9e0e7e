package s3

import (
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
)

func TestNestedKey(t *testing.T) {
	for key, want := range map[string]bool{
		"a":                      true,
		"incoming/credit/x.csv":  true,
		"a b+c=1.csv":            true,
		"100%/x":                 true,
		"..a/b..":                true,
		"":                       false,
		".":                      false,
		"..":                     false,
		"../escape.txt":          false,
		"a/../../escape.txt":     false,
		"a/./b":                  false,
		"a//b":                   false,
		"a/":                     false,
		"/a":                     false,
		"a\x00b":                 false,
		"\xff":                   false,
		strings.Repeat("x", 222): true,
		strings.Repeat("x", 223): false,
	} {
		if got := nestedKey(key); got != want {
			t.Errorf("nestedKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestEncodeKey(t *testing.T) {
	if got := encodeKey("../a"); got != "2e2e2f61"+encodedExt {
		t.Fatalf("encodeKey: %s", got)
	}
	long := strings.Repeat("k", 1024)
	enc := encodeKey(long)
	if n := strings.Count(enc, "/"); n != 2048/encodedChunk {
		t.Fatalf("a 1024-byte key is %d directories deep: %s", n, enc)
	}
	for _, bad := range []string{"", "2e", "2E" + encodedExt, "zz" + encodedExt, "2e/2e" + encodedExt, "/2e" + encodedExt, "../2e" + encodedExt, encodedExt, "2" + encodedExt} {
		if k, err := decodeKey(bad); err == nil {
			t.Errorf("decodeKey(%q) = %q, want an error", bad, k)
		}
	}
}

func TestWithin(t *testing.T) {
	dir := filepath.FromSlash("/data/buckets/b")
	for p, ok := range map[string]bool{
		"/data/buckets/b/x":     true,
		"/data/buckets/b/x/y":   true,
		"/data/buckets/b":       false,
		"/data/buckets/b2/x":    false,
		"/data/buckets/other/x": false,
		"/data/buckets/b/../x":  false,
		"/etc/passwd":           false,
	} {
		if got := within(dir, filepath.FromSlash(p)) == nil; got != ok {
			t.Errorf("within(%s, %s) = %v, want %v", dir, p, got, ok)
		}
	}
}

// storagePath is where backend puts a key when nothing else is in the way.
func storagePath(bucketsDir, encodedDir, key string) string {
	if nestedKey(key) {
		return filepath.Join(bucketsDir, filepath.FromSlash(key))
	}
	return filepath.Join(encodedDir, filepath.FromSlash(encodeKey(key)))
}

// The key <-> path encoding: every valid key round-trips, stays inside its bucket's
// directories, and no two keys (nor two paths) share one.
func FuzzKeyPath(f *testing.F) {
	for _, k := range []string{"a", "a/b", "../escape.txt", "a/../../escape.txt", "../mlops-platform/audit/x", ".", "..", "a//b", "a/", "/a",
		"%2e%2e", `a\..\b`, "\x01\x7f", strings.Repeat("x", 300), strings.Repeat("é/", 300)} {
		f.Add(k, "a")
	}
	root := filepath.FromSlash("/data")
	bucketsDir := filepath.Join(root, "buckets", "b")
	encDir := filepath.Join(root, encodedDir, "b")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, k := range []string{a, b} {
			if validKey(k) != nil {
				continue
			}
			enc := encodeKey(k)
			if got, err := decodeKey(enc); err != nil || got != k {
				t.Fatalf("decodeKey(encodeKey(%q)) = %q, %v", k, got, err)
			}
			for _, el := range strings.Split(enc, "/") {
				if len(el) == 0 || len(el) > 255 || el == "." || el == ".." {
					t.Fatalf("encodeKey(%q) has path element %q", k, el)
				}
			}
			p := storagePath(bucketsDir, encDir, k)
			if within(bucketsDir, p) != nil && within(encDir, p) != nil {
				t.Fatalf("key %q is stored at %s, outside the bucket", k, p)
			}
			if nestedKey(k) {
				if rel, err := filepath.Rel(bucketsDir, p); err != nil || filepath.ToSlash(rel) != k {
					t.Fatalf("nested key %q is stored at %s", k, p)
				}
			}
		}
		if a != b && validKey(a) == nil && validKey(b) == nil {
			if storagePath(bucketsDir, encDir, a) == storagePath(bucketsDir, encDir, b) {
				t.Fatalf("keys %q and %q share a path", a, b)
			}
			if encodeKey(a) == encodeKey(b) {
				t.Fatalf("keys %q and %q share an encoding", a, b)
			}
		}
		// Only encodeKey's own output decodes: a path maps back to at most one key.
		if k, err := decodeKey(b); err == nil && encodeKey(k) != b {
			t.Fatalf("decodeKey(%q) = %q, which encodes as %q", b, k, encodeKey(k))
		}
	})
}

func TestExactNames(t *testing.T) {
	top := t.TempDir()
	if err := os.MkdirAll(filepath.Join(top, "Dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "Dir", "f"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{"Dir/f": true, "Dir": true, "dir/f": false, "Dir/F": false, "DIR": false, "../x": false} {
		if got := exactNames(top, filepath.Join(top, filepath.FromSlash(rel))); got != want {
			t.Errorf("exactNames(%s) = %v, want %v", rel, got, want)
		}
	}
	if runtime.GOOS == "linux" && foldsNames(top) {
		t.Error("a Linux temporary directory folds names")
	}
}

// Where the filesystem folds names (macOS), keys differing in case or normalization must
// still be distinct objects: the exact-name checks run on every lookup. Forced on here.
func TestFoldingChecksKeepKeysApart(t *testing.T) {
	s, err := New(Config{Dir: t.TempDir(), AccessKeyID: testKeyID, SecretAccessKey: testSecret, Buckets: []string{testBucket}})
	if err != nil {
		t.Fatal(err)
	}
	b := s.backend
	b.folds = true
	keys := []string{"a", "a/b", "A", "A/b", "é", "e\u0301", "x/y/z"}
	for _, k := range keys {
		if _, err := b.PutObject(testBucket, k, map[string]string{}, strings.NewReader("v:"+k), int64(len("v:"+k)), nil); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	for _, k := range keys {
		obj, err := b.GetObject(testBucket, k, nil)
		if err != nil {
			t.Fatalf("get %q: %v", k, err)
		}
		got, _ := io.ReadAll(obj.Contents)
		_ = obj.Contents.Close()
		if string(got) != "v:"+k {
			t.Errorf("get %q: %q", k, got)
		}
	}
	list, err := b.ListBucket(testBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil || len(list.Contents) != len(keys) {
		t.Fatalf("list: %v, %d objects", err, len(list.Contents))
	}
}
