package bundle

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/openmlops/mlops/shared/xgboost"
)

// The outputs a bundle's predictions add to a row. The CLI's scored CSV, test
// sets and the prediction endpoint all name them this way, so that a column
// means one thing everywhere:
//
//   - binary: p_<positive class> (its probability), then label (the class the
//     bundle's threshold picks);
//   - multiclass: p_<class> for each class in Encoding.Target.Classes order,
//     then label (the most probable class);
//   - regression: prediction.
const (
	OutputLabel      = "label"
	OutputPrediction = "prediction"
	OutputProbPrefix = "p_"
)

// OutputColumns names the outputs of enc's model, in the order Scorer.Cells
// writes them.
func (enc *Encoding) OutputColumns() []string {
	t := &enc.Target
	switch t.Kind {
	case LabelBinary: // Open checks that a binary target has two classes
		return []string{OutputProbPrefix + t.Classes[1], OutputLabel}
	case LabelMulticlass:
		names := make([]string, 0, len(t.Classes)+1)
		for _, c := range t.Classes {
			names = append(names, OutputProbPrefix+c)
		}
		return append(names, OutputLabel)
	}
	return []string{OutputPrediction}
}

// Scorer scores records of one header with a verified bundle: it finds the
// features by column name, encodes each record with the bundle's own encoding,
// predicts with the Go evaluator and writes the outputs as OutputColumns names
// them. It reuses its buffers: one Scorer serves one goroutine.
type Scorer struct {
	b       *Bundle
	h       *HeaderEncoder
	x       []float32
	out     []float32
	columns []string
	ex      *xgboost.Explainer // made by the first Explain
	contrib []float32          // the model columns' contributions
}

// Scorer returns a scorer for records whose columns header names. Columns
// that are not features are ignored; a missing feature is an error.
func (b *Bundle) Scorer(header []string) (*Scorer, error) {
	if b == nil || b.Model == nil || b.Encoder == nil {
		return nil, errors.New("scorer: no bundle")
	}
	h, err := b.Encoder.ForHeader(header)
	if err != nil {
		return nil, err
	}
	return &Scorer{b: b, h: h, x: make([]float32, len(b.Encoder.Columns())),
		out: make([]float32, b.Model.NumOutputs()), columns: b.Encoding.OutputColumns()}, nil
}

// Columns names the outputs Cells writes (OutputColumns).
func (s *Scorer) Columns() []string { return s.columns }

// Position is the index, in a record, of the column of feature i (as a
// *ValueError names it), to point at the offending cell.
func (s *Scorer) Position(feature int) int { return s.h.Position(feature) }

// Encode encodes one record into the scorer's feature vector. Its errors are
// the encoding's (a *ValueError for a value the encoding refuses).
func (s *Scorer) Encode(record []string) error { return s.h.Encode(record, s.x) }

// Predict evaluates the model on the vector the last Encode made. The result
// is the scorer's buffer, valid until the next call: the positive class's
// probability (binary), the class probabilities (multiclass) or the value
// (regression).
func (s *Scorer) Predict() ([]float32, error) {
	if err := s.b.Model.Predict(s.x, s.out); err != nil {
		return nil, fmt.Errorf("%s: %w", s.b, err)
	}
	return s.out, nil
}

// NumExplained is the number of values Explain writes: for each output (one,
// or one per class), a contribution per input feature in Features order, then
// the bias.
func (s *Scorer) NumExplained() int {
	return s.b.Model.NumOutputs() * (len(s.b.Encoder.features) + 1)
}

// Explain writes the SHAP contributions of the row the last Encode made into
// dst (NumExplained values), per input feature: a one-hot feature's columns
// are summed into it, which is exact because SHAP values are additive. They
// are in margin space (log-odds for a binary model): each output's values sum
// to its margin, as xgboost's pred_contribs do.
func (s *Scorer) Explain(dst []float32) error {
	if len(dst) != s.NumExplained() {
		return fmt.Errorf("%s: explain: %d values for %d", s.b, len(dst), s.NumExplained())
	}
	if s.ex == nil {
		ex, err := s.b.Model.NewExplainer()
		if err != nil {
			return fmt.Errorf("%s: %w", s.b, err)
		}
		s.ex, s.contrib = ex, make([]float32, s.b.Model.NumContributions())
	}
	if err := s.ex.Contributions(s.x, s.contrib); err != nil {
		return fmt.Errorf("%s: %w", s.b, err)
	}
	feats := s.b.Encoder.features
	nc, nf := len(s.x)+1, len(feats)+1
	for g := range s.b.Model.NumOutputs() {
		src, out := s.contrib[g*nc:(g+1)*nc], dst[g*nf:(g+1)*nf]
		for i, f := range feats {
			var sum float32
			for _, v := range src[f.col : f.col+f.n] {
				sum += v
			}
			out[i] = sum
		}
		out[nf-1] = src[nc-1]
	}
	return nil
}

// Score is Encode then Predict.
func (s *Scorer) Score(record []string) ([]float32, error) {
	return s.ScoreParsed(record, nil)
}

// ScoreParsed is Score of a record some of whose numbers the caller has read
// already (HeaderEncoder.EncodeParsed).
func (s *Scorer) ScoreParsed(record []string, parsed []float32) ([]float32, error) {
	if err := s.h.EncodeParsed(record, parsed, s.x); err != nil {
		return nil, err
	}
	return s.Predict()
}

// Cells writes the outputs of one prediction into dst (len(Columns())) in
// Columns order: each probability or value exactly (FormatOutput), then the
// label.
func (s *Scorer) Cells(out []float32, dst []string) {
	enc := &s.b.Encoding
	switch enc.Target.Kind {
	case LabelBinary:
		dst[0] = FormatOutput(out[0])
		dst[1] = enc.Label(out)
	case LabelMulticlass:
		for k, v := range out {
			dst[k] = FormatOutput(v)
		}
		dst[len(out)] = enc.Label(out)
	default:
		dst[0] = FormatOutput(out[0])
	}
}

// FormatOutput writes a float32 result exactly: its float64 value in the
// shortest form that reads back as that float64, which is how Python prints
// float(np.float32(v)) and how bundles record xgboost's predictions.
func FormatOutput(v float32) string { return strconv.FormatFloat(float64(v), 'g', -1, 64) }
