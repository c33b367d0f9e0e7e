package platform

import (
	"strings"
	"testing"
)

// A stage's context from -c is text from the operator: any text gives
// options or an error naming the context key, never a panic, and Apply then
// Validate on what parsed never panic either.
func FuzzParseStageContext(f *testing.F) {
	for _, s := range []string{`{}`, `{"spot": true, "maxVCpus": 8}`, `{"alarmEmails": ["a@b"]}`, `{"reconcileMinutes": -3}`,
		`{"gpuInstanceTypes": null}`, `[1]`, `"x"`, `{"spots": 1}`, `{"account": 123}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseStageContext("mlops:dev", s)
		if err != nil {
			if !strings.Contains(err.Error(), "mlops:dev") {
				t.Fatalf("error without the key: %v", err)
			}
			return
		}
		p := Defaults("dev")
		sc.Apply(&p)
		_ = p.Validate()
	})
}
