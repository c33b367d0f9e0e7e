package bundle

import (
	"errors"
	"fmt"
	"strconv"
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

// Score is Encode then Predict.
func (s *Scorer) Score(record []string) ([]float32, error) {
	if err := s.Encode(record); err != nil {
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
