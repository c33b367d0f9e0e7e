// Package runtimeapi is a small implementation of the Lambda Runtime API, the
// protocol a `bootstrap` binary speaks to its host. It lets tests (and tools) run
// the real function binaries built for Lambda, since the AWS runtime interface
// emulator cannot be installed here.
package runtimeapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

const prefix = "/2018-06-01/runtime/"

// FunctionError is what a function reports when an invocation fails.
type FunctionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *FunctionError) Error() string { return e.Type + ": " + e.Message }

// ErrInit means the function reported an initialisation error.
var ErrInit = errors.New("function failed to initialise")

type invocation struct {
	id       string
	payload  []byte
	deadline time.Time
	done     chan result
}

type result struct {
	payload []byte
	err     error
}

// Server serves the Runtime API for one function instance.
type Server struct {
	FunctionARN string
	Timeout     time.Duration

	ln      net.Listener
	srv     *http.Server
	queue   chan *invocation
	mu      sync.Mutex
	pending map[string]*invocation
	initErr chan *FunctionError
}

// Start listens on a free loopback port.
func Start(functionARN string, timeout time.Duration) (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime api: %w", err)
	}
	s := &Server{FunctionARN: functionARN, Timeout: timeout, ln: ln, queue: make(chan *invocation),
		pending: map[string]*invocation{}, initErr: make(chan *FunctionError, 1)}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// Addr is the value for the function's AWS_LAMBDA_RUNTIME_API variable.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.srv.Close() }

// Invoke hands payload to the function and waits for its answer. A function error
// comes back as *FunctionError.
func (s *Server) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inv := &invocation{id: newID(), payload: payload, deadline: time.Now().Add(s.Timeout), done: make(chan result, 1)}
	s.mu.Lock()
	s.pending[inv.id] = inv
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.pending, inv.id)
		s.mu.Unlock()
	}()
	select {
	case s.queue <- inv:
	case fe := <-s.initErr:
		return nil, fmt.Errorf("%w: %v", ErrInit, fe)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-inv.done:
		return r.payload, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, prefix)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		select {
		case inv := <-s.queue:
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", s.FunctionARN)
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+inv.id[:8]+"-"+inv.id[8:])
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && path == "init/error":
		var fe FunctionError
		_ = json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&fe)
		select {
		case s.initErr <- &fe:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "invocation/"):
		id, kind, _ := strings.Cut(strings.TrimPrefix(path, "invocation/"), "/")
		s.mu.Lock()
		inv := s.pending[id]
		s.mu.Unlock()
		if inv == nil {
			http.Error(w, `{"errorMessage":"unknown request id","errorType":"InvalidRequestID"}`, http.StatusBadRequest)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 6<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		switch kind {
		case "response":
			inv.done <- result{payload: body}
		case "error":
			fe := &FunctionError{}
			if json.Unmarshal(body, fe) != nil || fe.Message == "" {
				fe.Message, fe.Type = string(body), r.Header.Get("Lambda-Runtime-Function-Error-Type")
			}
			inv.done <- result{err: fe}
		default:
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		http.NotFound(w, r)
	}
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
