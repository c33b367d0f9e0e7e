// Package registry is the model registry: versions numbered 1, 2, 3… per model,
// the champion pointer, and the append-only, hash-chained audit trail, all in
// the platform bucket (docs/design.md, Decisions 1, 2 and 6).
//
// The audit trail is the truth. Every state change first appends its audit
// record (the decision), then moves the version records and the champion
// pointer by compare-and-swap; those are derived from the trail and carry the
// sequence number of the last record applied to them, so an application that
// arrives late never undoes a newer one. Appends are serialized by the trail's
// head pointer (audit/<model>/head, moved by CAS), which holds a copy of the
// last record: an append that crashed after moving the head is finished by the
// next operation on the model, which always settles the last record (writes it
// if missing, applies it) before deciding anything. So a crash between the
// decision and the pointer leaves a state that repeating the operation, any
// other operation, or Reconcile completes.
//
// Version numbers are allocated with create-once writes of the version record
// (try last+1; a 412 from another run means try the next number), steered by a
// create-once run index (models/<model>/runs/<run-id>.json) so that a run
// registers at most one version however often it is delivered.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/store"
)

// Errors. Callers test with errors.Is.
var (
	// ErrTransition: the state machine does not allow the action from the
	// version's state (a *TransitionError says what is allowed).
	ErrTransition = errors.New("illegal transition")
	// ErrNotFound: no such model version.
	ErrNotFound = errors.New("not found")
	// ErrNoChampion: the model has no champion (never promoted, or its
	// champion was retired with force). Serving answers 503 "no champion".
	ErrNoChampion = errors.New("no champion")
	// ErrBundleMismatch: an approval named another bundle SHA-256 than the
	// version's (the bundle changed): refused, and the refusal audited.
	ErrBundleMismatch = errors.New("bundle SHA-256 does not match")
	// ErrNotPassed: an approval of a version that has no passing check under
	// the policy the approval names (or none), and no override: refused, and
	// the refusal audited.
	ErrNotPassed = errors.New("no passing check")
	// ErrInvalid: a required input is missing or malformed (principal, reason…).
	ErrInvalid = errors.New("invalid input")
	// ErrNoPrevious: a rollback found no previous champion to go back to.
	ErrNoPrevious = errors.New("no previous champion")
	// ErrStale: the operation was asked against a state that has moved on
	// (a rollback from a champion that is no longer current, an automatic
	// promotion over a newer champion).
	ErrStale = errors.New("stale")
	// ErrDamaged: a registry object does not parse or the trail is broken where
	// an operation needs it; Verify says more.
	ErrDamaged = errors.New("damaged registry")
	// ErrContention: a compare-and-swap kept losing.
	ErrContention = errors.New("too much contention")
	// ErrConflict: a run is already registered with other artifacts.
	ErrConflict = errors.New("conflicting registration")
)

// Store is what the registry needs from S3 (*store.Store has it).
type Store interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	// ReadAllIfChanged answers store.ErrNotModified while the ETag is etag.
	ReadAllIfChanged(ctx context.Context, bucket, key, etag string) ([]byte, store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
	ListDirs(ctx context.Context, bucket, prefix string) ([]string, error)
}

// Config configures a Registry.
type Config struct {
	Bucket string           // the platform bucket
	Now    func() time.Time // the clock (default time.Now)
	Logger *slog.Logger
	// Signer signs a checkpoint of every audit record (Verify checks them);
	// nil leaves the trail unanchored, and Verify says so.
	Signer Signer
	// Lock is the S3 Object Lock retention set on each audit record and
	// checkpoint as it is created (the bucket must have Object Lock
	// enabled). Per record rather than a bucket default, because a default
	// would also hold every rewrite of the pointers beside them.
	Lock Lock
}

// Lock is an Object Lock retention: Mode "GOVERNANCE" or "COMPLIANCE" for
// Days from the record's creation; a zero Lock sets none.
type Lock struct {
	Mode string
	Days int
}

// Check says what is wrong with l, or nil.
func (l Lock) Check() error {
	switch {
	case l.Mode == "" && l.Days == 0:
		return nil
	case l.Mode != "GOVERNANCE" && l.Mode != "COMPLIANCE":
		return fmt.Errorf("audit lock mode %q: expected GOVERNANCE or COMPLIANCE", l.Mode)
	case l.Days < 1:
		return fmt.Errorf("audit lock of %d days: expected at least 1", l.Days)
	}
	return nil
}

// recordOpt are the write options of an audit record or checkpoint: JSON,
// with the configured retention from now.
func (r *Registry) recordOpt() store.PutOptions {
	opt := jsonOpt
	if r.cfg.Lock.Mode != "" {
		opt.LockMode, opt.LockUntil = r.cfg.Lock.Mode, r.now().AddDate(0, 0, r.cfg.Lock.Days)
	}
	return opt
}

// Registry is the model registry over one bucket. It is safe for concurrent
// use, and so are several Registries (processes) over one bucket.
type Registry struct {
	st  Store
	cfg Config
	log *slog.Logger
}

// New returns a Registry.
func New(st Store, cfg Config) *Registry {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{st: st, cfg: cfg, log: log}
}

func (r *Registry) now() time.Time { return r.cfg.Now().UTC() }

// casAttempts bounds every compare-and-swap loop: each lost round means some
// other writer won, so N concurrent writers need about N rounds.
const casAttempts = 200

var jsonOpt = store.PutOptions{ContentType: "application/json"}

// encode is a record's stored form. It can fail: a number JSON cannot hold
// (a NaN metric from a trainer) is an error to report, never a panic.
func encode(v any) ([]byte, error) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %T: %w", v, err)
	}
	return b, nil
}

func required(model, principal, reason string, needReason bool) error {
	if err := validModel(model); err != nil {
		return err
	}
	if principal == "" {
		return fmt.Errorf("%w: model %s: a principal is required", ErrInvalid, model)
	}
	if needReason && reason == "" {
		return fmt.Errorf("%w: model %s: a reason is required", ErrInvalid, model)
	}
	if len(reason) > MaxReasonBytes || len(principal) > MaxReasonBytes/8 {
		// Every writer is bound, not only the API: the trail is read whole by
		// verify, history and rollback, and a record is copied into the head.
		return fmt.Errorf("%w: model %s: a reason of %d bytes or a principal of %d: at most %d and %d",
			ErrInvalid, model, len(reason), len(principal), MaxReasonBytes, MaxReasonBytes/8)
	}
	return nil
}

// MaxReasonBytes bounds a record's reason (the decisions API allows people
// 4 KB; the platform's own reasons quote theirs, or clip what they quote).
const MaxReasonBytes = 8 << 10

// Record reads one audit record by its key.
func (r *Registry) Record(ctx context.Context, key string) (*AuditRecord, error) {
	return r.readRecord(ctx, key)
}

// readVersion reads a version record and its ETag.
func (r *Registry) readVersion(ctx context.Context, model string, version int) (*Version, string, error) {
	b, info, err := r.st.ReadAll(ctx, r.cfg.Bucket, VersionKey(model, version))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", fmt.Errorf("model %s version %d: %w", model, version, ErrNotFound)
	}
	if err != nil {
		return nil, "", fmt.Errorf("model %s version %d: %w", model, version, err)
	}
	v, err := ParseVersion(b)
	if err != nil {
		return nil, "", fmt.Errorf("model %s version %d: %w: %w", model, version, ErrDamaged, err)
	}
	return v, info.ETag, nil
}

// readChampion reads the champion pointer; nil when there is none yet.
func (r *Registry) readChampion(ctx context.Context, model string) (*Champion, string, error) {
	b, info, err := r.st.ReadAll(ctx, r.cfg.Bucket, ChampionKey(model))
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("model %s champion: %w", model, err)
	}
	c, err := ParseChampion(b)
	if err != nil {
		return nil, "", fmt.Errorf("model %s: %w: %w", model, ErrDamaged, err)
	}
	return c, info.ETag, nil
}

// ChampionIfChanged is Champion for a reader that caches it (the prediction
// endpoint): unless the pointer's ETag is still etag, it reads the pointer and
// returns it with its new ETag. An unchanged pointer answers an error matching
// store.ErrNotModified, read with a conditional GET.
// With no champion it answers ErrNoChampion, or ErrNotFound when the model has
// no versions at all.
func (r *Registry) ChampionIfChanged(ctx context.Context, model, etag string) (*Champion, string, error) {
	if err := validModel(model); err != nil {
		return nil, "", err
	}
	key := ChampionKey(model)
	b, info, err := r.st.ReadAllIfChanged(ctx, r.cfg.Bucket, key, etag)
	var c *Champion
	switch {
	case errors.Is(err, store.ErrNotModified):
		return nil, etag, err
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, "", fmt.Errorf("model %s champion: %w", model, err)
	default:
		if c, err = ParseChampion(b); err != nil {
			return nil, "", fmt.Errorf("model %s: %w: %w", model, ErrDamaged, err)
		}
	}
	if c == nil || c.Version == 0 {
		if _, _, err := r.readVersion(ctx, model, 1); errors.Is(err, ErrNotFound) {
			return nil, info.ETag, fmt.Errorf("model %s: %w: it has no versions", model, ErrNotFound)
		}
		return nil, info.ETag, fmt.Errorf("model %s: %w", model, ErrNoChampion)
	}
	return c, info.ETag, nil
}

// Candidate returns the newest version waiting for a person's approval, or
// approved and waiting for its promotion (the endpoint scores it in the
// shadow of the champion), or nil when none waits.
func (r *Registry) Candidate(ctx context.Context, model string) (*Version, error) {
	all, err := r.List(ctx, model)
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if s := all[i].State; s == StatePendingApproval || s == StateApproved {
			return all[i], nil
		}
	}
	return nil, nil
}

// Get returns a version record.
func (r *Registry) Get(ctx context.Context, model string, version int) (*Version, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	v, _, err := r.readVersion(ctx, model, version)
	return v, err
}

// List returns a model's versions in order.
func (r *Registry) List(ctx context.Context, model string) ([]*Version, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	nums, err := r.versionNumbers(ctx, model)
	if err != nil {
		return nil, err
	}
	out := make([]*Version, 0, len(nums))
	for _, n := range nums {
		v, _, err := r.readVersion(ctx, model, n)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Models lists the models that have a registry folder.
func (r *Registry) Models(ctx context.Context) ([]string, error) {
	dirs, err := r.st.ListDirs(ctx, r.cfg.Bucket, ModelsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]string, 0, len(dirs))
	for _, d := range dirs {
		name := d[len(ModelsPrefix) : len(d)-1]
		if validModel(name) == nil {
			out = append(out, name)
		}
	}
	sort.Strings(out) // by name, not in the byte order of "<name>/" that S3 lists
	return out, nil
}

// Champion returns the champion pointer, or an error wrapping ErrNoChampion.
func (r *Registry) Champion(ctx context.Context, model string) (*Champion, error) {
	if err := validModel(model); err != nil {
		return nil, err
	}
	c, _, err := r.readChampion(ctx, model)
	if err != nil {
		return nil, err
	}
	if c == nil || c.Version == 0 {
		return nil, fmt.Errorf("model %s: %w", model, ErrNoChampion)
	}
	return c, nil
}

// Checks reads a check results object (an audit record's ChecksKey, or a
// version's Checks entry), for readers that show what a policy found.
func (r *Registry) Checks(ctx context.Context, key string) (*ChecksRecord, error) {
	if !strings.HasPrefix(key, ModelsPrefix) || !strings.Contains(key, "/checks/") {
		return nil, fmt.Errorf("%w: %q is not a check results key", ErrInvalid, key)
	}
	b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var c ChecksRecord
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", key, ErrDamaged, err)
	}
	return &c, nil
}

// RunOutcome says what the gate made of a run: the version it registered
// (in state registered until the gate's checks decide it), or the record that
// refused the run's bundle. Both nil: the gate has not registered the run yet
// (or never saw it).
func (r *Registry) RunOutcome(ctx context.Context, model, runID string) (*Version, *AuditRecord, error) {
	if err := validModel(model); err != nil {
		return nil, nil, err
	}
	if !runIDPattern.MatchString(runID) {
		return nil, nil, fmt.Errorf("%w: model %s: run ID %q", ErrInvalid, model, runID)
	}
	idx, _, err := r.readRunIndex(ctx, RunKey(model, runID))
	switch {
	case err == nil:
		// The index may name a number that another run took, until it moves.
		v, _, err := r.readVersion(ctx, model, idx.Version)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, nil, err
		case v.RunID == runID:
			return v, nil, nil
		}
	case !errors.Is(err, ErrNotFound):
		return nil, nil, err
	}
	b, _, err := r.st.ReadAll(ctx, r.cfg.Bucket, RefusalKey(model, runID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("model %s run %s: refusal: %w", model, runID, err)
	}
	var l Link
	if err := json.Unmarshal(b, &l); err != nil || l.Key == "" {
		return nil, nil, fmt.Errorf("%s: %w: not a link to an audit record", RefusalKey(model, runID), ErrDamaged)
	}
	rec, err := r.readRecord(ctx, l.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("model %s run %s: refusal: %w", model, runID, err)
	}
	return nil, rec, nil
}
