// Package store is the platform's only state store: S3, reached through
// aws-sdk-go-v2, with AWS's conditional-write semantics (docs/design.md, Decision 1).
//
// The same code talks to AWS and to the embedded local endpoint; only the
// client's endpoint differs (NewClient). Conditional writes are the platform's
// concurrency control, so their outcomes are surfaced as typed errors:
//
//   - ErrPrecondition: If-None-Match: * found the key (someone already claimed
//     it: treat as done), or If-Match found another ETag (re-read and retry).
//   - ErrNotFound: the key (or bucket) is missing, including If-Match on a
//     missing key, which AWS answers with 404.
//   - ErrConflict: AWS kept answering 409 ConditionalRequestConflict after the
//     configured retries.
//
// Every failure is an *Error naming the operation, bucket and key; test with
// errors.Is against the sentinels.
package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Sentinel errors. Callers test with errors.Is; *Error unwraps to one of these
// when the server's answer maps onto it.
var (
	// ErrNotFound: 404 NoSuchKey / NoSuchBucket / NotFound, and If-Match on a
	// missing key.
	ErrNotFound = errors.New("not found")
	// ErrPrecondition: 412, If-None-Match: * found the key, or If-Match found
	// another ETag.
	ErrPrecondition = errors.New("precondition failed")
	// ErrConflict: 409 ConditionalRequestConflict, still there after retries.
	ErrConflict = errors.New("conditional request conflict")
	// ErrNotModified: 304, a read with If-None-Match found the object still
	// has that ETag (the caller's copy is current).
	ErrNotModified = errors.New("not modified")
)

// Error is the error every Store operation returns on failure.
type Error struct {
	Op     string // get, head, put, create, swap, upload, copy, delete, list
	Bucket string
	Key    string // the key, or the prefix for list operations
	Status int    // HTTP status, 0 when no response was received
	Code   string // S3 error code, e.g. PreconditionFailed
	// Message is the server's (or, for checks done on this side, our)
	// explanation; kept apart from Err so that Err can be a sentinel.
	Message string
	Err     error // a sentinel above, or the underlying error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s/%s", e.Op, e.Bucket, e.Key)
	if e.Code != "" || e.Status != 0 {
		fmt.Fprintf(&b, ": %s (HTTP %d)", e.Code, e.Status)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	// The SDK's error text already carries the server message; add it only
	// when Err is a sentinel, which would otherwise hide it.
	if e.Message != "" && isSentinel(e.Err) {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Unwrap returns the sentinel, or the underlying error when the failure maps
// onto none of them (so errors.As still reaches smithy.APIError then).
func (e *Error) Unwrap() error { return e.Err }

func isSentinel(err error) bool {
	return err == ErrNotFound || err == ErrPrecondition || err == ErrConflict
}

// ObjectInfo describes an object. ETag is always without quotes.
type ObjectInfo struct {
	Bucket, Key     string
	ETag            string
	VersionID       string
	Size            int64
	LastModified    time.Time // zero where the operation's response omits it (Put, Upload)
	ContentType     string
	ContentEncoding string
	CacheControl    string
	Metadata        map[string]string
}

// PutOptions are the headers and conditions of a write.
type PutOptions struct {
	ContentType     string
	ContentEncoding string
	// CacheControl is the Cache-Control header S3 (and a CDN before it)
	// serves the object with.
	CacheControl string
	Metadata     map[string]string
	IfNoneMatch  bool   // If-None-Match: *, create only if the key is absent
	IfMatch      string // write only if the current ETag is this one (quoted or not)
	// LockMode ("GOVERNANCE" or "COMPLIANCE") and LockUntil are the S3
	// Object Lock retention the object is written with (the bucket must have
	// Object Lock enabled); empty: none.
	LockMode  string
	LockUntil time.Time
}

// GetOptions select what a read returns.
type GetOptions struct {
	IfMatch string // read only if the current ETag is this one (quoted or not)
	// IfNoneMatch reads only if the current ETag is not this one: a match
	// answers ErrNotModified (a cache's revalidation).
	IfNoneMatch string
	VersionID   string
}

// CopySource names the object a Copy reads.
type CopySource struct {
	Bucket, Key string
	IfMatch     string // copy only if the source's ETag is this one
	VersionID   string
}

// Options tune a Store. Zero values pick the defaults.
type Options struct {
	// PartSize is the multipart part size for Upload: default 16 MiB; values
	// under S3's 5 MiB minimum are raised to it.
	PartSize int64
	// ConflictRetries is how many times a 409 ConditionalRequestConflict is
	// retried before ErrConflict: default 5; negative means no retry.
	ConflictRetries int
	// Concurrency is how many parts Upload keeps in flight: default 2.
	Concurrency int
	// ConflictBackoff is the base of the jittered exponential backoff between
	// conflict retries: default 100ms.
	ConflictBackoff time.Duration
}

const (
	minPartSize     = 5 << 20
	defaultPartSize = 16 << 20
	maxParts        = 10000
	maxBackoff      = 5 * time.Second
	// abortTimeout bounds the clean-up of a failed multipart upload, which runs
	// even after the caller's context is cancelled.
	abortTimeout = time.Minute
)

func (o Options) withDefaults() Options {
	if o.PartSize == 0 {
		o.PartSize = defaultPartSize
	}
	if o.PartSize < minPartSize {
		o.PartSize = minPartSize
	}
	switch {
	case o.ConflictRetries == 0:
		o.ConflictRetries = 5
	case o.ConflictRetries < 0:
		o.ConflictRetries = 0
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	if o.ConflictBackoff <= 0 {
		o.ConflictBackoff = 100 * time.Millisecond
	}
	return o
}

// Store is safe for concurrent use; it holds no mutable state of its own.
type Store struct {
	client *s3.Client
	opt    Options
}

// New returns a Store over client.
func New(client *s3.Client, opt Options) *Store {
	return &Store{client: client, opt: opt.withDefaults()}
}

// NewClient builds the S3 client for AWS (endpoint "") or for an
// S3-compatible endpoint such as the embedded local one (BaseEndpoint, usually
// with pathStyle, since local hosts have no per-bucket DNS).
func NewClient(cfg aws.Config, endpoint string, pathStyle bool) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
		// An object written without a checksum (every multipart part of a
		// large upload, any S3-compatible server without them) is read
		// unchecked; the SDK would say so on stderr at every read, a line
		// that is not JSON in a Lambda's log. The platform checks what it
		// reads by its own SHA-256 where it matters (bundles, datasets).
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// wrap turns an SDK error into an *Error, mapping it onto a sentinel by HTTP
// status and S3 error code (never by message text).
func wrap(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Bucket: bucket, Key: key, Err: err}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		e.Status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
		e.Message = ae.ErrorMessage()
	}
	switch {
	case e.Status == http.StatusNotFound:
		e.Err = ErrNotFound
	case e.Status == http.StatusPreconditionFailed:
		e.Err = ErrPrecondition
	case e.Status == http.StatusNotModified:
		e.Err = ErrNotModified
	case e.Status == http.StatusConflict && e.Code == "ConditionalRequestConflict":
		e.Err = ErrConflict
	}
	return e
}

// localError builds an *Error for a condition this side checked, shaped like
// the server's answer so callers cannot tell the two apart.
func localError(op, bucket, key string, sentinel error, msg string) error {
	e := &Error{Op: op, Bucket: bucket, Key: key, Err: sentinel, Message: msg}
	switch sentinel {
	case ErrNotFound:
		e.Status, e.Code = http.StatusNotFound, "NoSuchKey"
	case ErrPrecondition:
		e.Status, e.Code = http.StatusPreconditionFailed, "PreconditionFailed"
	case ErrNotModified:
		e.Status, e.Code = http.StatusNotModified, "NotModified"
	}
	return e
}

// retryConflict runs call until it stops failing with ErrConflict, at most
// 1+ConflictRetries times. AWS answers 409 when another conditional write on
// the key is in flight and advises retrying; the jitter keeps competing
// writers from colliding again in lockstep.
func (s *Store) retryConflict(ctx context.Context, call func() error) error {
	for attempt := 0; ; attempt++ {
		err := call()
		if err == nil || !errors.Is(err, ErrConflict) || attempt >= s.opt.ConflictRetries {
			return err
		}
		// The shift is capped so a large retry count cannot overflow.
		ceiling := min(s.opt.ConflictBackoff<<min(attempt, 16), maxBackoff)
		t := time.NewTimer(rand.N(ceiling) + 1)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// quoteETag accepts an ETag quoted or not and returns the quoted form HTTP
// conditional headers carry.
func quoteETag(etag string) string {
	if etag == "" || etag == "*" {
		return etag
	}
	return `"` + unquoteETag(etag) + `"`
}

func unquoteETag(etag string) string {
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(etag, "W/"), `"`), `"`)
}

func strOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
