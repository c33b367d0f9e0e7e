package predlog_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/openmlops/mlops/shared/predlog"
)

// The realised share of sampled requests is the rate, within 5 standard
// deviations of a binomial draw, and a request id decides alike every time.
func TestSamplerRate(t *testing.T) {
	const n = 100_000
	for _, rate := range []float64{0, 0.01, 0.1, 0.5, 0.9, 1} {
		s, err := predlog.NewSampler(rate)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := predlog.NewSampler(rate)
		sampled := 0
		for i := range n {
			req := fmt.Sprintf("7f3c9a1e-%08d", i) // request ids as a server numbers them
			got := s.Sampled(req)
			if got {
				sampled++
			}
			if again.Sampled(req) != got {
				t.Fatalf("rate %v: %s decided twice differently", rate, req)
			}
		}
		sd := math.Sqrt(n * rate * (1 - rate))
		if d := math.Abs(float64(sampled) - n*rate); d > 5*sd {
			t.Errorf("rate %v: %d of %d sampled, %.1f standard deviations off", rate, sampled, n, d/sd)
		}
		if s.Rate() != rate {
			t.Errorf("Rate() = %v, want %v", s.Rate(), rate)
		}
	}
	var zero predlog.Sampler
	if zero.Rate() != 1 || !zero.Sampled("any") {
		t.Error("the zero Sampler must log every request")
	}
	for _, bad := range []float64{-0.1, 1.5, math.NaN(), math.Inf(1)} {
		if _, err := predlog.NewSampler(bad); err == nil {
			t.Errorf("rate %v accepted", bad)
		}
	}
}

// Sampling is decided per request, so nested rates select nested sets: a
// request logged at 10% is logged at 50% too (raising the rate only adds).
func TestSamplerNested(t *testing.T) {
	low, _ := predlog.NewSampler(0.1)
	high, _ := predlog.NewSampler(0.5)
	for i := range 20_000 {
		req := fmt.Sprint("req-", i)
		if low.Sampled(req) && !high.Sampled(req) {
			t.Fatalf("%s sampled at 10%% but not at 50%%", req)
		}
	}
}
