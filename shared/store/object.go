package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Get streams an object. The caller closes the body.
//
// With opt.IfMatch, S3 answers 412 when the object changed; the returned ETag
// is also compared here, so a server that ignores If-Match on GET (gofakes3
// does) still cannot hand back a different version than the one asked for.
func (s *Store) Get(ctx context.Context, bucket, key string, opt GetOptions) (io.ReadCloser, ObjectInfo, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket:      aws.String(bucket),
		Key:         aws.String(key),
		IfMatch:     strOrNil(quoteETag(opt.IfMatch)),
		IfNoneMatch: strOrNil(quoteETag(opt.IfNoneMatch)),
		VersionId:   strOrNil(opt.VersionID),
	})
	if err != nil {
		return nil, ObjectInfo{}, wrap("get", bucket, key, err)
	}
	info := ObjectInfo{
		Bucket:          bucket,
		Key:             key,
		ETag:            unquoteETag(aws.ToString(out.ETag)),
		VersionID:       aws.ToString(out.VersionId),
		Size:            aws.ToInt64(out.ContentLength),
		LastModified:    aws.ToTime(out.LastModified),
		ContentType:     aws.ToString(out.ContentType),
		ContentEncoding: aws.ToString(out.ContentEncoding),
		CacheControl:    aws.ToString(out.CacheControl),
		Metadata:        out.Metadata,
	}
	if opt.IfMatch != "" && info.ETag != unquoteETag(opt.IfMatch) {
		_ = out.Body.Close()
		return nil, ObjectInfo{}, localError("get", bucket, key, ErrPrecondition,
			fmt.Sprintf("current ETag %s, If-Match %s", info.ETag, unquoteETag(opt.IfMatch)))
	}
	if opt.IfNoneMatch != "" && info.ETag == unquoteETag(opt.IfNoneMatch) {
		_ = out.Body.Close()
		return nil, ObjectInfo{}, localError("get", bucket, key, ErrNotModified, "ETag "+info.ETag+" unchanged")
	}
	return out.Body, info, nil
}

// ReadAll reads a whole object into memory; meant for small objects such as
// manifests and pointers.
func (s *Store) ReadAll(ctx context.Context, bucket, key string) ([]byte, ObjectInfo, error) {
	return s.ReadAllIfChanged(ctx, bucket, key, "")
}

// ReadAllIfChanged is ReadAll, unless the object's ETag is still etag: then
// it answers ErrNotModified with nothing read ("" reads in any case).
func (s *Store) ReadAllIfChanged(ctx context.Context, bucket, key, etag string) ([]byte, ObjectInfo, error) {
	body, info, err := s.Get(ctx, bucket, key, GetOptions{IfNoneMatch: etag})
	if err != nil {
		return nil, ObjectInfo{}, err
	}
	defer body.Close()
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, ObjectInfo{}, &Error{Op: "get", Bucket: bucket, Key: key, Err: fmt.Errorf("read body: %w", err)}
	}
	return b, info, nil
}

// Head returns an object's metadata.
func (s *Store) Head(ctx context.Context, bucket, key string) (ObjectInfo, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return ObjectInfo{}, wrap("head", bucket, key, err)
	}
	return ObjectInfo{
		Bucket:          bucket,
		Key:             key,
		ETag:            unquoteETag(aws.ToString(out.ETag)),
		VersionID:       aws.ToString(out.VersionId),
		Size:            aws.ToInt64(out.ContentLength),
		LastModified:    aws.ToTime(out.LastModified),
		ContentType:     aws.ToString(out.ContentType),
		ContentEncoding: aws.ToString(out.ContentEncoding),
		Metadata:        out.Metadata,
	}, nil
}

// Put writes body under the conditions in opt.
func (s *Store) Put(ctx context.Context, bucket, key string, body []byte, opt PutOptions) (ObjectInfo, error) {
	return s.put(ctx, "put", bucket, key, body, opt)
}

// Create writes body only if key does not exist yet (If-None-Match: *). A
// second Create of the key fails with ErrPrecondition: the claim is taken.
func (s *Store) Create(ctx context.Context, bucket, key string, body []byte, opt PutOptions) (ObjectInfo, error) {
	opt.IfNoneMatch, opt.IfMatch = true, ""
	return s.put(ctx, "create", bucket, key, body, opt)
}

// Swap replaces the object only if its ETag is still etag (compare-and-swap):
// ErrPrecondition if it changed, ErrNotFound if it is gone.
func (s *Store) Swap(ctx context.Context, bucket, key, etag string, body []byte, opt PutOptions) (ObjectInfo, error) {
	if unquoteETag(etag) == "" {
		return ObjectInfo{}, &Error{Op: "swap", Bucket: bucket, Key: key, Err: errors.New("empty etag")}
	}
	opt.IfNoneMatch, opt.IfMatch = false, etag
	return s.put(ctx, "swap", bucket, key, body, opt)
}

func (s *Store) put(ctx context.Context, op, bucket, key string, body []byte, opt PutOptions) (ObjectInfo, error) {
	var out *s3.PutObjectOutput
	err := s.retryConflict(ctx, func() error {
		var err error
		// A fresh reader per attempt: the previous one may be consumed.
		out, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:                    aws.String(bucket),
			Key:                       aws.String(key),
			Body:                      bytes.NewReader(body),
			ContentLength:             aws.Int64(int64(len(body))),
			ContentType:               strOrNil(opt.ContentType),
			ContentEncoding:           strOrNil(opt.ContentEncoding),
			CacheControl:              strOrNil(opt.CacheControl),
			Metadata:                  opt.Metadata,
			IfNoneMatch:               ifNoneMatch(opt.IfNoneMatch),
			IfMatch:                   strOrNil(quoteETag(opt.IfMatch)),
			ObjectLockMode:            types.ObjectLockMode(opt.LockMode),
			ObjectLockRetainUntilDate: timeOrNil(opt.LockUntil),
		})
		return wrap(op, bucket, key, err)
	})
	if err != nil {
		return ObjectInfo{}, s.ifMatchMissing(ctx, op, bucket, key, opt.IfMatch, err)
	}
	return ObjectInfo{
		Bucket:          bucket,
		Key:             key,
		ETag:            unquoteETag(aws.ToString(out.ETag)),
		VersionID:       aws.ToString(out.VersionId),
		Size:            int64(len(body)),
		ContentType:     opt.ContentType,
		ContentEncoding: opt.ContentEncoding,
		CacheControl:    opt.CacheControl,
		Metadata:        opt.Metadata,
	}, nil
}

// timeOrNil is t for the SDK, nil when zero.
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ifMatchMissing makes If-Match on a missing key come out as ErrNotFound, as
// on AWS (404), on servers that answer 412 instead (gofakes3 does): on a 412
// for an If-Match write, it asks whether the key still exists.
func (s *Store) ifMatchMissing(ctx context.Context, op, bucket, key, ifMatch string, err error) error {
	if ifMatch == "" || !errors.Is(err, ErrPrecondition) {
		return err
	}
	if _, herr := s.Head(ctx, bucket, key); errors.Is(herr, ErrNotFound) {
		return localError(op, bucket, key, ErrNotFound, "If-Match on a missing key")
	}
	return err
}

// preflight checks write conditions with a HEAD before work that is costly to
// throw away (a multipart upload) or that some S3 implementations run without
// honouring the condition header (gofakes3 ignores it on CopyObject,
// CompleteMultipartUpload and DeleteObject). The header is still sent: on AWS
// it, not this check, is what makes the write atomic.
func (s *Store) preflight(ctx context.Context, op, bucket, key string, ifNoneMatch bool, ifMatch string) error {
	if !ifNoneMatch && ifMatch == "" {
		return nil
	}
	info, err := s.Head(ctx, bucket, key)
	switch {
	case errors.Is(err, ErrNotFound):
		if ifMatch != "" {
			return localError(op, bucket, key, ErrNotFound, "If-Match on a missing key")
		}
		return nil
	case err != nil:
		return err
	case ifNoneMatch:
		return localError(op, bucket, key, ErrPrecondition, "If-None-Match: * and the key exists")
	case info.ETag != unquoteETag(ifMatch):
		return localError(op, bucket, key, ErrPrecondition,
			fmt.Sprintf("current ETag %s, If-Match %s", info.ETag, unquoteETag(ifMatch)))
	}
	return nil
}

func ifNoneMatch(on bool) *string {
	if on {
		return aws.String("*")
	}
	return nil
}

// Copy copies src to dstBucket/dstKey on the server side.
//
// opt.IfNoneMatch makes the copy create-once at the destination. AWS
// CopyObject supports If-None-Match: * (and If-Match) on the destination, with
// the same 412/409 semantics as PutObject, so the header is sent and is what
// makes it atomic on AWS. Because gofakes3 ignores that header on copies, a
// HEAD of the destination runs first as well (see preflight); against such a
// server a concurrent writer could slip in between, which is harmless for the
// content-addressed destinations Copy is used for (same key, same bytes).
//
// With opt.ContentType, ContentEncoding or Metadata set, they replace the
// source's; otherwise the source's are kept. Size is not reported: CopyObject's
// response does not carry it.
func (s *Store) Copy(ctx context.Context, src CopySource, dstBucket, dstKey string, opt PutOptions) (ObjectInfo, error) {
	const op = "copy"
	if err := s.preflight(ctx, op, src.Bucket, src.Key, false, src.IfMatch); err != nil {
		return ObjectInfo{}, err
	}
	if err := s.preflight(ctx, op, dstBucket, dstKey, opt.IfNoneMatch, opt.IfMatch); err != nil {
		return ObjectInfo{}, err
	}
	source := escapeCopySource(src.Bucket, src.Key)
	if src.VersionID != "" {
		source += "?versionId=" + url.QueryEscape(src.VersionID)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(dstBucket),
		Key:               aws.String(dstKey),
		CopySource:        aws.String(source),
		CopySourceIfMatch: strOrNil(quoteETag(src.IfMatch)),
		IfNoneMatch:       ifNoneMatch(opt.IfNoneMatch),
		IfMatch:           strOrNil(quoteETag(opt.IfMatch)),
	}
	if opt.ContentType != "" || opt.ContentEncoding != "" || opt.Metadata != nil {
		in.MetadataDirective = types.MetadataDirectiveReplace
		in.ContentType = strOrNil(opt.ContentType)
		in.ContentEncoding = strOrNil(opt.ContentEncoding)
		in.Metadata = opt.Metadata
	}
	var out *s3.CopyObjectOutput
	err := s.retryConflict(ctx, func() error {
		var err error
		out, err = s.client.CopyObject(ctx, in)
		return wrap(op, dstBucket, dstKey, err)
	})
	if err != nil {
		return ObjectInfo{}, s.ifMatchMissing(ctx, op, dstBucket, dstKey, opt.IfMatch, err)
	}
	info := ObjectInfo{
		Bucket:          dstBucket,
		Key:             dstKey,
		VersionID:       aws.ToString(out.VersionId),
		ContentType:     opt.ContentType,
		ContentEncoding: opt.ContentEncoding,
		Metadata:        opt.Metadata,
	}
	if r := out.CopyObjectResult; r != nil {
		info.ETag = unquoteETag(aws.ToString(r.ETag))
		info.LastModified = aws.ToTime(r.LastModified)
	}
	return info, nil
}

// escapeCopySource URL-encodes "bucket/key" for x-amz-copy-source, segment by
// segment so the slashes survive. Spaces become %20 and '+' becomes %2B:
// servers decode this header as a query string would, where '+' is a space.
func escapeCopySource(bucket, key string) string {
	segs := strings.Split(bucket+"/"+key, "/")
	for i, seg := range segs {
		segs[i] = strings.ReplaceAll(url.QueryEscape(seg), "+", "%20")
	}
	return strings.Join(segs, "/")
}

// Delete removes an object. With ifMatch "" it is unconditional and a missing
// key is not an error (S3 answers 204 either way). With ifMatch it deletes only
// that version of the content: ErrPrecondition if the ETag differs,
// ErrNotFound if the key is missing.
func (s *Store) Delete(ctx context.Context, bucket, key, ifMatch string) error {
	const op = "delete"
	// gofakes3 ignores If-Match on DELETE; see preflight.
	if err := s.preflight(ctx, op, bucket, key, false, ifMatch); err != nil {
		return err
	}
	err := s.retryConflict(ctx, func() error {
		_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket:  aws.String(bucket),
			Key:     aws.String(key),
			IfMatch: strOrNil(quoteETag(ifMatch)),
		})
		return wrap(op, bucket, key, err)
	})
	var e *Error
	if ifMatch == "" && errors.As(err, &e) && e.Status == 404 && e.Code != "NoSuchBucket" {
		return nil
	}
	if err != nil {
		return s.ifMatchMissing(ctx, op, bucket, key, ifMatch, err)
	}
	return nil
}

// List calls fn for every object under prefix, in key order, page by page, so
// memory stays flat however many keys there are. An error from fn stops the
// listing and is returned as is.
func (s *Store) List(ctx context.Context, bucket, prefix string, fn func(ObjectInfo) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return wrap("list", bucket, prefix, err)
		}
		for _, o := range page.Contents {
			err := fn(ObjectInfo{
				Bucket:       bucket,
				Key:          aws.ToString(o.Key),
				ETag:         unquoteETag(aws.ToString(o.ETag)),
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// ListDirs returns the common prefixes one level under prefix (delimiter
// "/"), each ending in "/".
func (s *Store) ListDirs(ctx context.Context, bucket, prefix string) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket:    aws.String(bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
	})
	var dirs []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap("list", bucket, prefix, err)
		}
		for _, cp := range page.CommonPrefixes {
			dirs = append(dirs, aws.ToString(cp.Prefix))
		}
	}
	return dirs, nil
}
