package contract

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const creditCSV = "../../examples/credit/credit_data.csv"

func inferBytes(t *testing.T, b []byte) *Inference {
	t.Helper()
	inf, err := Infer(bytes.NewReader(b), "credit", InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return inf
}

func TestInferCredit(t *testing.T) {
	raw := mustRead(t, creditCSV)
	inf := inferBytes(t, raw)
	c := inf.Contract
	if inf.Rows != 4454 {
		t.Errorf("rows = %d", inf.Rows)
	}
	if strings.Join(c.Dialect.NullTokens, ",") != "NA" || c.Dialect.Delimiter != "," {
		t.Errorf("dialect: %+v", c.Dialect)
	}
	if c.Target != "Status" || !inf.TargetGuessed || len(c.Features) != 13 {
		t.Errorf("target %q guessed=%v features %v", c.Target, inf.TargetGuessed, c.Features)
	}
	want := map[string]Type{"Status": Category, "Seniority": Integer, "Home": Category, "Time": Integer, "Age": Integer,
		"Marital": Category, "Records": Category, "Job": Category, "Income": Integer, "Assets": Integer}
	for name, typ := range want {
		if col := c.Column(name); col == nil || col.Type != typ {
			t.Errorf("%s: %+v, want %s", name, col, typ)
		}
	}
	if got := strings.Join(c.Column("Home").Allowed, ","); got != "ignore,other,owner,parents,priv,rent" {
		t.Errorf("Home allowed = %s", got)
	}
	missing := map[string]int64{"Income": 381, "Assets": 47, "Debt": 18, "Home": 6, "Job": 2, "Marital": 1, "Age": 0}
	for i, obs := range inf.Columns {
		if m, ok := missing[obs.Name]; ok && obs.Missing != m {
			t.Errorf("%s missing = %d, want %d", obs.Name, obs.Missing, m)
		}
		col := c.Columns[i]
		if obs.Missing == 0 && !col.Required {
			t.Errorf("%s: no nulls but not required", col.Name)
		}
		if obs.Missing > 0 && (col.MaxNullRate == nil || *col.MaxNullRate <= obs.NullRate) {
			t.Errorf("%s: maxNullRate %v has no headroom over %v", col.Name, col.MaxNullRate, obs.NullRate)
		}
		if col.Min != nil || col.Max != nil {
			t.Errorf("%s: range enforced by default", col.Name)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	y := inf.YAML()
	for _, want := range []string{"# observed: 0 … 48, no missing values", "6 categories seen", "8.6% missing (381)",
		"a guess from the column name", "minimum: 0, maximum: 48"} {
		if !bytes.Contains(y, []byte(want)) {
			t.Errorf("YAML lacks %q:\n%s", want, y)
		}
	}
	back := mustParse(t, "inferred", y)
	if back.Hash() != c.Hash() {
		t.Errorf("the YAML does not parse back to the inferred contract")
	}

	// The same bytes gzip'd give the same proposal.
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	_, _ = w.Write(raw)
	_ = w.Close()
	ginf := inferBytes(t, gz.Bytes())
	if !ginf.Gzip || ginf.Contract.Hash() != c.Hash() || ginf.Rows != inf.Rows {
		t.Errorf("gzip'd inference differs: %s", ginf.Contract.Canonical())
	}
}

func TestInferSemicolonAndBOM(t *testing.T) {
	data := "\xEF\xBB\xBFid;price;when;flag;note\n" +
		"1;2,5;2024-01-02;true;a;b\n" // a ragged row, and a decimal comma that is not a number
	for i := 2; i <= 40; i++ {
		data += strconv.Itoa(i) + ";" + strconv.Itoa(i*3) + ".5;2024-01-0" + strconv.Itoa(1+i%9) + ";false;N/A\n"
	}
	data = strings.Replace(data, "7;21.5;", "7;N/A;", 1)
	inf, err := Infer(strings.NewReader(data), "semi", InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := inf.Contract
	if c.Dialect.Delimiter != ";" || !inf.BOM || inf.Ragged != 1 {
		t.Errorf("dialect %+v bom %v ragged %d", c.Dialect, inf.BOM, inf.Ragged)
	}
	if c.Columns[0].Name != "id" {
		t.Errorf("BOM not stripped: %q", c.Columns[0].Name)
	}
	types := map[string]Type{"id": Integer, "price": String, "when": Timestamp, "flag": Boolean}
	for n, typ := range types {
		if got := c.Column(n).Type; got != typ {
			t.Errorf("%s: %s, want %s", n, got, typ)
		}
	}
	if c.Column("when").Format != "2006-01-02" {
		t.Errorf("when format %q", c.Column("when").Format)
	}
	if strings.Join(c.Dialect.NullTokens, ",") != "" {
		// N/A appears only beside "2,5" (text) and in a text column: no evidence.
		t.Errorf("null tokens %v", c.Dialect.NullTokens)
	}
	if c.Target != "" || inf.TargetGuessed {
		t.Errorf("target guessed: %q", c.Target)
	}
	mustParse(t, "semi", inf.YAML())
}

func TestInferNullTokenEvidence(t *testing.T) {
	data := "a,b,c\n"
	for i := 0; i < 30; i++ {
		v := strconv.Itoa(i)
		switch i % 10 {
		case 3:
			data += "NaN,None,x\n"
		case 4:
			data += "-,-,y\n"
		default:
			data += v + "," + v + ",z\n"
		}
	}
	inf, err := Infer(strings.NewReader(data), "ev", InferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(inf.Contract.Dialect.NullTokens, ","); got != "NaN,None,-" {
		t.Errorf("tokens %q", got)
	}
	if inf.Contract.Column("a").Type != Integer || inf.Columns[0].Missing != 6 {
		t.Errorf("a: %+v %+v", inf.Contract.Column("a"), inf.Columns[0])
	}
}

func TestInferBadInput(t *testing.T) {
	for _, s := range []string{"", "a,,b\n1,2,3\n", "a,a\n1,2\n", "a,b\n\"1,2\n"} {
		if _, err := Infer(strings.NewReader(s), "x", InferOptions{}); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
	if _, err := Infer(strings.NewReader("a\n1\n"), "Bad Name", InferOptions{}); err == nil {
		t.Error("bad dataset name accepted")
	}
	if _, err := Infer(strings.NewReader("\x1f\x8b junk"), "x", InferOptions{}); err == nil {
		t.Error("broken gzip accepted")
	}
}

// TestCreditDataSatisfiesContract checks the example data against the
// hand-finished contract with a deliberately simple reader; the platform's
// real validator lives elsewhere.
func TestCreditDataSatisfiesContract(t *testing.T) {
	c := mustParse(t, "credit.odcs.yaml", mustRead(t, creditContract))
	if c.Dataset != "credit" || c.Target != "Status" || len(c.Features) != 13 || c.Rows.Min != 100 ||
		strings.Join(c.Sensitive, ",") != "Age,Marital" || c.Mode != Replace {
		t.Fatalf("contract: %s", c.Canonical())
	}
	f, err := os.Open(creditCSV)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	if len(header) != len(c.Columns) {
		t.Fatalf("header %v vs %d columns", header, len(c.Columns))
	}
	cols := make([]*Column, len(header))
	for i, h := range header {
		if cols[i] = c.Column(h); cols[i] == nil {
			t.Fatalf("column %q not in contract", h)
		}
	}
	isNull := func(v string) bool {
		if v == "" {
			return true
		}
		for _, tok := range c.Dialect.NullTokens {
			if v == tok {
				return true
			}
		}
		return false
	}
	nulls := make([]int64, len(cols))
	var rows int64
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		for i, v := range rec {
			col := cols[i]
			if isNull(v) {
				nulls[i]++
				continue
			}
			switch col.Type {
			case Integer, Number:
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || (col.Type == Integer && f != float64(int64(f))) {
					t.Errorf("row %d %s: %q is not %s", rows, col.Name, v, col.Type)
					continue
				}
				if (col.Min != nil && f < *col.Min) || (col.Max != nil && f > *col.Max) {
					t.Errorf("row %d %s: %v out of range", rows, col.Name, f)
				}
			case Category, String:
				if len(col.Allowed) > 0 && !slices.Contains(col.Allowed, v) {
					t.Errorf("row %d %s: %q not allowed", rows, col.Name, v)
				}
				if col.Pattern != "" && !regexp.MustCompile(col.Pattern).MatchString(v) {
					t.Errorf("row %d %s: %q does not match", rows, col.Name, v)
				}
			}
		}
	}
	if rows < c.Rows.Min || (c.Rows.Max > 0 && rows > c.Rows.Max) {
		t.Errorf("%d rows outside %+v", rows, c.Rows)
	}
	for i, col := range cols {
		rate := float64(nulls[i]) / float64(rows)
		if col.Required && nulls[i] > 0 {
			t.Errorf("%s: required but %d missing", col.Name, nulls[i])
		}
		if col.MaxNullRate != nil && rate > *col.MaxNullRate {
			t.Errorf("%s: %.4f missing > %v", col.Name, rate, *col.MaxNullRate)
		}
		if !col.Required && col.MaxNullRate == nil {
			t.Errorf("%s: neither required nor bounded", col.Name)
		}
	}
}
