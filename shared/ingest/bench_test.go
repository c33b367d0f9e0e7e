package ingest_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
)

// BenchmarkIngestEndToEnd times one whole ingest (read through S3, hash, validate,
// profile, gzip and stage the canonical form, copy the payload, write the profile
// and manifest, publish) of a credit-shaped file already in the embedded S3.
// INGEST_BENCH_FILE names the input (e.g. /tmp/mlops-bench/credit-1gb.csv, made by
// `go run ./bench/ingest`); without it, the credit sample repeated to ~32 MB.
//
//	INGEST_BENCH_FILE=/tmp/mlops-bench/credit-1gb.csv go test -run='^$' -bench=IngestEndToEnd -benchtime=1x ./shared/ingest/
func BenchmarkIngestEndToEnd(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	var open func() io.Reader
	if path := os.Getenv("INGEST_BENCH_FILE"); path != "" {
		open = func() io.Reader {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { f.Close() })
			return f
		}
	} else {
		data := creditCSV(b)
		var buf bytes.Buffer
		buf.Write(data)
		body := data[bytes.IndexByte(data, '\n')+1:]
		for buf.Len() < 32<<20 {
			buf.Write(body)
		}
		open = func() io.Reader { return bytes.NewReader(buf.Bytes()) }
	}
	var size int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for _, k := range e.keys(platform, "") { // start from nothing: no receipt, no version
			_ = e.st.Delete(ctx, platform, k, "")
		}
		e.applyContract(lambdatest.CreditContract(b))
		key := "incoming/credit/bench.csv"
		info, err := e.st.Upload(ctx, uploads, key, open(), store.PutOptions{})
		if err != nil {
			b.Fatal(err)
		}
		head, err := e.st.Head(ctx, uploads, key)
		if err != nil {
			b.Fatal(err)
		}
		size = head.Size
		b.StartTimer()
		out, err := e.svc.Ingest(ctx, ingest.Upload{Bucket: uploads, Key: key, ETag: head.ETag, Size: size, EventTime: e.clock.Now()})
		if err != nil {
			b.Fatal(err)
		}
		if out.Receipt.Status != ingest.Accepted {
			b.Fatalf("not accepted: %+v (etag %s)", out.Receipt, info.ETag)
		}
	}
	b.SetBytes(size)
}
