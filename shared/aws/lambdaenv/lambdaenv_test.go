package lambdaenv

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	env := map[string]string{"UPLOADS_BUCKET": "u", "PLATFORM_BUCKET": "p", "EVENT_BUS_NAME": "b"}
	get := func(k string) string { return env[k] }
	s, err := Read(get)
	if err != nil || s.MaxUploadBytes != DefaultMaxUploadBytes || s.S3PathStyle {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	if err := s.Require("UPLOADS_BUCKET", "PLATFORM_BUCKET", "EVENT_BUS_NAME"); err != nil {
		t.Fatal(err)
	}
	if err := s.Require("SITE_BUCKET"); err == nil || !strings.Contains(err.Error(), "SITE_BUCKET") {
		t.Fatalf("missing SITE_BUCKET: %v", err)
	}
	env["MAX_UPLOAD_BYTES"], env["MLOPS_S3_PATH_STYLE"] = "0", "true"
	if s, err = Read(get); err != nil || s.MaxUploadBytes != 0 || !s.S3PathStyle {
		t.Fatalf("overrides: %+v %v", s, err)
	}
	for k, v := range map[string]string{"MAX_UPLOAD_BYTES": "-1", "MLOPS_S3_PATH_STYLE": "maybe"} {
		env[k] = v
		if _, err := Read(get); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: %v", k, v, err)
		}
		delete(env, k)
	}
}
