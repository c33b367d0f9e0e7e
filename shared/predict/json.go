package predict

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/jsonappend"
)

// The bodies keep their fields' order on the wire (an instance's fields, a
// prediction's outputs and contributions), which encoding/json's maps do not:
// they are written and read here, as ordered JSON objects.

func finiteOrErr(what string, f float64) error {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Errorf("%s is %v: not a number JSON can carry", what, f)
	}
	return nil
}

// appendFields appends fields as one JSON object's members (no braces).
func appendFields(b []byte, fields []Field, sep bool) ([]byte, error) {
	for _, f := range fields {
		if len(f.Value) == 0 {
			return nil, fmt.Errorf("field %q has no value", f.Name)
		}
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(appendKey(b, f.Name), f.Value...)
	}
	return b, nil
}

// MarshalJSON writes the instance as one JSON object, its fields in order.
func (in Instance) MarshalJSON() ([]byte, error) { return appendInstance(nil, in) }

func appendInstance(b []byte, in Instance) ([]byte, error) {
	b, err := appendFields(append(b, '{'), in.Fields, false)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads one instance under DecodeRequest's rules for an
// instance: an object of scalars, no name twice, strings at most
// MaxStringBytes, numbers within float32's range.
func (in *Instance) UnmarshalJSON(data []byte) error {
	s := &scanner{b: bytes.Clone(data), lim: unlimited}
	s.ws()
	fields, err := s.instance(at{top: "instance", index: -1})
	if err != nil {
		return err
	}
	if s.ws(); s.i < len(s.b) {
		return s.fail(at{top: "instance", index: -1}, "one JSON object expected, found more after it")
	}
	in.Fields = fields
	return nil
}

// MarshalJSON writes {"instances": [...]} and "explain": true when asked.
func (r Request) MarshalJSON() ([]byte, error) {
	b := []byte(`{"instances":[`)
	for i, in := range r.Instances {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendInstance(b, in); err != nil {
			return nil, fmt.Errorf("instances[%d]: %w", i, err)
		}
	}
	b = append(b, ']')
	if r.Explain {
		b = append(b, `,"explain":true`...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads a request under DecodeRequest's rules, without its
// limits on the body's size and the number of instances (a file the CLI
// reads may be split into several requests: Split).
func (r *Request) UnmarshalJSON(data []byte) error {
	req, err := decode(bytes.Clone(data), unlimited)
	if err != nil {
		return err
	}
	*r = *req
	return nil
}

// ScorerOutputs makes a prediction's outputs from a scorer's row: columns as
// bundle.Scorer.Columns names them, cells as its Cells writes them (each
// number exactly, then the label). A label is a JSON string; every other
// output must be a finite number.
func ScorerOutputs(columns, cells []string) ([]Field, error) {
	if len(columns) != len(cells) {
		return nil, fmt.Errorf("predict: %d output columns, %d cells", len(columns), len(cells))
	}
	out := make([]Field, len(columns))
	for i, name := range columns {
		if name == bundle.OutputLabel {
			out[i] = Field{Name: name, Value: jsonappend.String(nil, cells[i])}
			continue
		}
		f, err := strconv.ParseFloat(cells[i], 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("predict: output %s is %q: expected a finite number", name, cells[i])
		}
		out[i] = Field{Name: name, Value: jsonappend.Float(nil, f, 64)}
	}
	return out, nil
}

// AppendOutputs makes a prediction's outputs from the evaluator's values:
// columns as bundle.OutputColumns names them, out the values it returned (a
// probability per output, or the regression's value), each written exactly as
// the float64 of its float32 (as ScorerOutputs writes bundle.FormatOutput's
// text), and, for a column beyond out, label, the classifier's label. Their
// text is appended to buf, which it returns, and dst (one field per column)
// is set to them: the fields share buf's array, and are not to be modified.
func AppendOutputs(buf []byte, dst []Field, columns []string, out []float32, label string) ([]byte, error) {
	if len(dst) != len(columns) || len(out) > len(columns) {
		return buf, fmt.Errorf("predict: %d output columns, %d values, %d fields", len(columns), len(out), len(dst))
	}
	for k, name := range columns {
		start := len(buf)
		if k < len(out) {
			v := float64(out[k])
			if !jsonappend.Finite(v) {
				return buf, fmt.Errorf("predict: output %s is %v: expected a finite number", name, v)
			}
			buf = jsonappend.Float(buf, v, 64)
		} else {
			buf = jsonappend.String(buf, label)
		}
		dst[k] = Field{Name: name, Value: buf[start:len(buf):len(buf)]}
	}
	return buf, nil
}

// Output returns an output's JSON text, by name.
func (p *Prediction) Output(name string) (json.RawMessage, bool) {
	for _, f := range p.Outputs {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// Number returns a numeric output (p_<class>, prediction), by name.
func (p *Prediction) Number(name string) (float64, bool) {
	raw, ok := p.Output(name)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// Label returns a classifier's label ("", false for a regression).
func (p *Prediction) Label() (string, bool) {
	raw, ok := p.Output(bundle.OutputLabel)
	if !ok {
		return "", false
	}
	var s string
	return s, json.Unmarshal(raw, &s) == nil
}

// The members a prediction has besides its outputs. No output is named so:
// outputs are p_<class>, label and prediction.
const (
	keyFlags         = "flags"
	keyContributions = "contributions"
	keyBias          = "bias"
	keyReasons       = "reasons"
)

// AppendJSON appends the answer as encoding/json writes it, compact, as the
// route writes one for every request (apierror.WriteCompactJSON).
// Output values are taken as the compact JSON ScorerOutputs makes.
func (r *Response) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"predictions":`...)
	if r.Predictions == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range r.Predictions {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = r.Predictions[i].appendJSON(b); err != nil {
				return nil, fmt.Errorf("predictions[%d]: %w", i, err)
			}
		}
		b = append(b, ']')
	}
	return r.appendTail(b), nil
}

// appendTail appends the members after the predictions, compact, and the
// closing brace.
func (r *Response) appendTail(b []byte) []byte {
	b = append(b, `,"model":`...)
	b = jsonappend.String(b, r.Model)
	b = append(b, `,"modelVersion":`...)
	b = strconv.AppendInt(b, int64(r.ModelVersion), 10)
	b = append(b, `,"requestId":`...)
	b = jsonappend.String(b, r.RequestID)
	return append(b, '}')
}

// MarshalJSON writes the prediction as one JSON object (see Prediction).
func (p Prediction) MarshalJSON() ([]byte, error) { return p.appendJSON(nil) }

func (p *Prediction) appendJSON(b []byte) ([]byte, error) {
	b, err := appendFields(append(b, '{'), p.Outputs, false)
	if err != nil {
		return nil, err
	}
	sep := len(p.Outputs) > 0
	member := func(key string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = appendKey(b, key)
	}
	if len(p.Flags) > 0 {
		member(keyFlags)
		b = append(b, '[')
		for i, f := range p.Flags {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonappend.String(b, f)
		}
		b = append(b, ']')
	}
	if e := p.Explanation; e != nil {
		single := len(e.Outputs) == 1 && e.Outputs[0].Class == ""
		member(keyContributions)
		if b, err = e.appendContributions(b, single); err != nil {
			return nil, err
		}
		member(keyBias)
		if b, err = e.appendBias(b, single); err != nil {
			return nil, err
		}
		member(keyReasons)
		reasons := e.Reasons
		if reasons == nil {
			reasons = []Reason{}
		}
		r, err := json.Marshal(reasons)
		if err != nil {
			return nil, fmt.Errorf("reasons: %w", err)
		}
		b = append(b, r...)
	}
	return append(b, '}'), nil
}

func (e *Explanation) appendContributions(b []byte, single bool) ([]byte, error) {
	features := func(b []byte, c *Contributions) ([]byte, error) {
		return appendObject(b, len(c.Features), func(b []byte, i int) ([]byte, error) {
			return appendNumber(b, c.Features[i].Feature, c.Features[i].Value)
		})
	}
	if single {
		return features(b, &e.Outputs[0])
	}
	return appendObject(b, len(e.Outputs), func(b []byte, i int) ([]byte, error) {
		return features(appendKey(b, e.Outputs[i].Class), &e.Outputs[i])
	})
}

func (e *Explanation) appendBias(b []byte, single bool) ([]byte, error) {
	if single {
		if err := finiteOrErr("bias", e.Outputs[0].Bias); err != nil {
			return nil, err
		}
		return jsonappend.Float(b, e.Outputs[0].Bias, 64), nil
	}
	return appendObject(b, len(e.Outputs), func(b []byte, i int) ([]byte, error) {
		return appendNumber(b, e.Outputs[i].Class, e.Outputs[i].Bias)
	})
}

// appendObject appends a JSON object of n members, each written by member
// (its name and value).
func appendObject(b []byte, n int, member func(b []byte, i int) ([]byte, error)) ([]byte, error) {
	b = append(b, '{')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = member(b, i); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendKey(b []byte, key string) []byte { return append(jsonappend.String(b, key), ':') }

// appendNumber appends a member whose value is a finite number.
func appendNumber(b []byte, key string, f float64) ([]byte, error) {
	if err := finiteOrErr(key, f); err != nil {
		return nil, err
	}
	return jsonappend.Float(appendKey(b, key), f, 64), nil
}

// UnmarshalJSON reads a prediction as MarshalJSON writes it, its outputs and
// contributions in order.
func (p *Prediction) UnmarshalJSON(data []byte) error {
	*p = Prediction{}
	var bias json.RawMessage
	err := eachMember(data, func(key string, raw json.RawMessage) error {
		switch key {
		case keyFlags:
			return json.Unmarshal(raw, &p.Flags)
		case keyContributions:
			p.explanation()
			return p.Explanation.readContributions(raw)
		case keyBias:
			bias = raw
			return nil
		case keyReasons:
			p.explanation()
			return json.Unmarshal(raw, &p.Explanation.Reasons)
		}
		if !isScalar(raw) {
			return fmt.Errorf("output %q: expected a number or a string", key)
		}
		p.Outputs = append(p.Outputs, Field{Name: key, Value: bytes.Clone(raw)})
		return nil
	})
	if err != nil {
		return fmt.Errorf("a prediction: %w", err)
	}
	if bias != nil {
		p.explanation()
		if err := p.Explanation.readBias(bias); err != nil {
			return fmt.Errorf("a prediction: bias: %w", err)
		}
	}
	return nil
}

func (p *Prediction) explanation() {
	if p.Explanation == nil {
		p.Explanation = &Explanation{}
	}
}

func isScalar(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] != '{' && raw[0] != '['
}

func (e *Explanation) readContributions(raw json.RawMessage) error {
	var cur *Contributions
	return eachMember(raw, func(key string, v json.RawMessage) error {
		if len(v) > 0 && v[0] == '{' { // a class's contributions
			e.Outputs = append(e.Outputs, Contributions{Class: key})
			c := &e.Outputs[len(e.Outputs)-1]
			return eachMember(v, func(feature string, x json.RawMessage) error {
				return c.add(feature, x)
			})
		}
		if cur == nil {
			e.Outputs = append(e.Outputs, Contributions{})
			cur = &e.Outputs[len(e.Outputs)-1]
		}
		return cur.add(key, v)
	})
}

func (c *Contributions) add(feature string, raw json.RawMessage) error {
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil {
		return fmt.Errorf("contribution of %q: %w", feature, err)
	}
	c.Features = append(c.Features, Contribution{Feature: feature, Value: f})
	return nil
}

func (e *Explanation) readBias(raw json.RawMessage) error {
	if len(raw) > 0 && raw[0] != '{' {
		if len(e.Outputs) == 0 {
			e.Outputs = append(e.Outputs, Contributions{})
		}
		return json.Unmarshal(raw, &e.Outputs[0].Bias)
	}
	return eachMember(raw, func(class string, v json.RawMessage) error {
		for i := range e.Outputs {
			if e.Outputs[i].Class == class {
				return json.Unmarshal(v, &e.Outputs[i].Bias)
			}
		}
		e.Outputs = append(e.Outputs, Contributions{Class: class})
		return json.Unmarshal(v, &e.Outputs[len(e.Outputs)-1].Bias)
	})
}

// eachMember calls fn with each member of the JSON object data, in order.
func eachMember(data []byte, fn func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("expected a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string) // a member's name is a string, or Token failed
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("%q: %w", key, err)
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing brace
	return err
}
