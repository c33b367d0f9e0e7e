// Package specstore keeps model specs in the platform bucket: each spec's
// canonical JSON stored once under its hash, and a pointer per model to the
// current one, moved by compare-and-swap. The spec format (shared/spec) does
// no I/O; this adapter is where it meets the store. A spec is checked against
// its dataset's current contract, which it reads through Contracts (the
// dataset's owner, ingest.Datasets, implements it), not by spelling its keys.
package specstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/yamldoc"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/store"
)

// Layout of the platform bucket's specs/ folder (docs/design.md, "Where things
// live"): specs/<model>/<hash>.json is a spec's canonical JSON, written once;
// specs/<model>/current is the pointer to the model's current spec, moved by
// compare-and-swap.

// Prefix is the folder every model's specs live under.
const Prefix = "specs/"

var layout = pointer.Layout(Prefix)

// Key is where a spec's canonical JSON lives.
func Key(model, hash string) string { return layout.Key(model, hash) }

// PointerKey is the CAS pointer to a model's current spec.
func PointerKey(model string) string { return layout.PointerKey(model) }

// Pointer is the body of specs/<model>/current. It has the shape of a
// dataset's contracts/<dataset>/current, so one reader serves both.
type Pointer = pointer.Pointer

// Contracts finds a dataset's current contract and its hash
// (*ingest.Datasets has it); an error wrapping store.ErrNotFound when it has
// none.
type Contracts interface {
	ContractOf(ctx context.Context, dataset string) (*contract.Contract, string, error)
}

// Reader is what Current needs from S3 (*store.Store has it).
type Reader = pointer.Reader

// Store is what Apply needs from S3 (*store.Store has it).
type Store = pointer.Store

// Lister is what List needs from S3 (*store.Store has it).
type Lister interface {
	Reader
	ListDirs(ctx context.Context, bucket, prefix string) ([]string, error)
}

// ErrNoContract: the spec's dataset has no current contract, so the spec
// cannot be checked (and could not train). Apply wraps it.
var ErrNoContract = errors.New("the dataset has no contract")

// ErrContract: the spec does not fit its dataset's current contract. Apply
// wraps it together with CheckContract's *Error values.
var ErrContract = errors.New("the spec does not fit the dataset's contract")

// Applied is what Apply did.
type Applied struct {
	Model string `json:"model"`
	Hash  string `json:"hash"`
	Key   string `json:"key"`
	// Changed is false when the spec was already the model's current one.
	Changed bool `json:"changed"`
	// ContractHash is the dataset contract the spec was checked against.
	ContractHash string `json:"contractHash"`
}

// Apply validates s, checks it against its dataset's current contract, stores
// its canonical JSON under its hash (create-once: a 412 means it is already
// there, which is fine, since the key names the content) and moves the
// model's current pointer to it by compare-and-swap. Applying the spec that
// is already current changes nothing and reports Changed false. Concurrent
// Applies to one model each either win or lose cleanly: the pointer ends at
// one of them, never at a half-written object.
func Apply(ctx context.Context, st Store, contracts Contracts, bucket string, s *spec.Spec, now time.Time) (Applied, error) {
	if err := s.Validate(); err != nil {
		return Applied{}, fmt.Errorf("model %s: invalid spec:\n%w", s.Name, err)
	}
	c, chash, err := contracts.ContractOf(ctx, s.Dataset)
	if errors.Is(err, store.ErrNotFound) {
		return Applied{}, fmt.Errorf("model %s: dataset %q: %w: apply one first (mlops contract apply)", s.Name, s.Dataset, ErrNoContract)
	}
	if err != nil {
		return Applied{}, fmt.Errorf("model %s: %w", s.Name, err)
	}
	if err := s.CheckContract(c); err != nil {
		return Applied{}, fmt.Errorf("model %s: %w (contract %s):\n%w", s.Name, ErrContract, hashid.Short(chash), err)
	}
	body := s.Canonical()
	hash := s.Hash()
	a := Applied{Model: s.Name, Hash: hash, Key: Key(s.Name, hash), ContractHash: chash}
	changed, err := pointer.Publish(ctx, st, bucket, a.Key, PointerKey(s.Name), hash, body, now)
	if err != nil {
		return Applied{}, fmt.Errorf("model %s: spec %s: %w", s.Name, hashid.Short(hash), err)
	}
	a.Changed = changed
	return a, nil
}

// ErrNoSpec: the model has no current spec. Current and the CLI wrap it; it
// wraps store.ErrNotFound too.
var ErrNoSpec = fmt.Errorf("no spec: %w", store.ErrNotFound)

// Current returns the model's current spec, its hash and its pointer. A model
// without a spec gives an error for which errors.Is(err, ErrNoSpec) and
// errors.Is(err, store.ErrNotFound) hold. The stored bytes must hash to the
// name the pointer gives them: anything else is corruption, and reported.
func Current(ctx context.Context, st Reader, bucket, model string) (*spec.Spec, string, error) {
	s, ptr, _, err := current(ctx, st, bucket, model)
	if err != nil {
		return nil, "", err
	}
	return s, ptr.Hash, nil
}

// CurrentRaw is Current with the pointer and the stored canonical bytes, for
// callers that print or hand on exactly what is stored.
func CurrentRaw(ctx context.Context, st Reader, bucket, model string) (*spec.Spec, Pointer, []byte, error) {
	return current(ctx, st, bucket, model)
}

func current(ctx context.Context, st Reader, bucket, model string) (*spec.Spec, Pointer, []byte, error) {
	if !spec.ValidName(model) {
		return nil, Pointer{}, nil, fmt.Errorf("%q is not a model name", yamldoc.Clip(model))
	}
	ptr, err := pointer.Read(ctx, st, bucket, PointerKey(model))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, Pointer{}, nil, fmt.Errorf("model %q: %w (apply one with mlops models apply)", model, ErrNoSpec)
	case errors.As(err, new(*pointer.MalformedError)):
		return nil, Pointer{}, nil, fmt.Errorf("model %s: spec pointer %w", model, err)
	case err != nil:
		return nil, Pointer{}, nil, fmt.Errorf("model %s: read spec pointer: %w", model, err)
	}
	// The key comes from the layout, not from the pointer's key field: the
	// hash alone names the object, and is checked against its bytes.
	raw, err := pointer.Load(ctx, st, bucket, Key(model, ptr.Hash), ptr.Hash)
	var corrupt *pointer.CorruptError
	switch {
	case errors.As(err, &corrupt):
		return nil, Pointer{}, nil, fmt.Errorf("model %s: %w: the stored spec is corrupt", model, err)
	case err != nil:
		return nil, Pointer{}, nil, fmt.Errorf("model %s: read spec %s: %w", model, hashid.Short(ptr.Hash), err)
	}
	s, err := spec.ParseCanonical(raw)
	if err != nil {
		return nil, Pointer{}, nil, fmt.Errorf("model %s: spec %s: %w", model, hashid.Short(ptr.Hash), err)
	}
	return s, ptr, raw, nil
}

// Summary is one model's current spec, as List reports it.
type Summary struct {
	Model     string    `json:"model"`
	Hash      string    `json:"hash"`
	Dataset   string    `json:"dataset"`
	Objective string    `json:"objective"`
	AppliedAt time.Time `json:"appliedAt"`
}

// List returns every model's current spec, by model name. A folder without a
// current pointer (a spec stored by an Apply that stopped before moving it) is
// not a model yet and is skipped.
func List(ctx context.Context, st Lister, bucket string) ([]Summary, error) {
	dirs, err := st.ListDirs(ctx, bucket, Prefix)
	if err != nil {
		return nil, fmt.Errorf("list model specs: %w", err)
	}
	out := []Summary{}
	for _, d := range dirs {
		model := strings.TrimSuffix(strings.TrimPrefix(d, Prefix), "/")
		if !spec.ValidName(model) {
			continue
		}
		s, ptr, _, err := current(ctx, st, bucket, model)
		if errors.Is(err, ErrNoSpec) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, Summary{Model: model, Hash: ptr.Hash, Dataset: s.Dataset, Objective: s.Objective, AppliedAt: ptr.At})
	}
	// By name: S3 lists the folders in the byte order of "<name>/", which puts
	// credit-small before credit.
	sort.Slice(out, func(i, j int) bool { return out[i].Model < out[j].Model })
	return out, nil
}

// Load reads the spec stored under hash (a version's or a run's), checking
// that the stored bytes hash to that name.
func Load(ctx context.Context, st Reader, bucket, model, hash string) (*spec.Spec, error) {
	if !spec.ValidName(model) {
		return nil, fmt.Errorf("%q is not a model name", yamldoc.Clip(model))
	}
	if !hashid.Valid(hash) {
		return nil, fmt.Errorf("model %s: %q is not a spec hash", model, yamldoc.Clip(hash))
	}
	s, err := pointer.LoadAs(ctx, st, bucket, Key(model, hash), hash, "spec", spec.ParseCanonical)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", model, err)
	}
	if s.Name != model {
		return nil, fmt.Errorf("model %s: spec %s is model %s's", model, hashid.Short(hash), s.Name)
	}
	return s, nil
}
