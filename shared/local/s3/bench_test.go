package s3

import (
	"bytes"
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// PUTs of one body through the SDK, each to a new key, as the prediction
// log's writers make them. The time is the client's and the server's
// together; cpu-ns/op is the process's CPU (user and system) a PUT, which the
// wall time hides: most of a small PUT's is the kernel's work on the files,
// and the rest of the wall time waits for the disk.
func BenchmarkPut(b *testing.B) {
	s := startServer(b, b.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		size int
	}{{"1KiB", 1 << 10}, {"512KiB", 512 << 10}, {"1MiB+1", 1<<20 + 1}, {"4MiB", 4 << 20}} {
		name, size := bc.name, bc.size
		body := bytes.Repeat([]byte(`{"schema":"mlops.prediction/1","index":0}`+"\n"), size/42+1)[:size]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			i := 0
			cpu0 := processCPU()
			for b.Loop() {
				i++
				if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket),
					Key: aws.String(fmt.Sprintf("bench/%s/%d", name, i)), Body: bytes.NewReader(body)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
