package lambdaenv

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Predict are the predict function's settings.
type Predict struct {
	// ModelTTL is how stale a served champion may be (MODEL_TTL, default 5s).
	ModelTTL time.Duration
	// UnknownFields is what an instance's field that is no contract column
	// gets (UNKNOWN_FIELDS: reject, the default, or ignore).
	UnknownFields string
	// OutOfRange is what a value outside its column's bounds gets
	// (OUT_OF_RANGE: reject, the default, or flag: scored and flagged).
	OutOfRange string
	// PIIKeyParameter names the SSM SecureString parameter holding the
	// deployment's secret for hashing personal data in the prediction log
	// (PII_KEY_PARAMETER: base64 of at least 32 bytes). Without it, personal
	// data is dropped from the log.
	PIIKeyParameter string
	// PIIMode is "hmac" or "drop" (PII_MODE; default hmac with a key, else drop).
	PIIMode string
	// SampleRate is the share of requests logged (LOG_SAMPLE_RATE, default 1).
	SampleRate float64
	// Shadow scores the version awaiting a decision beside the champion
	// (SHADOW_SCORING, default true).
	Shadow bool
}

// ReadPredict reads the predict settings through getenv.
func ReadPredict(getenv func(string) string) (Predict, error) {
	p := Predict{ModelTTL: 5 * time.Second, UnknownFields: getenv("UNKNOWN_FIELDS"), OutOfRange: getenv("OUT_OF_RANGE"),
		PIIKeyParameter: getenv("PII_KEY_PARAMETER"), PIIMode: getenv("PII_MODE"), SampleRate: 1, Shadow: true}
	if v := getenv("MODEL_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return p, fmt.Errorf("MODEL_TTL=%q: expected a positive duration such as 5s", v)
		}
		p.ModelTTL = d
	}
	if v := getenv("LOG_SAMPLE_RATE"); v != "" {
		r, err := strconv.ParseFloat(v, 64)
		if err != nil || !(r > 0 && r <= 1) {
			return p, fmt.Errorf("LOG_SAMPLE_RATE=%q: expected a share above 0 and at most 1", v)
		}
		p.SampleRate = r
	}
	if v := getenv("SHADOW_SCORING"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return p, fmt.Errorf("SHADOW_SCORING=%q: expected true or false", v)
		}
		p.Shadow = b
	}
	for _, c := range []struct{ name, v string }{{"UNKNOWN_FIELDS", p.UnknownFields}, {"OUT_OF_RANGE", p.OutOfRange}, {"PII_MODE", p.PIIMode}} {
		want := map[string][]string{"UNKNOWN_FIELDS": {"reject", "ignore"}, "OUT_OF_RANGE": {"reject", "flag"}, "PII_MODE": {"hmac", "drop"}}[c.name]
		if c.v != "" && c.v != want[0] && c.v != want[1] {
			return p, fmt.Errorf("%s=%q: expected %s or %s", c.name, c.v, want[0], want[1])
		}
	}
	if p.PIIMode == "hmac" && p.PIIKeyParameter == "" {
		return p, fmt.Errorf("PII_MODE=hmac needs PII_KEY_PARAMETER, the SSM parameter holding the key")
	}
	return p, nil
}

// PIIKey reads the key for hashing personal data from SSM (nil when no
// parameter is set). The value is base64 of the key's bytes.
func (p Predict) PIIKey(ctx context.Context, cfg aws.Config) ([]byte, error) {
	if p.PIIKeyParameter == "" {
		return nil, nil
	}
	value, err := getParameter(ctx, cfg, p.PIIKeyParameter)
	if err != nil {
		return nil, fmt.Errorf("PII key parameter %s: %w", p.PIIKeyParameter, err)
	}
	key, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return nil, fmt.Errorf("PII key parameter %s: expected base64: %w", p.PIIKeyParameter, err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("PII key parameter %s: %d bytes, want at least 32", p.PIIKeyParameter, len(key))
	}
	return key, nil
}

// getParameter is SSM's GetParameter with decryption: one SigV4-signed POST
// in SSM's JSON 1.1 protocol, made without the SDK's SSM client, whose
// package initialisation (its schemas) cost every process that links this
// package 6-7 ms at each cold start, for this one call. The endpoint is the
// region's (cfg.BaseEndpoint where set, as the SDK's clients take it);
// throttling, server errors and failed connections are tried again, twice.
func getParameter(ctx context.Context, cfg aws.Config, name string) (string, error) {
	endpoint := "https://ssm." + cfg.Region + ".amazonaws.com"
	if strings.HasPrefix(cfg.Region, "cn-") {
		endpoint += ".cn"
	}
	if cfg.BaseEndpoint != nil {
		endpoint = strings.TrimSuffix(*cfg.BaseEndpoint, "/")
	}
	if cfg.Credentials == nil {
		return "", errors.New("no AWS credentials")
	}
	body, err := json.Marshal(struct {
		Name           string
		WithDecryption bool
	}{name, true})
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(body)
	hc := cfg.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	for attempt := 1; ; attempt++ {
		value, retry, err := getParameterOnce(ctx, cfg, hc, endpoint, body, hex.EncodeToString(sum[:]))
		if err == nil || !retry || attempt == 3 {
			return value, err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("%w (after: %w)", ctx.Err(), err)
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
}

// getParameterOnce makes one call; retry says whether another may succeed.
func getParameterOnce(ctx context.Context, cfg aws.Config, hc aws.HTTPClient, endpoint string, body []byte, bodySHA string) (value string, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return "", false, err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", false, fmt.Errorf("credentials: %w", err)
	}
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, bodySHA, "ssm", cfg.Region, time.Now()); err != nil {
		return "", false, fmt.Errorf("sign: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", ctx.Err() == nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", true, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// {"__type": "com.amazonaws...#ParameterNotFound", "message": "..."}
		var e struct {
			Type     string `json:"__type"`
			Message  string `json:"message"`
			Message2 string `json:"Message"`
		}
		_ = json.Unmarshal(raw, &e)
		kind := e.Type[strings.LastIndex(e.Type, "#")+1:]
		msg := e.Message + e.Message2
		retry := resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || strings.Contains(kind, "Throttl")
		return "", retry, fmt.Errorf("SSM GetParameter: HTTP %d %s: %s", resp.StatusCode, kind, msg)
	}
	var out struct {
		Parameter *struct{ Value *string }
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Parameter == nil || out.Parameter.Value == nil {
		return "", false, fmt.Errorf("SSM GetParameter: an answer without Parameter.Value (%v)", err)
	}
	return *out.Parameter.Value, false, nil
}
