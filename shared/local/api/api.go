// Package api is the local platform's HTTPS API server: a self-signed
// certificate made at first start, a bearer token, and no unauthenticated route
// but the health check. The routes themselves (decisions on model versions,
// predictions) are the handlers the Lambdas run behind API Gateway in AWS; this
// package only stands in for API Gateway's TLS and authorization.
package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/apierror"
)

// HealthPath is the one route that answers without a token.
const HealthPath = "/healthz"

// MaxBodyBytes bounds a request body: above the prediction API's own limit
// (5 MiB, which it answers with its 413 and message), as API Gateway's 10 MB
// is in AWS; the decisions API bounds its bodies far lower.
const MaxBodyBytes = 6 << 20

// Config configures a Server.
type Config struct {
	Addr      string // host:port; default 127.0.0.1:0 (any free port: the URL is in endpoint.json)
	Dir       string // where the certificate, key and token are kept
	Principal string // who every authenticated request acts as (the local user)
	Logger    *slog.Logger
}

// Server is a running HTTPS API.
type Server struct {
	mux       *http.ServeMux
	srv       *http.Server
	ln        net.Listener
	creds     Credentials
	principal string
	log       *slog.Logger
	patterns  []string // every route's, as registered: the OpenAPI test holds the document to them
}

// New prepares the server: it loads or makes the certificate and the token, and
// listens, so that URL is known before Start.
func New(cfg Config) (*Server, error) {
	if cfg.Dir == "" {
		return nil, errors.New("api: a directory is required")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	creds, err := LoadOrCreate(cfg.Dir, time.Now())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("api: listen on %s: %w", cfg.Addr, err)
	}
	s := &Server{mux: http.NewServeMux(), ln: ln, creds: creds, principal: cfg.Principal, log: log}
	s.patterns = append(s.patterns, "GET "+HealthPath)
	s.mux.HandleFunc("GET "+HealthPath, func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.srv = &http.Server{
		Handler:           s.guard(s.mux),
		TLSConfig:         creds.TLS,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handle adds an authenticated route (a net/http ServeMux pattern).
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// Patterns lists the routes' patterns, the health check's included, in the
// order they were added.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// URL is the server's base URL, https://host:port.
func (s *Server) URL() string { return "https://" + s.ln.Addr().String() }

// Token is the bearer token clients send.
func (s *Server) Token() string { return s.creds.Token }

// CACertFile is the PEM certificate clients trust (it is its own CA).
func (s *Server) CACertFile() string { return s.creds.CertFile }

// Start serves in the background.
func (s *Server) Start() {
	go func() {
		if err := s.srv.ServeTLS(s.ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server", "error", err)
		}
	}()
}

// Close stops the server, letting requests in flight finish until ctx ends.
func (s *Server) Close(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("api: shut down: %w", err)
	}
	return nil
}

type principalKey struct{}

// Principal is who an authenticated request acts as.
func Principal(ctx context.Context) string {
	p, _ := ctx.Value(principalKey{}).(string)
	return p
}

// WithPrincipal returns ctx carrying principal, as the server does for an
// authenticated request (and as API Gateway's IAM authorizer does in AWS).
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// The headers of every answer.
var (
	noStore = []string{"no-store"}
	noSniff = []string{"nosniff"}
	hsts    = []string{"max-age=31536000"}
)

// guard checks the bearer token on every route but the health check, bounds the
// body, and sets the headers every answer carries.
func (s *Server) guard(next http.Handler) http.Handler {
	want := []byte("Bearer " + s.creds.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		// Shared, not made again for every answer: nothing changes a
		// header's values in place (Set and Add make new slices).
		h["Cache-Control"] = noStore
		h["X-Content-Type-Options"] = noSniff
		h["Strict-Transport-Security"] = hsts
		if r.URL.Path != HealthPath {
			got := []byte(r.Header.Get("Authorization"))
			if subtle.ConstantTimeCompare(got, want) != 1 {
				h.Set("WWW-Authenticate", `Bearer realm="mlops"`)
				WriteError(w, http.StatusUnauthorized, "a bearer token is required: the one in endpoint.json (api.token)")
				return
			}
			r = r.WithContext(WithPrincipal(r.Context(), s.principal))
		}
		// A request id is the front's to give (API Gateway's in AWS): here
		// there is none, and the routes make one rather than take the caller's.
		r.Header.Del(apierror.RequestIDHeader)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

// WriteJSON writes v as the JSON answer with the given status.
func WriteJSON(w http.ResponseWriter, status int, v any) { apierror.WriteJSON(w, status, v) }

// WriteError writes the platform's error body (shared/apierror) with the
// status's code: a refusal of the server itself, in front of the routes.
func WriteError(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, apierror.Body{Error: strings.TrimSpace(msg), Code: apierror.CodeOfStatus(status)})
}
