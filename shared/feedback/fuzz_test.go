package feedback_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/feedback"
)

// FuzzRead: no input panics Read; an accepted file yields rows that each
// satisfy the rules on their own, with no key twice, and a refused file
// yields a *feedback.Error that names the file, with at most MaxProblems
// problems, each on a line of the file.
func FuzzRead(f *testing.F) {
	for _, s := range []string{
		"request_id,index,label\na,0,yes\nb,1,no\n",
		"\ufefflabel,request_id\r\n\"x,y\",no\r\n",
		"request_id,label\na,maybe\na,yes\na,yes\n",
		"request_id,label,extra\n",
		"request_id,index,label\na,-1,yes\n\"unterminated\n",
		"",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, text string, numeric bool) {
		rule := binary
		if numeric {
			rule = regression
		}
		lines := strings.Count(text, "\n") + strings.Count(text, "\r") + 1
		seen := map[string]bool{}
		var rows []feedback.Label
		err := feedback.Read(strings.NewReader(text), "f.csv", rule, func(l feedback.Label) error {
			rows = append(rows, l)
			return nil
		})
		for _, l := range rows {
			k := l.RequestID + "\x00" + strconv.Itoa(l.Index)
			if seen[k] {
				t.Fatalf("key %q[%d] delivered twice", l.RequestID, l.Index)
			}
			seen[k] = true
			if l.RequestID == "" || len(l.RequestID) > feedback.MaxRequestID || l.Index < 0 || l.Line < 2 || l.Line > lines {
				t.Fatalf("invalid row delivered: %+v", l)
			}
			if v, err := rule.Parse(l.Label); err != nil || v != l.Value {
				t.Fatalf("row %+v: label parses to %v, %v", l, v, err)
			}
		}
		if err == nil {
			return
		}
		var fe *feedback.Error
		if !errors.As(err, &fe) {
			t.Fatalf("error %v (%T) is no *feedback.Error", err, err)
		}
		if len(fe.Problems) == 0 || len(fe.Problems) > feedback.MaxProblems || !strings.HasPrefix(err.Error(), "f.csv: ") {
			t.Fatalf("malformed error: %v", err)
		}
		for _, p := range fe.Problems {
			if p.Line < 0 || p.Line > lines || p.Msg == "" {
				t.Fatalf("problem %+v outside the file's %d lines", p, lines)
			}
		}
	})
}
