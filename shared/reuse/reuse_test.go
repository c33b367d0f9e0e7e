package reuse_test

import (
	"testing"

	"github.com/openmlops/mlops/shared/reuse"
)

// A slice given back cleared is taken again in its own array, all zeros, to
// the whole of its capacity; one too small is replaced.
func TestSliceAfterClear(t *testing.T) {
	s := make([]*int, 3, 8)
	x := 1
	for i := range s[:cap(s)] {
		s[:cap(s)][i] = &x
	}
	s = reuse.Clear(s)
	if len(s) != 0 || cap(s) != 8 {
		t.Fatalf("cleared: len %d cap %d", len(s), cap(s))
	}
	got := reuse.Slice(s, 8)
	if &got[0] != &s[:1][0] {
		t.Fatal("a slice with room was not reused")
	}
	for i, p := range got {
		if p != nil {
			t.Fatalf("element %d survived Clear", i)
		}
	}
	if big := reuse.Slice(s, 9); len(big) != 9 || &big[0] == &s[:1][0] {
		t.Fatal("a slice without room was not replaced")
	}
}
