package gate

import (
	"slices"
	"testing"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/ingest"
)

func TestUnseenRows(t *testing.T) {
	cand := bundle.TestRows{DatasetVersion: "v2", Rows: []int64{1, 5, 9, 120, 130}}
	for _, c := range []struct {
		name      string
		champ     bundle.TestRows
		champRows int64
		want      []int64
	}{
		{"same version: the champion's test rows only", bundle.TestRows{DatasetVersion: "v2", Rows: []int64{5, 9, 130, 200}}, -1, []int64{5, 9, 130}},
		{"another version of a replace dataset: none", bundle.TestRows{DatasetVersion: "v1", Rows: []int64{1, 5, 9}}, -1, nil},
		{"an append dataset the candidate extends: test rows and new rows", bundle.TestRows{DatasetVersion: "v1", Rows: []int64{5, 60}}, 100, []int64{5, 120, 130}},
	} {
		if got := unseenRows(cand, c.champ, c.champRows); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	p := func(sha string, rows int64) ingest.Partition { return ingest.Partition{PayloadSHA256: sha, Rows: rows} }
	if !extends([]ingest.Partition{p("a", 10), p("b", 5)}, []ingest.Partition{p("a", 10)}) {
		t.Error("a later append version does not extend its earlier one")
	}
	for _, c := range [][2][]ingest.Partition{
		{{p("a", 10)}, {p("a", 10), p("b", 5)}},
		{{p("b", 10), p("a", 5)}, {p("a", 10)}},
		{{p("a", 10)}, nil},
	} {
		if extends(c[0], c[1]) {
			t.Errorf("extends(%v, %v)", c[0], c[1])
		}
	}
	if minSharedRows(668) != 167 || minSharedRows(40) != 30 {
		t.Error("minSharedRows")
	}
}
