// Package bus is local mode's stand-in for EventBridge and Lambda's
// asynchronous invocation, in one process.
//
// Rules route events by EventBridge event patterns (see Pattern) to registered
// functions. Every invocation is asynchronous, as when EventBridge invokes
// Lambda: a function error or panic is retried after a backoff, up to Retries
// times, and an invocation that still fails, or that waits longer than
// MaxEventAge, is written to the on-failure destination in the record shape
// Lambda sends to its destinations. Like the real services, delivery is at
// least once and in no particular order, so handlers written against this bus
// behave the same in AWS.
package bus

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/openmlops/mlops/shared/aws/eventbridge"
	"github.com/openmlops/mlops/shared/event"
)

// Handler is a function's code: it receives the event (for a rule target, the
// EventBridge envelope as JSON). A returned error or a panic is a function error.
type Handler func(ctx context.Context, payload json.RawMessage) error

// Config configures a Bus. Zero values select the defaults.
type Config struct {
	// DeadLetterDir is the on-failure destination: one JSON file per failed
	// invocation under DeadLetterDir/<function>/. Empty discards failures, as
	// Lambda does without a destination, after logging them.
	DeadLetterDir string
	// Retries after a function error; default 2, as Lambda's. Negative means none.
	Retries int
	// Backoff is the wait before retry number attempt (1, 2, ...). Lambda waits
	// one then two minutes; the default, scaled down for local use, is 1s then 2s.
	Backoff func(attempt int) time.Duration
	// MaxEventAge discards invocations older than this; default 6h, as Lambda's.
	MaxEventAge time.Duration
	// Concurrency is the number of concurrent invocations per function; default 4.
	Concurrency int
	// Account and Region fill envelopes and ARNs; defaults "000000000000" and "us-east-1".
	Account, Region string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// FunctionConfig overrides per-function settings.
type FunctionConfig struct {
	// Timeout bounds one invocation; default 15 minutes, Lambda's maximum.
	Timeout time.Duration
	// Concurrency overrides Config.Concurrency for this function.
	Concurrency int
}

// DefaultTimeout is the invocation timeout of a function registered without one.
const DefaultTimeout = 15 * time.Minute

// timeoutGrace is how long a timed-out or cancelled handler may take to notice
// before the invocation is given up on without it: Lambda would kill it.
const timeoutGrace = 200 * time.Millisecond

// ErrClosed is returned for work offered to a closed Bus.
var ErrClosed = errors.New("bus: closed")

// validFunctionName applies Lambda's rule for unqualified function names;
// enforcing it also keeps names safe as dead-letter directory names.
func validFunctionName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Bus routes events to functions and invokes them asynchronously. It
// implements event.Publisher. Its methods are safe for concurrent use,
// including from inside handlers.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	base   context.Context // parent of every invocation; cancelled when Close gives up
	cancel context.CancelFunc

	mu        sync.Mutex
	funcs     map[string]*function
	rules     []*rule
	closed    bool
	inflight  int           // invocations queued, running or waiting to retry
	idle      chan struct{} // closed whenever inflight is 0
	abandoned int           // invocations dropped because Close ran out of time
}

type function struct {
	name    string
	arn     string
	handler Handler
	timeout time.Duration
	slots   chan struct{} // one token per running invocation
}

type rule struct {
	name    string
	source  string // the pattern as given, to tell a re-add from a conflict
	pattern *Pattern
	targets []string
}

type invocation struct {
	fn       *function
	id       string
	payload  json.RawMessage
	enqueued time.Time
}

var _ event.Publisher = (*Bus)(nil)

// New returns a Bus with no functions or rules.
func New(cfg Config) *Bus {
	if cfg.Retries == 0 {
		cfg.Retries = 2
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.Backoff == nil {
		cfg.Backoff = func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }
	}
	if cfg.MaxEventAge <= 0 {
		cfg.MaxEventAge = 6 * time.Hour
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.Account == "" {
		cfg.Account = "000000000000"
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	base, cancel := context.WithCancel(context.Background())
	idle := make(chan struct{})
	close(idle)
	return &Bus{cfg: cfg, log: log, base: base, cancel: cancel, funcs: map[string]*function{}, idle: idle}
}

// Register adds a function with the default FunctionConfig.
func (b *Bus) Register(function string, h Handler) {
	b.RegisterWith(function, h, FunctionConfig{})
}

// RegisterWith adds a function. Like http.ServeMux, it panics on an invalid or
// duplicate name or a nil handler: those are wiring mistakes, not runtime conditions.
func (b *Bus) RegisterWith(name string, h Handler, fc FunctionConfig) {
	if !validFunctionName(name) {
		panic(fmt.Sprintf("bus: invalid function name %q: want 1-64 of [A-Za-z0-9_-]", name))
	}
	if h == nil {
		panic("bus: nil handler for function " + name)
	}
	if fc.Timeout <= 0 {
		fc.Timeout = DefaultTimeout
	}
	if fc.Concurrency <= 0 {
		fc.Concurrency = b.cfg.Concurrency
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.funcs[name]; dup {
		panic("bus: function " + name + " registered twice")
	}
	b.funcs[name] = &function{
		name:    name,
		arn:     fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s:$LATEST", b.cfg.Region, b.cfg.Account, name),
		handler: h,
		timeout: fc.Timeout,
		slots:   make(chan struct{}, fc.Concurrency),
	}
}

// AddRule routes events matching pattern (EventBridge event pattern JSON) to
// function, which must be registered. Adding the same rule name again with the
// same pattern adds a target, as PutTargets does; a different pattern under an
// existing name is an error.
func (b *Bus) AddRule(name, pattern, function string) error {
	if name == "" {
		return errors.New("add rule: empty name")
	}
	p, err := ParsePattern(pattern)
	if err != nil {
		return fmt.Errorf("add rule %s: %w", name, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.funcs[function]; !ok {
		return fmt.Errorf("add rule %s: function %q is not registered", name, function)
	}
	for _, r := range b.rules {
		if r.name != name {
			continue
		}
		if r.source != pattern {
			return fmt.Errorf("add rule %s: already exists with another pattern", name)
		}
		for _, t := range r.targets {
			if t == function {
				return fmt.Errorf("add rule %s: function %s is already a target", name, function)
			}
		}
		r.targets = append(r.targets, function)
		return nil
	}
	b.rules = append(b.rules, &rule{name: name, source: pattern, pattern: p, targets: []string{function}})
	return nil
}

// Publish wraps events in envelopes as EventBridge does (version "0", a random
// id, the time to the second, the bus's account and region) and routes them.
// Events PutEvents would reject, such as one over 256 KB, are rejected here
// too, before any is routed.
func (b *Bus) Publish(ctx context.Context, evs ...event.Event) error {
	envs := make([]event.Envelope, 0, len(evs))
	now := time.Now().UTC().Truncate(time.Second)
	for i, ev := range evs {
		detail, err := eventbridge.EncodeDetail(ev)
		if err != nil {
			return fmt.Errorf("publish event %d: %w", i, err)
		}
		resources := ev.Resources
		if resources == nil {
			resources = []string{} // EventBridge always delivers "resources": [].
		}
		envs = append(envs, event.Envelope{
			Version: "0", ID: newUUID(), DetailType: ev.DetailType, Source: ev.Source,
			Account: b.cfg.Account, Time: now, Region: b.cfg.Region, Resources: resources, Detail: detail,
		})
	}
	return b.PutEvents(ctx, envs...)
}

// PutEvents routes each envelope to the function of every rule it matches, as
// an asynchronous invocation per match; an envelope matching no rule is
// dropped, as EventBridge drops it. It returns once the invocations are queued.
func (b *Bus) PutEvents(ctx context.Context, envs ...event.Envelope) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put events: %w", err)
	}
	type routed struct {
		env     event.Envelope
		payload []byte
		value   any
	}
	all := make([]routed, 0, len(envs))
	for i, env := range envs {
		payload, err := json.Marshal(env)
		if err != nil {
			return fmt.Errorf("put events: envelope %d (%s): %w", i, env.ID, err)
		}
		v, err := decodeJSON(payload)
		if err != nil {
			return fmt.Errorf("put events: envelope %d (%s): %w", i, env.ID, err)
		}
		all = append(all, routed{env, payload, v})
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("put events: %w", ErrClosed)
	}
	for _, r := range all {
		matched := false
		for _, rl := range b.rules {
			if !rl.pattern.matchValue(r.value) {
				continue
			}
			matched = true
			for _, t := range rl.targets {
				b.enqueueLocked(b.funcs[t], r.payload)
			}
		}
		if !matched {
			b.log.Debug("event matched no rule; dropped",
				"id", r.env.ID, "source", r.env.Source, "detail-type", r.env.DetailType)
		}
	}
	return nil
}

// InvokeAsync queues an invocation of function with payload, like
// `aws lambda invoke --invocation-type Event`: it fails only if the function is
// unknown or the payload is not JSON, as Lambda's Invoke would.
func (b *Bus) InvokeAsync(ctx context.Context, function string, payload []byte) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("invoke %s: %w", function, err)
	}
	if !json.Valid(payload) {
		return fmt.Errorf("invoke %s: payload is not valid JSON", function)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("invoke %s: %w", function, ErrClosed)
	}
	fn, ok := b.funcs[function]
	if !ok {
		return fmt.Errorf("invoke %s: function not found", function)
	}
	b.enqueueLocked(fn, append(json.RawMessage(nil), payload...))
	return nil
}

func (b *Bus) enqueueLocked(fn *function, payload []byte) {
	if b.inflight == 0 {
		b.idle = make(chan struct{})
	}
	b.inflight++
	inv := &invocation{fn: fn, id: newUUID(), payload: payload, enqueued: time.Now()}
	go b.run(inv)
}

func (b *Bus) finish(abandoned bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if abandoned {
		b.abandoned++
	}
	b.inflight--
	if b.inflight == 0 {
		close(b.idle)
	}
}

// WaitIdle returns when no invocation is queued, running or waiting to retry,
// including invocations that handlers start meanwhile, or when ctx ends.
func (b *Bus) WaitIdle(ctx context.Context) error {
	for {
		b.mu.Lock()
		n, idle := b.inflight, b.idle
		b.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-idle:
		case <-ctx.Done():
			return fmt.Errorf("wait for idle bus (%d invocations pending): %w", n, ctx.Err())
		}
	}
}

// Close stops accepting events and waits for queued invocations, retries
// included, to finish. If ctx ends first it cancels the invocations still
// running or waiting, which are then dropped without a dead-letter record, and
// says how many were.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	err := b.WaitIdle(ctx)
	b.cancel()
	if err == nil {
		return nil
	}
	// Cancelled invocations end within timeoutGrace (or at their next retry wait).
	_ = b.WaitIdle(context.Background())
	b.mu.Lock()
	n := b.abandoned
	b.mu.Unlock()
	return fmt.Errorf("close bus: %d invocations abandoned: %w", n, err)
}

// failure is a function error, as the Lambda runtime reports it.
type failure struct {
	message, typ string
}

// run performs one asynchronous invocation with Lambda's retry policy.
func (b *Bus) run(inv *invocation) {
	fn := inv.fn
	log := b.log.With("function", fn.name, "requestId", inv.id)
	var last *failure
	for attempt := 1; ; attempt++ {
		ageLeft := b.cfg.MaxEventAge - time.Since(inv.enqueued)
		if ageLeft <= 0 {
			b.deadLetter(inv, "EventAgeExceeded", attempt-1, last)
			b.finish(false)
			return
		}
		age := time.NewTimer(ageLeft)
		select {
		case fn.slots <- struct{}{}:
			age.Stop()
		case <-age.C:
			b.deadLetter(inv, "EventAgeExceeded", attempt-1, last)
			b.finish(false)
			return
		case <-b.base.Done():
			age.Stop()
			log.Error("invocation abandoned: bus closed", "attempt", attempt)
			b.finish(true)
			return
		}
		f := b.invokeOnce(inv, attempt)
		<-fn.slots
		if f == nil {
			b.finish(false)
			return
		}
		last = f
		log.Warn("function error", "attempt", attempt, "errorType", f.typ, "errorMessage", f.message)
		if b.base.Err() != nil {
			log.Error("invocation abandoned: bus closed", "attempt", attempt)
			b.finish(true)
			return
		}
		if attempt > b.cfg.Retries {
			b.deadLetter(inv, "RetriesExhausted", attempt, last)
			b.finish(false)
			return
		}
		wait := b.cfg.Backoff(attempt)
		if time.Since(inv.enqueued)+wait > b.cfg.MaxEventAge {
			// The retry would run past the event's age: Lambda discards it then.
			b.deadLetter(inv, "EventAgeExceeded", attempt, last)
			b.finish(false)
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-b.base.Done():
			t.Stop()
			log.Error("invocation abandoned: bus closed", "attempt", attempt)
			b.finish(true)
			return
		}
	}
}

// invokeOnce runs the handler once under the function's timeout and returns
// its failure, or nil on success.
func (b *Bus) invokeOnce(inv *invocation, attempt int) *failure {
	fn := inv.fn
	ctx, cancel := context.WithTimeout(b.base, fn.timeout)
	defer cancel()
	// The same request id across retries, as Lambda keeps it.
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: inv.id, InvokedFunctionArn: fn.arn})
	done := make(chan *failure, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				b.log.Error("function panicked", "function", fn.name, "requestId", inv.id,
					"attempt", attempt, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- &failure{message: fmt.Sprint(p), typ: errorType(p)}
			}
		}()
		if err := fn.handler(ctx, inv.payload); err != nil {
			done <- &failure{message: err.Error(), typ: errorType(err)}
			return
		}
		done <- nil
	}()
	select {
	case f := <-done:
		return f
	case <-ctx.Done():
	}
	grace := time.NewTimer(timeoutGrace)
	defer grace.Stop()
	select {
	case f := <-done:
		if f != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timedOut(fn.timeout)
		}
		return f
	case <-grace.C:
		b.log.Error("handler ignored its context's end and is left running", "function", fn.name, "requestId", inv.id)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timedOut(fn.timeout)
		}
		return &failure{message: "invocation cancelled: bus closed", typ: "Runtime.Cancelled"}
	}
}

func timedOut(d time.Duration) *failure {
	return &failure{message: fmt.Sprintf("Task timed out after %.2f seconds", d.Seconds()), typ: "Sandbox.Timedout"}
}

// errorType names an error the way the Go Lambda runtime does: the dynamic
// type's name, without the pointer.
func errorType(v any) string {
	t := reflect.TypeOf(v)
	if t == nil {
		return "nil"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// OnFailureRecord is the invocation record Lambda sends to an asynchronous
// invocation's on-failure destination; the bus writes one per failed invocation.
type OnFailureRecord struct {
	Version        string          `json:"version"`
	Timestamp      string          `json:"timestamp"`
	RequestContext RequestContext  `json:"requestContext"`
	RequestPayload json.RawMessage `json:"requestPayload"`
	// ResponseContext and ResponsePayload are absent when the function never ran.
	ResponseContext *ResponseContext `json:"responseContext,omitempty"`
	ResponsePayload *ErrorPayload    `json:"responsePayload,omitempty"`
}

// RequestContext identifies the failed invocation.
type RequestContext struct {
	RequestID              string `json:"requestId"`
	FunctionArn            string `json:"functionArn"`
	Condition              string `json:"condition"` // RetriesExhausted or EventAgeExceeded
	ApproximateInvokeCount int    `json:"approximateInvokeCount"`
}

// ResponseContext describes the last attempt's response.
type ResponseContext struct {
	StatusCode      int    `json:"statusCode"`
	ExecutedVersion string `json:"executedVersion"`
	FunctionError   string `json:"functionError"`
}

// ErrorPayload is the error the function's last attempt returned.
type ErrorPayload struct {
	ErrorMessage string `json:"errorMessage"`
	ErrorType    string `json:"errorType"`
}

// deadLetter writes the on-failure record; without a directory it only logs,
// as Lambda discards a failed event when no destination is configured.
func (b *Bus) deadLetter(inv *invocation, condition string, attempts int, last *failure) {
	now := time.Now().UTC()
	rec := OnFailureRecord{
		Version:   "1.0",
		Timestamp: now.Format("2006-01-02T15:04:05.000Z"),
		RequestContext: RequestContext{
			RequestID: inv.id, FunctionArn: inv.fn.arn, Condition: condition, ApproximateInvokeCount: attempts,
		},
		RequestPayload: inv.payload,
	}
	if last != nil {
		rec.ResponseContext = &ResponseContext{StatusCode: 200, ExecutedVersion: "$LATEST", FunctionError: "Unhandled"}
		rec.ResponsePayload = &ErrorPayload{ErrorMessage: last.message, ErrorType: last.typ}
	}
	log := b.log.With("function", inv.fn.name, "requestId", inv.id, "condition", condition, "attempts", attempts)
	if b.cfg.DeadLetterDir == "" {
		log.Error("invocation failed; no dead-letter directory, event discarded")
		return
	}
	path, err := writeRecord(b.cfg.DeadLetterDir, inv.fn.name, now, inv.id, rec)
	if err != nil {
		log.Error("invocation failed; writing its dead-letter record failed too", "err", err)
		return
	}
	log.Error("invocation failed; dead-letter record written", "path", path)
}

// writeRecord writes the record through a temporary file and a rename, so a
// reader never sees half a record.
func writeRecord(dir, function string, now time.Time, id string, rec OnFailureRecord) (string, error) {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", fmt.Errorf("marshal on-failure record: %w", err)
	}
	fdir := filepath.Join(dir, function)
	if err := os.MkdirAll(fdir, 0o755); err != nil {
		return "", fmt.Errorf("create dead-letter directory: %w", err)
	}
	path := filepath.Join(fdir, now.Format("20060102T150405.000Z")+"-"+id+".json")
	tmp, err := os.CreateTemp(fdir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("create dead-letter record: %w", err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		_ = tmp.Close()
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write dead-letter record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("write dead-letter record: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		_ = os.Remove(tmp.Name())
		return "", fmt.Errorf("publish dead-letter record: %w", err)
	}
	return path, nil
}

// newUUID returns a random (version 4) UUID, the form of EventBridge event ids
// and Lambda request ids.
func newUUID() string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never fails (it aborts the program instead)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
