package drift

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/quality"
)

// Quality is a report's live quality: the champion's predictions in the
// window that have labels (joined from feedback files) against its training
// figures, and for a binary classifier the quality estimated from all its
// predictions' probabilities before any label (CBPE), set beside what the
// labels then showed.
type Quality struct {
	// Labels are the joined labels for the window's predictions of the
	// compared version; OtherVersions those for other versions (not
	// measured); Relabelled the labels given again by a later file (the
	// first one counts).
	Labels        int `json:"labels"`
	OtherVersions int `json:"otherVersions"`
	Relabelled    int `json:"relabelled"`
	// Binary, Multiclass or Regression: the live figures with intervals.
	Binary     *quality.Binary     `json:"binary,omitempty"`
	Multiclass *quality.Multiclass `json:"multiclass,omitempty"`
	Regression *quality.Regression `json:"regression,omitempty"`
	// Training are the test-set figures recorded at training; Comparisons
	// the live figures against them, under the policy's maxQualityDecay.
	Training    map[string]float64   `json:"training"`
	Comparisons []quality.Comparison `json:"comparisons"`
	// Estimated is CBPE on every logged prediction of the window (binary
	// classifiers), EstimatedSample how many probabilities it used (a
	// deterministic sample beyond MaxEstimateRows), and Versus the estimate
	// of the labelled predictions beside what their labels showed.
	Estimated       *quality.CBPE    `json:"estimated,omitempty"`
	EstimatedSample int              `json:"estimatedSample,omitempty"`
	Versus          []quality.Versus `json:"versus,omitempty"`
	Decayed         bool             `json:"decayed"`
	Reasons         []string         `json:"reasons,omitempty"`
}

// MaxEstimateRows bounds the probabilities the estimate keeps: beyond it a
// reservoir sample (seeded, so a rerun gives the same report) stands for
// the window, whose error at that size is far below the estimate's own.
const MaxEstimateRows = 200_000

// estimator keeps the positive class's probabilities of a binary
// classifier's predictions, or a reservoir sample of them.
type estimator struct {
	p   []float64
	n   int64
	rng *rand.Rand
}

func newEstimator() *estimator { return &estimator{rng: rand.New(rand.NewPCG(1, 2))} }

func (e *estimator) add(p float64) {
	e.n++
	if len(e.p) < MaxEstimateRows {
		e.p = append(e.p, p)
		return
	}
	if j := e.rng.Int64N(e.n); j < MaxEstimateRows {
		e.p[j] = p
	}
}

// addQuality measures the window's labelled predictions and estimates the
// rest. A window without labels still gets the estimate.
func (s *Service) addQuality(ctx context.Context, rep *Report, bl *baseline, w Window, est *estimator, set Settings) error {
	b := bl.bundle
	q := &Quality{Training: b.Metrics.Test, Comparisons: []quality.Comparison{}}
	type key struct {
		id    string
		index int
	}
	seen := map[key]bool{}
	var y, p []float64
	var yc []int
	var probs []float64
	outs := b.Encoding.OutputColumns()
	err := s.readLabels(ctx, rep.Model, w, func(j Joined) error {
		k := key{j.RequestID, j.Index}
		if seen[k] {
			q.Relabelled++
			return nil
		}
		seen[k] = true
		if j.Version != bl.version.Version {
			q.OtherVersions++
			return nil
		}
		switch b.Encoding.Target.Kind {
		case bundle.LabelBinary:
			v, ok := j.Outputs[outs[0]].(float64)
			if !ok || !(v >= 0 && v <= 1) {
				return nil
			}
			y, p = append(y, j.Value), append(p, v)
		case bundle.LabelMulticlass:
			row := make([]float64, len(outs)-1)
			for i := range row {
				v, ok := j.Outputs[outs[i]].(float64)
				if !ok || !(v >= 0 && v <= 1) {
					return nil
				}
				row[i] = v
			}
			yc, probs = append(yc, int(j.Value)), append(probs, row...)
		default:
			v, ok := j.Outputs[bundle.OutputPrediction].(float64)
			if !ok {
				return nil
			}
			y, p = append(y, j.Value), append(p, v)
		}
		q.Labels++
		return nil
	})
	if err != nil {
		return err
	}
	var live map[string]quality.Estimate
	if q.Labels > 0 {
		switch b.Encoding.Target.Kind {
		case bundle.LabelBinary:
			m, err := quality.MeasureBinary(y, p, b.Encoding.Threshold)
			if err != nil {
				return fmt.Errorf("live quality: %w", err)
			}
			q.Binary, live = &m, m.Figures()
		case bundle.LabelMulticlass:
			m, err := quality.MeasureMulticlass(yc, probs, len(outs)-1)
			if err != nil {
				return fmt.Errorf("live quality: %w", err)
			}
			q.Multiclass, live = &m, m.Figures()
		default:
			m, err := quality.MeasureRegression(y, p)
			if err != nil {
				return fmt.Errorf("live quality: %w", err)
			}
			q.Regression, live = &m, m.Figures()
		}
	}
	names := make([]string, 0, len(set.MaxDecay))
	for name := range set.MaxDecay {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		e, ok := live[name]
		if !ok {
			continue
		}
		cs, err := quality.Compare(map[string]quality.Estimate{name: e}, q.Training, set.MaxDecay[name])
		if err != nil {
			return fmt.Errorf("live quality: %w", err)
		}
		q.Comparisons = append(q.Comparisons, cs...)
	}
	for _, c := range q.Comparisons {
		if c.Decayed {
			q.Decayed = true
			q.Reasons = append(q.Reasons, fmt.Sprintf("%s %.3f live against %.3f at training (more than %.3g worse, interval included)",
				c.Metric, c.Live, c.Training, c.MaxDecay))
		}
	}
	if est != nil && len(est.p) > 0 {
		var cal *quality.Calibrator
		if bins := b.Metrics.Calibration; len(bins) > 0 {
			if c, err := quality.CalibratorFromBins(bins); err == nil {
				cal = c
			}
		}
		e, err := quality.EstimateBinary(est.p, b.Encoding.Threshold, cal)
		if err != nil {
			return fmt.Errorf("estimated quality: %w", err)
		}
		q.Estimated, q.EstimatedSample = &e, len(est.p)
		if q.Binary != nil {
			// Labels often come for a selection of the traffic: the estimate
			// set beside them is of the same labelled predictions.
			if el, err := quality.EstimateBinary(p, b.Encoding.Threshold, cal); err == nil {
				q.Versus = quality.Beside(el, *q.Binary)
			}
		}
	}
	if q.Labels == 0 && q.Estimated == nil {
		return nil
	}
	rep.Quality = q
	return nil
}
