package credit

import (
	"bytes"
	"context"
	"testing"

	"github.com/openmlops/mlops/shared/validate"
)

// The example contract accepts the example data and rejects the broken file for
// each of its planted problems.
func TestExampleDataAgainstItsContract(t *testing.T) {
	c, err := Contract()
	if err != nil {
		t.Fatal(err)
	}
	res, err := validate.Scan(context.Background(), bytes.NewReader(CSV()), c, validate.Options{Name: "credit_data.csv"})
	if err != nil || !res.Valid() || res.Rows != 4454 {
		t.Fatalf("credit_data.csv: valid %v rows %d err %v\n%s", res.Valid(), res.Rows, err, res.Text())
	}
	res, err = validate.Scan(context.Background(), bytes.NewReader(BrokenCSV()), c, validate.Options{Name: "credit_broken.csv"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, v := range res.Violations {
		got[v.Rule+":"+v.Column] = true
	}
	for _, want := range []string{"type:Age", "allowed:Status", "min:Amount", "allowed:Home", "not_finite:Expenses", "required:Status", "formula:Records"} {
		if !got[want] {
			t.Errorf("credit_broken.csv: no %s violation; got %v", want, got)
		}
	}
}
