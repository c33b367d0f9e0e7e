package s3

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/event"
)

// Reasons AWS gives in an "Object Created" event.
const (
	reasonPut      = "PutObject"
	reasonComplete = "CompleteMultipartUpload"
	reasonCopy     = "CopyObject"
)

// objectCreated raises the EventBridge "Object Created" event for a committed write. The
// caller holds the key's lock, so events for one key are raised in commit order.
func (s *Server) objectCreated(r *http.Request, reason, bucket, key string, size int64, etag string) {
	if s.cfg.OnObjectCreated == nil {
		return
	}
	detail := event.S3ObjectCreatedDetail{
		Version: "0",
		Bucket:  event.S3Bucket{Name: bucket},
		Object: event.S3Object{
			Key:       eventKey(key),
			Size:      size,
			ETag:      etag,
			Sequencer: s.nextSequencer(),
		},
		RequestID:       requestID(r),
		Requester:       s.cfg.Account,
		SourceIPAddress: clientIP(r),
		Reason:          reason,
	}
	raw, err := json.Marshal(detail)
	if err != nil {
		s.log.Error("marshalling s3 event detail", "err", err)
		return
	}
	env := event.Envelope{
		Version:    "0",
		ID:         newUUID(),
		DetailType: event.S3ObjectCreated,
		Source:     event.S3Source,
		Account:    s.cfg.Account,
		Time:       time.Now().UTC().Truncate(time.Second),
		Region:     s.cfg.Region,
		Resources:  []string{"arn:aws:s3:::" + bucket},
		Detail:     raw,
	}
	// The write is committed whatever the client does next; don't let its hang-up cancel the delivery.
	s.cfg.OnObjectCreated(context.WithoutCancel(r.Context()), env)
}

// nextSequencer is monotonic across the process and, being time-based, across restarts.
func (s *Server) nextSequencer() string {
	for {
		prev := s.sequencer.Load()
		next := uint64(time.Now().UnixNano())
		if next <= prev {
			next = prev + 1
		}
		if s.sequencer.CompareAndSwap(prev, next) {
			return fmt.Sprintf("%016X", next)
		}
	}
}

// eventKey encodes a key as S3 does in event notifications: form encoding (space as '+')
// of each segment, with the '/' separators left as they are.
func eventKey(key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.QueryEscape(p)
	}
	return strings.Join(parts, "/")
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
