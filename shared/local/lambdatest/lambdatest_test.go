package lambdatest_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/local/lambdatest"
)

func TestUploadCreditPutsTheSampleUnderIncoming(t *testing.T) {
	st, _, _ := lambdatest.CreditPlatform(t)
	info := lambdatest.UploadCredit(t, st, "a.csv")
	got, _, err := st.ReadAll(context.Background(), "uploads", "incoming/credit/a.csv")
	if err != nil || !bytes.Equal(got, credit.CSV()) || info.ETag == "" {
		t.Fatalf("read back %d bytes, %v (etag %q)", len(got), err, info.ETag)
	}
}

func TestSyncBufferReadsWhileWritten(t *testing.T) {
	var b lambdatest.SyncBuffer
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() { fmt.Fprintf(&b, "%d", i) })
		_ = b.String()
	}
	wg.Wait()
	if len(b.String()) != 4 {
		t.Fatalf("%q: want the four writes", b.String())
	}
}
