package predlog_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predlog"
)

// creditRecords are n records as the endpoint logs the credit model: 13
// features from the example's applicants, a UUID request id, its two
// outputs (p_bad, label), no PII column (the example's contract has none).
func creditRecords(b *testing.B, n int) []predlog.Record {
	rows := creditRows(b)
	recs := make([]predlog.Record, n)
	for i := range recs {
		// Random request ids, times spread over the day (a million
		// requests a day), probabilities with all their digits: what gzip
		// meets in a real object.
		h := sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
		u := hex.EncodeToString(h[:16])
		req := u[:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
		r := record(req, 0, day0.Add(time.Duration(i)*86400*time.Microsecond), rows[i%len(rows)])
		r.Outputs["p_bad"] = float64(binary.BigEndian.Uint32(h[16:20])) / (1 << 32)
		r.Outputs["label"] = map[bool]string{true: "bad", false: "good"}[r.Outputs["p_bad"].(float64) >= 0.5]
		r.LatencyMs = float64(binary.BigEndian.Uint16(h[20:22])%4000) / 1000
		recs[i] = r
	}
	return recs
}

// The size of a credit-model record, as the cost arithmetic in
// docs/prediction-log.md uses it: bytes of JSON per record, and of gzip per
// record in an object of 10,000.
func BenchmarkCreditRecordSize(b *testing.B) {
	recs := creditRecords(b, 10_000)
	var body bytes.Buffer
	for b.Loop() {
		body.Reset()
		if err := predlog.NewLines(&body).Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(body.Len())/float64(len(recs)), "B/record")
	// At gzip's default level, and at BestSpeed, the level the Batcher
	// writes at.
	b.ReportMetric(float64(len(gz(body.Bytes())))/float64(len(recs)), "gzB/record")
	var fast bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&fast, gzip.BestSpeed)
	_, _ = zw.Write(body.Bytes())
	_ = zw.Close()
	b.ReportMetric(float64(fast.Len())/float64(len(recs)), "gz1B/record")
}

// Compressing an object of 10,000 credit records at gzip's default level and
// at BestSpeed, the Batcher's: MB/s of JSON.
func BenchmarkGzipCreditObject(b *testing.B) {
	recs := creditRecords(b, 10_000)
	var body bytes.Buffer
	if err := predlog.NewLines(&body).Write(context.Background(), recs); err != nil {
		b.Fatal(err)
	}
	for _, level := range []int{gzip.DefaultCompression, gzip.BestSpeed} {
		b.Run(map[int]string{gzip.DefaultCompression: "default", gzip.BestSpeed: "BestSpeed"}[level], func(b *testing.B) {
			var out bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&out, level)
			b.SetBytes(int64(body.Len()))
			for b.Loop() {
				out.Reset()
				zw.Reset(&out)
				_, _ = zw.Write(body.Bytes())
				_ = zw.Close()
			}
		})
	}
}

// Write's cost on the request path (encoding and buffering; the store's
// writes happen on the Batcher's goroutine).
func BenchmarkBatcherWrite(b *testing.B) {
	_, st := lambdatest.S3(b, bucket)
	recs := creditRecords(b, 1024)
	bt, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, Interval: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if err := bt.Write(context.Background(), recs[i%len(recs):i%len(recs)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.StopTimer()
	if err := bt.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// Encoding one credit-model record, as the sinks do for each instance on the
// request path (Lines to a writer that keeps nothing).
func BenchmarkEncodeCreditRecord(b *testing.B) {
	recs := creditRecords(b, 1024)
	l := predlog.NewLines(io.Discard)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := l.Write(context.Background(), recs[i%len(recs):i%len(recs)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The same records with their features as members in name order, as the
// endpoint hands them over (Record.SortedFeatures).
func BenchmarkEncodeCreditRecordMembers(b *testing.B) {
	recs := creditRecords(b, 1024)
	for i := range recs {
		recs[i].Features, recs[i].SortedFeatures = nil, sortedMembers(recs[i].Features)
	}
	l := predlog.NewLines(io.Discard)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := l.Write(context.Background(), recs[i%len(recs):i%len(recs)+1]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// A request of 32 instances as the endpoint hands it over: the records
// share their request id, time, model and bundle, and give their features
// and outputs as members, each output number as its text (json.Number). The
// figure is per record.
func BenchmarkEncodeCreditRequest32(b *testing.B) {
	recs := creditRecords(b, 32)
	for i := range recs {
		recs[i].RequestID, recs[i].Time, recs[i].Index = recs[0].RequestID, recs[0].Time, i
		recs[i].Features, recs[i].SortedFeatures = nil, sortedMembers(recs[i].Features)
		outs := sortedMembers(recs[i].Outputs)
		for k, o := range outs {
			if x, ok := o.Value.(float64); ok {
				text, _ := json.Marshal(x)
				outs[k].Value = json.Number(text)
			}
		}
		recs[i].Outputs, recs[i].SortedOutputs = nil, outs
	}
	l := predlog.NewLines(io.Discard)
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Write(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(recs)), "ns/record")
}

// The same record through encoding/json, as the sinks wrote it before their
// encoder was written by hand (referenceLine): the figure to compare with.
func BenchmarkEncodeCreditRecordReference(b *testing.B) {
	recs := creditRecords(b, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := referenceLine(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
