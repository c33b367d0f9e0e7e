package s3

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/afero"
)

// atomicFs is the afero.Fs under s3afero. s3afero overwrites an object by truncating its file
// and writing it again in place, and its metadata file the same way, so a GET overlapping a
// PUT could read a mix of both versions or a truncated one. Here every file opened to be
// rewritten (Create, or OpenFile with O_CREATE|O_TRUNC for writing) is a temporary file in
// tmpDir that is renamed over the target when it is closed. A reader holds an open file of
// the old inode or the new one, whole, and never a mix; a failed write leaves the old file.
// tmpDir must be on the filesystem of the data (it is Dir/.tmp).
//
// For backend.PutObject it also keeps a record of the puts in progress (see expectPut).
type atomicFs struct {
	afero.Fs
	tmpDir string
	sync   bool // fsync a file before renaming it into place

	mu   sync.Mutex
	puts map[string]int64 // real path -> size the put must write
}

func newAtomicFs(base afero.Fs, tmpDir string) *atomicFs {
	return &atomicFs{Fs: base, tmpDir: tmpDir, sync: true, puts: map[string]int64{}}
}

func (fs *atomicFs) Name() string { return "atomicFs" }

// expectPut declares that a put of size bytes into name (a path as this Fs sees it) is
// starting; the returned func ends it. Until then, opening name for reading fails with "not
// exist" and a rewrite of name commits only if it wrote exactly size bytes. The caller
// must keep every other reader of name out until the put ends (backend does, with objLocks).
//
// The first is what keeps s3afero from inheriting the old object's metadata and from leaking
// a file handle: its PutObject calls gofakes3.MergeMetadata, which opens the old object
// (GetObject) to copy its metadata over, and never closes it. The second is what keeps a
// body that failed half-way (s3afero closes the file either way) from being committed.
func (fs *atomicFs) expectPut(name string, size int64) func() {
	name = filepath.Clean(name)
	fs.mu.Lock()
	fs.puts[name] = size
	fs.mu.Unlock()
	return func() {
		fs.mu.Lock()
		delete(fs.puts, name)
		fs.mu.Unlock()
	}
}

func (fs *atomicFs) pending(name string) (size int64, ok bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	size, ok = fs.puts[filepath.Clean(name)]
	return size, ok
}

func (fs *atomicFs) Open(name string) (afero.File, error) {
	if _, ok := fs.pending(name); ok {
		return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	return fs.Fs.Open(name)
}

func (fs *atomicFs) Create(name string) (afero.File, error) {
	return fs.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

func (fs *atomicFs) OpenFile(name string, flag int, perm os.FileMode) (afero.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		if _, ok := fs.pending(name); ok {
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
		}
		return fs.Fs.OpenFile(name, flag, perm)
	}
	if flag&(os.O_CREATE|os.O_TRUNC) != os.O_CREATE|os.O_TRUNC || flag&(os.O_APPEND|os.O_EXCL) != 0 {
		return fs.Fs.OpenFile(name, flag, perm) // not a rewrite: s3afero makes none of these
	}
	tmp, err := afero.TempFile(fs.Fs, fs.tmpDir, "write-")
	if err != nil {
		return nil, fmt.Errorf("creating temporary file for %s: %w", name, err)
	}
	f := &atomicFile{File: tmp, fs: fs, target: name, want: -1}
	if size, ok := fs.pending(name); ok {
		f.want = size
	}
	return f, nil
}

// atomicFile is a temporary file that replaces target when it is closed.
type atomicFile struct {
	afero.File
	fs     *atomicFs
	target string
	want   int64 // bytes the file must hold to be committed; -1: any
	failed error // first write error: the file is discarded
	closed bool
}

var errDiscarded = errors.New("incomplete write discarded")

func (f *atomicFile) Name() string { return f.target }

func (f *atomicFile) Write(b []byte) (int, error) {
	n, err := f.File.Write(b)
	if err != nil && f.failed == nil {
		f.failed = err
	}
	return n, err
}

func (f *atomicFile) WriteAt(b []byte, off int64) (int, error) {
	n, err := f.File.WriteAt(b, off)
	if err != nil && f.failed == nil {
		f.failed = err
	}
	return n, err
}

func (f *atomicFile) WriteString(s string) (int, error) { return f.Write([]byte(s)) }

// Close commits the file: fsync, close, rename over the target. A file that saw a write
// error, or holds a size other than the put declared, is removed instead.
func (f *atomicFile) Close() error {
	if f.closed {
		return &os.PathError{Op: "close", Path: f.target, Err: os.ErrClosed}
	}
	f.closed = true
	tmp := f.File.Name()
	err := f.failed
	if err == nil && f.want >= 0 {
		if st, serr := f.File.Stat(); serr != nil {
			err = serr
		} else if st.Size() != f.want {
			err = fmt.Errorf("%w: %d of %d bytes", errDiscarded, st.Size(), f.want)
		}
	}
	if err == nil && f.fs.sync {
		err = f.File.Sync()
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = f.fs.Fs.Rename(tmp, f.target)
	}
	if err != nil {
		_ = f.fs.Fs.Remove(tmp)
		return &os.PathError{Op: "close", Path: f.target, Err: err}
	}
	return nil
}
