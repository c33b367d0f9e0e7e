package feedback

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Label is one row of a feedback file.
type Label struct {
	RequestID string
	Index     int    // the instance's position in its request (0 when the file has no index column)
	Label     string // as written
	// Value is the label as the metrics take it: for a classifier the index
	// of the class in LabelRule.Classes (binary: 1 is the positive class), for
	// a regression the number.
	Value float64
	Line  int // the line the row starts on, 1-based, the header being line 1
}

// MaxProblems is how many problems an Error lists; the rest are counted.
const MaxProblems = 50

// Problem is one thing wrong with a feedback file.
type Problem struct {
	Line   int    // 1-based; 0 for the file as a whole
	Column string // the header's name for the column, "" for the row or file
	Msg    string // what is wrong and what was expected
}

func (p Problem) String() string {
	switch {
	case p.Line == 0:
		return p.Msg
	case p.Column == "":
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return fmt.Sprintf("line %d, column %s: %s", p.Line, p.Column, p.Msg)
}

// Error is a feedback file's problems: up to MaxProblems of them, and how
// many more there were.
type Error struct {
	File     string
	Problems []Problem
	More     int
}

func (e *Error) Error() string {
	var b strings.Builder
	n := len(e.Problems) + e.More
	if n == 1 {
		fmt.Fprintf(&b, "%s: %s", e.File, e.Problems[0])
		return b.String()
	}
	fmt.Fprintf(&b, "%s: %d problems", e.File, n)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	if e.More > 0 {
		fmt.Fprintf(&b, "\n  … and %d more", e.More)
	}
	return b.String()
}

// Read reads a feedback file named name (for messages: the key) and calls fn
// with each valid row, in file order. It checks every row and returns an
// *Error listing the problems (up to MaxProblems) when any row, or the
// header, is wrong; an error from reading r or from fn stops it and is
// returned as is (fn's unwrapped).
//
// fn sees a row once the row itself is valid, before the file's verdict:
// a caller that must take all or nothing stages what it gets and keeps it
// only when Read returns nil (ReadAll does). The memory Read holds grows
// with the rows' distinct keys, which it keeps to refuse duplicates.
func Read(r io.Reader, name string, rule LabelRule, fn func(Label) error) error {
	rd := &reader{file: name, rule: rule, seen: map[key]int{}}
	return rd.read(r, fn)
}

// ReadAll reads a whole feedback file of at most maxRows rows (0: no limit);
// it returns no rows unless every row is valid.
func ReadAll(r io.Reader, name string, rule LabelRule, maxRows int) ([]Label, error) {
	var out []Label
	errTooMany := errors.New("too many rows")
	err := Read(r, name, rule, func(l Label) error {
		if maxRows > 0 && len(out) == maxRows {
			return errTooMany
		}
		out = append(out, l)
		return nil
	})
	if errors.Is(err, errTooMany) {
		return nil, &Error{File: name, Problems: []Problem{{Msg: fmt.Sprintf("more than %d rows: split the file", maxRows)}}}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

type key struct {
	id    string
	index int
}

type reader struct {
	file     string
	rule     LabelRule
	seen     map[key]int // line of each key's first row
	problems []Problem
	more     int
}

func (rd *reader) problem(line int, column, format string, args ...any) {
	if len(rd.problems) == MaxProblems {
		rd.more++
		return
	}
	rd.problems = append(rd.problems, Problem{Line: line, Column: column, Msg: fmt.Sprintf(format, args...)})
}

func (rd *reader) verdict() error {
	if len(rd.problems) == 0 {
		return nil
	}
	return &Error{File: rd.file, Problems: rd.problems, More: rd.more}
}

// bom is UTF-8's byte-order mark, which spreadsheet exports put first.
const bom = "\ufeff"

func (rd *reader) read(r io.Reader, fn func(Label) error) error {
	br := bufio.NewReader(r)
	if head, err := br.Peek(len(bom)); err == nil && string(head) == bom {
		_, _ = br.Discard(len(bom))
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1 // counted here, to say which line and what the header has
	cr.ReuseRecord = true

	header, err := cr.Read()
	if err == io.EOF {
		rd.problem(0, "", "empty: want a header line naming %s, %s (optional) and %s", ColumnRequestID, ColumnIndex, ColumnLabel)
		return rd.verdict()
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		rd.problem(pe.Line, "", "header: %v", pe.Err)
		return rd.verdict()
	}
	if err != nil {
		return fmt.Errorf("%s: %w", rd.file, err)
	}
	cols, ok := rd.header(header)
	if !ok {
		return rd.verdict()
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rd.verdict()
		}
		if errors.As(err, &pe) {
			// encoding/csv has consumed the broken record: go on to the next.
			rd.problem(pe.StartLine, "", "%v", pe.Err)
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", rd.file, err)
		}
		line, _ := cr.FieldPos(0)
		l, ok := rd.row(rec, line, cols)
		if !ok {
			continue
		}
		if err := fn(l); err != nil {
			return err
		}
	}
}

// columns are the positions of the header's columns; index is -1 when absent.
type columns struct {
	id, index, label int
	names            []string
}

func (rd *reader) header(h []string) (columns, bool) {
	c := columns{id: -1, index: -1, label: -1, names: slices.Clone(h)}
	ok := true
	for i, name := range h {
		var at *int
		switch name {
		case ColumnRequestID:
			at = &c.id
		case ColumnIndex:
			at = &c.index
		case ColumnLabel:
			at = &c.label
		default:
			hint := ""
			if t := strings.ToLower(strings.TrimSpace(name)); t != name && (t == ColumnRequestID || t == ColumnIndex || t == ColumnLabel) {
				hint = fmt.Sprintf(" (did you mean %q? names are exact: lower case, no spaces)", t)
			}
			rd.problem(1, "", "header column %d %s is not a feedback column%s: want %s, %s (optional) and %s, nothing else",
				i+1, quote(name), hint, ColumnRequestID, ColumnIndex, ColumnLabel)
			ok = false
			continue
		}
		if *at >= 0 {
			rd.problem(1, "", "header names %s twice (columns %d and %d)", name, *at+1, i+1)
			ok = false
			continue
		}
		*at = i
	}
	if c.id < 0 {
		rd.problem(1, "", "header has no %s column", ColumnRequestID)
		ok = false
	}
	if c.label < 0 {
		rd.problem(1, "", "header has no %s column", ColumnLabel)
		ok = false
	}
	return c, ok
}

func (rd *reader) row(rec []string, line int, c columns) (Label, bool) {
	if len(rec) != len(c.names) {
		rd.problem(line, "", "%d fields, but the header has %d columns (%s)", len(rec), len(c.names), strings.Join(c.names, ","))
		return Label{}, false
	}
	ok := true
	l := Label{Line: line, RequestID: rec[c.id], Label: rec[c.label]}
	if err := checkRequestID(l.RequestID); err != nil {
		rd.problem(line, ColumnRequestID, "%v", err)
		ok = false
	}
	if c.index >= 0 {
		i, err := parseIndex(rec[c.index])
		if err != nil {
			rd.problem(line, ColumnIndex, "%v", err)
			ok = false
		}
		l.Index = i
	}
	v, err := rd.rule.Parse(l.Label)
	if err != nil {
		rd.problem(line, ColumnLabel, "%v", err)
		ok = false
	}
	l.Value = v
	if !ok {
		return Label{}, false
	}
	k := key{l.RequestID, l.Index}
	if first, dup := rd.seen[k]; dup {
		rd.problem(line, "", "request %s, index %d is labelled twice: lines %d and %d", quote(l.RequestID), l.Index, first, line)
		return Label{}, false
	}
	rd.seen[k] = line
	return l, true
}

func checkRequestID(s string) error {
	switch {
	case s == "":
		return errors.New("empty: want the request id the prediction answered with")
	case len(s) > MaxRequestID:
		return fmt.Errorf("%d bytes, at most %d", len(s), MaxRequestID)
	case !printable(s):
		return fmt.Errorf("%s: want printable UTF-8, no control characters", quote(s))
	case strings.TrimSpace(s) != s:
		return fmt.Errorf("%s has leading or trailing spaces, which no request id has", quote(s))
	}
	return nil
}

func parseIndex(s string) (int, error) {
	digits := s != ""
	for i := 0; i < len(s); i++ {
		digits = digits && s[i] >= '0' && s[i] <= '9'
	}
	if !digits {
		return 0, fmt.Errorf("%s: want a non-negative integer (the instance's position in its request, from 0)", quote(s))
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > MaxIndex {
		return 0, fmt.Errorf("%s: at most %d", quote(s), MaxIndex)
	}
	return int(v), nil
}
