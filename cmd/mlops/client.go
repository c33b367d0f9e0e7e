package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/store"
)

// stateDir is the platform directory: --dir, else $MLOPS_DIR, else .mlops.
func (g *globals) stateDir() string {
	switch {
	case g.dir != "":
		return g.dir
	case os.Getenv("MLOPS_DIR") != "":
		return os.Getenv("MLOPS_DIR")
	}
	return ".mlops"
}

// endpointPath is --endpoint-file, else the endpoint file in the state directory.
func (g *globals) endpointPath() string {
	if g.endpointFile != "" {
		return g.endpointFile
	}
	return filepath.Join(g.stateDir(), local.EndpointFile)
}

// client is a connection to a running platform.
type client struct {
	ep    local.Endpoint
	store *store.Store
}

func (g *globals) readEndpoint() (local.Endpoint, error) {
	return local.ReadEndpoint(g.endpointPath())
}

func (g *globals) connect() (*client, error) {
	ep, err := g.readEndpoint()
	if err != nil {
		return nil, err
	}
	cfg := aws.Config{Region: ep.S3.Region,
		Credentials: credentials.NewStaticCredentialsProvider(ep.S3.AccessKeyID, ep.S3.SecretAccessKey, "")}
	return &client{ep: ep, store: store.New(store.NewClient(cfg, ep.S3.URL, true), store.Options{})}, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// apiCall sends one request to the platform's HTTPS API, trusting only the
// certificate endpoint.json names (api.caCert) and sending its bearer token
// (api.token). It returns the answer's status and body; err only when no answer
// came (no API in endpoint.json, TLS or network failure).
func (c *client) apiCall(ctx context.Context, method, path string, body any) (int, []byte, error) {
	if c.ep.API.URL == "" || c.ep.API.CACert == "" {
		return 0, nil, errors.New("endpoint.json names no HTTPS API (api.url, api.caCert): restart mlops up")
	}
	tlsCfg, err := api.ClientTLS(c.ep.API.CACert)
	if err != nil {
		return 0, nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.ep.API.URL, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.ep.API.Token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("the platform's API at %s did not answer: %w", c.ep.API.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("read the API's answer: %w", err)
	}
	return resp.StatusCode, b, nil
}
