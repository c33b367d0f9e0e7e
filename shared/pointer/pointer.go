// Package pointer keeps content-addressed documents with a "current" pointer:
// a contract, a model spec or a policy is stored once under its hash, and a
// small pointer object names the one in force, moved by compare-and-swap.
package pointer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/yamldoc"
)

// Pointer is the body of a current pointer.
type Pointer struct {
	Hash string    `json:"hash"`
	Key  string    `json:"key"`
	At   time.Time `json:"at"` // when it was made current
}

// Layout is a folder of content-addressed documents, one subfolder per name
// (a dataset, a model): <folder><name>/<hash>.json holds each document, written
// once, and <folder><name>/current the pointer to the one in force. Contracts,
// specs and policies are each kept this way.
type Layout string

// Key is where the document with hash is kept.
func (l Layout) Key(name, hash string) string { return string(l) + name + "/" + hash + ".json" }

// PointerKey is the CAS pointer to name's current document.
func (l Layout) PointerKey(name string) string { return string(l) + name + "/current" }

// Store is what Publish needs from S3 (*store.Store has it).
type Store interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
}

// attempts bounds the loop: each failed attempt means another writer succeeded,
// so with N concurrent writers N attempts suffice; the margin covers 409s.
const attempts = 64

// Publish stores body under key once (a 412 means it is there already, which is
// fine: the key names the content) and moves the pointer at ptrKey to it by
// compare-and-swap. Publishing what is already current changes nothing and
// reports changed false. Concurrent publishers each win or lose cleanly: the
// pointer ends at one of them, never at a half-written object.
func Publish(ctx context.Context, st Store, bucket, key, ptrKey, hash string, body []byte, now time.Time) (changed bool, err error) {
	opt := store.PutOptions{ContentType: "application/json"}
	if _, err := st.Create(ctx, bucket, key, body, opt); err != nil && !errors.Is(err, store.ErrPrecondition) {
		return false, fmt.Errorf("store %s: %w", key, err)
	}
	ptr, err := json.Marshal(Pointer{Hash: hash, Key: key, At: now.UTC()})
	if err != nil {
		return false, fmt.Errorf("encode pointer: %w", err)
	}
	changed, err = store.Update(ctx, st, bucket, ptrKey, opt, attempts, func(b []byte, exists bool) ([]byte, error) {
		var cur Pointer
		if exists && json.Unmarshal(b, &cur) == nil && cur.Hash == hash {
			return nil, nil
		}
		return ptr, nil
	})
	if errors.Is(err, store.ErrContended) {
		return false, fmt.Errorf("move %s: %w after %d attempts, try again", ptrKey, err, attempts)
	}
	if err != nil {
		return false, fmt.Errorf("move %s: %w", ptrKey, err)
	}
	return changed, nil
}

// Reader is what Read and Load need from S3 (*store.Store has it).
type Reader interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
}

// MalformedError is Read's error for an object that is not a pointer.
type MalformedError struct{ Key, Body string }

func (e *MalformedError) Error() string {
	return fmt.Sprintf("%s is not a pointer: %q", e.Key, yamldoc.Clip(e.Body))
}

// Read reads the pointer at ptrKey. A missing pointer is the store's
// ErrNotFound; one that does not parse, or names no SHA-256, is an error that
// quotes it.
func Read(ctx context.Context, st Reader, bucket, ptrKey string) (Pointer, error) {
	b, _, err := st.ReadAll(ctx, bucket, ptrKey)
	if err != nil {
		return Pointer{}, err
	}
	var ptr Pointer
	if err := json.Unmarshal(b, &ptr); err != nil || !hashid.Valid(ptr.Hash) {
		return Pointer{}, &MalformedError{Key: ptrKey, Body: string(b)}
	}
	return ptr, nil
}

// CorruptError is Load's error when the stored bytes do not hash to the name
// they are stored under.
type CorruptError struct{ Key, Hash string }

func (e *CorruptError) Error() string {
	return e.Key + " does not hash to " + hashid.Short(e.Hash)
}

// Load reads the document stored under key and checks that its bytes hash to
// hash, the name the pointer (or a decision record) gives them.
func Load(ctx context.Context, st Reader, bucket, key, hash string) ([]byte, error) {
	raw, _, err := st.ReadAll(ctx, bucket, key)
	if err != nil {
		return nil, err
	}
	if hashid.Of(raw) != hash {
		return nil, &CorruptError{Key: key, Hash: hash}
	}
	return raw, nil
}

// LoadAs is Load, then parse: the document stored under hash at key, read
// back as what ("spec", "policy"). Its errors name the document by what and
// its short hash, and say when the stored bytes are corrupt.
func LoadAs[T any](ctx context.Context, st Reader, bucket, key, hash, what string, parse func([]byte) (T, error)) (T, error) {
	var zero T
	raw, err := Load(ctx, st, bucket, key, hash)
	var corrupt *CorruptError
	switch {
	case errors.As(err, &corrupt):
		return zero, fmt.Errorf("%w: the stored %s is corrupt", err, what)
	case err != nil:
		return zero, fmt.Errorf("read %s %s: %w", what, hashid.Short(hash), err)
	}
	v, err := parse(raw)
	if err != nil {
		return zero, fmt.Errorf("%s %s: %w", what, hashid.Short(hash), err)
	}
	return v, nil
}
