package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/aws/stackout"
	"github.com/openmlops/mlops/shared/decisions"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/local/api"
	"github.com/openmlops/mlops/shared/predict"
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

// ready checks -o, then each of the arguments' checks in order: the first
// that fails is the command's error.
func (g *globals) ready(checks ...error) error {
	if err := g.checkOutput(); err != nil {
		return err
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	return nil
}

// platform is ready, then a connection to the platform through S3.
func (g *globals) platform(checks ...error) (*client, error) {
	if err := g.ready(checks...); err != nil {
		return nil, err
	}
	return g.connect()
}

// api is ready, then a client of the platform's decisions API.
func (g *globals) api(checks ...error) (*decisions.Client, error) {
	if err := g.ready(checks...); err != nil {
		return nil, err
	}
	return g.decisionsAPI()
}

func (g *globals) connect() (*client, error) {
	if g.stackName() != "" {
		return g.connectStack()
	}
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

// printTable prints rows as JSON with -o json; else the empty line where there
// are no rows and it is not "", or a table: header, then row's line for each.
func printTable[T any](w io.Writer, g *globals, rows []T, empty, header string, row func(T) string) error {
	if g.output == "json" {
		return printJSON(w, rows)
	}
	if len(rows) == 0 && empty != "" {
		fmt.Fprintln(w, empty)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, row(r))
	}
	return tw.Flush()
}

// decisionsAPI is a client of the platform's decisions API (shared/decisions).
func (g *globals) decisionsAPI() (*decisions.Client, error) {
	url, hc, authorize, err := g.httpsAPI(func(o stackout.Outputs) string { return o.DecisionsAPIURL })
	if err != nil {
		return nil, err
	}
	return decisions.NewClient(url, hc, authorize), nil
}

// predictAPI is a client of the platform's prediction API (shared/predict).
func (g *globals) predictAPI() (*predict.Client, error) {
	url, hc, authorize, err := g.httpsAPI(func(o stackout.Outputs) string { return o.PredictionAPIURL })
	if err != nil {
		return nil, err
	}
	return predict.NewClient(url, hc, authorize), nil
}

// httpsAPI is how to reach one of the platform's HTTPS APIs: its URL, an HTTP
// client and how to authorize a request. Locally both APIs are one, trusting
// only the certificate endpoint.json names (api.caCert), with its bearer
// token (api.token); a stack's are the output stackURL picks, signed with
// SigV4 (stackAPI).
func (g *globals) httpsAPI(stackURL func(stackout.Outputs) string) (string, *http.Client, func(*http.Request) error, error) {
	if g.stackName() != "" {
		return g.stackAPI(stackURL)
	}
	ep, err := g.readEndpoint()
	if err != nil {
		return "", nil, nil, err
	}
	if ep.API.URL == "" || ep.API.CACert == "" {
		return "", nil, nil, &exitError{code: exitProblem, err: errors.New("endpoint.json names no HTTPS API (api.url, api.caCert): restart mlops up")}
	}
	tlsCfg, err := api.ClientTLS(ep.API.CACert)
	if err != nil {
		return "", nil, nil, &exitError{code: exitProblem, err: err}
	}
	hc := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	return ep.API.URL, hc, apierror.BearerToken(ep.API.Token), nil
}

// poll calls check, then again every interval, until it reports done or an
// error, or ctx ends: then poll returns ctx's error, and the caller says what
// it waited for. A check fails only on errors it would not retry.
func poll(ctx context.Context, every time.Duration, check func() (bool, error)) error {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if done, err := check(); done || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}
