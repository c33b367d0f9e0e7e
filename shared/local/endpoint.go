package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// EndpointFile is the file `mlops up` writes in its directory for every other command.
const EndpointFile = "endpoint.json"

// Endpoint is how clients reach a running local platform.
type Endpoint struct {
	S3      S3Endpoint `json:"s3"`
	Buckets Buckets    `json:"buckets"`
	API     API        `json:"api"`
	// Site is the governance site's address (http://127.0.0.1:9080/), where
	// mlops up serves it; empty: not served.
	Site      string    `json:"site,omitempty"`
	Dir       string    `json:"dir"`
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// S3Endpoint is the embedded S3 endpoint and the credentials it accepts.
type S3Endpoint struct {
	URL             string `json:"url"`
	Region          string `json:"region"`
	AccessKeyID     string `json:"accessKeyId"`
	SecretAccessKey string `json:"secretAccessKey"`
}

// API is the platform's HTTPS API: its URL, the bearer token every route but the
// health check wants, and the self-signed certificate clients trust.
type API struct {
	URL    string `json:"url,omitempty"`
	Token  string `json:"token,omitempty"`
	CACert string `json:"caCert,omitempty"`
}

// Buckets are the platform's four bucket names, the same locally as in the stack.
type Buckets struct {
	Uploads    string `json:"uploads"`
	Platform   string `json:"platform"`
	Monitoring string `json:"monitoring"`
	Site       string `json:"site"`
}

// DefaultBuckets are the local bucket names.
func DefaultBuckets() Buckets {
	return Buckets{Uploads: "mlops-uploads", Platform: "mlops-platform", Monitoring: "mlops-monitoring", Site: "mlops-site"}
}

// All lists the bucket names.
func (b Buckets) All() []string { return []string{b.Uploads, b.Platform, b.Monitoring, b.Site} }

// WriteEndpoint writes ep to dir/endpoint.json, readable only by its owner (it holds
// the secret key), atomically so a reader never sees half a file.
func WriteEndpoint(dir string, ep Endpoint) error {
	b, err := json.MarshalIndent(ep, "", "  ")
	if err != nil {
		return fmt.Errorf("encode endpoint: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".endpoint-*.json")
	if err != nil {
		return fmt.Errorf("write endpoint: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write endpoint: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write endpoint: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write endpoint: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, EndpointFile)); err != nil {
		return fmt.Errorf("write endpoint: %w", err)
	}
	return nil
}

// ReadEndpoint reads an endpoint file.
func ReadEndpoint(path string) (Endpoint, error) {
	var ep Endpoint
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ep, fmt.Errorf("%s not found: is `mlops up` running? (start it, or pass --dir or --endpoint-file)", path)
	}
	if err != nil {
		return ep, fmt.Errorf("read endpoint: %w", err)
	}
	if err := json.Unmarshal(b, &ep); err != nil {
		return ep, fmt.Errorf("endpoint file %s: %w", path, err)
	}
	if ep.S3.URL == "" || ep.Buckets.Uploads == "" {
		return ep, fmt.Errorf("endpoint file %s: s3.url and buckets are required", path)
	}
	return ep, nil
}
