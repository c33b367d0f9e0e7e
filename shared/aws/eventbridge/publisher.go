// Package eventbridge publishes the platform's events to an Amazon EventBridge
// bus: the production event.Publisher.
package eventbridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/openmlops/mlops/shared/event"
)

// MaxEntrySize is PutEvents' limit on one entry, in bytes as EventBridge counts them.
const MaxEntrySize = 256 * 1024

// MaxBatch is the most entries one PutEvents call accepts.
const MaxBatch = 10

// EntrySize is an entry's size as EventBridge computes it against MaxEntrySize:
// the UTF-8 bytes of source, detail-type, detail and each resource, plus 14
// bytes when the entry carries a time. (Go strings are UTF-8 already.)
func EntrySize(source, detailType string, detail []byte, resources []string, hasTime bool) int {
	n := len(source) + len(detailType) + len(detail)
	for _, r := range resources {
		n += len(r)
	}
	if hasTime {
		n += 14
	}
	return n
}

// EncodeDetail checks an event the way PutEvents would and returns its detail
// as JSON. It fails for a missing source or detail-type, a detail that is not a
// JSON object (EventBridge answers MalformedDetail) and an entry over
// MaxEntrySize, so callers learn of these before anything is sent. The local
// bus uses it too, so an event too large for AWS fails locally as well.
func EncodeDetail(ev event.Event) ([]byte, error) {
	if ev.Source == "" || ev.DetailType == "" {
		return nil, fmt.Errorf("event %q/%q: source and detail-type are required", ev.Source, ev.DetailType)
	}
	detail, err := json.Marshal(ev.Detail)
	if err != nil {
		return nil, fmt.Errorf("event %s/%s: marshal detail: %w", ev.Source, ev.DetailType, err)
	}
	if t := bytes.TrimLeft(detail, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("event %s/%s: detail must be a JSON object, got %.40s", ev.Source, ev.DetailType, detail)
	}
	if n := EntrySize(ev.Source, ev.DetailType, detail, ev.Resources, false); n > MaxEntrySize {
		return nil, fmt.Errorf("event %s/%s: entry is %d bytes, over PutEvents' limit of %d: details carry ids and keys, never payloads",
			ev.Source, ev.DetailType, n, MaxEntrySize)
	}
	return detail, nil
}

// API is the part of the EventBridge client the Publisher uses.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher sends events to one EventBridge bus. It implements event.Publisher.
type Publisher struct {
	client      API
	busName     string
	maxAttempts int
	backoff     func(attempt int) time.Duration
}

var _ event.Publisher = (*Publisher)(nil)

// Option configures a Publisher.
type Option func(*Publisher)

// WithMaxAttempts sets how many times an entry is sent before Publish gives up
// on it (default 4). The SDK's own retryer already retries whole calls that fail;
// these attempts are for entries PutEvents rejects one by one in a 200 response.
func WithMaxAttempts(n int) Option {
	return func(p *Publisher) {
		if n > 0 {
			p.maxAttempts = n
		}
	}
}

// WithBackoff sets the wait before re-sending failed entries; attempt is 1
// before the first re-send.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(p *Publisher) {
		if f != nil {
			p.backoff = f
		}
	}
}

// New returns a Publisher that sends to busName (a name or an ARN).
func New(client *eventbridge.Client, busName string, opts ...Option) *Publisher {
	return NewWithAPI(client, busName, opts...)
}

// NewWithAPI is New for any implementation of API.
func NewWithAPI(client API, busName string, opts ...Option) *Publisher {
	p := &Publisher{client: client, busName: busName, maxAttempts: 4, backoff: defaultBackoff}
	for _, o := range opts {
		o(p)
	}
	return p
}

// defaultBackoff is exponential with full jitter, so that publishers throttled
// together do not retry together.
func defaultBackoff(attempt int) time.Duration {
	d := 100 * time.Millisecond << min(attempt-1, 5)
	return d/2 + rand.N(d/2+1)
}

// pending is an entry still to be sent, with its position in the Publish call.
type pending struct {
	index int
	entry types.PutEventsRequestEntry
	code  string
	msg   string
}

// Publish sends the events in batches of at most MaxBatch entries. Entries that
// PutEvents rejects with a retryable code (throttling, internal failure, or a
// code this package does not know) are re-sent alone, with backoff, up to the
// attempt limit; the returned error names every entry that was not accepted.
// Nothing is sent when any event is invalid or too large.
func (p *Publisher) Publish(ctx context.Context, evs ...event.Event) error {
	todo := make([]pending, 0, len(evs))
	for i, ev := range evs {
		detail, err := EncodeDetail(ev)
		if err != nil {
			return fmt.Errorf("publish event %d: %w", i, err)
		}
		todo = append(todo, pending{index: i, entry: types.PutEventsRequestEntry{
			EventBusName: aws.String(p.busName),
			Source:       aws.String(ev.Source),
			DetailType:   aws.String(ev.DetailType),
			Detail:       aws.String(string(detail)),
			Resources:    ev.Resources,
		}})
	}
	var failed []pending
	for attempt := 1; len(todo) > 0; attempt++ {
		if attempt > 1 {
			t := time.NewTimer(p.backoff(attempt - 1))
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("publish to %s: %d entries not sent: %w", p.busName, len(todo), ctx.Err())
			case <-t.C:
			}
		}
		var retry []pending
		for start := 0; start < len(todo); start += MaxBatch {
			batch := todo[start:min(start+MaxBatch, len(todo))]
			rejected, err := p.put(ctx, batch)
			if err != nil {
				return err
			}
			for _, r := range rejected {
				if attempt < p.maxAttempts && retryable(r.code) {
					retry = append(retry, r)
				} else {
					failed = append(failed, r)
				}
			}
		}
		todo = retry
	}
	if len(failed) == 0 {
		return nil
	}
	names := make([]string, 0, len(failed))
	for _, f := range failed {
		names = append(names, fmt.Sprintf("#%d %s/%s: %s: %s", f.index, aws.ToString(f.entry.Source),
			aws.ToString(f.entry.DetailType), f.code, f.msg))
	}
	return fmt.Errorf("publish to %s: %d of %d events rejected: %s", p.busName, len(failed), len(evs), strings.Join(names, "; "))
}

// put sends one batch and returns the entries PutEvents rejected, with their codes.
func (p *Publisher) put(ctx context.Context, batch []pending) ([]pending, error) {
	entries := make([]types.PutEventsRequestEntry, len(batch))
	for i, b := range batch {
		entries[i] = b.entry
	}
	out, err := p.client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("publish to %s: PutEvents (%d entries): %w", p.busName, len(batch), err)
	}
	if out.FailedEntryCount == 0 {
		return nil, nil
	}
	// Result entries correspond one to one, in order, with request entries.
	if len(out.Entries) != len(batch) {
		return nil, fmt.Errorf("publish to %s: PutEvents reported %d failed entries but returned %d results for %d entries",
			p.busName, out.FailedEntryCount, len(out.Entries), len(batch))
	}
	var rejected []pending
	for i, r := range out.Entries {
		if r.ErrorCode == nil || *r.ErrorCode == "" {
			continue
		}
		b := batch[i]
		b.code, b.msg = *r.ErrorCode, aws.ToString(r.ErrorMessage)
		rejected = append(rejected, b)
	}
	if len(rejected) == 0 {
		return nil, errors.New("publish to " + p.busName + ": PutEvents reported failed entries but none has an error code")
	}
	return rejected, nil
}

// retryable tells the per-entry codes worth re-sending. PutEvents documents
// InternalFailure and ThrottlingException as retryable and the codes below as
// not; an unknown code is retried, since giving up early loses an event.
func retryable(code string) bool {
	switch code {
	case "AccessDeniedException", "InvalidAccountIdException", "InvalidArgument", "MalformedDetail",
		"RedactionFailure", "NotAuthorizedForSourceException", "NotAuthorizedForDetailTypeException":
		return false
	}
	return true
}
