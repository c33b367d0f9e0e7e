package awstest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/openmlops/mlops/shared/aws/awstest"
)

// errorsTB keeps the errors a check reports instead of failing the test.
type errorsTB struct {
	testing.TB
	errs []string
}

func (e *errorsTB) Errorf(format string, a ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, a...))
}

func TestAnSDKClientOfConfigReachesTheFakeSigned(t *testing.T) {
	var got []byte
	fake := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := awstest.ReadSigned(t, w, r, map[string]string{"X-Amz-Target": "AWSEvents.PutEvents"}, true)
		if !ok {
			return
		}
		got = body
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"FailedEntryCount":0,"Entries":[]}`)
	})
	client := eventbridge.NewFromConfig(awstest.Config(t, fake, nil))
	if _, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{{Source: aws.String("test")}}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `"Source":"test"`) {
		t.Fatalf("body %q", got)
	}
}

func TestReadSignedRefusesWhatTheSDKWouldNotSend(t *testing.T) {
	for _, tc := range []struct {
		name   string
		method string
		header map[string]string
		valid  bool
	}{
		{"unsigned", http.MethodPost, map[string]string{"X-Amz-Target": "T"}, true},
		{"a GET", http.MethodGet, map[string]string{"X-Amz-Target": "T", "Authorization": "AWS4-HMAC-SHA256 x"}, true},
		{"another target", http.MethodPost, map[string]string{"X-Amz-Target": "U", "Authorization": "AWS4-HMAC-SHA256 x"}, true},
		{"refused by the fake", http.MethodPost, map[string]string{"X-Amz-Target": "T", "Authorization": "AWS4-HMAC-SHA256 x"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "/", strings.NewReader("{}"))
			for k, v := range tc.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			tb := &errorsTB{TB: t}
			if _, ok := awstest.ReadSigned(tb, w, r, map[string]string{"X-Amz-Target": "T"}, tc.valid); ok || w.Code != http.StatusBadRequest || len(tb.errs) != 1 {
				t.Fatalf("ok %v, status %d, errors %q", ok, w.Code, tb.errs)
			}
		})
	}
}
