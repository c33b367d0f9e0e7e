package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/openmlops/mlops/shared/event"
)

func TestPutGetListHeadDelete(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	key := "incoming/credit/a b+c=1.csv"

	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key),
		Body: strings.NewReader("x,y\n1,2\n"), ContentType: aws.String("text/csv"), Metadata: map[string]string{"origin": "test"}})
	if err != nil {
		t.Fatal(err)
	}
	if *put.ETag != `"a5a4b6e7ba9a4e4ce2c43c8a2ba61d4e"` && len(*put.ETag) != 34 {
		t.Fatalf("etag %s", *put.ETag)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if string(b) != "x,y\n1,2\n" || *get.ETag != *put.ETag || *get.ContentType != "text/csv" || get.Metadata["origin"] != "test" {
		t.Fatalf("get: %q etag=%s ct=%s meta=%v", b, *get.ETag, *get.ContentType, get.Metadata)
	}
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || *head.ContentLength != 8 || *head.ETag != *put.ETag {
		t.Fatalf("head: %v %+v", err, head)
	}
	list, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("incoming/")})
	if err != nil || len(list.Contents) != 1 || *list.Contents[0].Key != key || *list.Contents[0].ETag != *put.ETag {
		t.Fatalf("list: %v %+v", err, list)
	}
	buckets, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 2 {
		t.Fatalf("buckets: %v %+v", err, buckets)
	}
	// Overwriting replaces the metadata, as S3 does.
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key), Body: strings.NewReader("v2")}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil || len(head.Metadata) != 0 || *head.ContentType != "application/octet-stream" {
		t.Fatalf("head after overwrite: %v meta=%v ct=%v", err, head.Metadata, aws.ToString(head.ContentType))
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	wantCode(t, err, "NoSuchKey")
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("nope"), Key: aws.String("k"), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchBucket")

	evs := rec.all()
	if len(evs) != 2 {
		t.Fatalf("want 2 events, got %d", len(evs))
	}
	ev := evs[0]
	if ev.Version != "0" || ev.DetailType != "Object Created" || ev.Source != "aws.s3" || ev.Account != "000000000000" ||
		ev.Region != "us-east-1" || len(ev.Resources) != 1 || ev.Resources[0] != "arn:aws:s3:::platform" ||
		len(ev.ID) != 36 || ev.Time.Nanosecond() != 0 || ev.Time.Location().String() != "UTC" {
		t.Fatalf("envelope: %+v", ev)
	}
	var d event.S3ObjectCreatedDetail
	if err := json.Unmarshal(ev.Detail, &d); err != nil {
		t.Fatal(err)
	}
	if d.Version != "0" || d.Bucket.Name != testBucket || d.Object.Key != "incoming/credit/a+b%2Bc%3D1.csv" ||
		d.Object.Size != 8 || `"`+d.Object.ETag+`"` != *put.ETag || d.Object.Sequencer == "" || d.RequestID == "" ||
		d.Requester != "000000000000" || d.SourceIPAddress != "127.0.0.1" || d.Reason != "PutObject" {
		t.Fatalf("detail: %s", ev.Detail)
	}
	if strings.Contains(string(ev.Detail), "version-id") {
		t.Fatalf("version-id must be omitted when unversioned: %s", ev.Detail)
	}
	var d2 event.S3ObjectCreatedDetail
	_ = json.Unmarshal(evs[1].Detail, &d2)
	if d2.Object.Sequencer <= d.Object.Sequencer {
		t.Fatalf("sequencer not increasing: %s then %s", d.Object.Sequencer, d2.Object.Sequencer)
	}
}

func TestCopyObject(t *testing.T) {
	rec := &recorder{}
	s := startServer(t, t.TempDir(), rec)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("src/a b"),
		Body: strings.NewReader("payload"), Metadata: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("dst"),
		CopySource: aws.String(testBucket + "/src/a%20b"), CopySourceIfMatch: aws.String(`"0000"`)})
	wantCode(t, err, "PreconditionFailed")
	cp, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("uploads"), Key: aws.String("dst"),
		CopySource: aws.String(testBucket + "/src/a%20b"), CopySourceIfMatch: put.ETag})
	if err != nil {
		t.Fatal(err)
	}
	if *cp.CopyObjectResult.ETag != *put.ETag {
		t.Fatalf("copy etag %s", *cp.CopyObjectResult.ETag)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("uploads"), Key: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(get.Body)
	if string(b) != "payload" || get.Metadata["k"] != "v" {
		t.Fatalf("copied %q %v", b, get.Metadata)
	}
	evs := rec.all()
	var d event.S3ObjectCreatedDetail
	_ = json.Unmarshal(evs[len(evs)-1].Detail, &d)
	if len(evs) != 2 || d.Reason != "CopyObject" || d.Bucket.Name != "uploads" || d.Object.Size != 7 {
		t.Fatalf("events: %d %+v", len(evs), d)
	}
}

func TestMultipartViaSDK(t *testing.T) {
	rec := &recorder{}
	dir := t.TempDir()
	s := startServer(t, dir, rec)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	key := "datasets/big.bin"
	create, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), ContentType: aws.String("application/x-test")})
	if err != nil {
		t.Fatal(err)
	}
	part1 := bytes.Repeat([]byte("a"), minPartSize)
	part2 := []byte("tail")
	var done []types.CompletedPart
	for i, p := range [][]byte{part1, part2} {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	parts, err := c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId})
	if err != nil || len(parts.Parts) != 2 {
		t.Fatalf("list parts: %v %+v", err, parts)
	}
	uploads, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String(testBucket)})
	if err != nil || len(uploads.Uploads) != 1 {
		t.Fatalf("list uploads: %v %+v", err, uploads)
	}
	buckets, _ := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	for _, b := range buckets.Buckets {
		if strings.HasPrefix(*b.Name, ".") {
			t.Fatalf("hidden dir listed as bucket: %s", *b.Name)
		}
	}
	// Validation as AWS does it.
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[1], done[0]}}})
	wantCode(t, err, "InvalidPartOrder")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: aws.String(`"00"`), PartNumber: aws.Int32(1)}, done[1]}}})
	wantCode(t, err, "InvalidPart")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[1]}}, IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatalf("single small last part must be fine: %v", err)
	}
	// That completed the upload (with part 2 only); start again for the real object.
	create, _ = c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), ContentType: aws.String("application/x-test")})
	done = nil
	for i, p := range [][]byte{part2, part1} {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}})
	wantCode(t, err, "EntityTooSmall")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, IfNoneMatch: aws.String("*")})
	if errCode(err) != "EntityTooSmall" {
		t.Fatalf("want EntityTooSmall first, got %v", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId})
	wantCode(t, err, "NoSuchUpload")

	create, _ = c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), ContentType: aws.String("application/x-test")})
	done = nil
	for i, p := range [][]byte{part1, part2} {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	prev, _ := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	comp, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String(testBucket), Key: aws.String(key), UploadId: create.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, IfMatch: prev.ETag})
	if err != nil {
		t.Fatal(err)
	}
	want := multipartETag(part1, part2)
	if *comp.ETag != want {
		t.Fatalf("etag %s want %s", *comp.ETag, want)
	}
	get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(get.Body)
	if !bytes.Equal(b, append(append([]byte{}, part1...), part2...)) || *get.ETag != want || *get.ContentType != "application/x-test" {
		t.Fatalf("get: len %d etag %s ct %s", len(b), *get.ETag, *get.ContentType)
	}
	list, _ := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(testBucket)})
	if len(list.Contents) != 1 || *list.Contents[0].ETag != want {
		t.Fatalf("list etag: %+v", list.Contents)
	}
	evs := rec.all()
	var d event.S3ObjectCreatedDetail
	_ = json.Unmarshal(evs[len(evs)-1].Detail, &d)
	if len(evs) != 2 || d.Reason != "CompleteMultipartUpload" || `"`+d.Object.ETag+`"` != want || d.Object.Size != int64(len(b)) {
		t.Fatalf("events %d: %s", len(evs), evs[len(evs)-1].Detail)
	}
}

// Listing a prefix under which nothing was ever written is an empty listing, as on
// S3, not NoSuchBucket (s3afero's answer when the prefix names a missing folder).
func TestListMissingPrefixIsEmpty(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	for _, delim := range []*string{nil, aws.String("/")} {
		out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String(testBucket), Prefix: aws.String("nothing/here/"), Delimiter: delim})
		if err != nil {
			t.Fatalf("delimiter %v: %v", delim, err)
		}
		if len(out.Contents) != 0 || len(out.CommonPrefixes) != 0 {
			t.Fatalf("delimiter %v: %d objects", delim, len(out.Contents))
		}
	}
	if _, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket"), Prefix: aws.String("x/")}); err == nil {
		t.Fatal("listing a missing bucket succeeded")
	}
}

// Bodies of many sizes, past the SDK's and the server's buffers, are stored exactly by a
// PUT and by a copy, and a body changed after it was signed is refused without a trace,
// whatever its size.
func TestBodiesStoredWholeOrRefused(t *testing.T) {
	s := startServer(t, t.TempDir(), nil)
	c := sdkClient(s.URL(), testKeyID, testSecret)
	ctx := context.Background()
	signer := v4.NewSigner()
	creds := aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}
	for _, n := range []int{0, 1, 32<<10 - 1, 32 << 10, 1<<20 + 1, 3<<20 + 7} {
		body := make([]byte, n)
		for i := range body {
			body[i] = byte(i*7 + i/251)
		}
		key := fmt.Sprintf("body/%d", n)
		put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key),
			Body: bytes.NewReader(body)})
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		sum := md5.Sum(body)
		if want := `"` + hex.EncodeToString(sum[:]) + `"`; *put.ETag != want {
			t.Fatalf("%d bytes: etag %s, want %s", n, *put.ETag, want)
		}
		if _, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key + ".copy"),
			CopySource: aws.String(testBucket + "/" + key)}); err != nil {
			t.Fatalf("%d bytes: copy: %v", n, err)
		}
		for _, k := range []string{key, key + ".copy"} {
			get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(k)})
			if err != nil {
				t.Fatal(err)
			}
			if got := readBody(t, get.Body); !bytes.Equal(got, body) || *get.ETag != *put.ETag {
				t.Fatalf("%s: %d bytes back of %d, etag %s", k, len(got), n, *get.ETag)
			}
		}

		// The same length, one byte changed after signing.
		if n == 0 {
			continue
		}
		tampered := bytes.Clone(body)
		tampered[n-1]++
		bad := key + ".tampered"
		req, err := http.NewRequest(http.MethodPut, s.URL()+"/"+testBucket+"/"+bad, bytes.NewReader(tampered))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Amz-Content-Sha256", hexSHA256(body))
		if err := signer.SignHTTP(ctx, creds, req, hexSHA256(body), "s3", "us-east-1", time.Now()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if msg := readBody(t, resp.Body); resp.StatusCode != 400 || !strings.Contains(string(msg), "XAmzContentSHA256Mismatch") {
			t.Fatalf("%d bytes tampered: %d %s", n, resp.StatusCode, msg)
		}
		if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(testBucket), Key: aws.String(bad)}); err == nil {
			t.Fatalf("%d bytes tampered: committed", n)
		}
	}
	if left, _ := os.ReadDir(s.tmpDir); len(left) != 0 {
		t.Fatalf("left in %s: %v", s.tmpDir, left)
	}
}
