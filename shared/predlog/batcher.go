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
	"runtime"
	"slices"
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
	// model's day holds this many, they are written. Defaults 50,000 and
	// 16 MiB (about 33,000 credit-model records): each object costs the
	// embedded S3 endpoint a fixed 1-1.5 ms of CPU (its file and metadata
	// created, synced and renamed), which at the endpoint's peak rate made
	// objects of 10,000 records 3-6% of its CPU (docs/benchmarks.md).
	MaxRecords int
	MaxBytes   int
	// Interval is the longest a record waits before its object is cut.
	// Default 10 s.
	Interval time.Duration
	// MaxBuffered and MaxBufferedBytes (of JSON) bound what is held, waiting
	// to be cut or being written (and rewritten while the store fails). A
	// Write that would exceed either waits for room, as long as its context
	// allows. Defaults 300,000 records and 128 MiB (about 260,000
	// credit-model records): room for the writers' objects and the next while
	// the store keeps up, for records of any size.
	MaxBuffered      int
	MaxBufferedBytes int
	// Writers is how many objects are written to the store at once, so that
	// one slow or failing write does not hold up the others. Default 4.
	Writers int
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
	if c.MaxRecords < 0 || c.MaxBytes < 0 || c.Interval < 0 || c.MaxBuffered < 0 || c.MaxBufferedBytes < 0 ||
		c.Writers < 0 || c.Backoff < 0 || c.MaxBackoff < 0 {
		return c, fmt.Errorf("prediction log: negative limits in %+v", c)
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxRecords, 50_000)
	def(&c.MaxBytes, 16<<20)
	def(&c.MaxBuffered, 300_000)
	def(&c.MaxBufferedBytes, 128<<20)
	def(&c.Writers, 4)
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
// Interval, on Flush and on Close. Writers goroutines write the objects cut,
// each taking the oldest waiting; a failed write is retried with backoff by
// its writer until it succeeds or Close gives up, while the others go on.
// Records are never dropped to make room: Write waits instead (see
// MaxBuffered).
//
// The request path's share is encoding (by hand, into pooled scratch) and a
// copy into the model's day's buffer; the buffers of objects written are
// reused, and each writer reuses its gzip writer and its output, so a steady
// load allocates next to nothing.
type Batcher struct {
	st     Putter
	cfg    BatcherConfig
	log    *slog.Logger
	writer string // this Batcher's part of object keys

	mu        sync.Mutex
	work      *sync.Cond // signalled when the queue grows, on Close and when stopped
	parts     map[partKey]*pending
	queue     []*batch // cut and waiting for a writer, oldest first
	unwritten []uint64 // the sequence numbers of the batches cut and not yet written, ascending
	held      int      // records in parts, queue and being written
	heldBytes int      // their bytes of JSON
	free      [][]byte // buffers of written batches, for new parts
	lastCut   int      // the bytes of the last batch cut
	closed    bool
	seq       uint64        // the last batch cut
	room      chan struct{} // closed (and replaced) when held drops
	written   chan struct{} // closed (and replaced) when a batch is written
	full      bool          // a Write waits for room; logged once a spell
	lastErr   error         // the last failed write's error

	stop context.CancelFunc
	done chan struct{} // every writer returned
}

// partKey is a model's UTC day; date is yyyymmdd, cheaper to find than text.
type partKey struct {
	model string
	date  int
}

func keyOf(r *Record) partKey {
	y, m, d := r.Time.UTC().Date()
	return partKey{r.Model, y*10000 + int(m)*100 + d}
}

type pending struct {
	day string // the partition's date, as Prefix spells it
	buf []byte // JSON Lines
	n   int
}

type batch struct {
	key  string
	body []byte // JSON Lines; back to the free list once compressed
	n    int
	size int // len(body), still held until written
	seq  uint64
}

const contentType = "application/x-ndjson"

// maxSpare is how many written objects' buffers are kept for new parts.
const maxSpare = 2

// compressPiece is how much of an object a writer compresses before it
// yields: a few milliseconds' work. Much less can starve the writers: each
// yield waits for a turn behind the requests runnable then, so a piece must
// be large enough that the writers keep up with a busy endpoint (256 KiB
// did not, in the in-process benchmark, docs/benchmarks.md).
const compressPiece = 2 << 20

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
		stop: stop, done: make(chan struct{})}
	b.work = sync.NewCond(&b.mu)
	// A stop wakes the writers waiting for work, so that they return.
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.work.Broadcast()
		b.mu.Unlock()
	})
	var writers sync.WaitGroup
	for range cfg.Writers {
		writers.Go(func() { b.writeLoop(ctx) })
	}
	go func() {
		writers.Wait()
		close(b.done)
	}()
	go b.tick(ctx)
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
	e := getEncoder()
	defer e.release()
	if err := e.encodeAll(recs); err != nil {
		return err
	}
	size := len(e.buf)
	b.mu.Lock()
	// A call larger than the whole buffer still goes in when it is empty,
	// or it could never be taken.
	for !b.closed && b.held > 0 && (b.held+len(recs) > b.cfg.MaxBuffered || b.heldBytes+size > b.cfg.MaxBufferedBytes) {
		if !b.full {
			b.full = true
			b.log.Warn("prediction log: buffer full, writes wait for the store", "held", b.held, "heldBytes", b.heldBytes,
				"maxBuffered", b.cfg.MaxBuffered, "maxBufferedBytes", b.cfg.MaxBufferedBytes, "lastError", errString(b.lastErr))
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
	var (
		k partKey
		p *pending
	)
	for i := range recs {
		// A request's records share a model and, but across midnight, a day.
		if ki := keyOf(&recs[i]); p == nil || ki != k {
			k, p = ki, b.parts[ki]
			if p == nil {
				p = &pending{day: recs[i].Time.UTC().Format(dayLayout), buf: b.newBuffer()}
				b.parts[k] = p
			}
		}
		p.buf = append(p.buf, e.line(i)...)
		p.n++
		if p.n >= b.cfg.MaxRecords || len(p.buf) >= b.cfg.MaxBytes {
			b.cut(k, p)
			p = nil
		}
	}
	b.held += len(recs)
	b.heldBytes += size
	b.mu.Unlock()
	return nil
}

// Flush cuts every model's day and waits until they, and all cut before, are
// written, or ctx ends.
func (b *Batcher) Flush(ctx context.Context) error {
	b.mu.Lock()
	b.cutAll()
	target := b.seq
	for len(b.unwritten) > 0 && b.unwritten[0] <= target {
		written := b.written
		b.mu.Unlock()
		select {
		case <-written:
		case <-b.done:
			b.mu.Lock()
			if len(b.unwritten) > 0 && b.unwritten[0] <= target {
				b.mu.Unlock()
				return fmt.Errorf("prediction log: flush: the writers stopped: %v", errString(b.lastErr))
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
		b.work.Broadcast() // writers drain the queue and return
	}
	b.mu.Unlock()
	select {
	case <-b.done:
	case <-ctx.Done():
	}
	b.stop() // the ticker, and the writers still retrying
	<-b.done
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held > 0 {
		err := fmt.Errorf("prediction log: closed with %d records in %d objects not written (last error: %v)",
			b.held, len(b.unwritten)+len(b.parts), errString(b.lastErr))
		b.log.Error(err.Error())
		return err
	}
	return nil
}

// newBuffer is a written batch's buffer to reuse or, when there is none, a
// new one the size of the last batch cut, so that it is not grown (and
// copied) a dozen times on its way to MaxBytes. b.mu is held.
func (b *Batcher) newBuffer() []byte {
	n := len(b.free)
	if n == 0 {
		return make([]byte, 0, min(b.lastCut+b.lastCut/8, b.cfg.MaxBytes+MaxRecordBytes))
	}
	buf := b.free[n-1]
	b.free[n-1] = nil
	b.free = b.free[:n-1]
	return buf[:0]
}

// recycle keeps buf for a later part: a steady load, whose objects are
// written about as fast as they are cut, then allocates none. No more than
// maxSpare, nor one much larger than MaxBytes, so that what a burst grew is
// not pinned for good: at most about 41 MiB with the defaults.
func (b *Batcher) recycle(buf []byte) {
	b.mu.Lock()
	if len(b.free) < maxSpare && cap(buf) <= b.cfg.MaxBytes+b.cfg.MaxBytes/4+MaxRecordBytes {
		b.free = append(b.free, buf)
	}
	b.mu.Unlock()
}

// cut moves a model's day to the queue. b.mu is held.
func (b *Batcher) cut(k partKey, p *pending) {
	b.seq++
	b.lastCut = len(p.buf)
	b.queue = append(b.queue, &batch{key: objectKey(k.model, p.day, time.Now(), b.writer, b.seq),
		body: p.buf, n: p.n, size: len(p.buf), seq: b.seq})
	b.unwritten = append(b.unwritten, b.seq)
	delete(b.parts, k)
	b.work.Signal()
}

// cutAll cuts every model's day. b.mu is held.
func (b *Batcher) cutAll() {
	for k, p := range b.parts {
		b.cut(k, p)
	}
}

// tick cuts everything every Interval, until ctx ends.
func (b *Batcher) tick(ctx context.Context) {
	t := time.NewTicker(b.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			b.mu.Lock()
			b.cutAll()
			b.mu.Unlock()
		}
	}
}

// writeLoop is one writer: it takes the oldest batch waiting, compresses it
// and writes it, until the Batcher is closed and the queue is empty, or ctx
// ends.
func (b *Batcher) writeLoop(ctx context.Context) {
	var out bytes.Buffer
	// BestSpeed: twice the default level's speed for 14% more bytes on the
	// credit model's records (500 B of JSON: 75 B against 66;
	// BenchmarkGzipCreditObject, BenchmarkCreditRecordSize): the writers
	// share the endpoint's cores with the requests (docs/benchmarks.md).
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestSpeed) // a valid level: no error
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && !b.closed && ctx.Err() == nil {
			b.work.Wait()
		}
		if ctx.Err() != nil || len(b.queue) == 0 {
			b.mu.Unlock()
			return
		}
		bt := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.mu.Unlock()

		out.Reset()
		zw.Reset(&out)
		// In pieces, letting the requests run between them: in one go, an
		// object's compression (some 30 ms for 16 MiB) would hold a core for
		// whole 10 ms slices of the scheduler, and every request waiting for
		// that core with it (the endpoint's p99).
		for body := bt.body; len(body) > 0; {
			n := min(len(body), compressPiece)
			_, _ = zw.Write(body[:n]) // a bytes.Buffer does not fail
			if body = body[n:]; len(body) > 0 {
				runtime.Gosched()
			}
		}
		_ = zw.Close()
		b.recycle(bt.body)
		bt.body = nil
		if !b.put(ctx, bt, out.Bytes()) {
			return
		}

		b.mu.Lock()
		b.held -= bt.n
		b.heldBytes -= bt.size
		if i, ok := slices.BinarySearch(b.unwritten, bt.seq); ok {
			b.unwritten = slices.Delete(b.unwritten, i, i+1)
		}
		broadcast(&b.room)
		broadcast(&b.written)
		if b.full && b.held+b.cfg.MaxRecords <= b.cfg.MaxBuffered && b.heldBytes+b.cfg.MaxBytes <= b.cfg.MaxBufferedBytes {
			b.full = false
			b.log.Info("prediction log: the store takes writes again; buffer has room", "held", b.held)
		}
		b.mu.Unlock()
	}
}

// put writes one batch's gzip body, retrying until it succeeds (true) or ctx
// ends (false).
func (b *Batcher) put(ctx context.Context, bt *batch, body []byte) bool {
	pause := b.cfg.Backoff
	for attempt := 1; ; attempt++ {
		_, err := b.st.Put(ctx, b.cfg.Bucket, bt.key, body,
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
