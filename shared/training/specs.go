package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/specstore"
)

// StoreSpecs finds model specs where `mlops models apply` put them.
type StoreSpecs struct {
	Store  specstore.Lister
	Bucket string
}

// ForDataset implements Specs.
func (s StoreSpecs) ForDataset(ctx context.Context, dataset string) ([]SpecRef, error) {
	all, err := specstore.List(ctx, s.Store, s.Bucket)
	if err != nil {
		return nil, err
	}
	var refs []SpecRef
	for _, sum := range all {
		if sum.Dataset != dataset {
			continue
		}
		ref, err := s.Current(ctx, sum.Model)
		if err != nil {
			return nil, err
		}
		if ref.Spec.Dataset == dataset { // it may have changed since List read it
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

// Current implements Specs.
func (s StoreSpecs) Current(ctx context.Context, model string) (SpecRef, error) {
	sp, hash, err := specstore.Current(ctx, s.Store, s.Bucket, model)
	if err != nil {
		return SpecRef{}, err
	}
	return SpecRef{Spec: sp, Hash: hash, Key: specstore.Key(model, hash)}, nil
}

// Get implements Specs: the spec stored at key, checked against the hash its key names.
func (s StoreSpecs) Get(ctx context.Context, key string) (SpecRef, error) {
	b, _, err := s.Store.ReadAll(ctx, s.Bucket, key)
	if err != nil {
		return SpecRef{}, fmt.Errorf("spec %s: %w", key, err)
	}
	sum := sha256.Sum256(b)
	hash := hex.EncodeToString(sum[:])
	if !strings.HasSuffix(key, "/"+hash+".json") {
		return SpecRef{}, fmt.Errorf("spec %s: its bytes hash to %s, not to its name", key, hash)
	}
	sp, err := spec.ParseCanonical(b)
	if err != nil {
		return SpecRef{}, fmt.Errorf("spec %s: %w", key, err)
	}
	return SpecRef{Spec: sp, Hash: hash, Key: key}, nil
}
