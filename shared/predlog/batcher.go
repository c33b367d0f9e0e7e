package predlog

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/shared/store"
)

// Putter is the store the Batcher writes to; *store.Store is one.
type Putter interface {
	Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error)
}

// BatcherConfig tunes a Batcher. Zero values pick the defaults.
type BatcherConfig struct {
	// Bucket is the monitoring bucket. Required.
	Bucket string
	// MaxRecords and MaxBytes (of JSON, before gzip) cut an object: once a
	// model's day holds this many, they are written. Defaults 10,000 and
	// 8 MiB.
	MaxRecords int
	MaxBytes   int
	// Interval is the longest a record waits before its object is cut.
	// Default 10 s.
	Interval time.Duration
	// MaxBuffered bounds the records held, waiting to be cut or being
	// written (and rewritten while the store fails). A Write that would
	// exceed it waits for room, as long as its context allows. Default
	// 100,000 (about 60 MB of credit-model records).
	MaxBuffered int
	// Backoff is the pause before the first retry of a failed write; it
	// doubles, with jitter, up to MaxBackoff. Defaults 200 ms and 30 s.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Logger receives failed writes and full buffers; default: discarded.
	Logger *slog.Logger
}

func (c BatcherConfig) withDefaults() (BatcherConfig, error) {
	if c.Bucket == "" {
		return c, errors.New("prediction log: no bucket")
	}
	if c.MaxRecords < 0 || c.MaxBytes < 0 || c.Interval < 0 || c.MaxBuffered < 0 || c.Backoff < 0 || c.MaxBackoff < 0 {
		return c, fmt.Errorf("prediction log: negative limits in %+v", c)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxRecords, 10_000)
	def(&c.MaxBytes, 8<<20)
	def(&c.MaxBuffered, 100_000)
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defDur(&c.Interval, 10*time.Second)
	defDur(&c.Backoff, 200*time.Millisecond)
	defDur(&c.MaxBackoff, 30*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// Batcher is the sink of a long-lived server (`mlops up`): it buffers records
// and writes one gzip JSON Lines object per model and UTC day at a time, under
// Prefix(model, day), when a model's day reaches MaxRecords or MaxBytes, every
// Interval, on Flush and on Close. A failed write is retried with backoff
// until it succeeds or Close gives up; records are never dropped to make
// room: Write waits instead (see MaxBuffered). One goroutine writes, in order.
type Batcher struct {
	st     Putter
	cfg    BatcherConfig
	log    *slog.Logger
	writer string // this Batcher's part of object keys

	mu      sync.Mutex
	parts   map[partKey]*pending
	queue   []*batch // cut, in order; queue[0] is being written
	held    int      // records in parts and queue
	closed  bool
	seq     uint64        // the last batch cut
	stored  uint64        // the last batch written
	room    chan struct{} // closed (and replaced) when held drops
	written chan struct{} // closed (and replaced) when stored grows
	full    bool          // a Write waits for room; logged once a spell
	lastErr error         // the last failed write's error

	wake chan struct{} // a batch to write, or Close
	stop context.CancelFunc
	done chan struct{} // the writing goroutine returned
}

type partKey struct{ model, day string }

type pending struct {
	buf bytes.Buffer
	n   int
}

type batch struct {
	key  string
	body []byte // JSON Lines, replaced by its gzip before the first write
	gz   bool
	n    int
	seq  uint64
}

const contentType = "application/x-ndjson"

// NewBatcher starts a Batcher writing to st. Close it to write what it holds.
func NewBatcher(st Putter, cfg BatcherConfig) (*Batcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var id [4]byte
	if _, err := crand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("prediction log: writer id: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	b := &Batcher{st: st, cfg: cfg, log: cfg.Logger, writer: hex.EncodeToString(id[:]),
		parts: map[partKey]*pending{}, room: make(chan struct{}), written: make(chan struct{}),
		wake: make(chan struct{}, 1), stop: stop, done: make(chan struct{})}
	go b.run(ctx)
	return b, nil
}

// Write takes recs into the buffer. It fails, taking none of them, for a
// record that breaks the schema or exceeds MaxRecordBytes, after Close
// (ErrClosed), or when ctx ends while the buffer is full: ctx bounds only that
// wait.
func (b *Batcher) Write(ctx context.Context, recs []Record) error {
	if len(recs) == 0 {
		return nil
	}
	lines, _, err := encodeAll(recs)
	if err != nil {
		return err
	}
	b.mu.Lock()
	// A call larger than the whole buffer still goes in when it is empty,
	// or it could never be taken.
	for !b.closed && b.held > 0 && b.held+len(recs) > b.cfg.MaxBuffered {
		if !b.full {
			b.full = true
			b.log.Warn("prediction log: buffer full, writes wait for the store", "held", b.held,
				"maxBuffered", b.cfg.MaxBuffered, "lastError", errString(b.lastErr))
		}
		room := b.room
		b.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("prediction log: buffer full (%d records, the store failing: %v): %w",
				b.cfg.MaxBuffered, errString(b.lastError()), ctx.Err())
		}
		b.mu.Lock()
	}
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	cut := false
	for i, line := range lines {
		k := partKey{recs[i].Model, recs[i].Time.UTC().Format(dayLayout)}
		p := b.parts[k]
		if p == nil {
			p = &pending{}
			b.parts[k] = p
		}
		p.buf.Write(line)
		p.n++
		if p.n >= b.cfg.MaxRecords || p.buf.Len() >= b.cfg.MaxBytes {
			b.cut(k, p)
			cut = true
		}
	}
	b.held += len(recs)
	b.mu.Unlock()
	if cut {
		b.signal()
	}
	return nil
}

// Flush cuts every model's day and waits until they, and all cut before, are
// written, or ctx ends.
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	b.cutAll()
	target := b.seq
	for b.stored < target {
		written := b.written
		b.mu.Unlock()
		b.signal()
		select {
		case <-written:
		case <-b.done:
			b.mu.Lock()
			if b.stored < target {
				b.mu.Unlock()
				return fmt.Errorf("prediction log: flush: the writer stopped: %v", errString(b.lastErr))
			}
			b.mu.Unlock()
			return nil
		case <-ctx.Done():
			return fmt.Errorf("prediction log: flush: %w (last error: %v)", ctx.Err(), errString(b.lastError()))
		}
		b.mu.Lock()
	}
	b.mu.Unlock()
	return nil
}

// Close refuses further writes and writes everything held. When it returns
// nil, every record a Write took is in the store. When ctx ends first, it
// stops retrying and returns an error that counts the records not written
// (an object being written when ctx ended may still have arrived).
func (b *Batcher) Close(ctx context.Context) error {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		b.cutAll()
		broadcast(&b.room) // waiting Writes return ErrClosed
	}
	b.mu.Unlock()
	b.signal()
	select {
	case <-b.done:
	case <-ctx.Done():
		b.stop()
		<-b.done
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held > 0 {
		err := fmt.Errorf("prediction log: closed with %d records in %d objects not written (last error: %v)",
			b.held, len(b.queue), errString(b.lastErr))
		b.log.Error(err.Error())
		return err
	}
	return nil
}

// cut moves a model's day to the queue. b.mu is held.
func (b *Batcher) cut(k partKey, p *pending) {
	b.seq++
	b.queue = append(b.queue, &batch{key: objectKey(k.model, k.day, time.Now(), b.writer, b.seq),
		body: p.buf.Bytes(), n: p.n, seq: b.seq})
	delete(b.parts, k)
}

// cutAll cuts every model's day. b.mu is held.
func (b *Batcher) cutAll() {
	for k, p := range b.parts {
		b.cut(k, p)
	}
}

func (b *Batcher) signal() {
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// run writes the queue, in order, cutting everything every Interval. It
// returns when the Batcher is closed and the queue is empty, or when ctx ends.
func (b *Batcher) run(ctx context.Context) {
	defer close(b.done)
	tick := time.NewTicker(b.cfg.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			b.mu.Lock()
			b.cutAll()
			b.mu.Unlock()
		case <-b.wake:
		}
		for {
			b.mu.Lock()
			if len(b.queue) == 0 {
				closed := b.closed
				b.mu.Unlock()
				if closed {
					return
				}
				break
			}
			bt := b.queue[0]
			b.mu.Unlock()
			if !b.put(ctx, bt) {
				return
			}
			b.mu.Lock()
			b.queue[0] = nil
			b.queue = b.queue[1:]
			b.held -= bt.n
			b.stored = bt.seq
			broadcast(&b.room)
			broadcast(&b.written)
			if b.full && b.held+b.cfg.MaxRecords <= b.cfg.MaxBuffered {
				b.full = false
				b.log.Info("prediction log: the store takes writes again; buffer has room", "held", b.held)
			}
			b.mu.Unlock()
		}
	}
}

// put writes one batch, retrying until it succeeds (true) or ctx ends (false).
func (b *Batcher) put(ctx context.Context, bt *batch) bool {
	if !bt.gz {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(bt.body) // a bytes.Buffer does not fail
		_ = zw.Close()
		bt.body, bt.gz = buf.Bytes(), true
	}
	pause := b.cfg.Backoff
	for attempt := 1; ; attempt++ {
		_, err := b.st.Put(ctx, b.cfg.Bucket, bt.key, bt.body,
			store.PutOptions{ContentType: contentType, ContentEncoding: "gzip"})
		if err == nil {
			if attempt > 1 {
				b.log.Info("prediction log: written after retries", "key", bt.key, "records", bt.n, "attempts", attempt)
			}
			return true
		}
		b.mu.Lock()
		b.lastErr = err
		b.mu.Unlock()
		if ctx.Err() != nil {
			return false
		}
		// Jitter in [pause/2, pause], so that servers failing together do not
		// retry together.
		wait := pause/2 + rand.N(pause/2+1)
		b.log.Warn("prediction log: write failed, retrying", "key", bt.key, "records", bt.n,
			"attempt", attempt, "retryIn", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
		pause = min(2*pause, b.cfg.MaxBackoff)
	}
}

func (b *Batcher) lastError() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastErr
}

func broadcast(ch *chan struct{}) {
	close(*ch)
	*ch = make(chan struct{})
}

func errString(err error) string {
	if err == nil {
		return "none"
	}
	return err.Error()
}
