package batch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"mime"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/training"
)

const (
	logFileName  = "job.log"
	manifestName = "manifest.json"
	// errorName is the container contract's failure report, kept when a job fails.
	errorName     = "error.json"
	maxErrorBytes = 64 << 10
	// transferTimeout bounds the uploads after a job ends. They use a context
	// of their own, so that a job killed by Close still leaves its log.
	transferTimeout = 10 * time.Minute
	// pipeGrace is how long the log is drained after the process group is
	// killed; only a process that left the group (setsid) holds it longer.
	pipeGrace = 2 * time.Second
	// maxReason caps a status reason built from an error.
	maxReason = 1024
)

// s3Location is an s3://bucket/prefix the outputs go to.
type s3Location struct{ bucket, prefix string }

// run takes one job from RUNNABLE to its final state.
func (r *Runner) run(j *job) {
	id, name := j.rec.Detail.JobID, j.spec.Name
	// Close cancels r.base, with errHostTerminated as the cause.
	ctx := r.base
	if err := ctx.Err(); err != nil {
		r.finish(j, training.StatusFailed, ReasonHostTerminated, nil)
		return
	}
	r.transition(j, func(d *event.BatchJobDetail) { d.Status = training.StatusStarting })

	work := r.workDir(id)
	failed := true
	defer func() {
		if failed && r.cfg.KeepWork {
			r.log.Info("work directory kept", "job", name, "id", id, "dir", work)
			return
		}
		if err := os.RemoveAll(work); err != nil {
			r.log.Warn("remove work directory", "job", name, "id", id, "error", err)
		}
	}()
	logw, err := r.prepare(work)
	if err != nil {
		r.finish(j, training.StatusFailed, reason("CannotStartContainerError: ", err), nil)
		return
	}
	defer logw.Close()
	logStream := r.logStream(name, id)
	// Uploads run on their own clock: a job cancelled by Close still leaves
	// its log and its state.
	xfer := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), transferTimeout)
	}

	params, out, err := r.stage(ctx, j.spec, work)
	if err != nil {
		why := reason("", err)
		if errors.Is(context.Cause(ctx), errHostTerminated) {
			why = ReasonHostTerminated
		}
		logw.note("%s", why)
		tctx, tcancel := xfer()
		r.uploadLog(tctx, logw, name, id)
		tcancel()
		r.finish(j, training.StatusFailed, why, &event.BatchAttempt{Container: event.BatchContainer{LogStreamName: logStream}})
		return
	}
	argv := Substitute(j.spec.Command, params)

	timeout := j.spec.Timeout
	if timeout <= 0 {
		timeout = r.cfg.DefaultTimeout
	}
	runCtx, runCancel := ctx, context.CancelFunc(func() {})
	if timeout > 0 {
		runCtx, runCancel = context.WithTimeoutCause(ctx, timeout, errTimeout)
	}
	defer runCancel()

	logw.note("job %s (%s): %s", id, name, strings.Join(argv, " "))
	attempt := &event.BatchAttempt{Container: event.BatchContainer{LogStreamName: logStream}}
	res, err := r.execute(runCtx, argv, r.environ(j, work), logw, func() {
		attempt.StartedAt = time.Now().UnixMilli()
		r.transition(j, func(d *event.BatchJobDetail) {
			d.Status = training.StatusRunning
			d.StartedAt = attempt.StartedAt
			d.Container.LogStreamName = logStream
		})
	}, func(ctx context.Context) { r.uploadLog(ctx, logw, name, id) })
	if err != nil {
		// The process never started: a bad command, as a container that
		// cannot start.
		why := reason("CannotStartContainerError: ", err)
		logw.note("%s", why)
		tctx, tcancel := xfer()
		r.uploadLog(tctx, logw, name, id)
		tcancel()
		r.finish(j, training.StatusFailed, why, attempt)
		return
	}
	attempt.Container.ExitCode = &res.exitCode

	status, why := training.StatusFailed, ReasonExited
	switch {
	case res.killed && errors.Is(context.Cause(runCtx), errTimeout):
		why = ReasonTimeout
		logw.note("killed after the job's timeout of %s", timeout)
	case res.killed:
		why = ReasonHostTerminated
		logw.note("killed: %s", ReasonHostTerminated)
	case res.exitCode == 0:
		status = training.StatusSucceeded
	default:
		logw.note("exited with code %d", res.exitCode)
	}
	tctx, tcancel := xfer()
	defer tcancel()
	if status == training.StatusSucceeded && out != nil {
		// The bundle goes up before the event that announces it, manifest last.
		if err := r.uploadOutputs(tctx, filepath.Join(work, "out"), *out); err != nil {
			status, why = training.StatusFailed, reason("upload outputs: ", err)
			logw.note("%s", why)
		}
	}
	if status == training.StatusFailed && !res.killed && out != nil {
		// A trainer that refuses its input says why in error.json (the container
		// contract); in AWS it writes that to the output itself, so it goes up here.
		errFile := filepath.Join(work, "out", errorName)
		if fi, err := os.Stat(errFile); err == nil && fi.Mode().IsRegular() && fi.Size() <= maxErrorBytes {
			if err := r.uploadFile(tctx, errFile, out.bucket, out.prefix+errorName); err != nil {
				logw.note("upload %s: %v", errorName, err)
			}
		}
	}
	r.uploadLog(tctx, logw, name, id)
	failed = status == training.StatusFailed
	r.finish(j, status, why, attempt)
}

// prepare makes the work directory (in/, out/, tmp/) and opens the log in it.
func (r *Runner) prepare(work string) (*logWriter, error) {
	for _, d := range []string{work, filepath.Join(work, "in"), filepath.Join(work, "out"), filepath.Join(work, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("make work directory: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(work, logFileName), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return &logWriter{f: f, limit: r.cfg.LogLimit}, nil
}

// stage downloads the job's s3:// inputs (training.StagedParams, each value one
// or more comma-separated URIs) into work/in and returns the parameters with
// local paths in their place, and the output parameter pointing at work/out.
// Values that are not s3:// URIs (local paths) are left as they are.
func (r *Runner) stage(ctx context.Context, spec training.Job, work string) (map[string]string, *s3Location, error) {
	params := maps.Clone(spec.Parameters)
	if params == nil {
		params = map[string]string{}
	}
	n := 0
	for _, p := range training.StagedParams {
		v := params[p]
		if v == "" {
			continue
		}
		uris := strings.Split(v, ",")
		for i, uri := range uris {
			uri = strings.TrimSpace(uri)
			if !strings.HasPrefix(uri, "s3://") {
				continue
			}
			bucket, key, err := parseS3(uri)
			if err != nil || key == "" || strings.HasSuffix(key, "/") {
				return nil, nil, fmt.Errorf("staging %s (parameter %s): not an s3://bucket/key URI of an object", uri, p)
			}
			// Index-prefixed: partitions of one dataset share base names.
			dst := filepath.Join(work, "in", fmt.Sprintf("%02d-%s", n, baseName(key)))
			n++
			if err := r.download(ctx, bucket, key, dst); err != nil {
				return nil, nil, fmt.Errorf("staging %s (parameter %s): %w", uri, p, err)
			}
			uris[i] = dst
		}
		params[p] = strings.Join(uris, ",")
	}
	var out *s3Location
	if v := params[training.ParamOutput]; strings.HasPrefix(v, "s3://") {
		bucket, prefix, err := parseS3(v)
		if err != nil {
			return nil, nil, fmt.Errorf("parameter %s: %w", training.ParamOutput, err)
		}
		if prefix != "" && !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		out = &s3Location{bucket: bucket, prefix: prefix}
		params[training.ParamOutput] = filepath.Join(work, "out") + string(filepath.Separator)
	}
	return params, out, nil
}

func (r *Runner) download(ctx context.Context, bucket, key, dst string) error {
	body, _, err := r.jobStore().Get(ctx, bucket, key, store.GetOptions{})
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(dst)
		return fmt.Errorf("download to %s: %w", dst, err)
	}
	return nil
}

// parseS3 splits s3://bucket/key.
func parseS3(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	bucket, key, _ = strings.Cut(rest, "/")
	if !ok || bucket == "" {
		return "", "", fmt.Errorf("%q is not an s3://bucket/key URI", uri)
	}
	return bucket, key, nil
}

// baseName is a key's last segment, safe as a file name.
func baseName(key string) string {
	b := path.Base(key)
	if b == "." || b == ".." || b == "/" || b == "" {
		return "input"
	}
	return b
}

// Substitute replaces each argument that is exactly "Ref::<name>" by
// params[name], as Batch does with a job's parameters; an argument naming no
// parameter, or with Ref:: inside a longer string, is left as it is.
func Substitute(command []string, params map[string]string) []string {
	out := make([]string, len(command))
	for i, a := range command {
		out[i] = a
		if name, ok := strings.CutPrefix(a, "Ref::"); ok {
			if v, ok := params[name]; ok {
				out[i] = v
			}
		}
	}
	return out
}

// environ is the job's process environment: the base one without AWS_*, then
// what Batch sets in a job's container and TMPDIR in the work directory (so
// that a trainer's temporary files go when the job does, even when it is
// killed), then the job's own variables.
func (r *Runner) environ(j *job, work string) []string {
	var env []string
	for _, kv := range r.cfg.Env() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		// An AWS SDK in the trainer finds no profile and no instance role.
		"AWS_SHARED_CREDENTIALS_FILE="+os.DevNull,
		"AWS_CONFIG_FILE="+os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_BATCH_JOB_ID="+j.rec.Detail.JobID,
		"AWS_BATCH_JOB_ATTEMPT=1",
		"AWS_BATCH_JQ_NAME="+QueueName,
		"AWS_BATCH_CE_NAME="+QueueName,
		"TMPDIR="+filepath.Join(work, "tmp"),
	)
	for _, k := range slices.Sorted(maps.Keys(j.spec.Environment)) {
		env = append(env, k+"="+j.spec.Environment[k])
	}
	return env
}

// result is how a process ended.
type result struct {
	exitCode int  // 128+signal when a signal ended it, as a container runtime reports
	killed   bool // the runner killed it (timeout or Close)
}

// execute runs argv in its own process group with stdout and stderr into
// logw, calling started once it runs and flush every LogEvery. When ctx ends
// first the group gets SIGTERM, then SIGKILL after KillGrace. Whatever the
// ending, the group is killed once its leader exits, so no child outlives the
// job (as no process outlives a container). err means the process never started.
func (r *Runner) execute(ctx context.Context, argv []string, env []string, logw *logWriter,
	started func(), flush func(context.Context)) (result, error) {
	// The process writes into a pipe this side drains, so that the log can be
	// capped; a pipe made here (not by exec) lets Wait return when the leader
	// exits even if a child still holds the pipe.
	pr, pw, err := os.Pipe()
	if err != nil {
		return result{}, fmt.Errorf("log pipe: %w", err)
	}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		_, _ = io.Copy(logw, pr)
	}()
	defer func() {
		select {
		case <-drained:
		case <-time.After(pipeGrace):
			// Someone left the group and kept the pipe: stop reading it.
		}
		_ = pr.Close()
		<-drained
	}()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = newProcessGroup()
	err = cmd.Start()
	_ = pw.Close() // the child has its copy
	if err != nil {
		return result{}, err
	}
	started()

	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()

	stopFlush := r.flushEvery(flush)
	var res result
	select {
	case <-waited:
	case <-ctx.Done():
		res.killed = true
		signalGroup(cmd.Process, sigTerm)
		select {
		case <-waited:
		case <-time.After(r.cfg.KillGrace):
			signalGroup(cmd.Process, sigKill)
			<-waited
		}
	}
	// The leader is gone; its group goes with it.
	signalGroup(cmd.Process, sigKill)
	stopFlush()
	res.exitCode = exitCode(cmd.ProcessState)
	return res, nil
}

// flushEvery calls flush every LogEvery until the returned stop is called;
// stop waits for a flush in progress, so that it cannot land after the final
// upload and replace it with an older log.
func (r *Runner) flushEvery(flush func(context.Context)) (stop func()) {
	if r.cfg.LogEvery < 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(r.base)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.cfg.LogEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				flush(ctx)
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// uploadOutputs uploads every regular file under dir to out, keyed by its
// path under dir, with manifest.json last: the manifest is what makes a
// bundle visible, so it must never land before what it lists.
func (r *Runner) uploadOutputs(ctx context.Context, dir string, out s3Location) error {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			// A link could point anywhere on this machine; a container's
			// output holds files.
			r.log.Warn("output is not a regular file: skipped", "path", rel)
			return nil
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return fmt.Errorf("list outputs: %w", err)
	}
	slices.Sort(files)
	if i := slices.Index(files, manifestName); i >= 0 {
		files = append(slices.Delete(files, i, i+1), manifestName)
	}
	for _, rel := range files {
		if err := r.uploadFile(ctx, filepath.Join(dir, filepath.FromSlash(rel)), out.bucket, out.prefix+rel); err != nil {
			return err
		}
	}
	return nil
}

func (r *Runner) uploadFile(ctx context.Context, file, bucket, key string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	// Create-once, as the reference trainer writes in AWS: Batch has no
	// idempotency token, so a run's job may (rarely) run twice, and the second
	// must not overwrite the files the first one's manifest names.
	_, err = r.jobStore().Upload(ctx, bucket, key, f, store.PutOptions{ContentType: contentType(key), IfNoneMatch: true})
	if !errors.Is(err, store.ErrPrecondition) {
		return err
	}
	same, cerr := r.sameContent(ctx, file, bucket, key)
	switch {
	case cerr != nil:
		return fmt.Errorf("s3://%s/%s exists: %w", bucket, key, cerr)
	case !same:
		return fmt.Errorf("s3://%s/%s was already written with other bytes: another job of this run wrote the bundle first", bucket, key)
	}
	return nil // the same file again (a retried upload)
}

// sameContent reports whether the object holds exactly the file's bytes.
func (r *Runner) sameContent(ctx context.Context, file, bucket, key string) (bool, error) {
	hash := func(rd io.Reader) ([]byte, error) {
		h := sha256.New()
		if _, err := io.Copy(h, rd); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	ours, err := hash(f)
	if err != nil {
		return false, err
	}
	body, _, err := r.jobStore().Get(ctx, bucket, key, store.GetOptions{})
	if err != nil {
		return false, err
	}
	defer body.Close()
	theirs, err := hash(body)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ours, theirs), nil
}

func contentType(key string) string {
	if t := mime.TypeByExtension(path.Ext(key)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// logKey is where a job's log goes in LogBucket.
func logKey(name, id string) string { return "logs/batch/" + name + "/" + id + ".log" }

// logStream is the job's log location, as JobStatus.LogStream and the
// event's logStreamName carry it.
func (r *Runner) logStream(name, id string) string {
	return "s3://" + r.cfg.LogBucket + "/" + logKey(name, id)
}

// uploadLog uploads what the log holds so far; a failure is logged (the job's
// outcome does not depend on its log).
func (r *Runner) uploadLog(ctx context.Context, logw *logWriter, name, id string) {
	n := logw.size()
	_, err := r.cfg.Store.Upload(ctx, r.cfg.LogBucket, logKey(name, id), io.NewSectionReader(logw.f, 0, n),
		store.PutOptions{ContentType: "text/plain; charset=utf-8"})
	if err != nil && ctx.Err() == nil {
		r.log.Warn("upload job log", "job", name, "id", id, "error", err)
	}
}

// uploadLogFile uploads a log left by a previous process, with a last line.
func (r *Runner) uploadLogFile(ctx context.Context, file, name, id, last string) error {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = r.cfg.Store.Upload(ctx, r.cfg.LogBucket, logKey(name, id), io.MultiReader(f, strings.NewReader(last)),
		store.PutOptions{ContentType: "text/plain; charset=utf-8"})
	return err
}

// reason makes a status reason of an error, capped.
func reason(prefix string, err error) string {
	s := prefix + err.Error()
	if len(s) > maxReason {
		s = s[:maxReason-3] + "..."
	}
	return s
}

// logWriter is a job's log file, capped at limit bytes. It never fails a
// write, so that a full disk or a chatty trainer cannot stall the process
// writing into the pipe.
type logWriter struct {
	f     *os.File
	limit int64

	mu        sync.Mutex
	n         int64
	truncated bool
	err       error
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.write(p)
	return len(p), nil
}

// write appends p up to the limit; w.mu is held.
func (w *logWriter) write(p []byte) {
	if w.err != nil || w.truncated {
		return
	}
	if room := w.limit - w.n; int64(len(p)) > room {
		p = p[:room]
		w.truncated = true
	}
	n, err := w.f.Write(p)
	w.n += int64(n)
	w.err = err
	if w.truncated && err == nil {
		// Past the limit on purpose, once, so that a reader knows.
		msg := fmt.Sprintf("\n[mlops] log truncated at %d bytes\n", w.limit)
		n, w.err = w.f.WriteString(msg)
		w.n += int64(n)
	}
}

// note adds a line of the runner's own, marked as such, even past the limit.
func (w *logWriter) note(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return
	}
	n, err := fmt.Fprintf(w.f, "[mlops] "+format+"\n", args...)
	w.n += int64(n)
	w.err = err
}

func (w *logWriter) size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

func (w *logWriter) Close() error { return w.f.Close() }

// jobStore is the store a job's own reads and writes go through.
func (r *Runner) jobStore() Store {
	if r.cfg.JobStore != nil {
		return r.cfg.JobStore
	}
	return r.cfg.Store
}
