package predict

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/jsonappend"
)

// Split cuts a request into requests of at most n instances each (n < 1:
// DefaultMaxInstances), in order, each asking to explain as r does.
func (r *Request) Split(n int) []*Request {
	if n < 1 {
		n = DefaultMaxInstances
	}
	var out []*Request
	for i := 0; i < len(r.Instances); i += n {
		out = append(out, &Request{Instances: r.Instances[i:min(i+n, len(r.Instances))], Explain: r.Explain})
	}
	return out
}

// RequestFromJSON reads instances from JSON: a request body
// ({"instances": [...], "explain": ...}) or a bare array of instance
// objects, under the rules of DecodeRequest but its limits on size (Split
// the result to send it).
func RequestFromJSON(r io.Reader) (*Request, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		b = append(append([]byte(`{"instances":`), t...), '}')
	}
	req, err := decode(b, unlimited)
	var e *apierror.Error
	if errors.As(err, &e) {
		return nil, errors.New(e.Message) // a file's problem, not an answer of the API
	}
	return req, err
}

// RequestFromCSV reads instances from CSV with a header row: each record is
// an instance whose fields are the header's names, in order, each cell a
// JSON string (the checker reads a string holding a number in a number or
// integer column, and a boolean's spellings, as the ingest gate reads the
// cells of a CSV), an empty cell null. A UTF-8 byte order mark is dropped.
func RequestFromCSV(r io.Reader) (*Request, error) {
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("CSV: empty: expected a header row naming the fields")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV: %w", err)
	}
	if len(header) > 0 {
		header[0] = string(bytes.TrimPrefix([]byte(header[0]), []byte("\ufeff")))
	}
	at := make(map[string]int, len(header))
	for i, h := range header {
		if h == "" {
			return nil, fmt.Errorf("CSV: header: column %d has no name", i+1)
		}
		if j, dup := at[h]; dup {
			return nil, fmt.Errorf("CSV: header: %q names columns %d and %d", h, j+1, i+1)
		}
		at[h] = i
	}
	req := &Request{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("CSV: %w", err)
		}
		in := Instance{Fields: make([]Field, len(header))}
		for i, cell := range rec {
			v := json.RawMessage("null")
			if cell != "" {
				v = jsonappend.String(nil, cell)
			}
			in.Fields[i] = Field{Name: header[i], Value: v}
		}
		req.Instances = append(req.Instances, in)
	}
	if len(req.Instances) == 0 {
		return nil, errors.New("CSV: no rows after the header: nothing to score")
	}
	return req, nil
}
