package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/decisions"
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

// decisionsAPI is a client of the platform's decisions API (shared/decisions),
// trusting only the certificate endpoint.json names (api.caCert) and sending
// its bearer token (api.token).
func (g *globals) decisionsAPI() (*decisions.Client, error) {
	ep, err := g.readEndpoint()
	if err != nil {
		return nil, err
	}
	if ep.API.URL == "" || ep.API.CACert == "" {
		return nil, &exitError{code: exitProblem, err: errors.New("endpoint.json names no HTTPS API (api.url, api.caCert): restart mlops up")}
	}
	tlsCfg, err := api.ClientTLS(ep.API.CACert)
	if err != nil {
		return nil, &exitError{code: exitProblem, err: err}
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return decisions.NewClient(ep.API.URL, hc, decisions.BearerToken(ep.API.Token)), nil
}
