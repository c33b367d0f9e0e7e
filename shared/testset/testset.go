// Package testset scores a model bundle on test rows of a dataset version: the
// rows a bundle's test_rows.json lists, read from the version's canonical CSV
// partitions, encoded with the bundle's own encoding, predicted with the Go
// evaluator and measured with shared/metrics (the trainer's definitions).
//
// The gate uses it to compare a champion and a candidate on the same rows
// (issue 4): Load (or Fetch) the candidate's test rows once, then ScoreOn each
// bundle. Scoring the candidate on its own rows reproduces the test metrics
// its trainer recorded; scoring the champion on them gives the numbers to
// compare with. A champion that cannot read the candidate's rows (a feature or
// the target column absent, a value its encoding refuses, a class it never
// learned) gives an error matching ErrIncomparable: the comparison is
// impossible, and the policy marks the check skipped.
//
// Rows are numbered from 0 over the data rows of the partitions in the
// version's manifest order (each partition's header is not a row), as the
// trainer numbers them. Partitions are streamed; only the listed rows are kept.
package testset

import (
	"compress/gzip"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/metrics"
)

// ErrIncomparable is matched (errors.Is) by the errors ScoreOn returns when the
// bundle cannot be scored on the rows because the data does not fit its
// encoding or its label: comparing it on these rows is impossible.
var ErrIncomparable = errors.New("the model cannot be scored on these rows: comparison impossible")

// Rows are test rows of a dataset version: the records (every column, canonical
// CSV values, "" = missing) of the listed data rows, in ascending row order.
type Rows struct {
	// DatasetVersion is the version the rows were read from ("" when unknown,
	// as with Load).
	DatasetVersion string
	Header         []string
	Numbers        []int64    // 0-based data rows, ascending
	Records        [][]string // Records[i] is row Numbers[i], one value per Header column
}

// Load streams the canonical CSV partitions (gzip, each with a header, in
// manifest order) and keeps the records of rows (0-based over the data rows of
// all partitions; ascending, no duplicates, as test_rows.json has them). Every
// partition must have the first one's columns (in any order: later partitions
// are reordered to the first's header). A row beyond the data is an error.
// Reading stops after the last listed row.
func Load(partitions []io.Reader, rows []int64) (*Rows, error) {
	for i, r := range rows {
		if r < 0 || (i > 0 && r <= rows[i-1]) {
			return nil, fmt.Errorf("testset: rows[%d] = %d: rows must be non-negative and ascending", i, r)
		}
	}
	if len(partitions) == 0 {
		return nil, errors.New("testset: no partitions")
	}
	out := &Rows{Numbers: slices.Clone(rows), Records: make([][]string, 0, len(rows))}
	var next int64 // number of the next data row
	want := 0      // index in rows of the next row to keep
	for p, part := range partitions {
		n, err := out.readPartition(part, p, next, rows, &want)
		if err != nil {
			return nil, err
		}
		next += n
		if want == len(rows) {
			break // the rest of the data holds no test row: not even read
		}
	}
	if want < len(rows) {
		return nil, fmt.Errorf("testset: test row %d is beyond the data, which has %d rows in %d partition(s): "+
			"the rows are not from this dataset version", rows[want], next, len(partitions))
	}
	return out, nil
}

// readPartition reads one partition whose first data row is number first,
// keeping the rows listed from rows[*want] on; it returns its number of data rows.
func (out *Rows) readPartition(part io.Reader, p int, first int64, rows []int64, want *int) (int64, error) {
	where := fmt.Sprintf("testset: partition %d", p)
	zr, err := gzip.NewReader(part)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", where, err)
	}
	defer zr.Close()
	cr := csv.NewReader(zr)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return 0, fmt.Errorf("%s: empty (no header)", where)
	}
	if err != nil {
		return 0, fmt.Errorf("%s: header: %w", where, err)
	}
	var perm []int // perm[j]: the position in this partition of out.Header[j]; nil = same order
	if out.Header == nil {
		out.Header = slices.Clone(header)
	} else if !slices.Equal(header, out.Header) {
		if perm, err = permutation(out.Header, header); err != nil {
			return 0, fmt.Errorf("%s: %w", where, err)
		}
	}
	if *want == len(rows) {
		return 0, nil // no row to keep (the header was still checked)
	}
	var n int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", where, err)
		}
		row := first + n
		n++
		if *want >= len(rows) || rows[*want] != row {
			continue
		}
		*want++
		if perm == nil {
			out.Records = append(out.Records, slices.Clone(rec))
		} else {
			r := make([]string, len(perm))
			for j, k := range perm {
				r[j] = rec[k]
			}
			out.Records = append(out.Records, r)
		}
		if *want == len(rows) {
			return n, nil // the last test row: the rest is not read
		}
	}
}

// permutation maps want's columns to their positions in got.
func permutation(want, got []string) ([]int, error) {
	if len(got) != len(want) {
		return nil, fmt.Errorf("%d columns %q, but the first partition has %d %q", len(got), got, len(want), want)
	}
	at := make(map[string]int, len(got))
	for i, h := range got {
		at[h] = i
	}
	perm := make([]int, len(want))
	for j, h := range want {
		k, ok := at[h]
		if !ok {
			return nil, fmt.Errorf("columns %q differ from the first partition's %q", got, want)
		}
		perm[j] = k
	}
	return perm, nil
}

// Datasets is what Fetch needs to read a dataset version (*ingest.Datasets has it).
type Datasets interface {
	Manifest(ctx context.Context, dataset, id string) (*ingest.Manifest, error)
	OpenPartition(ctx context.Context, m *ingest.Manifest, i int) (io.ReadCloser, error)
}

// FetchManifest streams the canonical CSV of each of m's partitions (in the
// manifest's order, one GetObject open at a time) through Load.
func FetchManifest(ctx context.Context, ds Datasets, m *ingest.Manifest, rows []int64) (*Rows, error) {
	if len(m.Partitions) == 0 {
		return nil, fmt.Errorf("testset: dataset version %s/%s has no partitions", m.Dataset, m.VersionID)
	}
	objects := make([]*lazyObject, len(m.Partitions))
	readers := make([]io.Reader, len(m.Partitions))
	defer func() {
		for _, o := range objects {
			if o != nil {
				o.close()
			}
		}
	}()
	for i, p := range m.Partitions {
		if p.CanonicalKey == "" {
			return nil, fmt.Errorf("testset: dataset version %s/%s: partition %d has no canonical key", m.Dataset, m.VersionID, i)
		}
		objects[i] = &lazyObject{open: func() (io.ReadCloser, error) { return ds.OpenPartition(ctx, m, i) }}
		readers[i] = objects[i]
	}
	r, err := Load(readers, rows)
	if err != nil {
		return nil, fmt.Errorf("dataset version %s/%s: %w", m.Dataset, m.VersionID, err)
	}
	r.DatasetVersion = m.VersionID
	return r, nil
}

// Fetch reads the test rows b lists from the dataset version it was trained
// on (lineage.json's dataset, test_rows.json's version) through ds.
func Fetch(ctx context.Context, ds Datasets, b *bundle.Bundle) (*Rows, error) {
	dataset, version := b.Lineage.Dataset, b.TestRows.DatasetVersion
	if dataset == "" || version == "" {
		return nil, fmt.Errorf("testset: bundle %s names no dataset version (dataset %q, version %q)", b, dataset, version)
	}
	m, err := ds.Manifest(ctx, dataset, version)
	if err != nil {
		return nil, fmt.Errorf("testset: %w", err)
	}
	return FetchManifest(ctx, ds, m, b.TestRows.Rows)
}

// lazyObject opens its object on the first Read and closes it at EOF, so that
// partitions are read one after another with one body open at a time.
type lazyObject struct {
	open func() (io.ReadCloser, error)
	body io.ReadCloser
	done bool
}

func (o *lazyObject) Read(p []byte) (int, error) {
	if o.done {
		return 0, io.EOF
	}
	if o.body == nil {
		body, err := o.open()
		if err != nil {
			return 0, err
		}
		o.body = body
	}
	n, err := o.body.Read(p)
	if err == io.EOF {
		o.close()
	}
	return n, err
}

// close closes the body, if open (once).
func (o *lazyObject) close() {
	if o.body != nil && !o.done {
		_ = o.body.Close()
	}
	o.done = true
}

// Result is a bundle's score on test rows.
type Result struct {
	Rows []int64 // the data rows scored, ascending
	// Outputs are the model's outputs, NumOutputs per row (row-major): the
	// positive class's probability (binary), the prediction (regression) or
	// the class probabilities in Encoding.Target.Classes order (multiclass).
	Outputs    []float64
	NumOutputs int
	// Labels are the true labels: 1 or 0 (binary: the value is the positive
	// class or not), the class index (multiclass), the value (regression).
	Labels []float64
	// Metrics are named as bundle.Metrics.Test, with the trainer's definitions;
	// undefined ones are absent.
	Metrics map[string]float64
	// Calibration is the binary model's reliability diagram (ten bins), as in
	// bundle.Metrics.Calibration.
	Calibration []bundle.CalibrationBin
}

// Evaluate scores b on its own test rows, read from the partitions of the
// dataset version it was trained on (gzip canonical CSV, manifest order): the
// metrics reproduce those its trainer recorded in metrics.json's "test".
func Evaluate(b *bundle.Bundle, partitions []io.Reader) (*Result, error) {
	rows, err := Load(partitions, b.TestRows.Rows)
	if err != nil {
		return nil, err
	}
	rows.DatasetVersion = b.TestRows.DatasetVersion
	return ScoreOn(b, rows)
}

// ScoreOn scores b on rows, which may be another bundle's test rows (the
// candidate's, for the champion): the features are found by column name and
// encoded with b's own encoding, the label read from b's target column. Errors
// that say the rows do not fit b match ErrIncomparable and name the reason.
func ScoreOn(b *bundle.Bundle, rows *Rows) (*Result, error) {
	if b == nil || b.Model == nil || b.Encoder == nil {
		return nil, errors.New("testset: no bundle")
	}
	if len(rows.Records) != len(rows.Numbers) {
		return nil, fmt.Errorf("testset: %d records for %d rows", len(rows.Records), len(rows.Numbers))
	}
	if len(rows.Records) == 0 {
		return nil, errors.New("testset: no test rows to score on")
	}
	incomparable := func(format string, a ...any) error {
		return fmt.Errorf("testset: %s: %w: %s", b, ErrIncomparable, fmt.Sprintf(format, a...))
	}
	sc, err := b.Scorer(rows.Header)
	if err != nil {
		return nil, incomparable("%v", err)
	}
	t := b.Encoding.Target
	target := slices.Index(rows.Header, t.Column)
	if target < 0 {
		return nil, incomparable("the input has no column for the target %q", t.Column)
	}
	label, err := labeler(t)
	if err != nil {
		return nil, fmt.Errorf("testset: %s: %w", b, err)
	}
	k := b.Model.NumOutputs()
	n := len(rows.Records)
	res := &Result{Rows: slices.Clone(rows.Numbers), Outputs: make([]float64, 0, n*k), NumOutputs: k,
		Labels: make([]float64, n)}
	for i, rec := range rows.Records {
		if len(rec) != len(rows.Header) {
			return nil, fmt.Errorf("testset: row %d has %d values for %d columns", rows.Numbers[i], len(rec), len(rows.Header))
		}
		y, err := label(rec[target])
		if err != nil {
			return nil, incomparable("row %d, column %q: %v", rows.Numbers[i], t.Column, err)
		}
		res.Labels[i] = y
		if err := sc.Encode(rec); err != nil {
			return nil, incomparable("row %d: %v", rows.Numbers[i], err)
		}
		out, err := sc.Predict()
		if err != nil {
			return nil, fmt.Errorf("testset: row %d: %w", rows.Numbers[i], err)
		}
		for _, v := range out {
			res.Outputs = append(res.Outputs, float64(v))
		}
	}
	switch t.Kind {
	case bundle.LabelBinary:
		res.Metrics = metrics.Binary(res.Labels, res.Outputs, b.Encoding.Threshold)
		for _, c := range metrics.Calibration(res.Labels, res.Outputs, 10) {
			res.Calibration = append(res.Calibration, bundle.CalibrationBin(c))
		}
	case bundle.LabelRegression:
		res.Metrics = metrics.Regression(res.Labels, res.Outputs)
	case bundle.LabelMulticlass:
		y := make([]int, n)
		for i, v := range res.Labels {
			y[i] = int(v)
		}
		res.Metrics = metrics.Multiclass(y, res.Outputs, k)
	}
	return res, nil
}

// labeler returns how a target value becomes a label, as the trainer reads it.
func labeler(t bundle.Label) (func(string) (float64, error), error) {
	missing := errors.New("the target is missing (a test row always has one)")
	switch t.Kind {
	case bundle.LabelBinary:
		if len(t.Classes) != 2 {
			return nil, fmt.Errorf("binary target with %d classes", len(t.Classes))
		}
		neg, pos := t.Classes[0], t.Classes[1]
		// A boolean target is spelt "true"/"false" in the classes, whatever
		// spelling (TRUE, 1, yes) the data uses.
		boolean := (neg == "false" && pos == "true") || (neg == "true" && pos == "false")
		return func(v string) (float64, error) {
			if v == "" {
				return 0, missing
			}
			if boolean {
				if b, ok := parseBool(v); ok {
					v = strconv.FormatBool(b)
				}
			}
			switch v {
			case pos:
				return 1, nil
			case neg:
				return 0, nil
			}
			return 0, fmt.Errorf("%q is neither class %q nor %q", v, neg, pos)
		}, nil
	case bundle.LabelMulticlass:
		index := make(map[string]int, len(t.Classes))
		for i, c := range t.Classes {
			index[c] = i
		}
		return func(v string) (float64, error) {
			if v == "" {
				return 0, missing
			}
			i, ok := index[v]
			if !ok {
				return 0, fmt.Errorf("%q is not one of the model's classes %q", v, t.Classes)
			}
			return float64(i), nil
		}, nil
	case bundle.LabelRegression:
		return func(v string) (float64, error) {
			if v == "" {
				return 0, missing
			}
			if f, err := strconv.ParseFloat(v, 64); err == nil && bundle.PlainDecimal(v) {
				return f, nil
			}
			if b, ok := parseBool(v); ok { // a boolean target: 1 or 0
				if b {
					return 1, nil
				}
				return 0, nil
			}
			return 0, fmt.Errorf("%q is not a number", v)
		}, nil
	}
	return nil, fmt.Errorf("unknown target kind %q", t.Kind)
}

func parseBool(v string) (bool, bool) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, true
	case "false", "0", "no":
		return false, true
	}
	return false, false
}
