package predlog

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
)

// Sampler decides which requests are logged. The decision is per request (all
// its instances or none) and a function of the request id alone, so a retry
// of the same id, on any server, decides alike. The zero Sampler logs every
// request.
type Sampler struct {
	rate float64
	set  bool // false in the zero value, whose rate is 1 (the default)
}

// NewSampler returns a sampler that logs a share rate of requests, 0 to 1.
func NewSampler(rate float64) (Sampler, error) {
	if math.IsNaN(rate) || rate < 0 || rate > 1 {
		return Sampler{}, fmt.Errorf("sampling rate %v: want a number from 0 to 1", rate)
	}
	return Sampler{rate: rate, set: true}, nil
}

// Rate is the share of requests logged.
func (s Sampler) Rate() float64 {
	if !s.set {
		return 1
	}
	return s.rate
}

// Sampled reports whether the request's records are logged: the first 53 bits
// of the SHA-256 of its id, as a fraction of 1, fall below the rate.
func (s Sampler) Sampled(requestID string) bool {
	rate := s.Rate()
	switch {
	case rate >= 1:
		return true
	case rate <= 0:
		return false
	}
	sum := sha256.Sum256([]byte(requestID))
	u := float64(binary.BigEndian.Uint64(sum[:8])>>11) / (1 << 53)
	return u < rate
}
