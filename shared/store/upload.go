package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Upload streams r, of unknown length, to bucket/key.
//
// What fits in one part goes up as a single PutObject. Anything larger is a
// multipart upload holding at most Concurrency+1 part buffers (one being
// filled, Concurrency in flight), so memory stays ≈ PartSize × (Concurrency+1)
// whatever the size of the stream.
//
// Conditions: AWS takes If-None-Match / If-Match on CompleteMultipartUpload,
// not on the parts, so they are sent there; they are also checked with a HEAD
// before the first part goes up, so a key that is already claimed costs no
// upload (and so that servers ignoring the headers on Complete, like
// gofakes3, still refuse the common case). A 409 on Complete is not retried:
// AWS says to restart the whole upload, and a stream cannot be replayed.
//
// On any failure the multipart upload is aborted, with a context that outlives
// the caller's, so no parts are left behind to be billed.
func (s *Store) Upload(ctx context.Context, bucket, key string, r io.Reader, opt PutOptions) (ObjectInfo, error) {
	const op = "upload"
	bufs := newBufferPool(s.opt.Concurrency+1, s.opt.PartSize)

	first := bufs.get()
	n1, err := io.ReadFull(r, first)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return s.put(ctx, op, bucket, key, first[:n1], opt)
	}
	if err != nil {
		return ObjectInfo{}, &Error{Op: op, Bucket: bucket, Key: key, Err: fmt.Errorf("read: %w", err)}
	}
	// The first part is full: only a second read tells whether there is more.
	second := bufs.get()
	n2, err2 := io.ReadFull(r, second)
	if n2 == 0 && err2 == io.EOF {
		return s.put(ctx, op, bucket, key, first[:n1], opt)
	}
	if err2 != nil && err2 != io.EOF && err2 != io.ErrUnexpectedEOF {
		return ObjectInfo{}, &Error{Op: op, Bucket: bucket, Key: key, Err: fmt.Errorf("read: %w", err2)}
	}

	if err := s.preflight(ctx, op, bucket, key, opt.IfNoneMatch, opt.IfMatch); err != nil {
		return ObjectInfo{}, err
	}
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(bucket),
		Key:               aws.String(key),
		ContentType:       strOrNil(opt.ContentType),
		ContentEncoding:   strOrNil(opt.ContentEncoding),
		Metadata:          opt.Metadata,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	if err != nil {
		return ObjectInfo{}, wrap(op, bucket, key, err)
	}
	up := &multipart{
		s: s, bucket: bucket, key: key, id: created.UploadId,
		bufs: bufs, sem: make(chan struct{}, s.opt.Concurrency),
	}
	info, err := up.run(ctx, r, first[:n1], second[:n2], err2 == nil, opt)
	if err != nil {
		if aerr := up.abort(ctx); aerr != nil {
			return ObjectInfo{}, errors.Join(err, aerr)
		}
		return ObjectInfo{}, s.ifMatchMissing(ctx, op, bucket, key, opt.IfMatch, err)
	}
	return info, nil
}

// multipart is the state of one multipart upload in progress.
type multipart struct {
	s           *Store
	bucket, key string
	id          *string
	bufs        *bufferPool
	sem         chan struct{} // bounds parts in flight

	mu    sync.Mutex
	parts []types.CompletedPart
	err   error // the first failure
}

// run uploads the two parts already read, then the rest of r, and completes.
func (m *multipart) run(ctx context.Context, r io.Reader, p1, p2 []byte, more bool, opt PutOptions) (ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	size := int64(len(p1) + len(p2))
	m.send(ctx, cancel, &wg, 1, p1)
	m.send(ctx, cancel, &wg, 2, p2)
	num := int32(2)
	for more && ctx.Err() == nil {
		buf := m.bufs.getCtx(ctx)
		if buf == nil {
			break
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if num == maxParts {
				m.fail(cancel, fmt.Errorf("stream exceeds %d parts of %d bytes: raise PartSize", maxParts, m.s.opt.PartSize))
				m.bufs.put(buf)
				break
			}
			num++
			size += int64(n)
			m.send(ctx, cancel, &wg, num, buf[:n])
		} else {
			m.bufs.put(buf)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			m.fail(cancel, fmt.Errorf("read: %w", err))
			break
		}
	}
	wg.Wait()
	if m.err != nil {
		return ObjectInfo{}, m.err
	}
	if err := ctx.Err(); err != nil {
		return ObjectInfo{}, wrap("upload", m.bucket, m.key, err)
	}

	sort.Slice(m.parts, func(i, j int) bool {
		return aws.ToInt32(m.parts[i].PartNumber) < aws.ToInt32(m.parts[j].PartNumber)
	})
	out, err := m.s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(m.bucket),
		Key:             aws.String(m.key),
		UploadId:        m.id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: m.parts},
		IfNoneMatch:     ifNoneMatch(opt.IfNoneMatch),
		IfMatch:         strOrNil(quoteETag(opt.IfMatch)),
	})
	if err != nil {
		return ObjectInfo{}, wrap("upload", m.bucket, m.key, err)
	}
	return ObjectInfo{
		Bucket:          m.bucket,
		Key:             m.key,
		ETag:            unquoteETag(aws.ToString(out.ETag)),
		VersionID:       aws.ToString(out.VersionId),
		Size:            size,
		ContentType:     opt.ContentType,
		ContentEncoding: opt.ContentEncoding,
		Metadata:        opt.Metadata,
	}, nil
}

// send uploads one part in its own goroutine once a slot is free; the part's
// buffer goes back to the pool when the request is done with it.
func (m *multipart) send(ctx context.Context, cancel context.CancelFunc, wg *sync.WaitGroup, num int32, part []byte) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		m.bufs.put(part)
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer func() { <-m.sem; m.bufs.put(part) }()
		out, err := m.s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:            aws.String(m.bucket),
			Key:               aws.String(m.key),
			UploadId:          m.id,
			PartNumber:        aws.Int32(num),
			Body:              bytes.NewReader(part),
			ContentLength:     aws.Int64(int64(len(part))),
			ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
		})
		if err != nil {
			m.fail(cancel, wrap("upload", m.bucket, m.key, fmt.Errorf("part %d: %w", num, err)))
			return
		}
		m.mu.Lock()
		m.parts = append(m.parts, types.CompletedPart{
			PartNumber:    aws.Int32(num),
			ETag:          out.ETag,
			ChecksumCRC32: out.ChecksumCRC32,
		})
		m.mu.Unlock()
	}()
}

// fail records the first error and stops the remaining parts.
func (m *multipart) fail(cancel context.CancelFunc, err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.mu.Unlock()
	cancel()
}

// abort removes the upload's parts. It runs on a context detached from the
// caller's, because a cancelled caller is the likeliest reason to get here.
func (m *multipart) abort(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, err := m.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   aws.String(m.bucket),
		Key:      aws.String(m.key),
		UploadId: m.id,
	})
	if err != nil {
		return wrap("abort upload", m.bucket, m.key, err)
	}
	return nil
}

// bufferPool hands out at most n buffers of one size, allocated on demand, so
// a small upload never pays for the full set.
type bufferPool struct {
	free chan []byte
	mu   sync.Mutex
	made int
	size int64
}

func newBufferPool(n int, size int64) *bufferPool {
	return &bufferPool{free: make(chan []byte, n), size: size}
}

// get returns a buffer, allocating while under the limit.
func (p *bufferPool) get() []byte {
	return p.getCtx(context.Background())
}

// getCtx is get that gives up (nil) when ctx ends while waiting.
func (p *bufferPool) getCtx(ctx context.Context) []byte {
	select {
	case b := <-p.free:
		return b
	default:
	}
	p.mu.Lock()
	if p.made < cap(p.free) {
		p.made++
		p.mu.Unlock()
		return make([]byte, p.size)
	}
	p.mu.Unlock()
	select {
	case b := <-p.free:
		return b
	case <-ctx.Done():
		return nil
	}
}

// put returns a buffer (or a slice of one) to the pool at full length.
func (p *bufferPool) put(b []byte) {
	p.free <- b[:cap(b)]
}
