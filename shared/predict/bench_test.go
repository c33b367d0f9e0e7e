package predict_test

import (
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/predict"
)

// credit32 is a request of 32 credit applicants, as the endpoint benchmark sends.
func creditBody(n int) string {
	one := `{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance",` +
		` "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}`
	return `{"instances": [` + strings.TrimSuffix(strings.Repeat(one+",", n), ",") + `]}`
}

func BenchmarkDecodeRequest(b *testing.B) {
	for _, n := range []int{1, 32} {
		body := creditBody(n)
		b.Run(map[int]string{1: "1", 32: "32"}[n], func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				req, err := predict.DecodeRequestSized(strings.NewReader(body), int64(len(body)), predict.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				req.Release() // as the server does

			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	c := creditContract(b)
	k := newChecker(b, c, c.Features, predict.CheckOptions{})
	for _, n := range []int{1, 32} {
		req := mustRequest(b, creditBody(n))
		b.Run(map[int]string{1: "1", 32: "32"}[n], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				// As the server checks: into memory released by the last.
				rows, err := k.CheckRows(req.Instances)
				if err != nil {
					b.Fatal(err)
				}
				rows.Release()
			}
		})
	}
}
