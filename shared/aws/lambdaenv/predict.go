package lambdaenv

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
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
	out, err := ssm.NewFromConfig(cfg).GetParameter(ctx, &ssm.GetParameterInput{
		Name: aws.String(p.PIIKeyParameter), WithDecryption: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("PII key parameter %s: %w", p.PIIKeyParameter, err)
	}
	key, err := base64.StdEncoding.DecodeString(aws.ToString(out.Parameter.Value))
	if err != nil {
		return nil, fmt.Errorf("PII key parameter %s: expected base64: %w", p.PIIKeyParameter, err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("PII key parameter %s: %d bytes, want at least 32", p.PIIKeyParameter, len(key))
	}
	return key, nil
}
