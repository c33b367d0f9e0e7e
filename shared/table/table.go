// Package table reads delimited text (RFC 4180 CSV and its dialects) as a stream,
// fast enough to be the ingest gate's inner loop.
//
// The reader is built from two parts that can also be used on their own:
//
//   - a Splitter cuts the byte stream into chunks that end on row boundaries. It finds
//     them by quote parity (a newline is a row end when an even number of quote bytes
//     precede it in the chunk), which needs only SIMD byte counts, so one goroutine
//     can feed several parsers.
//   - a Parser turns a chunk into rows. Its quote state machine changes state exactly
//     when quote parity does (a bare quote in an unquoted field is reported and opens
//     a quoted section), so a Parser never disagrees with the Splitter about where a
//     row ends, even on malformed input. That is what lets a validator parse chunks on
//     several goroutines and still number rows and lines exactly.
//
// Fields are byte slices into the chunk (or into a per-row scratch buffer when a quoted
// field contains an escaped quote); they stay valid until the next call, so reading
// allocates nothing per row.
//
// Documented differences from encoding/csv: a CRLF inside a quoted field is kept as
// is (encoding/csv turns it into LF); a bare quote in an unquoted field and text after
// a closing quote are errors that do not stop the reader (the row is reported and
// reading goes on); rows may have different field counts (the validator reports them);
// leading spaces and comment lines have no special meaning; invalid UTF-8 is an error.
package table

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// DefaultMaxFieldBytes bounds a single field unless the Dialect says otherwise.
const DefaultMaxFieldBytes = 1 << 20

// DefaultChunkBytes is the size the Splitter aims for.
const DefaultChunkBytes = 2 << 20

// Dialect says how the bytes are written.
type Dialect struct {
	Delimiter byte // default ','
	Quote     byte // default '"'
	// MaxFieldBytes bounds one field; a larger field is an error (default 1 MiB), so a
	// hostile file cannot make a reader hold an unbounded buffer.
	MaxFieldBytes int
}

func (d Dialect) withDefaults() Dialect {
	if d.Delimiter == 0 {
		d.Delimiter = ','
	}
	if d.Quote == 0 {
		d.Quote = '"'
	}
	if d.MaxFieldBytes <= 0 {
		d.MaxFieldBytes = DefaultMaxFieldBytes
	}
	return d
}

// Check reports a dialect that cannot be parsed unambiguously.
func (d Dialect) Check() error {
	d = d.withDefaults()
	switch {
	case d.Delimiter == d.Quote:
		return fmt.Errorf("dialect: delimiter and quote are both %q", d.Delimiter)
	case d.Delimiter == '\n' || d.Delimiter == '\r' || d.Quote == '\n' || d.Quote == '\r':
		return errors.New("dialect: delimiter and quote cannot be a line break")
	case d.Delimiter >= utf8.RuneSelf || d.Quote >= utf8.RuneSelf:
		return errors.New("dialect: delimiter and quote must be ASCII characters")
	}
	return nil
}

// maxRowBytes bounds one row (many fields of allowed size): past it the Splitter gives
// up looking for a row end, so memory stays bounded on any input.
func (d Dialect) maxRowBytes(chunk int) int {
	m := 8 * d.MaxFieldBytes
	if m < 2*chunk {
		m = 2 * chunk
	}
	return m
}

// Kind classifies a parse error. Its String is the validator's rule name.
type Kind int

// The parse errors.
const (
	UnterminatedQuote Kind = iota + 1 // fatal: EOF inside a quoted field
	BareQuote                         // a quote inside an unquoted field, or text after a closing quote
	InvalidUTF8                       // a field is not valid UTF-8
	FieldTooLarge                     // fatal: a field (or row) is over the size limit
)

func (k Kind) String() string {
	switch k {
	case UnterminatedQuote:
		return "unterminated_quote"
	case BareQuote:
		return "bare_quote"
	case InvalidUTF8:
		return "invalid_utf8"
	case FieldTooLarge:
		return "field_too_large"
	}
	return "unknown"
}

// Fatal says whether reading cannot go on after an error of this kind.
func (k Kind) Fatal() bool { return k == UnterminatedQuote || k == FieldTooLarge }

// ParseError is a malformed row. Row is the 1-based data row (header excluded), Line
// the physical 1-based line where the row starts, Column the 1-based field index.
type ParseError struct {
	Kind   Kind
	Row    int64
	Line   int64
	Column int
	// Offset is the byte offset inside the field, for InvalidUTF8.
	Offset int
	Detail string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("row %d (line %d), field %d: %s", e.Row, e.Line, e.Column, e.Detail)
}

// Parser parses rows out of a chunk. Its zero value is not usable; use NewParser.
type Parser struct {
	d       Dialect
	fields  [][]byte
	scratch []byte
	ends    []int // scratch offsets of unescaped fields, resolved after the row is done
}

// NewParser returns a Parser for the dialect (defaults filled in).
func NewParser(d Dialect) *Parser {
	return &Parser{d: d.withDefaults(), fields: make([][]byte, 0, 32)}
}

// Row is one parsed row. Fields are valid until the next call to Next.
type Row struct {
	Fields [][]byte
	// Lines is how many line breaks the row spans (its own terminator included).
	Lines int
	// Blank says the line was empty; readers skip it (as encoding/csv does) but count
	// its line.
	Blank bool
	// Err is the row's first problem, if any; Row and Line in it are relative to the
	// chunk (1-based), so the caller adds the chunk's offsets.
	Err *ParseError
}

// Next parses the row starting at buf[pos]. It returns the row and the position after
// it. atEOF says that buf ends the input, so a missing final newline ends the row
// rather than meaning "more to come". When buf ends mid-row and atEOF is false (only for
// a chunk the Splitter cut short because the row exceeds its limits) the row has a
// FieldTooLarge error. relRow and relLine are used only to fill in errors.
func (p *Parser) Next(buf []byte, pos int, atEOF bool, relRow, relLine int64) (Row, int) {
	d := p.d
	p.fields = p.fields[:0]
	p.scratch = p.scratch[:0]
	p.ends = p.ends[:0]
	var row Row
	// The first problem wins, except that a fatal one always replaces a non-fatal one.
	setErr := func(k Kind, col, off int, detail string) {
		if row.Err == nil || (k.Fatal() && !row.Err.Kind.Fatal()) {
			row.Err = &ParseError{Kind: k, Row: relRow, Line: relLine, Column: col, Offset: off, Detail: detail}
		}
	}
	n := len(buf)
	i := pos
	if i < n && (buf[i] == '\n' || buf[i] == '\r' && (i+1 < n && buf[i+1] == '\n' || i+1 == n && atEOF)) {
		lines := 0
		if buf[i] == '\r' {
			i++
		}
		if i < n {
			i++
			lines = 1
		}
		return Row{Blank: true, Lines: lines}, i
	}
	delim, quote, maxField := d.Delimiter, d.Quote, d.MaxFieldBytes
	for {
		// Fast paths for well-formed fields, which is nearly every field: an unquoted
		// one, or a quoted one without escapes, followed by a delimiter or LF/CRLF.
		// Anything else (and any error) goes through the general path from the same
		// position.
		if i < n && buf[i] != quote {
			start := i
			for i < n {
				c := buf[i]
				if c == delim || c == '\n' || c == quote {
					break
				}
				i++
			}
			if i < n && i-start <= maxField {
				if buf[i] == delim {
					if i+1 < n {
						p.fields = append(p.fields, buf[start:i])
						i++
						continue
					}
					i = start // a delimiter that ends the input: the general path knows
				} else if buf[i] == '\n' {
					end := i
					if end > start && buf[end-1] == '\r' {
						end--
					}
					p.fields = append(p.fields, buf[start:end])
					row.Lines++
					p.resolveScratch()
					row.Fields = p.fields
					return row, i + 1
				} else {
					i = start
				}
			} else {
				i = start
			}
		} else if i < n {
			j := i + 1
			nls := 0
			for j < n && buf[j] != quote {
				if buf[j] == '\n' {
					nls++
				}
				j++
			}
			if j+1 < n && j-i <= maxField {
				switch buf[j+1] {
				case delim:
					if j+2 < n {
						p.fields = append(p.fields, buf[i+1:j])
						row.Lines += nls
						i = j + 2
						continue
					}
				case '\n':
					p.fields = append(p.fields, buf[i+1:j])
					row.Lines += nls + 1
					p.resolveScratch()
					row.Fields = p.fields
					return row, j + 2
				}
			}
		}
		col := len(p.fields) + 1
		start := i
		scratchStart := len(p.scratch)
		if i < n && buf[i] == d.Quote {
			// Quoted field. The content is buf[start+1 : close) unless it holds "" escapes,
			// in which case it is copied, unescaped, into scratch.
			i++
			contentStart := i
			escaped := false
			segStart := i
			inQuote := true
			for inQuote {
				if i-contentStart > d.MaxFieldBytes {
					setErr(FieldTooLarge, col, 0, fmt.Sprintf("a quoted field longer than %d bytes (is a closing quote missing?)", d.MaxFieldBytes))
					row.Fields = p.fields
					return row, n
				}
				j := indexByte(buf[i:], d.Quote)
				if j < 0 {
					row.Lines += countNL(buf[i:])
					if !atEOF {
						setErr(FieldTooLarge, col, 0, fmt.Sprintf("a quoted field longer than %d bytes (is a closing quote missing?)", d.MaxFieldBytes))
					} else {
						setErr(UnterminatedQuote, col, 0, "a quoted field is not closed before the end of the file")
					}
					row.Fields = p.fields
					return row, n
				}
				row.Lines += countNL(buf[i : i+j])
				i += j + 1 // past the quote
				if i < n && buf[i] == d.Quote {
					// "" escape: keep one quote.
					escaped = true
					p.scratch = append(p.scratch, buf[segStart:i]...)
					i++
					segStart = i
					continue
				}
				inQuote = false
			}
			closeAt := i - 1 // index of the closing quote
			var field []byte
			if escaped {
				p.scratch = append(p.scratch, buf[segStart:closeAt]...)
			} else {
				field = buf[contentStart:closeAt]
			}
			// After the closing quote: delimiter, line end, EOF, or (malformed) more text.
			if i < n && buf[i] != d.Delimiter && buf[i] != '\n' && !(buf[i] == '\r' && i+1 < n && buf[i+1] == '\n') && !(buf[i] == '\r' && i+1 == n && atEOF) {
				setErr(BareQuote, col, 0, "text after a closing quote (a quote inside a field must be doubled)")
				// Keep the trailing text as part of the field and continue unquoted, which
				// matches quote parity.
				if !escaped {
					escaped = true
					p.scratch = append(p.scratch, field...)
				}
				var fatal bool
				i, fatal = p.unquotedTail(buf, i, atEOF, col, &row, setErr)
				if fatal {
					row.Fields = p.fields
					return row, n
				}
				// unquotedTail appended the rest to scratch
			}
			if escaped {
				p.markScratch()
			} else {
				p.fields = append(p.fields, field)
			}
		} else {
			// Unquoted field: scan to delimiter or newline. A quote here is malformed.
			for i < n {
				c := buf[i]
				if c == d.Delimiter || c == '\n' {
					break
				}
				if c == d.Quote {
					break
				}
				i++
			}
			if i < n && buf[i] == d.Quote {
				// Bare quote: from here the field continues as if quoted (quote parity).
				setErr(BareQuote, col, i-start, "a quote inside an unquoted field (quote the whole field and double the quote)")
				p.scratch = append(p.scratch, buf[start:i]...)
				var fatal bool
				i, fatal = p.bareQuoted(buf, i, atEOF, col, &row, setErr)
				if fatal {
					row.Fields = p.fields
					return row, n
				}
				p.markScratch()
			} else {
				end := i
				if i-start > d.MaxFieldBytes {
					setErr(FieldTooLarge, col, 0, fmt.Sprintf("a field longer than %d bytes", d.MaxFieldBytes))
					row.Fields = p.fields
					return row, n
				}
				if i == n && !atEOF {
					setErr(FieldTooLarge, col, 0, fmt.Sprintf("a row longer than %d bytes", d.maxRowBytes(DefaultChunkBytes)))
					row.Fields = p.fields
					return row, n
				}
				// CR before LF (or before EOF) belongs to the line end.
				if end > start && buf[end-1] == '\r' && (i < n && buf[i] == '\n' || i == n) {
					end--
				}
				p.fields = append(p.fields, buf[start:end])
			}
		}
		// Now at delimiter, '\n', '\r\n' or EOF.
		flen := len(p.fields[len(p.fields)-1])
		if p.fields[len(p.fields)-1] == nil {
			flen = len(p.scratch) - scratchStart
		}
		if flen > d.MaxFieldBytes {
			setErr(FieldTooLarge, col, 0, fmt.Sprintf("a field longer than %d bytes", d.MaxFieldBytes))
			row.Fields = p.fields
			return row, n
		}
		if i >= n {
			if !atEOF {
				// Only a chunk cut short ends mid-row: the row is over the limit.
				setErr(FieldTooLarge, col, 0, "a row longer than the reader's limit (is a closing quote missing?)")
			}
			break
		}
		c := buf[i]
		if c == d.Delimiter {
			i++
			if i == n && atEOF {
				p.fields = append(p.fields, buf[i:i])
				break
			}
			continue
		}
		if c == '\r' {
			i++
			if i == n {
				break
			}
		}
		// c == '\n'
		i++
		row.Lines++
		break
	}
	p.resolveScratch()
	row.Fields = p.fields
	return row, i
}

// markScratch records that the current scratch contents from the previous mark make
// one field. Fields pointing into scratch are resolved at the row's end because
// scratch may move while it grows.
func (p *Parser) markScratch() {
	p.ends = append(p.ends, len(p.fields), len(p.scratch))
	p.fields = append(p.fields, nil)
}

func (p *Parser) resolveScratch() {
	prev := 0
	for k := 0; k < len(p.ends); k += 2 {
		idx, end := p.ends[k], p.ends[k+1]
		p.fields[idx] = p.scratch[prev:end:end]
		prev = end
	}
}

// bareQuoted continues a field after a bare quote at buf[i]: the text up to the
// matching quote is taken literally (quotes included), then unquoted text follows.
func (p *Parser) bareQuoted(buf []byte, i int, atEOF bool, col int, row *Row, setErr func(Kind, int, int, string)) (int, bool) {
	n := len(buf)
	p.scratch = append(p.scratch, buf[i])
	i++
	j := indexByte(buf[i:], p.d.Quote)
	if j < 0 {
		row.Lines += countNL(buf[i:])
		if atEOF {
			setErr(UnterminatedQuote, col, 0, "a quote opened inside a field is not closed before the end of the file")
		} else {
			setErr(FieldTooLarge, col, 0, fmt.Sprintf("a field longer than %d bytes (a stray quote?)", p.d.MaxFieldBytes))
		}
		return n, true
	}
	row.Lines += countNL(buf[i : i+j])
	p.scratch = append(p.scratch, buf[i:i+j+1]...)
	i += j + 1
	return p.unquotedTail(buf, i, atEOF, col, row, setErr)
}

// unquotedTail appends unquoted text up to the field's end to scratch.
func (p *Parser) unquotedTail(buf []byte, i int, atEOF bool, col int, row *Row, setErr func(Kind, int, int, string)) (int, bool) {
	n := len(buf)
	start := i
	for i < n {
		c := buf[i]
		if c == p.d.Delimiter || c == '\n' {
			break
		}
		if c == p.d.Quote {
			p.scratch = append(p.scratch, buf[start:i]...)
			return p.bareQuoted(buf, i, atEOF, col, row, setErr)
		}
		i++
	}
	end := i
	if end > start && buf[end-1] == '\r' && (i < n || atEOF) {
		end--
	}
	p.scratch = append(p.scratch, buf[start:end]...)
	if len(p.scratch) > p.d.MaxFieldBytes*2 || (i == n && !atEOF) {
		setErr(FieldTooLarge, col, 0, fmt.Sprintf("a field longer than %d bytes", p.d.MaxFieldBytes))
		return n, true
	}
	return i, false
}

// CheckUTF8 reports the first field of fields that is not valid UTF-8, with the byte
// offset of the first bad byte. Callers check a whole chunk with utf8.Valid first and
// come here only when it fails, so valid input pays one vectorised pass.
func CheckUTF8(fields [][]byte) (col, offset int, ok bool) {
	for c, f := range fields {
		if utf8.Valid(f) {
			continue
		}
		for off := 0; off < len(f); {
			r, size := utf8.DecodeRune(f[off:])
			if r == utf8.RuneError && size <= 1 {
				return c + 1, off, false
			}
			off += size
		}
	}
	return 0, 0, true
}

// ErrTooLarge is returned by readers limited with a byte budget.
var ErrTooLarge = errors.New("input larger than the allowed size")
