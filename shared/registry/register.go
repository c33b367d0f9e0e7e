package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
)

// RegisterInput is what a trained run brings to the registry.
type RegisterInput struct {
	Model          string             `json:"model"`
	RunID          string             `json:"runId"`
	BundleSHA256   string             `json:"bundleSha256"`
	BundlePrefix   string             `json:"bundlePrefix,omitempty"`
	DatasetVersion string             `json:"datasetVersion,omitempty"`
	ContractHash   string             `json:"contractHash,omitempty"`
	SpecHash       string             `json:"specHash,omitempty"`
	Metrics        map[string]float64 `json:"metrics,omitempty"`
	Principal      string             `json:"principal"`
	Reason         string             `json:"reason,omitempty"` // default "training succeeded"
	// Compiled is the bundle's model in its compiled form, made by the caller
	// from the bundle it has just verified (the gate): Register stores it
	// once and records where in CompiledModel, so that serving loads it
	// instead of parsing model.json. Optional.
	Compiled *CompiledInput `json:"-"`
	// CompiledModel is set by Register (it is what the run index keeps, and
	// the version record gets).
	CompiledModel *CompiledModel `json:"compiledModel,omitempty"`
}

// CompiledInput is a compiled model to store with a version.
type CompiledInput struct {
	Data        []byte
	Format      int    // the compiled form's version (xgboost.CompiledVersion)
	ModelSHA256 string // of the bundle's model.json it was compiled from (the manifest's entry)
}

// CompiledModel is a version's pre-compiled model: written by the platform
// after the bundle was verified, trusted by serving by its hash.
type CompiledModel struct {
	Key         string `json:"key"` // in the platform bucket (CompiledKey)
	SHA256      string `json:"sha256"`
	Bytes       int64  `json:"bytes"`
	Format      int    `json:"format"`
	ModelSHA256 string `json:"modelSha256"` // the model.json it was compiled from
}

func (in RegisterInput) validate() error {
	if err := required(in.Model, in.Principal, "", false); err != nil {
		return err
	}
	if !runIDPattern.MatchString(in.RunID) {
		return fmt.Errorf("%w: model %s: run ID %q", ErrInvalid, in.Model, in.RunID)
	}
	if !hashid.Valid(in.BundleSHA256) {
		return fmt.Errorf("%w: model %s run %s: bundle SHA-256 %q: expected 64 lower-case hex digits", ErrInvalid, in.Model, in.RunID, in.BundleSHA256)
	}
	return nil
}

// Register makes a run's bundle a model version: the next number, allocated
// with create-once writes, so racing registrations never share a number and a
// run registers one version however often it is delivered. created is false
// when the run was already registered (the existing version is returned). The
// registration is audited (kind registered) before Register returns.
func (r *Registry) Register(ctx context.Context, in RegisterInput) (*Version, bool, error) {
	if err := in.validate(); err != nil {
		return nil, false, err
	}
	if in.Reason == "" {
		in.Reason = "training succeeded"
	}
	in.CompiledModel = nil // only what Register stores is recorded
	if in.Compiled != nil {
		c, err := r.storeCompiled(ctx, in)
		if err != nil {
			return nil, false, err
		}
		in.CompiledModel, in.Compiled = c, nil
	}
	idx, etag, err := r.claimRun(ctx, in)
	if err != nil {
		return nil, false, err
	}
	v, created, err := r.allocate(ctx, idx, etag)
	if err != nil {
		return nil, false, err
	}
	if err := r.auditRegistration(ctx, v, in.Reason); err != nil {
		return nil, created, err
	}
	v, _, err = r.readVersion(ctx, in.Model, v.Version)
	return v, created, err
}

// storeCompiled writes a run's compiled model where its hash names it,
// create-once: a second delivery of the run finds it there. It is written
// before the run is claimed, so that the run index, and the version record
// made from it, only ever name an object that exists. A delivery after the
// run was claimed without one (or with the bytes of an older compiler)
// leaves an object nothing names, which is harmless: the version keeps what
// its run index recorded first.
func (r *Registry) storeCompiled(ctx context.Context, in RegisterInput) (*CompiledModel, error) {
	c := in.Compiled
	if !hashid.Valid(c.ModelSHA256) || c.Format < 1 || len(c.Data) == 0 {
		return nil, fmt.Errorf("%w: model %s run %s: compiled model: format %d, %d bytes, model.json SHA-256 %q",
			ErrInvalid, in.Model, in.RunID, c.Format, len(c.Data), c.ModelSHA256)
	}
	sha := hashid.Of(c.Data)
	key := CompiledKey(in.Model, in.RunID, sha)
	if _, err := r.st.Create(ctx, r.cfg.Bucket, key, c.Data, binaryOpt); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return nil, fmt.Errorf("model %s run %s: store the compiled model: %w", in.Model, in.RunID, err)
	}
	return &CompiledModel{Key: key, SHA256: sha, Bytes: int64(len(c.Data)), Format: c.Format, ModelSHA256: c.ModelSHA256}, nil
}

var binaryOpt = store.PutOptions{ContentType: "application/octet-stream"}

// claimRun creates the run's index entry once, at the number after the last
// version; a second delivery finds it and goes on from where it stands.
func (r *Registry) claimRun(ctx context.Context, in RegisterInput) (*RunIndex, string, error) {
	key := RunKey(in.Model, in.RunID)
	idx, etag, err := r.readRunIndex(ctx, key)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if idx == nil {
		nums, err := r.versionNumbers(ctx, in.Model)
		if err != nil {
			return nil, "", err
		}
		next := 1
		if len(nums) > 0 {
			next = nums[len(nums)-1] + 1
		}
		idx = &RunIndex{RunID: in.RunID, Version: next, Input: in, At: r.now()}
		body, err := encode(idx)
		if err != nil {
			return nil, "", err
		}
		info, err := r.st.Create(ctx, r.cfg.Bucket, key, body, jsonOpt)
		if err == nil {
			return idx, info.ETag, nil
		}
		if !errors.Is(err, store.ErrPrecondition) {
			return nil, "", fmt.Errorf("model %s: index run %s: %w", in.Model, in.RunID, err)
		}
		if idx, etag, err = r.readRunIndex(ctx, key); err != nil {
			return nil, "", err
		}
	}
	if idx.Input.BundleSHA256 != in.BundleSHA256 {
		return nil, "", fmt.Errorf("%w: model %s: run %s is registered with bundle %s, not %s",
			ErrConflict, in.Model, in.RunID, hashid.Short(idx.Input.BundleSHA256), hashid.Short(in.BundleSHA256))
	}
	return idx, etag, nil
}

func (r *Registry) readRunIndex(ctx context.Context, key string) (*RunIndex, string, error) {
	b, info, err := r.st.ReadAll(ctx, r.cfg.Bucket, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, "", fmt.Errorf("%s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, "", err
	}
	idx, err := ParseRunIndex(b)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w: %w", key, ErrDamaged, err)
	}
	return idx, info.ETag, nil
}

// allocate creates the version record at the number the run index names. A
// number taken by another run moves the index up by one (CAS), never by more,
// so numbers have no gaps; a number can only be taken for this run while the
// index names it, so a run never gets two versions, whoever helps.
func (r *Registry) allocate(ctx context.Context, idx *RunIndex, etag string) (*Version, bool, error) {
	in := idx.Input
	key := RunKey(in.Model, in.RunID)
	var v *Version
	created := false
	err := store.Retry(ctx, 10*casAttempts, func() (bool, error) {
		now := r.now()
		nv := &Version{SchemaVersion: SchemaVersion, Model: in.Model, Version: idx.Version, RunID: in.RunID,
			BundleSHA256: in.BundleSHA256, BundlePrefix: in.BundlePrefix, DatasetVersion: in.DatasetVersion,
			ContractHash: in.ContractHash, SpecHash: in.SpecHash, Metrics: in.Metrics, Compiled: in.CompiledModel,
			RegisteredBy: in.Principal, RegisteredAt: now, State: StateRegistered, UpdatedAt: now}
		body, err := encode(nv)
		if err != nil {
			return false, fmt.Errorf("model %s: register run %s: %w", in.Model, in.RunID, err)
		}
		_, err = r.st.Create(ctx, r.cfg.Bucket, VersionKey(in.Model, idx.Version), body, jsonOpt)
		if err == nil {
			r.log.Info("version allocated", "model", in.Model, "version", nv.Version, "run", in.RunID)
			v, created = nv, true
			return true, nil
		}
		if !errors.Is(err, store.ErrPrecondition) {
			return false, fmt.Errorf("model %s: create version %d: %w", in.Model, idx.Version, err)
		}
		cur, _, err := r.readVersion(ctx, in.Model, idx.Version)
		if err != nil {
			return false, err
		}
		if cur.RunID == in.RunID {
			v = cur
			return true, nil
		}
		// Taken by another run: move this run's index to the next number.
		next := *idx
		next.Version++
		body, err = encode(&next)
		if err != nil {
			return false, err
		}
		info, err := r.st.Swap(ctx, r.cfg.Bucket, key, etag, body, jsonOpt)
		switch {
		case err == nil:
			idx, etag = &next, info.ETag
		case store.Lost(err):
			if idx, etag, err = r.readRunIndex(ctx, key); err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("model %s: index run %s: %w", in.Model, in.RunID, err)
		}
		return false, nil
	})
	if errors.Is(err, store.ErrContended) {
		return nil, false, fmt.Errorf("model %s: allocate a version for run %s: %w", in.Model, in.RunID, ErrContention)
	}
	if err != nil {
		return nil, false, err
	}
	return v, created, nil
}

// auditRegistration appends the registered record of a version, once.
func (r *Registry) auditRegistration(ctx context.Context, v *Version, reason string) error {
	_, _, err := r.append(ctx, v.Model, func(ctx context.Context) (*AuditRecord, error) {
		cur, _, err := r.readVersion(ctx, v.Model, v.Version)
		if err != nil {
			return nil, err
		}
		if cur.Seq > 0 {
			return nil, nil // audited already
		}
		return &AuditRecord{Kind: KindRegistered, Version: cur.Version, RunID: cur.RunID, Principal: cur.RegisteredBy,
			Reason: reason, Hashes: Hashes{BundleSHA256: cur.BundleSHA256, SpecHash: cur.SpecHash,
				DatasetVersion: cur.DatasetVersion, ContractHash: cur.ContractHash}}, nil
	})
	return err
}

// versionNumbers lists a model's version numbers in order.
func (r *Registry) versionNumbers(ctx context.Context, model string) ([]int, error) {
	var nums []int
	err := r.st.List(ctx, r.cfg.Bucket, VersionsPrefix(model), func(o store.ObjectInfo) error {
		if n, ok := parseVersionName(path.Base(o.Key)); ok && path.Dir(o.Key)+"/" == VersionsPrefix(model) {
			nums = append(nums, n)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("model %s: list versions: %w", model, err)
	}
	sort.Ints(nums)
	return nums, nil
}

// ChecksInput is the result of evaluating one policy against one version.
type ChecksInput struct {
	Model      string
	Version    int
	PolicyHash string
	// Checks is every check with its value, threshold and verdict: any value
	// that encodes to JSON, or JSON bytes ([]byte, json.RawMessage).
	Checks    any
	Verdict   Verdict
	Principal string
	Reason    string
}

// CheckResult is the recorded result of a policy on a version.
type CheckResult struct {
	Key     string        // the check results object
	SHA256  string        // of its bytes
	Record  *ChecksRecord // what it holds
	Audit   string        // the checked audit record
	Created bool          // false: recorded before (a redelivery): this is the earlier verdict
}

// RecordChecks records a policy's check results for a version once per
// (version, policy hash): a second call returns the first verdict, whatever
// it brings, so a redelivery reaches the same decision. The results are
// audited (kind checked) with their hash.
func (r *Registry) RecordChecks(ctx context.Context, in ChecksInput) (*CheckResult, error) {
	if err := required(in.Model, in.Principal, "", false); err != nil {
		return nil, err
	}
	if !hashPattern.MatchString(in.PolicyHash) {
		return nil, fmt.Errorf("%w: model %s version %d: policy hash %q", ErrInvalid, in.Model, in.Version, in.PolicyHash)
	}
	if in.Verdict != VerdictPass && in.Verdict != VerdictFail {
		return nil, fmt.Errorf("%w: model %s version %d: verdict %q: expected pass or fail", ErrInvalid, in.Model, in.Version, in.Verdict)
	}
	var raw json.RawMessage
	switch c := in.Checks.(type) {
	case []byte:
		raw = c
	case json.RawMessage:
		raw = c
	default:
		b, err := json.Marshal(c)
		if err != nil {
			return nil, fmt.Errorf("%w: model %s version %d: checks: %w", ErrInvalid, in.Model, in.Version, err)
		}
		raw = b
	}
	if !json.Valid(raw) {
		return nil, fmt.Errorf("%w: model %s version %d: checks are not JSON", ErrInvalid, in.Model, in.Version)
	}
	if _, _, err := r.readVersion(ctx, in.Model, in.Version); err != nil {
		return nil, err
	}
	key := ChecksKey(in.Model, in.Version, in.PolicyHash)
	res := &CheckResult{Key: key, Created: true}
	body, err := encode(&ChecksRecord{Model: in.Model, Version: in.Version, PolicyHash: in.PolicyHash, Verdict: in.Verdict,
		Checks: raw, Principal: in.Principal, At: r.now()})
	if err != nil {
		return nil, fmt.Errorf("model %s version %d: record checks: %w", in.Model, in.Version, err)
	}
	if _, err := r.st.Create(ctx, r.cfg.Bucket, key, body, jsonOpt); err != nil {
		if !errors.Is(err, store.ErrPrecondition) {
			return nil, fmt.Errorf("model %s version %d: record checks: %w", in.Model, in.Version, err)
		}
		res.Created = false
		if body, _, err = r.st.ReadAll(ctx, r.cfg.Bucket, key); err != nil {
			return nil, fmt.Errorf("model %s version %d: read checks: %w", in.Model, in.Version, err)
		}
	}
	res.SHA256 = hashid.Of(body)
	res.Record = &ChecksRecord{}
	if err := json.Unmarshal(body, res.Record); err != nil {
		return nil, fmt.Errorf("%s: %w: %w", key, ErrDamaged, err)
	}
	reason := in.Reason
	if reason == "" {
		reason = "policy " + hashid.Short(in.PolicyHash) + ": " + string(res.Record.Verdict)
	}
	rec, akey, err := r.append(ctx, in.Model, func(ctx context.Context) (*AuditRecord, error) {
		v, _, err := r.readVersion(ctx, in.Model, in.Version)
		if err != nil {
			return nil, err
		}
		if c, ok := v.Checks[in.PolicyHash]; ok {
			res.Audit = c.Audit
			return nil, nil
		}
		return &AuditRecord{Kind: KindChecked, Version: in.Version, RunID: v.RunID, Principal: res.Record.Principal,
			Reason: reason, Verdict: res.Record.Verdict, ChecksKey: key,
			Hashes: Hashes{BundleSHA256: v.BundleSHA256, PolicyHash: in.PolicyHash, ChecksSHA256: res.SHA256}}, nil
	})
	if err != nil {
		return nil, err
	}
	if rec != nil {
		res.Audit = akey
	}
	return res, nil
}
