package drift

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/driftstat"
	"github.com/openmlops/mlops/shared/validate"
)

// Comparison is the offline comparison of two tables under one contract
// (mlops drift compare): the same per-feature statistics and verdict as a
// nightly report, with no model, logs or policy.
type Comparison struct {
	Schema       string               `json:"schema"` // ComparisonSchema
	Baseline     string               `json:"baseline"`
	Current      string               `json:"current"`
	ContractHash string               `json:"contractHash"`
	BaselineRows int64                `json:"baselineRows"`
	Rows         int64                `json:"rows"`
	Thresholds   driftstat.Thresholds `json:"thresholds"`
	Share        float64              `json:"share"`
	Features     []driftstat.Feature  `json:"features"`
	Skipped      []Skipped            `json:"skipped,omitempty"`
	Verdict      driftstat.Verdict    `json:"verdict"`
	// Violations count the current table's broken contract rules (the
	// values are compared all the same: out-of-range values are drift).
	Violations int64 `json:"violations"`
}

// ComparisonSchema versions Comparison's JSON.
const ComparisonSchema = "mlops.drift.compare/1"

// CompareTables compares every column of c (but personal data and free
// text) in the current table with the baseline table, both read as ingest
// reads an upload (validate.Scan: dialect, NA tokens, BOM, gzip), in one pass
// each. names name the tables in errors and the result.
func CompareTables(ctx context.Context, c *contract.Contract, baseline io.Reader, baseName string, current io.Reader, curName string,
	th driftstat.Thresholds, share float64) (*Comparison, error) {
	base, err := validate.Scan(ctx, baseline, c, validate.Options{Name: baseName, TempDir: os.TempDir()})
	if err != nil {
		return nil, fmt.Errorf("baseline %s: %w", baseName, err)
	}
	cmp := &Comparison{Schema: ComparisonSchema, Baseline: baseName, Current: curName, ContractHash: c.Hash(),
		BaselineRows: base.Rows, Thresholds: th, Share: share, Features: []driftstat.Feature{}}
	var cols []*column
	for i := range c.Columns {
		cc := &c.Columns[i]
		pc := base.Profile.Column(cc.Name)
		if pc == nil {
			return nil, fmt.Errorf("baseline %s: no profile of column %s", baseName, cc.Name)
		}
		ref, err := driftstat.NewReference(*pc, *cc)
		switch {
		case errors.Is(err, driftstat.ErrPII):
			cmp.Skipped = append(cmp.Skipped, Skipped{Feature: cc.Name, Reason: "personal data: not compared"})
			continue
		case errors.Is(err, driftstat.ErrText):
			cmp.Skipped = append(cmp.Skipped, Skipped{Feature: cc.Name, Reason: err.Error()})
			continue
		case err != nil:
			return nil, fmt.Errorf("baseline %s: column %s: %w", baseName, cc.Name, err)
		}
		cols = append(cols, &column{name: cc.Name, c: cc, ref: ref, cur: ref.NewCurrent()})
	}

	// The current table goes through the same scan, and its canonical form
	// (header, comma, empty = missing) feeds the comparison.
	pr, pw := io.Pipe()
	type scanned struct {
		res *validate.Result
		err error
	}
	done := make(chan scanned, 1)
	go func() {
		res, err := validate.Scan(ctx, current, c, validate.Options{Name: curName, TempDir: os.TempDir(), Canonical: pw})
		pw.CloseWithError(err)
		done <- scanned{res, err}
	}()
	rows, rerr := readCanonical(pr, cols)
	_ = pr.CloseWithError(errors.New("comparison stopped reading"))
	sc := <-done
	if sc.err != nil {
		return nil, fmt.Errorf("current %s: %w", curName, sc.err)
	}
	if rerr != nil {
		return nil, fmt.Errorf("current %s: %w", curName, rerr)
	}
	cmp.Rows = rows
	for _, v := range sc.res.Violations {
		cmp.Violations += v.Count
	}
	for _, col := range cols {
		cmp.Features = append(cmp.Features, driftstat.Compare(col.ref, col.cur))
	}
	cmp.Features, cmp.Verdict = driftstat.Decide(cmp.Features, th, share)
	return cmp, nil
}

// readCanonical feeds canonical CSV rows to the columns, by header name.
func readCanonical(r io.Reader, cols []*column) (int64, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("canonical header: %w", err)
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, h := range header {
			if h == c.name {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return 0, fmt.Errorf("the table has no column %s", c.name)
		}
	}
	var rows int64
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows, nil
		}
		if err != nil {
			return rows, fmt.Errorf("canonical row %d: %w", rows+1, err)
		}
		rows++
		for i, c := range cols {
			if v := rec[idx[i]]; v == "" {
				c.cur.Null()
			} else {
				add(c, v)
			}
		}
	}
}
