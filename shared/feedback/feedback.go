// Package feedback reads the ground truth that arrives after the predictions:
// CSV files uploaded to feedback/<model>/<name>.csv in the uploads bucket, one
// label per scored instance, keyed by the prediction's request id and the
// instance's position in its request. The drift run joins them to the logged
// predictions to measure live quality (shared/quality).
//
// The file format:
//
//	request_id,index,label
//	3f1c…,0,yes
//	3f1c…,1,no
//
// The header is required and names exactly these columns, in any order;
// index may be left out (every label is then for instance 0, the common case
// of one instance per request). Other columns are refused rather than ignored,
// so that a misspelt header ("lable") is a clear error, not a file of missing
// labels. A UTF-8 byte-order mark, CRLF line ends and quoted fields are
// accepted (RFC 4180, as encoding/csv reads it).
package feedback

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/naming"
)

// Column names of the header.
const (
	ColumnRequestID = "request_id"
	ColumnIndex     = "index"
	ColumnLabel     = "label"
)

// MaxRequestID is the longest request id, in bytes: the prediction log's own
// bound (shared/predlog), so that any id the log holds can be labelled.
const MaxRequestID = 256

// MaxIndex bounds the index column: no request holds more instances than this.
const MaxIndex = 1<<31 - 1

// Prefix starts every feedback key in the uploads bucket.
const Prefix = "feedback/"

// Ext ends every feedback key.
const Ext = ".csv"

// maxName bounds a file name's bytes (S3 keys are at most 1024 bytes).
const maxName = 512

// Key is the key of the feedback file name for model: feedback/<model>/<name>.csv.
// name is one path segment without the extension: printable, no '/' or '\',
// not "." or "..".
func Key(model, name string) (string, error) {
	if !naming.Valid(model) {
		return "", fmt.Errorf("feedback key: model %q: want %s", model, naming.Rule)
	}
	if err := checkSegment(name); err != nil {
		return "", fmt.Errorf("feedback key: file name %q: %w", name, err)
	}
	return Prefix + model + "/" + name + Ext, nil
}

// ParseKey returns the model a feedback key is for. ok is false for any key
// that is not feedback/<model>/<any>.csv with a valid model name and no empty,
// "." or ".." segment below it (subfolders are allowed: people organise
// uploads by day).
func ParseKey(key string) (model string, ok bool) {
	rest, found := strings.CutPrefix(key, Prefix)
	if !found {
		return "", false
	}
	model, path, found := strings.Cut(rest, "/")
	if !found || !naming.Valid(model) || !strings.HasSuffix(path, Ext) {
		return "", false
	}
	for seg := range strings.SplitSeq(strings.TrimSuffix(path, Ext), "/") {
		if checkSegment(seg) != nil {
			return "", false
		}
	}
	return model, true
}

func checkSegment(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case s == "." || s == "..":
		return errors.New(`"." and ".." are not names`)
	case len(s) > maxName:
		return fmt.Errorf("%d bytes, at most %d", len(s), maxName)
	case strings.ContainsAny(s, `/\`):
		return errors.New(`contains '/' or '\'`)
	case !printable(s):
		return errors.New("not printable UTF-8")
	}
	return nil
}

// printable reports whether s is valid UTF-8 of printable characters (the
// ASCII space included, other spaces and control characters not).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// LabelRule says which label values a model's feedback may hold: one of the
// classes for a classifier, a finite number for a regression.
type LabelRule struct {
	Kind    string   // bundle.LabelBinary, bundle.LabelMulticlass or bundle.LabelRegression
	Classes []string // classifiers: the classes as the bundle's encoding names them, in output order
}

// RuleFor is the rule for a bundle's target (bundle.Encoding.Target).
func RuleFor(t bundle.Label) (LabelRule, error) {
	switch t.Kind {
	case bundle.LabelBinary, bundle.LabelMulticlass:
		if len(t.Classes) < 2 {
			return LabelRule{}, fmt.Errorf("target %q: a %s label needs at least 2 classes, has %d", t.Column, t.Kind, len(t.Classes))
		}
		return LabelRule{Kind: t.Kind, Classes: slices.Clone(t.Classes)}, nil
	case bundle.LabelRegression:
		return LabelRule{Kind: t.Kind}, nil
	}
	return LabelRule{}, fmt.Errorf("target %q: kind %q, want %s, %s or %s", t.Column, t.Kind,
		bundle.LabelBinary, bundle.LabelMulticlass, bundle.LabelRegression)
}

// Parse reads one label: for a classifier the index of its class in Classes
// (binary: 1 is the positive class), for a regression the number. The error
// says what was expected.
func (r LabelRule) Parse(s string) (float64, error) {
	if r.Kind == bundle.LabelRegression {
		if !bundle.PlainDecimal(s) {
			return 0, fmt.Errorf("%s: want a number (digits, optional sign, point and exponent)", quote(s))
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s: want a finite number", quote(s))
		}
		return v, nil
	}
	if i := slices.Index(r.Classes, s); i >= 0 {
		return float64(i), nil
	}
	return 0, fmt.Errorf("%s is not a class: want one of %s", quote(s), quoteAll(r.Classes))
}

// quote shortens what a person uploaded before it goes into a message.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

func quoteAll(names []string) string {
	const max = 20
	q := make([]string, 0, min(len(names), max))
	for i, n := range names {
		if i == max {
			return strings.Join(q, ", ") + fmt.Sprintf(" (and %d more)", len(names)-max)
		}
		q = append(q, quote(n))
	}
	return strings.Join(q, ", ")
}
