package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/store"
)

// ContractStore is what ApplyContract needs from S3.
type ContractStore interface {
	ReadAll(ctx context.Context, bucket, key string) ([]byte, store.ObjectInfo, error)
	Create(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
	Swap(ctx context.Context, bucket, key, etag string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
}

// ApplyContract stores c's canonical JSON under its hash (create-once) and moves the
// dataset's current-contract pointer to it by compare-and-swap. Applying the
// contract that is already current changes nothing and reports changed=false.
func ApplyContract(ctx context.Context, st ContractStore, platformBucket string, c *contract.Contract, now time.Time) (hash string, changed bool, err error) {
	hash = c.Hash()
	changed, err = pointer.Publish(ctx, st, platformBucket, ContractKey(c.Dataset, hash), ContractPointerKey(c.Dataset), hash, c.Canonical(), now)
	if err != nil {
		return "", false, fmt.Errorf("apply contract %s of %s: %w", hash, c.Dataset, err)
	}
	return hash, changed, nil
}
