package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/pointer"
	"github.com/openmlops/mlops/shared/store"
)

// MaxDatasheetBytes bounds a datasheet's Markdown.
const MaxDatasheetBytes = 256 << 10

// DatasheetsPrefix holds the human sections of each dataset's datasheet
// ("Datasheets for Datasets": motivation, composition, collection, uses,
// maintenance), stored like contracts: by hash, with a current pointer.
const DatasheetsPrefix = "datasheets/"

// DatasheetKey is where a datasheet's canonical JSON lives.
func DatasheetKey(dataset, hash string) string {
	return DatasheetsPrefix + dataset + "/" + hash + ".json"
}

// DatasheetPointerKey is the dataset's current-datasheet pointer.
func DatasheetPointerKey(dataset string) string { return DatasheetsPrefix + dataset + "/current" }

// Datasheet is the Markdown people write about a dataset. Its JSON (Canonical)
// is the stored, hashed form.
type Datasheet struct {
	Dataset  string `json:"dataset"`
	Markdown string `json:"markdown"`
}

// ErrNoDatasheet: the dataset has no datasheet. It wraps store.ErrNotFound.
var ErrNoDatasheet = fmt.Errorf("no datasheet: %w", store.ErrNotFound)

// NewDatasheet checks a datasheet file's text: valid UTF-8, no NUL, at most
// MaxDatasheetBytes; a BOM is dropped and line endings become LF, so that an
// editor's save is not a new version.
func NewDatasheet(dataset, file string, text []byte) (*Datasheet, error) {
	if !ValidDataset(dataset) {
		return nil, fmt.Errorf("%q is not a dataset name", dataset)
	}
	switch {
	case len(text) > MaxDatasheetBytes:
		return nil, fmt.Errorf("%s: %d bytes, at most %d", file, len(text), MaxDatasheetBytes)
	case !utf8.Valid(text):
		return nil, fmt.Errorf("%s: not UTF-8 text (at byte %d)", file, firstInvalidUTF8(text))
	case bytes.IndexByte(text, 0) >= 0:
		return nil, fmt.Errorf("%s: a NUL byte at byte %d: expected Markdown text", file, bytes.IndexByte(text, 0))
	}
	s := strings.TrimPrefix(string(text), "\ufeff")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%s: empty: expected the datasheet's Markdown", file)
	}
	return &Datasheet{Dataset: dataset, Markdown: s}, nil
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// Canonical is the stored form.
func (d *Datasheet) Canonical() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic("ingest: encode datasheet: " + err.Error()) // strings only: cannot fail
	}
	return b
}

// Hash names the datasheet.
func (d *Datasheet) Hash() string { return hashid.Of(d.Canonical()) }

// ApplyDatasheet stores d under its hash and makes it the dataset's current
// datasheet; applying the current one again changes nothing.
func ApplyDatasheet(ctx context.Context, st ContractStore, platformBucket string, d *Datasheet, now time.Time) (hash string, changed bool, err error) {
	hash = d.Hash()
	changed, err = pointer.Publish(ctx, st, platformBucket, DatasheetKey(d.Dataset, hash), DatasheetPointerKey(d.Dataset), hash, d.Canonical(), now)
	if err != nil {
		return "", false, fmt.Errorf("apply datasheet %s of %s: %w", hashid.Short(hash), d.Dataset, err)
	}
	return hash, changed, nil
}

// Datasheet reads the dataset's current datasheet and its pointer; a dataset
// without one gives an error matching ErrNoDatasheet.
func (d *Datasets) Datasheet(ctx context.Context, dataset string) (*Datasheet, pointer.Pointer, error) {
	if !ValidDataset(dataset) {
		return nil, pointer.Pointer{}, fmt.Errorf("%q is not a dataset name", dataset)
	}
	ptr, err := pointer.Read(ctx, d.st, d.platform, DatasheetPointerKey(dataset))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ptr, fmt.Errorf("dataset %s: %w", dataset, ErrNoDatasheet)
	}
	if err != nil {
		return nil, ptr, fmt.Errorf("datasheet pointer of %s: %w", dataset, err)
	}
	raw, err := pointer.Load(ctx, d.st, d.platform, DatasheetKey(dataset, ptr.Hash), ptr.Hash)
	if err != nil {
		return nil, ptr, fmt.Errorf("dataset %s: datasheet %s: %w", dataset, hashid.Short(ptr.Hash), err)
	}
	var ds Datasheet
	if err := json.Unmarshal(raw, &ds); err != nil || ds.Dataset != dataset {
		return nil, ptr, fmt.Errorf("dataset %s: datasheet %s is damaged", dataset, hashid.Short(ptr.Hash))
	}
	return &ds, ptr, nil
}
