package drift

import (
	"math"
	"sort"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/predlog"
)

// ShadowSummary is one candidate's answers beside the champion's on the
// same instances.
type ShadowSummary struct {
	Version      int    `json:"version"`
	BundleSHA256 string `json:"bundleSha256"`
	// Records are the champion's answers it was scored beside; Errors those
	// it failed on (its failure never reached a caller).
	Records int64 `json:"records"`
	Errors  int64 `json:"errors"`
	// Agreement (classifiers) is the share of its answers with the
	// champion's label.
	Agreement *float64 `json:"agreement,omitempty"`
	// Output names the compared output (the positive class's probability,
	// or the regression's prediction); MeanAbsDiff and MaxAbsDiff are its
	// distance from the champion's, and ChampionMean and ShadowMean the two
	// means.
	Output       string   `json:"output,omitempty"`
	MeanAbsDiff  *float64 `json:"meanAbsDiff,omitempty"`
	MaxAbsDiff   *float64 `json:"maxAbsDiff,omitempty"`
	ChampionMean *float64 `json:"championMean,omitempty"`
	ShadowMean   *float64 `json:"shadowMean,omitempty"`
}

// maxShadows bounds the candidates a report summarizes (a hostile log could
// name any number of versions).
const maxShadows = 10

type shadowAcc struct {
	sum                        ShadowSummary
	labelled, agree            int64
	compared                   int64
	absSum, absMax, cSum, sSum float64
}

// shadows accumulates the candidates' answers of a window.
type shadows struct {
	output     string // "" for multiclass: labels only
	classifier bool
	by         map[int]*shadowAcc
}

func newShadows(b *bundle.Bundle, probName string) *shadows {
	s := &shadows{by: map[int]*shadowAcc{}, classifier: b.Encoding.Target.Kind != bundle.LabelRegression}
	switch b.Encoding.Target.Kind {
	case bundle.LabelBinary, bundle.LabelRegression:
		s.output = probName
	}
	return s
}

func (s *shadows) add(r *predlog.Record) {
	sh := r.Shadow
	a := s.by[sh.Version]
	if a == nil {
		if len(s.by) >= maxShadows {
			return
		}
		a = &shadowAcc{sum: ShadowSummary{Version: sh.Version, BundleSHA256: clipMsg(sh.BundleSHA256), Output: s.output}}
		s.by[sh.Version] = a
	}
	a.sum.Records++
	if sh.Error != "" || sh.Outputs == nil {
		a.sum.Errors++
		return
	}
	if s.classifier {
		cl, ok1 := r.Outputs[bundle.OutputLabel].(string)
		sl, ok2 := sh.Outputs[bundle.OutputLabel].(string)
		if ok1 && ok2 {
			a.labelled++
			if cl == sl {
				a.agree++
			}
		}
	}
	if s.output == "" {
		return
	}
	c, ok1 := r.Outputs[s.output].(float64)
	v, ok2 := sh.Outputs[s.output].(float64)
	if !ok1 || !ok2 || math.IsNaN(c) || math.IsNaN(v) || math.IsInf(c, 0) || math.IsInf(v, 0) {
		return
	}
	a.compared++
	d := math.Abs(c - v)
	a.absSum += d
	a.absMax = math.Max(a.absMax, d)
	a.cSum += c
	a.sSum += v
}

// summaries are the candidates in version order.
func (s *shadows) summaries() []ShadowSummary {
	var out []ShadowSummary
	for _, a := range s.by {
		sum := a.sum
		if a.labelled > 0 {
			sum.Agreement = ptrTo(float64(a.agree) / float64(a.labelled))
		}
		if a.compared > 0 {
			n := float64(a.compared)
			sum.MeanAbsDiff, sum.MaxAbsDiff = ptrTo(a.absSum/n), ptrTo(a.absMax)
			sum.ChampionMean, sum.ShadowMean = ptrTo(a.cSum/n), ptrTo(a.sSum/n)
		}
		out = append(out, sum)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

func ptrTo(f float64) *float64 { return &f }
