package local_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/localtest"
)

// The platform publishes the site as its model goes through, and serves it
// read-only on its loopback address: the index and the model's pages, with
// the site's headers.
func TestSiteServesThePublishedSite(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	p := localtest.ServedCredit(t, local.Config{DriftEvery: -1, SiteAddr: "127.0.0.1:0"})
	if !strings.HasPrefix(p.Endpoint.Site, "http://127.0.0.1:") {
		t.Fatalf("site address %q", p.Endpoint.Site)
	}
	ep, err := local.ReadEndpoint(p.Endpoint.Dir + "/" + local.EndpointFile)
	if err != nil || ep.Site != p.Endpoint.Site {
		t.Fatalf("endpoint.json: site %q, %v", ep.Site, err)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	get := func(method, p2 string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(context.Background(), method, strings.TrimSuffix(p.Endpoint.Site, "/")+p2, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, index := get("GET", "/")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		resp.Header.Get("Content-Security-Policy") != local.SiteCSP || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("/: %d %v", resp.StatusCode, resp.Header)
	}
	if !strings.Contains(index, reportgen.CardPath("credit", 1)) || !strings.Contains(index, reportgen.ModelPath("credit")) {
		t.Errorf("the index does not link the champion and its model:\n%s", index)
	}
	for _, page := range []string{reportgen.ModelPath("credit"), reportgen.CardPath("credit", 1), reportgen.RunsPath("credit"),
		reportgen.AuditPath("credit"), reportgen.LineagePath("credit"), reportgen.DriftPath("credit"), reportgen.DatasetPath("credit"), "assets/site.js"} {
		resp, body := get("GET", "/"+page)
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", page, resp.StatusCode)
		}
		// Everything the platform wrote reads back (the bundles verify).
		if strings.Contains(body, "could not be read") {
			t.Errorf("%s names records it could not read", page)
		}
	}
	if resp, body := get("GET", "/"+strings.TrimSuffix(reportgen.ModelPath("credit"), "index.html")); resp.StatusCode != 200 || !strings.Contains(body, "credit") {
		t.Errorf("a folder is not served as its index: %d", resp.StatusCode)
	}
	if resp, body := get("HEAD", "/"); resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(index)) {
		t.Errorf("HEAD: %d, %d bytes, length %d", resp.StatusCode, len(body), resp.ContentLength)
	}
	if resp, _ = get("GET", "/"); resp.Header.Get("ETag") == "" {
		t.Fatal("no ETag")
	} else if again, _ := get("GET", "/", "If-None-Match", resp.Header.Get("ETag")); again.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", again.StatusCode)
	}
	if resp, _ := get("POST", "/index.html"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", resp.StatusCode, resp.Header)
	}
	for _, bad := range []string{"/../credentials.json", "/%2e%2e/credentials.json", "/models/../../endpoint.json", "/nothing.html"} {
		if resp, _ := get("GET", bad); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d", bad, resp.StatusCode)
		}
	}
}

// The site has no authentication: a non-loopback address is refused unless
// the operator says otherwise.
func TestSiteRefusesANonLoopbackAddress(t *testing.T) {
	_, err := local.Start(context.Background(), local.Config{Dir: t.TempDir(), S3Addr: "127.0.0.1:0", ReconcileEvery: -1, DriftEvery: -1,
		SiteAddr: "0.0.0.0:0", TrainerCommand: []string{"true"}})
	if err == nil || !strings.Contains(err.Error(), "not a loopback address") {
		t.Fatalf("err %v", err)
	}
}
