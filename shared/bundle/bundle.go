package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/openmlops/mlops/shared/xgboost"
)

// Limits on what Open reads, so that a hostile or broken bundle cannot make it
// allocate without bound: the manifest is small by construction, and no file of
// a bundle (the model, the test rows) comes near half a gigabyte.
const (
	MaxManifestBytes = 1 << 20
	MaxFileBytes     = 512 << 20
	maxFiles         = 10000
)

// ErrInvalid is matched (errors.Is) by every error that says the bundle itself
// is wrong: a hash or size that differs from the manifest, a missing file, a file
// that does not decode, an encoding that does not fit the model. Other errors
// (a read that failed, a cancelled context) say nothing about the bundle, and
// trying again may succeed.
var ErrInvalid = errors.New("invalid bundle")

// Error is the error Open (and so bundlestore.Fetch) returns: File names the
// bundle file at fault ("manifest.json" for the manifest and the files it lists).
type Error struct {
	File    string
	Err     error
	invalid bool // the bundle is wrong (not the read): errors.Is(err, ErrInvalid)
}

func (e *Error) Error() string { return "bundle " + e.File + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalid and the error is about the bundle's content.
func (e *Error) Is(target error) bool { return target == ErrInvalid && e.invalid }

func invalid(file, format string, a ...any) error {
	return &Error{File: file, Err: fmt.Errorf(format, a...), invalid: true}
}

// Bundle is a verified model bundle: every file the manifest lists had the
// listed size and SHA-256, every JSON file decoded strictly into its type, and
// the encoding, the model and the label agree with each other.
type Bundle struct {
	Manifest Manifest
	// SHA256 is the hex SHA-256 of manifest.json's bytes: the bundle's identity
	// (the manifest names every other file by its hash).
	SHA256     string
	Model      *xgboost.Model
	Encoding   Encoding
	Encoder    *Encoder // built from Encoding
	Metrics    Metrics
	Slices     Slices
	Importance Importance
	Baseline   Baseline
	Samples    Samples
	TestRows   TestRows
	Lineage    Lineage
}

// OpenDir opens the bundle in a local directory. See Open.
func OpenDir(dir string) (*Bundle, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("bundle: %s is not a directory", dir)
	}
	return Open(os.DirFS(dir))
}

// Open reads and verifies the bundle at the root of fsys: manifest.json first,
// then every file it lists, each streamed through SHA-256 and compared with the
// manifest's size and hash before anything in it is believed. Files in fsys that
// the manifest does not list are ignored (they are not part of the bundle), but
// every one of RequiredFiles must be listed. The listed files are read
// concurrently (fsys must allow that, as os.DirFS and S3 do).
//
// Errors are *Error values naming the file at fault; errors.Is(err, ErrInvalid)
// tells a bad bundle from a failed read.
func Open(fsys fs.FS) (*Bundle, error) { return OpenWith(fsys, Options{}) }

// Options says what OpenWith reads of a bundle.
type Options struct {
	// Files, when not nil, are the files to read and decode besides the
	// manifest and the model (nil: every listed file). The others are not read,
	// their fields of the Bundle stay empty and the checks that need them are
	// not made: for a reader that needs only part of a bundle (serving needs
	// the encoding, the samples and the lineage, not the test rows).
	Files []string
	// Model, when set, supplies the model instead of model.json, which is then
	// not read: it is given model.json's entry in the verified manifest, and
	// must return the model compiled from exactly that file (the caller
	// checks, e.g. by the hash it recorded). Its error is returned as is.
	Model func(modelJSON File) (*xgboost.Model, error)
}

// maxParallelReads bounds the files OpenWith reads at once.
const maxParallelReads = 8

// OpenWith is Open, reading what opt says.
func OpenWith(fsys fs.FS, opt Options) (*Bundle, error) {
	raw, err := readManifest(fsys)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	b := &Bundle{SHA256: hex.EncodeToString(sum[:])}
	if b.Manifest, err = parseManifest(raw); err != nil {
		return nil, err
	}
	wanted := func(path string) bool {
		if path == ModelFile {
			return opt.Model == nil
		}
		return opt.Files == nil || slices.Contains(opt.Files, path)
	}
	var todo []File
	for _, f := range b.Manifest.Files {
		if wanted(f.Path) {
			todo = append(todo, f)
		}
	}
	// Every file is read by its own goroutine, at most maxParallelReads at
	// once; the first error in the manifest's order is the one returned, so
	// a bundle with several faults always reports the same.
	data := make([][]byte, len(todo))
	errs := make([]error, len(todo))
	var model *xgboost.Model
	var modelErr error
	var wg sync.WaitGroup
	if opt.Model != nil {
		entry, _ := b.Manifest.File(ModelFile)
		wg.Add(1)
		go func() {
			defer wg.Done()
			model, modelErr = opt.Model(entry)
		}()
	}
	sem := make(chan struct{}, maxParallelReads)
	for i, f := range todo {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			keep := slices.Contains(RequiredFiles, f.Path) && wanted(f.Path)
			data[i], errs[i] = verifyFile(fsys, f, keep)
		}()
	}
	wg.Wait()
	contents := make(map[string][]byte, len(RequiredFiles))
	for i, f := range todo {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if data[i] != nil {
			contents[f.Path] = data[i]
		}
	}
	if opt.Model != nil {
		if modelErr != nil {
			return nil, modelErr
		}
		b.Model = model
	}
	if err := b.load(contents, wanted); err != nil {
		return nil, err
	}
	return b, nil
}

// ReadManifest reads and checks a bundle's manifest alone (its size, its
// fields, the files it lists and their paths), reading none of those files:
// for a reader that needs only the list, such as a retirement tagging the
// bundle's objects for archival.
func ReadManifest(fsys fs.FS) (Manifest, error) {
	raw, err := readManifest(fsys)
	if err != nil {
		return Manifest{}, err
	}
	return parseManifest(raw)
}

func parseManifest(raw []byte) (Manifest, error) {
	var m Manifest
	if err := decodeStrict(raw, &m); err != nil {
		return Manifest{}, invalid(ManifestFile, "%w", err)
	}
	if err := m.validate(); err != nil {
		return Manifest{}, invalid(ManifestFile, "%w", err)
	}
	return m, nil
}

// readManifest reads manifest.json, refusing one over MaxManifestBytes before
// and while reading it.
func readManifest(fsys fs.FS) ([]byte, error) {
	f, err := fsys.Open(ManifestFile)
	if err != nil {
		// A missing manifest is no bundle (yet: it is written last), not a bad
		// one; errors.Is(err, fs.ErrNotExist) tells.
		return nil, &Error{File: ManifestFile, Err: err}
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > MaxManifestBytes {
		return nil, invalid(ManifestFile, "%d bytes, over the limit of %d", info.Size(), MaxManifestBytes)
	}
	raw, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return nil, &Error{File: ManifestFile, Err: fmt.Errorf("read: %w", err)}
	}
	if len(raw) > MaxManifestBytes {
		return nil, invalid(ManifestFile, "over the limit of %d bytes", MaxManifestBytes)
	}
	return raw, nil
}

// verifyFile streams one listed file through SHA-256 and checks its size and
// hash against the manifest. With keep, it returns the bytes (only for the
// files Open decodes, which are read whole anyway).
func verifyFile(fsys fs.FS, want File, keep bool) ([]byte, error) {
	fail := func(format string, a ...any) error {
		return invalid(ManifestFile, "file %s: "+format, append([]any{want.Path}, a...)...)
	}
	f, err := fsys.Open(want.Path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{File: ManifestFile, Err: fmt.Errorf("file %s is listed but missing: %w", want.Path, err), invalid: true}
		}
		return nil, &Error{File: want.Path, Err: err}
	}
	defer f.Close()
	// Where the size is known up front (a directory, an S3 object), a file of the
	// wrong size is refused before a byte of it is read.
	if info, err := f.Stat(); err == nil {
		if !info.Mode().IsRegular() {
			return nil, fail("is not a regular file")
		}
		if info.Size() != want.Bytes {
			return nil, fail("%d bytes but the manifest says %d", info.Size(), want.Bytes)
		}
	}
	h := sha256.New()
	var buf *bytes.Buffer
	w := io.Writer(h)
	if keep {
		// Sized from the manifest, but not trusting it with more than 64 MiB up
		// front where the size could not be checked (no Stat): the buffer grows.
		buf = bytes.NewBuffer(make([]byte, 0, min(want.Bytes, 64<<20)))
		w = io.MultiWriter(h, buf)
	}
	// One byte past the listed size is enough to tell that the file is longer.
	n, err := io.Copy(w, io.LimitReader(f, want.Bytes+1))
	if err != nil {
		return nil, &Error{File: want.Path, Err: fmt.Errorf("read: %w", err)}
	}
	if n != want.Bytes {
		if n > want.Bytes {
			return nil, fail("more than the %d bytes the manifest says", want.Bytes)
		}
		return nil, fail("%d bytes but the manifest says %d", n, want.Bytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return nil, fail("sha256 %s but the manifest says %s", got, want.SHA256)
	}
	if buf == nil {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// validate checks the manifest on its own: the format, the names, and that the
// file list is a sorted list of clean relative paths with well-formed hashes
// that includes every required file.
func (m *Manifest) validate() error {
	if m.Format != Format {
		return fmt.Errorf("format %q, want %q", m.Format, Format)
	}
	if m.RunID == "" {
		return errors.New("runId is empty")
	}
	if m.Model == "" {
		return errors.New("model is empty")
	}
	if _, err := labelKindFor(m.Objective); err != nil {
		return err
	}
	if m.CreatedAt.IsZero() {
		return errors.New("createdAt is missing")
	}
	if len(m.Files) > maxFiles {
		return fmt.Errorf("%d files, over the limit of %d", len(m.Files), maxFiles)
	}
	for i, f := range m.Files {
		if err := CheckPath(f.Path); err != nil {
			return fmt.Errorf("files[%d]: %w", i, err)
		}
		if f.Path == ManifestFile {
			return fmt.Errorf("files[%d]: the manifest cannot list itself", i)
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			if m.Files[i-1].Path == f.Path {
				return fmt.Errorf("files[%d]: %s is listed twice", i, f.Path)
			}
			return fmt.Errorf("files[%d]: %s is out of order (files are sorted by path)", i, f.Path)
		}
		if !isHexSHA256(f.SHA256) {
			return fmt.Errorf("files[%d] (%s): sha256 %q is not 64 lowercase hex digits", i, f.Path, f.SHA256)
		}
		if f.Bytes < 0 || f.Bytes > MaxFileBytes {
			return fmt.Errorf("files[%d] (%s): %d bytes, outside 0..%d", i, f.Path, f.Bytes, MaxFileBytes)
		}
	}
	var missing []string
	for _, name := range RequiredFiles {
		if _, ok := m.File(name); !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("required files not listed: %s", strings.Join(missing, ", "))
	}
	return nil
}

// File returns the manifest's entry for path.
func (m *Manifest) File(path string) (File, bool) {
	i, ok := slices.BinarySearchFunc(m.Files, path, func(f File, p string) int { return strings.Compare(f.Path, p) })
	if !ok {
		// Files should be sorted; a manifest that is not (before validation) is
		// searched in full.
		for _, f := range m.Files {
			if f.Path == path {
				return f, true
			}
		}
		return File{}, false
	}
	return m.Files[i], true
}

// CheckPath reports whether p may name a file in a bundle: relative,
// "/"-separated, without "." or ".." elements, empty elements or backslashes.
// The manifest's paths become S3 keys and local file names, so nothing may
// climb out of the bundle's prefix or directory.
func CheckPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case strings.HasPrefix(p, "/"):
		return fmt.Errorf("path %q is absolute", p)
	case strings.Contains(p, `\`):
		return fmt.Errorf("path %q contains a backslash", p)
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Errorf("path %q contains \"..\"", p)
	case !fs.ValidPath(p) || p == ".":
		return fmt.Errorf("path %q is not a clean relative path", p)
	case strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("path %q contains a control character", p)
	}
	return nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// decodeStrict decodes one JSON document into v, refusing unknown fields and
// trailing data: a misspelt field in a bundle is an error, not a zero value.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

// describeJSONError rewrites encoding/json's errors to name the field (as a
// dotted path) and the offset.
func describeJSONError(err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "(document)"
		}
		return fmt.Errorf("field %s: expected %s, got a JSON %s (offset %d)", field, te.Type, te.Value, te.Offset)
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at offset %d: %w", se.Offset, err)
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: truncated or empty")
	}
	// Unknown fields (DisallowUnknownFields) and the errors of types with their
	// own decoding (time.Time) say what they are; drop the package prefix.
	return errors.New(strings.TrimPrefix(err.Error(), "json: "))
}

// load decodes the required files that were read (read says which) and
// checks that they agree with each other and with the model.
func (b *Bundle) load(contents map[string][]byte, read func(string) bool) error {
	if b.Model == nil {
		m, err := xgboost.Parse(contents[ModelFile])
		if err != nil {
			return invalid(ModelFile, "%w", err)
		}
		b.Model = m
	}
	m := b.Model
	targets := []struct {
		file string
		v    any
	}{
		{EncodingFile, &b.Encoding}, {MetricsFile, &b.Metrics}, {SlicesFile, &b.Slices},
		{ImportanceFile, &b.Importance}, {PredictionsFile, &b.Baseline}, {SamplesFile, &b.Samples},
		{TestRowsFile, &b.TestRows}, {LineageFile, &b.Lineage},
	}
	for _, t := range targets {
		if !read(t.file) {
			continue
		}
		if err := decodeStrict(contents[t.file], t.v); err != nil {
			return invalid(t.file, "%w", err)
		}
	}
	if m.Objective() != b.Manifest.Objective {
		return invalid(ModelFile, "objective %s but the manifest says %s", m.Objective(), b.Manifest.Objective)
	}
	if !read(EncodingFile) {
		return invalid(EncodingFile, "not read: every reader of a bundle needs its encoding")
	}
	enc, err := NewEncoder(b.Encoding)
	if err != nil {
		return invalid(EncodingFile, "%w", err)
	}
	b.Encoder = enc
	if err := b.checkEncoding(); err != nil {
		return invalid(EncodingFile, "%w", err)
	}
	checks := []struct {
		file  string
		check func() error
	}{
		{MetricsFile, b.checkMetrics}, {PredictionsFile, b.checkBaseline}, {SamplesFile, b.checkSamplesShape},
		{TestRowsFile, b.checkTestRows}, {LineageFile, b.checkLineage}, {SlicesFile, b.checkSlices},
	}
	for _, c := range checks {
		if !read(c.file) {
			continue
		}
		if err := c.check(); err != nil {
			return invalid(c.file, "%w", err)
		}
	}
	return nil
}

// labelKindFor maps a supported objective to the label kind it predicts.
func labelKindFor(objective string) (string, error) {
	switch objective {
	case xgboost.BinaryLogistic:
		return LabelBinary, nil
	case xgboost.RegSquaredError:
		return LabelRegression, nil
	case xgboost.MultiSoftprob:
		return LabelMulticlass, nil
	}
	return "", fmt.Errorf("objective %q is not one of %s, %s, %s", objective,
		xgboost.BinaryLogistic, xgboost.RegSquaredError, xgboost.MultiSoftprob)
}

// checkEncoding checks the encoding against the model: the columns are the
// model's features, and the label is what the objective predicts.
func (b *Bundle) checkEncoding() error {
	e, m := &b.Encoding, b.Model
	if len(e.Columns) != m.NumFeatures() {
		return fmt.Errorf("%d columns but the model has %d features", len(e.Columns), m.NumFeatures())
	}
	// A model trained from a DMatrix with feature names records them; they must be
	// the encoding's columns, in order, or the columns are fed to the wrong splits.
	if names := m.FeatureNames(); len(names) > 0 {
		if len(names) != len(e.Columns) {
			return fmt.Errorf("the model records %d feature names for %d features", len(names), m.NumFeatures())
		}
		for i, n := range names {
			if n != e.Columns[i] {
				return fmt.Errorf("columns[%d] is %q but the model's feature %d is %q", i, e.Columns[i], i, n)
			}
		}
	}
	t := e.Target
	if t.Column == "" {
		return errors.New("target.column is empty")
	}
	if slices.ContainsFunc(e.Features, func(f Feature) bool { return f.Name == t.Column }) {
		return fmt.Errorf("target column %q is also a feature", t.Column)
	}
	want, _ := labelKindFor(m.Objective())
	if t.Kind != want {
		return fmt.Errorf("target.kind %q does not fit objective %s (want %q)", t.Kind, m.Objective(), want)
	}
	if err := checkClasses(t.Classes); err != nil {
		return err
	}
	switch t.Kind {
	case LabelBinary:
		if len(t.Classes) != 2 {
			return fmt.Errorf("target.classes has %d classes, a binary label needs 2 ([negative, positive])", len(t.Classes))
		}
		if t.PositiveClass != "" && t.PositiveClass != t.Classes[1] {
			return fmt.Errorf("target.positiveClass %q is not classes[1] %q", t.PositiveClass, t.Classes[1])
		}
		if !(e.Threshold > 0 && e.Threshold < 1) {
			return fmt.Errorf("threshold %v is not in (0, 1)", e.Threshold)
		}
	case LabelMulticlass:
		if len(t.Classes) != m.NumOutputs() {
			return fmt.Errorf("target.classes has %d classes but the model has %d outputs", len(t.Classes), m.NumOutputs())
		}
	case LabelRegression:
		if len(t.Classes) > 0 || t.PositiveClass != "" {
			return errors.New("a regression target has no classes")
		}
	}
	if t.Kind != LabelBinary {
		if t.PositiveClass != "" {
			return fmt.Errorf("target.positiveClass is for binary labels, not %s", t.Kind)
		}
		if e.Threshold != 0 {
			return fmt.Errorf("threshold is for binary labels, not %s", t.Kind)
		}
	}
	return nil
}

func checkClasses(classes []string) error {
	seen := make(map[string]bool, len(classes))
	for i, c := range classes {
		if c == "" {
			return fmt.Errorf("target.classes[%d] is empty", i)
		}
		if seen[c] {
			return fmt.Errorf("target.classes[%d] %q is listed twice", i, c)
		}
		seen[c] = true
	}
	return nil
}

func (b *Bundle) checkSlices() error {
	seen := map[string]bool{}
	for i, a := range b.Slices.Attributes {
		if a.Kind != "categorical" && a.Kind != "numeric" {
			return fmt.Errorf("attributes[%d] (%s): kind %q, want categorical or numeric", i, a.Name, a.Kind)
		}
		if a.Name == "" || seen[a.Name] {
			return fmt.Errorf("attributes[%d]: name %q is empty or repeated", i, a.Name)
		}
		seen[a.Name] = true
	}
	return nil
}

func (b *Bundle) checkMetrics() error {
	if b.Metrics.Objective != b.Manifest.Objective {
		return fmt.Errorf("objective %q but the manifest says %s", b.Metrics.Objective, b.Manifest.Objective)
	}
	return nil
}

// checkBaseline checks that predictions.json has one histogram per output,
// each with one more edge than counts, edges ascending.
func (b *Bundle) checkBaseline() error {
	if len(b.Baseline.Outputs) != b.Model.NumOutputs() {
		return fmt.Errorf("%d outputs but the model has %d", len(b.Baseline.Outputs), b.Model.NumOutputs())
	}
	// Drift compares today's outputs with these by name and quantile, so both
	// are fixed by the format, not left to the trainer.
	names := []string{"prediction"}
	switch b.Encoding.Target.Kind {
	case LabelBinary:
		names = []string{"p(" + b.Encoding.Target.Classes[1] + ")"}
	case LabelMulticlass:
		names = names[:0]
		for _, c := range b.Encoding.Target.Classes {
			names = append(names, "p("+c+")")
		}
	}
	for i, o := range b.Baseline.Outputs {
		if i < len(names) && o.Name != names[i] {
			return fmt.Errorf("outputs[%d] is named %q, want %q", i, o.Name, names[i])
		}
		if len(o.Quantiles) != len(BaselineQuantiles) {
			return fmt.Errorf("outputs[%d] (%s): %d quantiles, want %s", i, o.Name, len(o.Quantiles), strings.Join(BaselineQuantiles, ", "))
		}
		for _, q := range BaselineQuantiles {
			if _, ok := o.Quantiles[q]; !ok {
				return fmt.Errorf("outputs[%d] (%s): quantile %q is missing (want %s)", i, o.Name, q, strings.Join(BaselineQuantiles, ", "))
			}
		}
		if len(o.Edges) != len(o.Counts)+1 {
			return fmt.Errorf("outputs[%d] (%s): %d edges for %d counts, want counts+1", i, o.Name, len(o.Edges), len(o.Counts))
		}
		for j := 1; j < len(o.Edges); j++ {
			if !(o.Edges[j] >= o.Edges[j-1]) {
				return fmt.Errorf("outputs[%d] (%s): edges are not ascending at %d", i, o.Name, j)
			}
		}
	}
	return nil
}

// checkSamplesShape checks samples.json's shape; CheckSamples checks its values.
func (b *Bundle) checkSamplesShape() error {
	s := &b.Samples
	names := b.Encoder.Features()
	if !slices.Equal(s.Columns, names) {
		return fmt.Errorf("columns %q are not the encoding's features %q", s.Columns, names)
	}
	k := b.Model.NumOutputs()
	for i, r := range s.Rows {
		if len(r.Values) != len(names) {
			return fmt.Errorf("rows[%d] (row %d): %d values for %d columns", i, r.Row, len(r.Values), len(names))
		}
		if len(r.Output) != k {
			return fmt.Errorf("rows[%d] (row %d): %d outputs but the model has %d", i, r.Row, len(r.Output), k)
		}
		for j, v := range r.Output {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("rows[%d] (row %d): output %d is %v", i, r.Row, j, v)
			}
		}
	}
	return nil
}

func (b *Bundle) checkTestRows() error {
	for i, r := range b.TestRows.Rows {
		if r < 0 {
			return fmt.Errorf("rows[%d] is negative (%d)", i, r)
		}
		if i > 0 && r <= b.TestRows.Rows[i-1] {
			return fmt.Errorf("rows[%d] (%d) is not above rows[%d] (%d): rows are ascending and unique", i, r, i-1, b.TestRows.Rows[i-1])
		}
	}
	if l := b.Lineage.DatasetVersion; l != "" && b.TestRows.DatasetVersion != l {
		return fmt.Errorf("datasetVersion %q but lineage.json says %q", b.TestRows.DatasetVersion, l)
	}
	return nil
}

func (b *Bundle) checkLineage() error {
	if b.Lineage.RunID != b.Manifest.RunID {
		return fmt.Errorf("runId %q but the manifest says %q", b.Lineage.RunID, b.Manifest.RunID)
	}
	if b.Lineage.Model != b.Manifest.Model {
		return fmt.Errorf("model %q but the manifest says %q", b.Lineage.Model, b.Manifest.Model)
	}
	return nil
}
