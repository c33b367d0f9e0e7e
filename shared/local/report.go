package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/bus"
	"github.com/openmlops/mlops/shared/report"
	"github.com/openmlops/mlops/shared/rules"
	"github.com/openmlops/mlops/shared/store"
)

// SiteCSP is the Content-Security-Policy the local site is served with: the
// pages' own (reportgen.CSP, which a <meta> tag also carries) and what only
// a header can say: no other site may frame these pages.
const SiteCSP = reportgen.CSP + "; frame-ancestors 'none'"

// startReport registers the report function on the bus, with the rules
// that route the platform's events, drift reports and datasheets to it, and
// asks it for a full rebuild, so that a platform started on a release with
// new templates republishes every page. There is no CDN locally.
func (p *Platform) startReport(st *store.Store, buckets Buckets, names rules.Names, b *bus.Bus, log *slog.Logger) error {
	src := reportgen.Sources{Store: st, Registry: p.Registry, Datasets: ingest.NewDatasets(st, buckets.Platform, buckets.Uploads),
		PlatformBucket: buckets.Platform, MonitoringBucket: buckets.Monitoring}
	svc, err := report.New(st, src, report.Config{PlatformBucket: buckets.Platform, MonitoringBucket: buckets.Monitoring,
		SiteBucket: buckets.Site, Logger: log.With("function", FuncReport)})
	if err != nil {
		return fmt.Errorf("local platform: %w", err)
	}
	p.Report = svc
	b.Register(FuncReport, svc.Handle)
	if err := p.subscribe(names, FuncReport); err != nil {
		return err
	}
	return b.InvokeAsync(context.Background(), FuncReport, []byte(`{"full": true}`))
}

// siteServer serves the site bucket, read-only, over plain HTTP.
type siteServer struct {
	srv *http.Server
	ln  net.Listener
	log *slog.Logger
}

// startSite serves the site bucket on addr. The site shows governance data
// (models, approvers, reasons, datasets' profiles) to whoever reaches it,
// with no token: so it listens on a loopback address only, unless remote
// says the operator has put something in front of it.
func startSite(addr string, remote bool, st *store.Store, bucket string, log *slog.Logger) (*siteServer, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("site address %q: %w", addr, err)
	}
	if !remote && !loopback(host) {
		return nil, fmt.Errorf("site address %q is not a loopback address: the site has no authentication, "+
			"so it is served on 127.0.0.1 or ::1 only (pass --site-remote to serve it on %s anyway)", addr, host)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("site: listen on %s: %w", addr, err)
	}
	s := &siteServer{ln: ln, log: log,
		srv: &http.Server{Handler: SiteHandler(st, bucket, log), ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("site server", "error", err)
		}
	}()
	return s, nil
}

// URL is the site's address, with a trailing slash.
func (s *siteServer) URL() string { return "http://" + s.ln.Addr().String() + "/" }

func (s *siteServer) Close(ctx context.Context) error {
	if s == nil {
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("site: shut down: %w", err)
	}
	return nil
}

// loopback reports whether host names only the machine itself.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SiteHandler serves the objects of bucket as a static site: GET and HEAD
// only, "/" and folders as their index.html, with the content type and cache
// headers the publisher stored, and the site's security headers.
func SiteHandler(st *store.Store, bucket string, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", SiteCSP)
		h.Set("Referrer-Policy", "no-referrer")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "the site is read-only: GET or HEAD", http.StatusMethodNotAllowed)
			return
		}
		key, ok := siteKey(r.URL.Path)
		if !ok {
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		body, info, err := st.Get(r.Context(), bucket, key, store.GetOptions{IfNoneMatch: strings.Trim(r.Header.Get("If-None-Match"), `"`)})
		switch {
		case errors.Is(err, store.ErrNotModified):
			h.Set("ETag", `"`+strings.Trim(r.Header.Get("If-None-Match"), `"`)+`"`)
			w.WriteHeader(http.StatusNotModified)
			return
		case errors.Is(err, store.ErrNotFound):
			http.Error(w, "not found", http.StatusNotFound)
			return
		case err != nil:
			log.Error("site: read", "key", key, "error", err)
			http.Error(w, "the site bucket could not be read", http.StatusBadGateway)
			return
		}
		defer body.Close()
		ct := info.ContentType
		if ct == "" || ct == "binary/octet-stream" {
			ct = report.ContentType(key)
		}
		h.Set("Content-Type", ct)
		if info.CacheControl != "" {
			h.Set("Cache-Control", info.CacheControl)
		}
		h.Set("ETag", `"`+info.ETag+`"`)
		h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
		if r.Method == http.MethodHead {
			return
		}
		if _, err := io.Copy(w, body); err != nil {
			log.Info("site: write", "key", key, "error", err)
		}
	})
}

// siteKey is the object key of a URL path: cleaned (no way out of the
// bucket's root, no dot segments), a folder as its index.html.
func siteKey(p string) (string, bool) {
	if strings.ContainsAny(p, "\x00\\") {
		return "", false
	}
	clean := path.Clean("/" + p)
	if strings.HasSuffix(p, "/") || clean == "/" {
		clean = path.Join(clean, reportgen.IndexPath)
	}
	key := strings.TrimPrefix(clean, "/")
	return key, key != "" && !strings.HasPrefix(key, ".")
}
