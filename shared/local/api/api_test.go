package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/api"
)

func start(t *testing.T, dir string) *api.Server {
	t.Helper()
	s, err := api.New(api.Config{Addr: "127.0.0.1:0", Dir: dir, Principal: "local:tester"})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("GET /v1/whoami", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"principal": api.Principal(r.Context())})
	}))
	s.Handle("GET /v1/requestid", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, http.StatusOK, map[string]string{"requestId": r.Header.Get("X-Request-Id")})
	}))
	s.Handle("POST /v1/echo", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			api.WriteError(w, http.StatusRequestEntityTooLarge, err.Error())
			return
		}
		api.WriteJSON(w, http.StatusOK, map[string]int{"bytes": len(b)})
	}))
	s.Start()
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func client(t *testing.T, s *api.Server) *http.Client {
	t.Helper()
	tc, err := api.ClientTLS(s.CACertFile())
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url, token string, body io.Reader) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m, resp.Header
}

func TestOnlyTheHealthCheckAnswersWithoutToken(t *testing.T) {
	dir := t.TempDir()
	s := start(t, dir)
	c := client(t, s)
	if code, m, _ := do(t, c, "GET", s.URL()+api.HealthPath, "", nil); code != 200 || m["status"] != "ok" {
		t.Fatalf("health: %d %v", code, m)
	}
	for _, tok := range []string{"", "wrong", s.Token() + "x", strings.ToLower(s.Token())} {
		code, m, h := do(t, c, "GET", s.URL()+"/v1/whoami", tok, nil)
		if code != http.StatusUnauthorized || !strings.Contains(h.Get("WWW-Authenticate"), "Bearer") || m["error"] == nil {
			t.Fatalf("token %q: %d %v", tok, code, m)
		}
	}
	// An unknown route is 401 too: nothing about the routes is told without the token.
	if code, _, _ := do(t, c, "GET", s.URL()+"/v1/nope", "", nil); code != http.StatusUnauthorized {
		t.Fatalf("unknown route without token: %d", code)
	}
	code, m, h := do(t, c, "GET", s.URL()+"/v1/whoami", s.Token(), nil)
	if code != 200 || m["principal"] != "local:tester" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("whoami: %d %v %v", code, m, h)
	}
	big := strings.NewReader(strings.Repeat("x", api.MaxBodyBytes+1))
	if code, _, _ := do(t, c, "POST", s.URL()+"/v1/echo", s.Token(), big); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", code)
	}
	// Plain HTTP and an untrusting client get nowhere.
	if _, err := (&http.Client{Timeout: 5 * time.Second}).Get(s.URL() + api.HealthPath); err == nil {
		t.Fatal("a client that does not trust the certificate connected")
	}
	if resp, err := http.Get("http://" + strings.TrimPrefix(s.URL(), "https://") + api.HealthPath); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("plain HTTP answered %d", resp.StatusCode)
		}
	}
}

func TestCredentialsSurviveRestartAndArePrivate(t *testing.T) {
	dir := t.TempDir()
	s1 := start(t, dir)
	tok, cert := s1.Token(), s1.CACertFile()
	pem1, _ := os.ReadFile(cert)
	if err := s1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2 := start(t, dir)
	pem2, _ := os.ReadFile(s2.CACertFile())
	if s2.Token() != tok || string(pem1) != string(pem2) {
		t.Fatal("a restart made new credentials: configured clients would break")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fi, _ := e.Info()
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", e.Name(), fi.Mode())
		}
	}
	if code, _, _ := do(t, client(t, s2), "GET", s2.URL()+"/v1/whoami", tok, nil); code != 200 {
		t.Fatalf("old token after restart: %d", code)
	}
	// A certificate near its end is made anew.
	c, err := api.LoadOrCreate(dir, time.Now().Add(360*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != tok {
		t.Fatal("renewing the certificate changed the token")
	}
	pem3, _ := os.ReadFile(filepath.Join(dir, "api-cert.pem"))
	if string(pem3) == string(pem1) {
		t.Fatal("a certificate about to expire was kept")
	}
	if err := os.WriteFile(filepath.Join(dir, "api-token.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := api.LoadOrCreate(dir, time.Now()); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("a damaged token file: %v", err)
	}
}

// A request id is not the caller's to choose: the routes make their own.
func TestCallersRequestIDIsDropped(t *testing.T) {
	s := start(t, t.TempDir())
	req, _ := http.NewRequest("GET", s.URL()+"/v1/requestid", nil)
	req.Header.Set("Authorization", "Bearer "+s.Token())
	req.Header.Set("X-Request-Id", "chosen-by-the-caller")
	resp, err := client(t, s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || resp.StatusCode != 200 || m["requestId"] != "" {
		t.Fatalf("%d %v %v", resp.StatusCode, m, err)
	}
}
