package ingest_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/store"
)

func TestDatasheetRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ds := ingest.NewDatasets(e.st, platform, uploads)
	if _, _, err := ds.Datasheet(ctx, "credit"); !errors.Is(err, ingest.ErrNoDatasheet) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no datasheet yet: %v", err)
	}
	sheet, err := ingest.NewDatasheet("credit", "datasheet.md", []byte("\ufeff# Motivation\r\nWhy.\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if sheet.Markdown != "# Motivation\nWhy.\n" {
		t.Fatalf("normalised text %q: want no BOM and LF line endings", sheet.Markdown)
	}
	// Concurrent duplicates: one version, the pointer at it.
	var wg sync.WaitGroup
	hashes := make([]string, 8)
	changed := make([]bool, 8)
	for i := range hashes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, c, err := ingest.ApplyDatasheet(ctx, e.st, platform, sheet, e.clock.Now())
			if err != nil {
				t.Error(err)
			}
			hashes[i], changed[i] = h, c
		}()
	}
	wg.Wait()
	n := 0
	for i := range hashes {
		if hashes[i] != sheet.Hash() {
			t.Errorf("apply %d: hash %s, want %s", i, hashes[i], sheet.Hash())
		}
		if changed[i] {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of 8 concurrent applies moved the pointer, want 1", n)
	}
	got, ptr, err := ds.Datasheet(ctx, "credit")
	if err != nil || got.Markdown != sheet.Markdown || ptr.Hash != sheet.Hash() {
		t.Fatalf("read back: %+v %+v %v", got, ptr, err)
	}
	// A CRLF copy of the same text is the same datasheet.
	same, _ := ingest.NewDatasheet("credit", "d.md", []byte("# Motivation\nWhy.\n"))
	if _, c, err := ingest.ApplyDatasheet(ctx, e.st, platform, same, e.clock.Now()); err != nil || c {
		t.Fatalf("the same text again: changed %v, %v", c, err)
	}
}

func TestDatasheetRefusesBadText(t *testing.T) {
	for name, c := range map[string]struct {
		dataset string
		text    []byte
		want    string
	}{
		"not utf-8":   {"credit", []byte("ok\xff\xfe"), "datasheet.md: not UTF-8 text (at byte 2)"},
		"nul":         {"credit", []byte("a\x00b"), "a NUL byte at byte 1"},
		"empty":       {"credit", []byte(" \n\t"), "empty"},
		"too big":     {"credit", []byte(strings.Repeat("a", ingest.MaxDatasheetBytes+1)), "at most"},
		"bad dataset": {"../etc", []byte("# x"), "is not a dataset name"},
	} {
		_, err := ingest.NewDatasheet(c.dataset, "datasheet.md", c.text)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, c.want)
		}
	}
}
