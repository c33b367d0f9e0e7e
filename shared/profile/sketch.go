package profile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// Hash64 is a fast, seedable, stable 64-bit hash. Sketch states are stored and merged
// across processes and versions, so the hash must never change (hash/maphash is
// randomly seeded per process, which rules it out).
func Hash64(b []byte, seed uint64) uint64 {
	const p1, p2 = 0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9
	h := seed ^ (uint64(len(b)) * p1)
	for len(b) >= 8 {
		h = (h ^ mix64(binary.LittleEndian.Uint64(b))) * p2
		h = bits.RotateLeft64(h, 31)
		b = b[8:]
	}
	if len(b) > 0 {
		var w uint64
		for i := len(b) - 1; i >= 0; i-- {
			w = w<<8 | uint64(b[i])
		}
		h = (h ^ mix64(w^0xff)) * p2
	}
	return mix64(h)
}

// mix64 is the splitmix64 finaliser: a bijection with good avalanche.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HashFloat hashes a number by value, so "1", "1.0" and "1e0" count as one distinct value.
func HashFloat(v float64) uint64 {
	if v == 0 {
		v = 0 // -0 and +0 are one value
	}
	return mix64(math.Float64bits(v) ^ 0x5851f42d4c957f2d)
}

// HLLPrecision is the HyperLogLog precision: 2^14 registers, about 0.8% standard error.
const HLLPrecision = 14

// HLL is a HyperLogLog distinct-count sketch (p = 14). Merging takes register maxima,
// so it is order independent.
type HLL struct {
	reg []uint8
}

// NewHLL returns an empty sketch.
func NewHLL() *HLL { return &HLL{reg: make([]uint8, 1<<HLLPrecision)} }

// Add records a value by its 64-bit hash.
func (h *HLL) Add(x uint64) {
	idx := x >> (64 - HLLPrecision)
	rho := uint8(bits.LeadingZeros64(x<<HLLPrecision|1<<(HLLPrecision-1)) + 1)
	if rho > h.reg[idx] {
		h.reg[idx] = rho
	}
}

// Merge folds o into h.
func (h *HLL) Merge(o *HLL) {
	for i, r := range o.reg {
		if r > h.reg[i] {
			h.reg[i] = r
		}
	}
}

// Estimate returns the estimated number of distinct values.
func (h *HLL) Estimate() float64 {
	m := float64(len(h.reg))
	sum, zeros := 0.0, 0
	for _, r := range h.reg {
		sum += math.Ldexp(1, -int(r))
		if r == 0 {
			zeros++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / sum
	if e <= 2.5*m && zeros > 0 {
		e = m * math.Log(m/float64(zeros)) // linear counting for small cardinalities
	}
	return e
}

// MarshalBinary encodes the registers (with a version byte).
func (h *HLL) MarshalBinary() ([]byte, error) {
	return append([]byte{1, HLLPrecision}, h.reg...), nil
}

// UnmarshalBinary decodes MarshalBinary's output.
func (h *HLL) UnmarshalBinary(b []byte) error {
	if len(b) != 2+1<<HLLPrecision || b[0] != 1 || b[1] != HLLPrecision {
		return fmt.Errorf("hll: expected %d bytes of version 1, precision %d state, got %d bytes", 2+1<<HLLPrecision, HLLPrecision, len(b))
	}
	for _, r := range b[2:] {
		if r > 64-HLLPrecision+1 {
			return errors.New("hll: register value out of range")
		}
	}
	h.reg = append(h.reg[:0], b[2:]...)
	return nil
}

// KLLK is the default KLL accuracy parameter: about 1.3% normalised rank error (99% of
// the time about 1.65%) in a few kilobytes.
const KLLK = 200

// KLL is a mergeable quantile sketch (Karnin, Lang, Liberty 2016). Its coin flips
// come from a seeded generator, so results are reproducible for a given input order.
type KLL struct {
	k      int
	levels [][]float64 // levels[h] items weigh 2^h
	size   int
	max    int   // capacity total; compaction runs when size reaches it
	caps   []int // capacity per level, recomputed when a level is added (math.Pow is slow)
	n      int64
	rng    uint64
	// Sampling: with shift s > 0, each block of 2^s values contributes one of them,
	// chosen at random, at level s (weight 2^s): the sampler that the KLL paper puts
	// below its compactors. A merged sketch of a large stream keeps nothing finer than
	// that weight anyway, so a stream known to be large skips most of the sorting.
	shift int
	pend  []float64
}

// SetSampling makes Add sample blocks of 2^shift values (see KLL); 0 turns it off.
// Pending values are flushed first, so the change is exact.
func (s *KLL) SetSampling(shift int) {
	s.flush()
	s.shift = min(max(shift, 0), 20)
}

// flush adds the values of an unfinished sampling block at full weight, so that
// weights always sum to N.
func (s *KLL) flush() {
	p := s.pend
	s.pend = s.pend[:0]
	for _, v := range p {
		s.add0(v)
	}
}

// NewKLL returns an empty sketch with accuracy parameter k (KLLK if ≤ 0) whose coin
// flips are seeded by seed.
func NewKLL(k int, seed uint64) *KLL {
	if k <= 0 {
		k = KLLK
	}
	s := &KLL{k: k, rng: seed | 1}
	s.levels = [][]float64{make([]float64, 0, k)}
	s.resize()
	return s
}

// Reset empties the sketch, keeping its storage, and reseeds it.
func (s *KLL) Reset(seed uint64) {
	for i := range s.levels {
		s.levels[i] = s.levels[i][:0]
	}
	s.levels = s.levels[:1]
	s.size, s.n, s.rng = 0, 0, seed|1
	s.pend, s.shift = s.pend[:0], 0
	s.resize()
}

func (s *KLL) resize() {
	s.caps = s.caps[:0]
	s.max = 0
	for h := range s.levels {
		c := s.levelCapacity(h)
		s.caps = append(s.caps, c)
		s.max += c
	}
}

func (s *KLL) capacity(h int) int { return s.caps[h] }

func (s *KLL) levelCapacity(h int) int {
	depth := len(s.levels) - h - 1
	c := int(math.Ceil(float64(s.k)*math.Pow(2.0/3.0, float64(depth)))) + 1
	return max(c, 2)
}

// N is the number of values added.
func (s *KLL) N() int64 { return s.n + int64(len(s.pend)) }

// Add records v. NaN is ignored: it has no rank.
func (s *KLL) Add(v float64) {
	if v != v {
		return
	}
	if s.shift > 0 {
		s.pend = append(s.pend, v)
		if len(s.pend) < 1<<s.shift {
			return
		}
		pick := s.pend[s.rand()&(1<<s.shift-1)]
		s.pend = s.pend[:0]
		for len(s.levels) <= s.shift {
			s.levels = append(s.levels, nil)
			s.resize()
		}
		s.levels[s.shift] = append(s.levels[s.shift], pick)
		s.size++
		s.n += 1 << s.shift
		if s.size >= s.max {
			s.compress()
		}
		return
	}
	s.add0(v)
}

func (s *KLL) add0(v float64) {
	s.levels[0] = append(s.levels[0], v)
	s.size++
	s.n++
	if s.size >= s.max {
		s.compress()
	}
}

func (s *KLL) coin() int { return int(s.rand() >> 63) }

// rand is xorshift64: cheap and deterministic.
func (s *KLL) rand() uint64 {
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	return s.rng
}

func (s *KLL) compress() {
	for s.size >= s.max {
		for h := 0; h < len(s.levels); h++ {
			if len(s.levels[h]) < s.capacity(h) {
				continue
			}
			if h+1 == len(s.levels) {
				s.levels = append(s.levels, nil)
				s.resize()
			}
			lv := s.levels[h]
			slices.Sort(lv)
			var keep []float64
			if len(lv)%2 == 1 {
				keep = lv[len(lv)-1:]
				lv = lv[:len(lv)-1]
			}
			up := s.levels[h+1]
			for i := s.coin(); i < len(lv); i += 2 {
				up = append(up, lv[i])
			}
			s.levels[h+1] = up
			removed := len(lv) - len(lv)/2
			if keep != nil {
				lv[0] = keep[0]
				s.levels[h] = lv[:1]
			} else {
				s.levels[h] = lv[:0]
			}
			s.size -= removed
			break
		}
	}
}

// Merge folds o into s.
func (s *KLL) Merge(o *KLL) {
	if o == nil {
		return
	}
	o.flush()
	s.flush()
	if o.n == 0 {
		return
	}
	for len(s.levels) < len(o.levels) {
		s.levels = append(s.levels, nil)
	}
	for h, lv := range o.levels {
		s.levels[h] = append(s.levels[h], lv...)
		s.size += len(lv)
	}
	s.n += o.n
	s.resize()
	s.compress()
}

type weighted struct {
	v float64
	w int64
}

func (s *KLL) sorted() ([]weighted, int64) {
	s.flush()
	var items []weighted
	var total int64
	for h, lv := range s.levels {
		for _, v := range lv {
			items = append(items, weighted{v, 1 << h})
			total += 1 << h
		}
	}
	slices.SortFunc(items, func(a, b weighted) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	return items, total
}

// Quantiles returns the estimated q-quantiles (each q in [0,1]); NaN when empty.
func (s *KLL) Quantiles(qs []float64) []float64 {
	items, total := s.sorted()
	out := make([]float64, len(qs))
	for i, q := range qs {
		if total == 0 {
			out[i] = math.NaN()
			continue
		}
		target := int64(math.Ceil(q * float64(total)))
		if target < 1 {
			target = 1
		}
		var cum int64
		out[i] = items[len(items)-1].v
		for _, it := range items {
			cum += it.w
			if cum >= target {
				out[i] = it.v
				break
			}
		}
	}
	return out
}

// CDF returns the estimated fraction of values ≤ each x.
func (s *KLL) CDF(xs []float64) []float64 {
	items, total := s.sorted()
	out := make([]float64, len(xs))
	if total == 0 {
		return out
	}
	for i, x := range xs {
		var cum int64
		for _, it := range items {
			if it.v > x {
				break
			}
			cum += it.w
		}
		out[i] = float64(cum) / float64(total)
	}
	return out
}

// MarshalBinary encodes the sketch, coin state included, so a restored sketch goes on
// exactly as the original would.
func (s *KLL) MarshalBinary() ([]byte, error) {
	s.flush()
	b := []byte{1}
	b = binary.AppendUvarint(b, uint64(s.k))
	b = binary.AppendUvarint(b, uint64(s.n))
	b = binary.LittleEndian.AppendUint64(b, s.rng)
	b = binary.AppendUvarint(b, uint64(len(s.levels)))
	for _, lv := range s.levels {
		b = binary.AppendUvarint(b, uint64(len(lv)))
		for _, v := range lv {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b, nil
}

// UnmarshalBinary decodes MarshalBinary's output.
func (s *KLL) UnmarshalBinary(b []byte) error {
	bad := errors.New("kll: truncated or corrupt state")
	if len(b) < 1 || b[0] != 1 {
		return errors.New("kll: expected a version 1 state")
	}
	b = b[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	k, ok1 := next()
	n, ok2 := next()
	if !ok1 || !ok2 || len(b) < 8 || k < 2 || k > 1<<16 || n > 1<<62 {
		return bad
	}
	rng := binary.LittleEndian.Uint64(b)
	b = b[8:]
	nl, ok := next()
	if !ok || nl == 0 || nl > 64 {
		return bad
	}
	levels := make([][]float64, nl)
	size := 0
	var weight uint64
	for h := range levels {
		m, ok := next()
		if !ok || m > uint64(len(b)/8) {
			return bad
		}
		lv := make([]float64, m)
		for i := range lv {
			lv[i] = math.Float64frombits(binary.LittleEndian.Uint64(b))
			b = b[8:]
		}
		levels[h] = lv
		size += int(m)
		weight += m << h
	}
	if len(b) != 0 || weight != n {
		return bad
	}
	*s = KLL{k: int(k), levels: levels, size: size, n: int64(n), rng: rng | 1}
	s.resize()
	s.compress()
	return nil
}

// Moments are the count, mean and sum of squared deviations of a stream, merged
// with Chan et al.'s parallel formula so that partition-wise results combine exactly.
type Moments struct {
	N    int64   `json:"n"`
	Mean float64 `json:"mean"`
	M2   float64 `json:"m2"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// Add records one value (Welford's update).
func (m *Moments) Add(v float64) {
	m.N++
	if m.N == 1 {
		m.Mean, m.M2, m.Min, m.Max = v, 0, v, v
		return
	}
	d := v - m.Mean
	m.Mean += d / float64(m.N)
	m.M2 += d * (v - m.Mean)
	m.Min = min(m.Min, v)
	m.Max = max(m.Max, v)
}

// Merge folds o into m.
func (m *Moments) Merge(o Moments) {
	if o.N == 0 {
		return
	}
	if m.N == 0 {
		*m = o
		return
	}
	n := m.N + o.N
	d := o.Mean - m.Mean
	m.Mean += d * float64(o.N) / float64(n)
	m.M2 += o.M2 + d*d*float64(m.N)*float64(o.N)/float64(n)
	m.N = n
	m.Min = min(m.Min, o.Min)
	m.Max = max(m.Max, o.Max)
}

// Std is the sample standard deviation (n−1), as pandas and R report it.
func (m Moments) Std() float64 {
	if m.N < 2 {
		return 0
	}
	return math.Sqrt(m.M2 / float64(m.N-1))
}

// ShiftedSums accumulates a chunk's moments without a division per value: sums of
// deviations from the chunk's first value, which keeps them well conditioned.
type ShiftedSums struct {
	n          int64
	k, s1, s2  float64
	minv, maxv float64
}

// Add records v.
func (s *ShiftedSums) Add(v float64) {
	if s.n == 0 {
		s.k, s.minv, s.maxv = v, v, v
	}
	s.n++
	d := v - s.k
	s.s1 += d
	s.s2 += d * d
	if v < s.minv {
		s.minv = v
	}
	if v > s.maxv {
		s.maxv = v
	}
}

// Moments converts the sums.
func (s *ShiftedSums) Moments() Moments {
	if s.n == 0 {
		return Moments{}
	}
	n := float64(s.n)
	mean := s.s1 / n
	m2 := s.s2 - s.s1*mean
	if m2 < 0 {
		m2 = 0
	}
	return Moments{N: s.n, Mean: s.k + mean, M2: m2, Min: s.minv, Max: s.maxv}
}

// AddBatch adds vs in order, with exactly the result of calling Add on each.
func (s *KLL) AddBatch(vs []float64) {
	for len(vs) > 0 {
		if s.shift == 0 {
			for _, v := range vs {
				if v == v {
					s.add0(v)
				}
			}
			return
		}
		b := 1 << s.shift
		if len(s.pend) > 0 || len(vs) < b {
			s.Add(vs[0])
			vs = vs[1:]
			continue
		}
		// A whole block with no pending values: pick one without copying the block.
		block := vs[:b]
		nan := false
		for _, v := range block {
			if v != v {
				nan = true
				break
			}
		}
		if nan {
			s.Add(vs[0])
			vs = vs[1:]
			continue
		}
		pick := block[s.rand()&uint64(b-1)]
		vs = vs[b:]
		for len(s.levels) <= s.shift {
			s.levels = append(s.levels, nil)
			s.resize()
		}
		s.levels[s.shift] = append(s.levels[s.shift], pick)
		s.size++
		s.n += int64(b)
		if s.size >= s.max {
			s.compress()
		}
	}
}

// AddBatch adds vs in order, with exactly the result of calling Add on each.
func (s *ShiftedSums) AddBatch(vs []float64) {
	if len(vs) == 0 {
		return
	}
	if s.n == 0 {
		s.k, s.minv, s.maxv = vs[0], vs[0], vs[0]
	}
	k, s1, s2, lo, hi := s.k, s.s1, s.s2, s.minv, s.maxv
	for _, v := range vs {
		d := v - k
		s1 += d
		s2 += d * d
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	s.n += int64(len(vs))
	s.s1, s.s2, s.minv, s.maxv = s1, s2, lo, hi
}

// Weighted returns the sketch's retained values in ascending order with the
// number of stream values each stands for (the weights sum to N): the step
// function that drift's two-sample statistics read, in one sort rather than
// one per CDF call.
func (s *KLL) Weighted() (values []float64, weights []int64) {
	items, _ := s.sorted()
	values, weights = make([]float64, len(items)), make([]int64, len(items))
	for i, it := range items {
		values[i], weights[i] = it.v, it.w
	}
	return values, weights
}
