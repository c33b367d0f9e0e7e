package table

import (
	"bufio"
	"bytes"
	"errors"
	"io"

	"github.com/klauspost/compress/gzip"
)

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }
func countNL(b []byte) int           { return bytes.Count(b, []byte{'\n'}) }

// Chunk is a run of whole rows cut from the input.
type Chunk struct {
	// Data holds the rows. It ends with a newline unless it is the input's last chunk
	// or the Splitter cut it short (see Short).
	Data []byte
	// Offset is the byte offset of Data[0] in the (decompressed) input.
	Offset int64
	// Last says that no chunk follows: the parser may treat the end of Data as EOF.
	Last bool
	// Short says the Splitter found no row end within its limit; the row in Data is
	// incomplete and parsing it gives a FieldTooLarge error.
	Short bool
}

// Splitter cuts a stream into chunks at row boundaries. It is not safe for concurrent
// use; one goroutine splits while others parse.
type Splitter struct {
	r          io.Reader
	quote      byte
	chunk      int
	maxRow     int
	carry      []byte
	off        int64
	eof        bool
	done       bool
	bomChecked bool
	err        error
}

// NewSplitter returns a Splitter aiming for chunkBytes per chunk (DefaultChunkBytes
// if ≤ 0).
func NewSplitter(r io.Reader, d Dialect, chunkBytes int) *Splitter {
	d = d.withDefaults()
	if chunkBytes <= 0 {
		chunkBytes = DefaultChunkBytes
	}
	return &Splitter{r: r, quote: d.Quote, chunk: chunkBytes, maxRow: d.maxRowBytes(chunkBytes)}
}

// Next fills buf (reusing its storage) with the next chunk. It returns io.EOF after
// the last chunk, or the underlying reader's error.
func (s *Splitter) Next(buf []byte) (Chunk, error) {
	if s.done {
		if s.err != nil {
			return Chunk{}, s.err
		}
		return Chunk{}, io.EOF
	}
	buf = append(buf[:0], s.carry...)
	s.carry = s.carry[:0]
	scanned := 0 // bytes of buf already known to hold no row end
	parity := 0  // quote parity of buf[:scanned]
	for {
		// Fill up to the target size (or more, when a long row is pending).
		target := s.chunk
		if len(buf) >= target {
			target = len(buf) + s.chunk
		}
		for len(buf) < target && !s.eof {
			if cap(buf) < target {
				nb := make([]byte, len(buf), target)
				copy(nb, buf)
				buf = nb
			}
			k, err := s.r.Read(buf[len(buf):target])
			buf = buf[:len(buf)+k]
			if err == io.EOF {
				s.eof = true
			} else if err != nil {
				s.eof, s.err = true, err
			}
		}
		if !s.bomChecked && (len(buf) >= 3 || s.eof) {
			// A UTF-8 byte order mark is not data; drop it before anyone sees it.
			s.bomChecked = true
			if bytes.HasPrefix(buf, []byte{0xef, 0xbb, 0xbf}) {
				buf = append(buf[:0], buf[3:]...)
				s.off = 3
				if len(buf) == 0 && s.eof {
					s.done = true
					if s.err != nil {
						return Chunk{}, s.err
					}
					return Chunk{}, io.EOF
				}
			}
		}
		if s.eof {
			if len(buf) == 0 {
				s.done = true
				if s.err != nil {
					return Chunk{}, s.err
				}
				return Chunk{}, io.EOF
			}
			if s.err != nil {
				// A read error (or a size limit) truncates the input: hand over the
				// whole rows read so far, never a cut row parsed as if it were complete.
				s.done = true
				if end := lastRowEnd(buf, scanned, parity, s.quote); end > 0 {
					c := Chunk{Data: buf[:end], Offset: s.off}
					s.off += int64(end)
					return c, nil
				}
				return Chunk{}, s.err
			}
			if len(buf) <= s.chunk*2 {
				s.done = true
				c := Chunk{Data: buf, Offset: s.off, Last: true}
				s.off += int64(len(buf))
				return c, nil
			}
		}
		if end := lastRowEnd(buf, scanned, parity, s.quote); end > 0 {
			s.carry = append(s.carry, buf[end:]...)
			c := Chunk{Data: buf[:end], Offset: s.off}
			s.off += int64(end)
			if s.eof && len(s.carry) == 0 {
				s.done = true
				c.Last = true
			}
			return c, nil
		}
		if s.eof {
			s.done = true
			c := Chunk{Data: buf, Offset: s.off, Last: true}
			s.off += int64(len(buf))
			return c, nil
		}
		parity ^= bytes.Count(buf[scanned:], []byte{s.quote}) & 1
		scanned = len(buf)
		if len(buf) >= s.maxRow {
			// No row end within the limit: hand the piece over so the parser reports
			// it, and stop reading.
			s.done = true
			c := Chunk{Data: buf, Offset: s.off, Short: true}
			s.off += int64(len(buf))
			return c, nil
		}
	}
}

// lastRowEnd returns the index just past the last newline in buf that lies outside
// quotes (given the parity of buf[:from]), or 0 if there is none after from. A newline
// is outside quotes when an even number of quote bytes precede it: escaped quotes
// come in pairs, so parity is exact for well-formed input, and the Parser follows the
// same rule on malformed input.
func lastRowEnd(buf []byte, from, parityFrom int, quote byte) int {
	q := []byte{quote}
	// Parity of everything before the candidate newline = parity(buf[:from]) +
	// count(buf[from:p]). Walk newlines from the end, peeling off counts.
	total := parityFrom ^ (bytes.Count(buf[from:], q) & 1)
	hi := len(buf)
	for {
		p := bytes.LastIndexByte(buf[from:hi], '\n')
		if p < 0 {
			return 0
		}
		p += from
		// parity of buf[:p] = total ^ parity(buf[p:len])
		total ^= bytes.Count(buf[p:hi], q) & 1
		if total == 0 {
			return p + 1
		}
		hi = p
	}
}

// Decompress sniffs the gzip magic number and, when present, returns a reader of
// the decompressed stream and true.
func Decompress(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, false, err
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, err
		}
		return zr, true, nil
	}
	return br, false, nil
}

// Reader reads rows one at a time: a Splitter and a Parser on one goroutine.
type Reader struct {
	sp   *Splitter
	p    *Parser
	d    Dialect
	buf  []byte
	ch   Chunk
	pos  int
	row  int64 // rows returned so far
	line int64 // line where the next row starts
	// Header says whether the first row is a header (not counted as a data row).
	header bool
	err    error
}

// NewReader returns a Reader; header says that the first row names the columns (it
// is returned by Read like any row, with Row() == 0).
func NewReader(r io.Reader, d Dialect, header bool) *Reader {
	d = d.withDefaults()
	rd := &Reader{sp: NewSplitter(r, d, 0), p: NewParser(d), d: d, line: 1, header: header}
	if header {
		rd.row = -1
	}
	return rd
}

// Read returns the next row's fields, valid until the next call. Malformed rows come
// back as a *ParseError with absolute Row and Line; after a fatal one Read returns
// the same error again. At the end it returns io.EOF.
func (r *Reader) Read() ([][]byte, error) {
	for {
		if r.err != nil {
			return nil, r.err
		}
		for r.pos >= len(r.ch.Data) {
			if r.ch.Last {
				r.err = io.EOF
				return nil, r.err
			}
			ch, err := r.sp.Next(r.buf)
			if err != nil {
				r.err = err
				return nil, err
			}
			r.ch, r.buf, r.pos = ch, ch.Data, 0
		}
		line := r.line
		row, next := r.p.Next(r.ch.Data, r.pos, r.ch.Last, r.row+1, line)
		r.pos = next
		r.line += int64(row.Lines)
		if row.Blank {
			continue // blank lines are skipped, as encoding/csv does
		}
		r.row++
		if row.Err == nil {
			if c, off, ok := CheckUTF8(row.Fields); !ok {
				row.Err = &ParseError{Kind: InvalidUTF8, Row: r.row, Line: line, Column: c, Offset: off,
					Detail: "invalid UTF-8"}
			}
		}
		if row.Err != nil {
			if row.Err.Kind.Fatal() {
				r.err = row.Err
			}
			return row.Fields, row.Err
		}
		return row.Fields, nil
	}
}

// Row is the data row number of the row last returned (0 for a header).
func (r *Reader) Row() int64 { return r.row }

// Line is the physical line where the next row starts.
func (r *Reader) Line() int64 { return r.line }
