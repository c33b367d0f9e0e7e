package training

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
	"github.com/openmlops/mlops/shared/store"
)

// Store is what the train use case needs from S3.
type Store interface {
	ingest.Reader // the dataset versions runs train on, read through ingest.Datasets
	Head(ctx context.Context, bucket, key string) (store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Delete(ctx context.Context, bucket, key, ifMatch string) error
}

// SpecRef is a model's current spec.
type SpecRef struct {
	Spec *spec.Spec
	Hash string
	Key  string // where its canonical JSON is, in the platform bucket
}

// Specs finds model specs.
type Specs interface {
	// ForDataset returns the current spec of every model that trains on dataset.
	ForDataset(ctx context.Context, dataset string) ([]SpecRef, error)
	// Current returns a model's current spec (an error wrapping ErrNoSpec if none).
	Current(ctx context.Context, model string) (SpecRef, error)
	// Get reads the spec stored at key (a run keeps training on the spec it was claimed with).
	Get(ctx context.Context, key string) (SpecRef, error)
}

// ErrNoSpec is returned for a model that has no spec applied.
var ErrNoSpec = specstore.ErrNoSpec

// Trainer is a resolved trainer: its identity (part of the run ID), image and command.
type Trainer struct {
	ID      string   // image digest in AWS; the hash of the trainer's files locally
	Image   string   // AWS only
	Command []string // program; the container contract's arguments are appended
}

// Trainers resolves a spec's trainer in this environment.
type Trainers interface {
	Resolve(s *spec.Spec) (Trainer, error)
}

// VerifyBundle reads the bundle of run under prefix, checks every file against
// the manifest, that it is this run's bundle (run, model, dataset version,
// contract and spec), and that the model reproduces the trainer's sample
// predictions, and returns what the run records of it.
type VerifyBundle func(ctx context.Context, bucket, prefix string, run *Run) (Bundle, error)

// Config configures a Service.
type Config struct {
	Bucket string // the platform bucket
	// Lease is how long a claim belongs to its claimant before another delivery
	// (or reconcile) may take it over (default 5 minutes). It must be longer than a
	// claim needs to submit its job, since a taker that overlaps a slow claimant
	// could submit a second job (harmless: the bundle manifest is create-once).
	Lease  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// Service is the train use case.
type Service struct {
	st       Store
	pub      event.Publisher
	batch    Batch
	specs    Specs
	trainers Trainers
	verify   VerifyBundle
	cfg      Config
	log      *slog.Logger
	datasets *ingest.Datasets
}

// New returns the train use case over its adapters.
func New(st Store, pub event.Publisher, b Batch, specs Specs, trainers Trainers, verify VerifyBundle, cfg Config) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{st: st, pub: pub, batch: b, specs: specs, trainers: trainers, verify: verify, cfg: cfg, log: log,
		datasets: ingest.NewDatasets(st, cfg.Bucket, "")}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

var jsonOpt = store.PutOptions{ContentType: "application/json"}

// plan is a run about to be claimed.
type plan struct {
	ref      SpecRef
	trainer  Trainer
	manifest *ingest.Manifest
	cause    Cause
}

func (p plan) base() string {
	return BaseHash(p.manifest.Dataset, p.manifest.VersionID, p.ref.Hash, p.trainer.ID)
}

// OnDatasetVersioned claims and submits one run per model that trains on the
// dataset and whose trigger allows it.
func (s *Service) OnDatasetVersioned(ctx context.Context, d event.DatasetVersionedDetail) error {
	refs, err := s.specs.ForDataset(ctx, d.Dataset)
	if err != nil {
		return fmt.Errorf("train on %s version %s: %w", d.Dataset, d.VersionID, err)
	}
	if len(refs) == 0 {
		s.log.Info("no model trains on this dataset", "dataset", d.Dataset, "version", d.VersionID)
		return nil
	}
	m, err := s.datasets.Manifest(ctx, d.Dataset, d.VersionID)
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		if err := s.trainOnVersion(ctx, ref, m); err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", ref.Spec.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) trainOnVersion(ctx context.Context, ref SpecRef, m *ingest.Manifest) error {
	tr, err := s.trainers.Resolve(ref.Spec)
	if err != nil {
		return err
	}
	p := plan{ref: ref, trainer: tr, manifest: m, cause: Cause{Kind: CauseDatasetVersioned}}
	id := RunID(ref.Spec.Name, p.base(), 1)
	if _, _, err := s.Get(ctx, id); err == nil {
		return s.resume(ctx, id) // a duplicate or replayed event
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if ok, why, err := s.triggerAllows(ctx, ref.Spec, m); err != nil {
		return err
	} else if !ok {
		s.log.Info("trigger skips this version", "model", ref.Spec.Name, "version", m.VersionID, "why", why)
		return nil
	}
	if err := s.claim(ctx, p, 1); !errors.Is(err, errClaimTaken) {
		return err
	}
	// A retrain request claimed this version's first attempt a moment before us:
	// that run trains exactly these inputs.
	return s.resume(ctx, id)
}

var errClaimTaken = errors.New("claim taken")

// claim creates the run record once and, as its claimant, submits the job.
// errClaimTaken means the record already existed with another cause.
func (s *Service) claim(ctx context.Context, p plan, attempt int) error {
	base := p.base()
	id := RunID(p.ref.Spec.Name, base, attempt)
	now := s.now()
	owner := newOwner()
	rec := &Run{SchemaVersion: event.SchemaVersion, RunID: id, Base: base, Attempt: attempt,
		Model: p.ref.Spec.Name, Dataset: p.manifest.Dataset, DatasetVersion: p.manifest.VersionID,
		ManifestKey: ingest.ManifestKey(p.manifest.Dataset, p.manifest.VersionID), ContractHash: p.manifest.ContractHash,
		SpecHash: p.ref.Hash, SpecKey: p.ref.Key, Trainer: p.trainer.ID, Rows: p.manifest.Rows, Cause: p.cause,
		State: StateClaimed, Owner: owner, ClaimedAt: now, Job: JobRecord{Name: id},
		CreatedAt: now, UpdatedAt: now, History: []Step{{At: now, State: StateClaimed, Note: p.cause.Kind}}}
	// The pending index goes first: a claim that reconcile cannot find could strand.
	if _, err := s.st.Create(ctx, s.cfg.Bucket, PendingKey(id), []byte(id), store.PutOptions{}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return fmt.Errorf("index run %s: %w", id, err)
	}
	body, err := encodeRun(rec)
	if err != nil {
		return err
	}
	info, err := s.st.Create(ctx, s.cfg.Bucket, RunKey(id), body, jsonOpt)
	if errors.Is(err, store.ErrPrecondition) {
		cur, _, gerr := s.Get(ctx, id)
		if gerr != nil {
			return gerr
		}
		if cur.Cause.RequestID != p.cause.RequestID || cur.Cause.Kind != p.cause.Kind {
			return errClaimTaken
		}
		return s.resume(ctx, id)
	}
	if err != nil {
		return fmt.Errorf("claim run %s: %w", id, err)
	}
	s.log.Info("run claimed", "run", id, "model", rec.Model, "dataset", rec.Dataset, "version", rec.DatasetVersion, "cause", p.cause.Kind)
	if p.cause.Kind == CauseDatasetVersioned {
		s.recordTrigger(ctx, rec)
	}
	return s.submit(ctx, rec, info.ETag, p.ref.Spec, p.trainer, p.manifest)
}

// resume finishes whatever a run still needs: a claim whose lease ran out is
// taken over and submitted; a final run's event is published if it was not.
func (s *Service) resume(ctx context.Context, id string) error {
	rec, etag, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case rec.Final():
		return s.ensurePublished(ctx, rec)
	case rec.State == StateClaimed:
		if s.now().Sub(rec.ClaimedAt) < s.cfg.Lease {
			return nil // the claimant is at work (or its lease has yet to run out)
		}
		now := s.now()
		prevOwner := rec.Owner
		rec.Owner, rec.ClaimedAt, rec.UpdatedAt = newOwner(), now, now
		rec.History = append(rec.History, Step{At: now, State: StateClaimed, Note: "claim taken over after its lease ran out"})
		body, err := encodeRun(rec)
		if err != nil {
			return err
		}
		info, err := s.st.Swap(ctx, s.cfg.Bucket, RunKey(id), etag, body, jsonOpt)
		if errors.Is(err, store.ErrPrecondition) {
			return nil // someone else took it over or moved it on
		}
		if err != nil {
			return fmt.Errorf("take over run %s: %w", id, err)
		}
		s.log.Warn("took over a stale claim", "run", id, "previous owner", prevOwner)
		ref, err := s.specs.Get(ctx, rec.SpecKey)
		if err != nil {
			return fmt.Errorf("run %s: %w", id, err)
		}
		tr, err := s.trainers.Resolve(ref.Spec)
		if err != nil {
			return err
		}
		if tr.ID != rec.Trainer {
			return s.fail(ctx, id, fmt.Sprintf("the trainer changed since the run was claimed (%s, now %s); retry the run", rec.Trainer, tr.ID), nil)
		}
		m, err := s.datasets.Manifest(ctx, rec.Dataset, rec.DatasetVersion)
		if err != nil {
			return err
		}
		return s.submit(ctx, rec, info.ETag, ref.Spec, tr, m)
	}
	return nil // submitted: the job's state events (or reconcile) move it on
}

// submit runs the claimant's half: find the job by name (a previous claimant may
// have submitted it and crashed before recording it), else submit, then record the
// job ID by CAS.
func (s *Service) submit(ctx context.Context, rec *Run, etag string, sp *spec.Spec, tr Trainer, m *ingest.Manifest) error {
	job := s.job(rec, sp, tr, m)
	status, found, err := s.batch.FindByName(ctx, job.Name)
	if err != nil {
		s.release(ctx, rec.RunID, etag)
		return fmt.Errorf("run %s: look up job %s: %w", rec.RunID, job.Name, err)
	}
	note := "job submitted"
	if found {
		note = "job found by name (submitted by an earlier claimant)"
	} else {
		id, err := s.batch.Submit(ctx, job)
		if err != nil {
			s.release(ctx, rec.RunID, etag)
			return fmt.Errorf("run %s: submit job: %w", rec.RunID, err)
		}
		status = JobStatus{ID: id, Name: job.Name, Status: StatusSubmitted, CreatedAt: s.now()}
	}
	s.log.Info(note, "run", rec.RunID, "job", status.ID)
	_, err = s.update(ctx, rec.RunID, func(r *Run) bool {
		if r.Job.ID != "" {
			if r.Job.ID != status.ID {
				s.log.Warn("run already records another job: a duplicate job ran (harmless: the bundle manifest is create-once)",
					"run", r.RunID, "recorded", r.Job.ID, "ours", status.ID)
			}
			return false
		}
		now := s.now()
		r.Job.ID, r.Job.SubmittedAt, r.Job.Parameters = status.ID, now, job.Parameters
		if r.State == StateClaimed {
			r.State = StateSubmitted
		}
		r.History = append(r.History, Step{At: now, State: StateSubmitted, Note: note})
		applyStatus(r, status)
		return true
	})
	if err != nil {
		return err
	}
	if found && status.Final() {
		return s.OnJobState(ctx, status)
	}
	return nil
}

// release ends our lease early after a failed submission, so the next delivery
// retries at once instead of waiting for the lease to run out.
func (s *Service) release(ctx context.Context, id, etag string) {
	rec, cur, err := s.Get(ctx, id)
	if err != nil || cur != etag || rec.State != StateClaimed {
		return
	}
	rec.ClaimedAt = time.Time{}
	body, err := encodeRun(rec)
	if err != nil {
		s.log.Warn("release claim", "run", id, "error", err)
		return
	}
	if _, err := s.st.Swap(ctx, s.cfg.Bucket, RunKey(id), etag, body, jsonOpt); err != nil {
		s.log.Warn("release claim", "run", id, "error", err)
	}
}

// job is the batch job of a run: the container contract's parameters point at the
// canonical data, contract and spec, and at the bundle's folder.
func (s *Service) job(rec *Run, sp *spec.Spec, tr Trainer, m *ingest.Manifest) Job {
	uri := func(key string) string { return "s3://" + s.cfg.Bucket + "/" + key }
	data := make([]string, len(m.Partitions))
	for i, p := range m.Partitions {
		data[i] = uri(p.CanonicalKey)
	}
	params := map[string]string{
		ParamData:           strings.Join(data, ","),
		ParamContract:       uri(ingest.ContractKey(rec.Dataset, rec.ContractHash)),
		ParamSpec:           uri(rec.SpecKey),
		ParamOutput:         uri(BundlePrefix(rec.RunID)),
		ParamRunID:          rec.RunID,
		ParamDatasetVersion: rec.DatasetVersion,
		ParamTrainer:        tr.ID,
	}
	cmd := append(append([]string(nil), tr.Command...), ContractArgs()...)
	return Job{
		Name: rec.RunID, Image: tr.Image, Command: cmd, Parameters: params,
		Environment: map[string]string{"MLOPS_RUN_ID": rec.RunID, "MLOPS_MODEL": rec.Model,
			"MLOPS_DATASET": rec.Dataset, "MLOPS_DATASET_VERSION": rec.DatasetVersion},
		Tags: map[string]string{"mlops:run": rec.RunID, "mlops:model": rec.Model, "mlops:dataset": rec.Dataset,
			"mlops:dataset-version": rec.DatasetVersion},
		Timeout: time.Duration(sp.Trainer.TimeoutSeconds) * time.Second,
		GPUs:    sp.Trainer.GPUs, VCPUs: sp.Trainer.VCPUs, MemoryMiB: sp.Trainer.MemoryMiB,
	}
}

// update applies change to a run record by compare-and-swap, retrying on
// contention; change returns false to leave the record as it is.
func (s *Service) update(ctx context.Context, id string, change func(*Run) bool) (*Run, error) {
	var rec *Run
	err := store.Retry(ctx, 50, func() (bool, error) {
		cur, etag, err := s.Get(ctx, id)
		if err != nil {
			return false, err
		}
		rec = cur
		if !change(rec) {
			return true, nil
		}
		rec.UpdatedAt = s.now()
		body, err := encodeRun(rec)
		if err != nil {
			return false, err
		}
		_, err = s.st.Swap(ctx, s.cfg.Bucket, RunKey(id), etag, body, jsonOpt)
		if store.Lost(err) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("update run %s: %w", id, err)
		}
		return true, nil
	})
	if errors.Is(err, store.ErrContended) {
		return nil, fmt.Errorf("update run %s: %w", id, err)
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Service) latestVersion(ctx context.Context, dataset string) (string, error) {
	l, err := s.datasets.Latest(ctx, dataset)
	if errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("dataset %s has no version yet", dataset)
	}
	return l.VersionID, err
}

// encodeRun is a run record's stored form. It can fail: a number JSON cannot
// hold (a NaN metric from a trainer) is an error, never an empty record.
func encodeRun(rec *Run) ([]byte, error) {
	if err := rec.check(); err != nil {
		return nil, fmt.Errorf("run %s: refusing to write a record that would not read back: %w", rec.RunID, err)
	}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("run %s: encode the record: %w", rec.RunID, err)
	}
	return b, nil
}

func newOwner() string { return rand.Text()[:16] }
