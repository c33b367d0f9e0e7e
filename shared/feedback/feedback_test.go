package feedback_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/feedback"
)

var (
	binary     = feedback.LabelRule{Kind: bundle.LabelBinary, Classes: []string{"no", "yes"}}
	regression = feedback.LabelRule{Kind: bundle.LabelRegression}
)

func readAll(t *testing.T, text string, rule feedback.LabelRule) ([]feedback.Label, error) {
	t.Helper()
	return feedback.ReadAll(strings.NewReader(text), "feedback/credit/a.csv", rule, 0)
}

func TestReadAccepts(t *testing.T) {
	// A spreadsheet export: BOM, CRLF, quoted fields, columns in another order.
	text := "\ufefflabel,request_id,index\r\n" +
		"yes,r-1,0\r\n" +
		"\"no\",\"r,2\",3\r\n" +
		"yes,r-1,1\r\n"
	got, err := readAll(t, text, binary)
	if err != nil {
		t.Fatal(err)
	}
	want := []feedback.Label{
		{RequestID: "r-1", Index: 0, Label: "yes", Value: 1, Line: 2},
		{RequestID: "r,2", Index: 3, Label: "no", Value: 0, Line: 3},
		{RequestID: "r-1", Index: 1, Label: "yes", Value: 1, Line: 4},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("row %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestReadWithoutIndex(t *testing.T) {
	got, err := readAll(t, "request_id,label\na,1.5\nb,-2e3\n", regression)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Index != 0 || got[1].Index != 0 || got[0].Value != 1.5 || got[1].Value != -2000 {
		t.Fatalf("got %+v", got)
	}
}

func TestMulticlassValue(t *testing.T) {
	rule, err := feedback.RuleFor(bundle.Label{Column: "tier", Kind: bundle.LabelMulticlass, Classes: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, "request_id,label\nx,c\ny,a\n", rule)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Value != 2 || got[1].Value != 0 {
		t.Fatalf("got %+v", got)
	}
}

// Each bad file is refused with every problem, each naming the file, the
// line, the column and what was expected.
func TestReadRefuses(t *testing.T) {
	cases := []struct {
		name, text string
		rule       feedback.LabelRule
		want       []string // each must appear in the error
	}{
		{"empty", "", binary, []string{"feedback/credit/a.csv: empty: want a header line"}},
		{"extra column", "request_id,label,score\nx,yes,1\n", binary,
			[]string{`header column 3 "score" is not a feedback column`, "nothing else"}},
		{"misspelt", "Request_ID,label\nx,yes\n", binary,
			[]string{`did you mean "request_id"`, "header has no request_id column"}},
		{"no label", "request_id,index\nx,0\n", binary, []string{"header has no label column"}},
		{"twice", "request_id,label,label\nx,yes,no\n", binary, []string{"header names label twice (columns 2 and 3)"}},
		{"every row problem", "request_id,index,label\n" +
			",0,yes\n" + // line 2: empty id
			"a,-1,yes\n" + // line 3: negative index
			"b,1.0,yes\n" + // line 4: not an integer
			"c,0,maybe\n" + // line 5: not a class
			"d,0\n" + // line 6: short row
			"e,99999999999,no\n" + // line 7: too large
			"\" f\",0,no\n", // line 8: spaces
			binary, []string{"7 problems",
				"line 2, column request_id: empty",
				`line 3, column index: "-1": want a non-negative integer`,
				`line 4, column index: "1.0": want a non-negative integer`,
				`line 5, column label: "maybe" is not a class: want one of "no", "yes"`,
				"line 6: 2 fields, but the header has 3 columns (request_id,index,label)",
				`line 7, column index: "99999999999": at most 2147483647`,
				`line 8, column request_id: " f" has leading or trailing spaces`}},
		{"regression", "request_id,label\na,NaN\nb,inf\nc,0x10\nd,1e999\ne,\n", regression,
			[]string{`line 2, column label: "NaN": want a number`, `line 3, column label: "inf"`, `line 4, column label: "0x10"`,
				`line 5, column label: "1e999": want a finite number`, `line 6, column label: "": want a number`}},
		{"duplicate", "request_id,index,label\na,0,yes\nb,0,no\na,0,no\n", binary,
			[]string{`line 4: request "a", index 0 is labelled twice: lines 2 and 4`}},
		{"duplicate without index", "request_id,label\na,yes\na,yes\n", binary, []string{"lines 2 and 3"}},
		{"control", "request_id,label\n\"a\x01\",yes\n", binary, []string{`line 2, column request_id: "a\x01": want printable UTF-8`}},
		{"long id", "request_id,label\n" + strings.Repeat("x", 257) + ",yes\n", binary, []string{"257 bytes, at most 256"}},
		{"bad quote", "request_id,label\na\"b,yes\nc,yes\nd,maybe\n", binary,
			[]string{"2 problems", `line 2: bare " in non-quoted-field`, `line 4, column label: "maybe"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := readAll(t, c.text, c.rule)
			var fe *feedback.Error
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want *feedback.Error", err)
			}
			if rows != nil {
				t.Errorf("rows %+v returned with the error", rows)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "feedback/credit/a.csv: ") {
				t.Errorf("error does not start with the file's name: %s", msg)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

func TestProblemsCapped(t *testing.T) {
	var b strings.Builder
	b.WriteString("request_id,label\n")
	for range feedback.MaxProblems + 7 {
		b.WriteString("x,maybe\n")
	}
	_, err := readAll(t, b.String(), binary)
	var fe *feedback.Error
	if !errors.As(err, &fe) || len(fe.Problems) != feedback.MaxProblems || fe.More != 7 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "57 problems") || !strings.HasSuffix(err.Error(), "… and 7 more") {
		t.Errorf("message: %s", err)
	}
}

func TestReadStreams(t *testing.T) {
	stop := errors.New("stop")
	var seen []int
	err := feedback.Read(strings.NewReader("request_id,label\na,yes\nb,maybe\nc,no\nd,no\n"), "f.csv", binary,
		func(l feedback.Label) error {
			seen = append(seen, l.Line)
			if l.RequestID == "c" {
				return stop
			}
			return nil
		})
	if err != stop || len(seen) != 2 || seen[0] != 2 || seen[1] != 4 {
		t.Fatalf("err %v, lines %v: want fn's error after lines 2 and 4", err, seen)
	}
	if _, err := feedback.ReadAll(strings.NewReader("request_id,label\na,yes\nb,no\nc,no\n"), "f.csv", binary, 2); err == nil ||
		!strings.Contains(err.Error(), "f.csv: more than 2 rows") {
		t.Fatalf("row limit: %v", err)
	}
}

func TestRuleFor(t *testing.T) {
	if _, err := feedback.RuleFor(bundle.Label{Column: "y", Kind: "ranking"}); err == nil || !strings.Contains(err.Error(), `kind "ranking"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := feedback.RuleFor(bundle.Label{Column: "y", Kind: bundle.LabelBinary, Classes: []string{"1"}}); err == nil {
		t.Error("a binary target with one class was accepted")
	}
	r, err := feedback.RuleFor(bundle.Label{Column: "y", Kind: bundle.LabelBinary, Classes: []string{"0", "1"}, PositiveClass: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := r.Parse("1"); err != nil || v != 1 {
		t.Errorf("Parse(1) = %v, %v", v, err)
	}
	if _, err := r.Parse("1.0"); err == nil || !strings.Contains(err.Error(), `want one of "0", "1"`) {
		t.Errorf("Parse(1.0): %v", err)
	}
}

func TestKeys(t *testing.T) {
	k, err := feedback.Key("credit", "2026-03-14")
	if err != nil || k != "feedback/credit/2026-03-14.csv" {
		t.Fatalf("Key = %q, %v", k, err)
	}
	if m, ok := feedback.ParseKey(k); !ok || m != "credit" {
		t.Fatalf("ParseKey(%q) = %q, %v", k, m, ok)
	}
	for _, bad := range [][2]string{{"Credit", "a"}, {"credit", ""}, {"credit", ".."}, {"credit", "a/b"}, {"credit", `a\b`},
		{"", "a"}, {"../x", "a"}, {"credit", "a\nb"}} {
		if k, err := feedback.Key(bad[0], bad[1]); err == nil {
			t.Errorf("Key(%q, %q) = %q, want an error", bad[0], bad[1], k)
		}
	}
	good := map[string]string{
		"feedback/credit/a.csv":                "credit",
		"feedback/credit/2026/03/labels.csv":   "credit",
		"feedback/churn-v2/x y.csv":            "churn-v2",
		"feedback/credit/labels.final.csv":     "credit",
		"feedback/credit/2026-03-14/batch.csv": "credit",
	}
	for k, want := range good {
		if m, ok := feedback.ParseKey(k); !ok || m != want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q", k, m, ok, want)
		}
	}
	for _, bad := range []string{"feedback/credit/...csv", "feedback/credit/.csv", "feedback/credit/a.CSV", "feedback/credit/a.txt",
		"feedback/credit.csv", "feedback//a.csv", "feedback/credit//a.csv", "feedback/credit/../a.csv",
		"feedback/credit/./a.csv", "feedback/Credit/a.csv", "incoming/credit/a.csv", "feedback/credit/", "feedback/_x/a.csv",
		"/feedback/credit/a.csv", "feedback/credit/a\x00.csv"} {
		if m, ok := feedback.ParseKey(bad); ok {
			t.Errorf("ParseKey(%q) = %q, want refused", bad, m)
		}
	}
}
