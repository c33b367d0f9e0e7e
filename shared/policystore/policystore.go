// Package policystore keeps promotion policies in the platform bucket: each
// policy's canonical JSON stored once under its hash, and a pointer per model
// to the current one, moved by compare-and-swap. The policy format
// (shared/policy) does no I/O; this adapter is where it meets the store.
package policystore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/yamldoc"
)

// Layout of the platform bucket's policies/ folder (docs/design.md, "Where things
// live"): policies/<model>/<hash>.json is a policy's canonical JSON, written
// once; policies/<model>/current is the pointer to the model's current policy,
// moved by compare-and-swap.

// Prefix is the folder every model's policies live under.
const Prefix = "policies/"

var layout = pointer.Layout(Prefix)

// Key is where a policy's canonical JSON lives.
func Key(model, hash string) string { return layout.Key(model, hash) }

// PointerKey is the CAS pointer to a model's current policy.
func PointerKey(model string) string { return layout.PointerKey(model) }

// Reader is what Current and Load need from S3 (*store.Store has it).
type Reader = pointer.Reader

// Store is what Apply needs from S3 (*store.Store has it).
type Store = pointer.Store

// Applied is what Apply did.
type Applied struct {
	Model string `json:"model"`
	Hash  string `json:"hash"`
	Key   string `json:"key"`
	// Changed is false when the policy was already the model's current one.
	Changed bool `json:"changed"`
}

// Apply validates p, stores its canonical JSON under its hash (create-once: a
// 412 means it is already there, which is fine, since the key names the
// content) and moves the model's current pointer to it by compare-and-swap.
// Applying the policy that is already current changes nothing and reports
// Changed false.
func Apply(ctx context.Context, st Store, bucket string, p *policy.Policy, now time.Time) (Applied, error) {
	if err := p.Validate(); err != nil {
		return Applied{}, fmt.Errorf("model %s: invalid policy:\n%w", p.Model, err)
	}
	body := p.Canonical()
	hash := p.Hash()
	a := Applied{Model: p.Model, Hash: hash, Key: Key(p.Model, hash)}
	changed, err := pointer.Publish(ctx, st, bucket, a.Key, PointerKey(p.Model), hash, body, now)
	if err != nil {
		return Applied{}, fmt.Errorf("model %s: policy %s: %w", p.Model, hashid.Short(hash), err)
	}
	a.Changed = changed
	return a, nil
}

// ErrNoPolicy: the model has no current policy. It wraps store.ErrNotFound.
var ErrNoPolicy = fmt.Errorf("no policy: %w", store.ErrNotFound)

// Current returns the model's current policy and its hash. A model without a
// policy gives an error for which errors.Is(err, ErrNoPolicy) and
// errors.Is(err, store.ErrNotFound) hold. The stored bytes must hash to the
// name the pointer gives them: anything else is corruption, and reported.
func Current(ctx context.Context, st Reader, bucket, model string) (*policy.Policy, string, error) {
	if !spec.ValidName(model) {
		return nil, "", fmt.Errorf("%q is not a model name", yamldoc.Clip(model))
	}
	ptr, err := pointer.Read(ctx, st, bucket, PointerKey(model))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("model %q: %w (apply one with its spec: mlops models apply)", model, ErrNoPolicy)
	case errors.As(err, new(*pointer.MalformedError)):
		return nil, "", fmt.Errorf("model %s: policy pointer %w", model, err)
	case err != nil:
		return nil, "", fmt.Errorf("model %s: read policy pointer: %w", model, err)
	}
	p, err := Load(ctx, st, bucket, model, ptr.Hash)
	if err != nil {
		return nil, "", err
	}
	return p, ptr.Hash, nil
}

// Load returns the model's policy with the given hash (the one a decision
// record names, say), checking that the stored bytes hash to it.
func Load(ctx context.Context, st Reader, bucket, model, hash string) (*policy.Policy, error) {
	if !spec.ValidName(model) {
		return nil, fmt.Errorf("%q is not a model name", yamldoc.Clip(model))
	}
	if !hashid.Valid(hash) {
		return nil, fmt.Errorf("model %s: %q is not a policy hash", model, yamldoc.Clip(hash))
	}
	p, err := pointer.LoadAs(ctx, st, bucket, Key(model, hash), hash, "policy", policy.ParseCanonical)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", model, err)
	}
	if p.Model != model {
		return nil, fmt.Errorf("model %s: policy %s is model %s's", model, hashid.Short(hash), p.Model)
	}
	return p, nil
}
