package pointer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/store"
)

// Publish through the real SDK against the embedded S3: concurrent publishers
// leave the pointer at one of them; Read and Load check what they read.
func TestPublishReadLoad(t *testing.T) {
	_, st := lambdatest.S3(t, "bkt")
	ctx := context.Background()
	docs := map[string]string{
		"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824": "hello",
		"486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7": "world",
	}
	var wg sync.WaitGroup
	for h, body := range docs {
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := pointer.Publish(ctx, st, "bkt", "docs/"+h, "docs/current", h, []byte(body), time.Now()); err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	ptr, err := pointer.Read(ctx, st, "bkt", "docs/current")
	if err != nil || docs[ptr.Hash] == "" || ptr.Key != "docs/"+ptr.Hash {
		t.Fatalf("pointer %+v %v", ptr, err)
	}
	if changed, err := pointer.Publish(ctx, st, "bkt", ptr.Key, "docs/current", ptr.Hash, []byte(docs[ptr.Hash]), time.Now()); err != nil || changed {
		t.Fatalf("publishing the current document again: changed %v, %v", changed, err)
	}
	if raw, err := pointer.Load(ctx, st, "bkt", ptr.Key, ptr.Hash); err != nil || string(raw) != docs[ptr.Hash] {
		t.Fatalf("load: %q %v", raw, err)
	}

	if _, err := pointer.Read(ctx, st, "bkt", "docs/none"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing pointer: %v", err)
	}
	if _, err := st.Put(ctx, "bkt", "docs/bad", []byte("garbage"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	var malformed *pointer.MalformedError
	if _, err := pointer.Read(ctx, st, "bkt", "docs/bad"); !errors.As(err, &malformed) {
		t.Fatalf("garbage pointer: %v", err)
	}
	var corrupt *pointer.CorruptError
	other := "486ea46224d1bb4fb680f34f7c9ad96a8f24ec88be73ea8e5a6c65260e9cb8a7"
	if ptr.Hash == other {
		other = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
	}
	if _, err := pointer.Load(ctx, st, "bkt", ptr.Key, other); !errors.As(err, &corrupt) {
		t.Fatalf("bytes that do not hash to their name: %v", err)
	}
}
