package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openmlops/mlops/shared/contract"
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
	key := ContractKey(c.Dataset, hash)
	if _, err := st.Create(ctx, platformBucket, key, c.Canonical(), store.PutOptions{ContentType: "application/json"}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return "", false, fmt.Errorf("store contract %s: %w", hash, err)
	}
	ptrKey := ContractPointerKey(c.Dataset)
	ptr, _ := json.Marshal(ContractPointer{Hash: hash, Key: key, At: now.UTC()})
	for attempt := 0; attempt < 20; attempt++ {
		b, info, err := st.ReadAll(ctx, platformBucket, ptrKey)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = st.Create(ctx, platformBucket, ptrKey, ptr, store.PutOptions{ContentType: "application/json"})
		case err != nil:
			return "", false, fmt.Errorf("read contract pointer of %s: %w", c.Dataset, err)
		default:
			var cur ContractPointer
			if json.Unmarshal(b, &cur) == nil && cur.Hash == hash {
				return hash, false, nil
			}
			_, err = st.Swap(ctx, platformBucket, ptrKey, info.ETag, ptr, store.PutOptions{ContentType: "application/json"})
		}
		if err == nil {
			return hash, true, nil
		}
		if !errors.Is(err, store.ErrPrecondition) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
			return "", false, fmt.Errorf("move contract pointer of %s: %w", c.Dataset, err)
		}
	}
	return "", false, fmt.Errorf("move contract pointer of %s: too much contention, try again", c.Dataset)
}
