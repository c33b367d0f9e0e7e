package predlog

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/shared/naming"
	"github.com/openmlops/mlops/shared/store"
)

// Source is the store Read lists and reads; *store.Store is one.
type Source interface {
	List(ctx context.Context, bucket, prefix string, fn func(store.ObjectInfo) error) error
	Get(ctx context.Context, bucket, key string, opt store.GetOptions) (io.ReadCloser, store.ObjectInfo, error)
}

// MaxLineBytes bounds a line the reader accepts, so that memory stays flat
// whatever an object holds. It is larger than MaxRecordBytes because Firehose
// puts a CloudWatch Logs batch's records on one line when its stream lacks
// the AppendDelimiterToRecord processor: one such batch per line still reads.
const MaxLineBytes = 4 << 20

// DecodeError is a line (or, Line 0, an object) that holds no valid record.
type DecodeError struct {
	Key  string // the object's key
	Line int    // from 1; 0 when the object itself cannot be read
	Err  error
}

func (e *DecodeError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Key, e.Err)
	}
	return fmt.Sprintf("%s line %d: %v", e.Key, e.Line, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// ReadOptions tune Read.
type ReadOptions struct {
	// OnBad, when set, is called with each *DecodeError instead of
	// stopping the read: returning nil skips the bad line (or, for Line 0,
	// the rest of the object) and reads on, so the caller counts what it
	// skipped; returning an error stops the read with it. A record of an
	// unknown schema version (*VersionError) is never passed to OnBad: it
	// always stops the read.
	OnBad func(*DecodeError) error
	// Workers, above 1, decodes that many objects at once ahead of fn,
	// which still sees every record (and OnBad every bad line) in the same
	// order as with one: object by object in key order, line by line. Each
	// worker holds at most a few thousand decoded records, so memory stays
	// bounded.
	Workers int
}

// Read calls fn with every record of model logged on the UTC days from
// through to (both included), day by day, object by object in key order,
// line by line, in memory that does not grow with the logs. Objects may be
// gzip (detected by their first bytes, whatever their name or headers) or
// plain JSON Lines; empty lines are ignored.
//
// A line that holds no valid record, or holds a record of another model or
// day than its folder, is a *DecodeError naming the object and line; it stops
// the read unless opt.OnBad says otherwise. A record of another schema major
// version stops the read with an error wrapping *VersionError. An error from
// fn stops the read and is returned as is.
func Read(ctx context.Context, src Source, bucket, model string, from, to time.Time, opt ReadOptions,
	fn func(Record) error) error {
	if !naming.Valid(model) {
		return fmt.Errorf("prediction log: model %q: not a model name (%s)", model, naming.Rule)
	}
	first, last := day(from), day(to)
	if last.Before(first) {
		return fmt.Errorf("prediction log: days %s to %s: the end is before the start",
			first.Format(dayLayout), last.Format(dayLayout))
	}
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		prefix := Prefix(model, d)
		if opt.Workers > 1 {
			var keys []string
			if err := src.List(ctx, bucket, prefix, func(o store.ObjectInfo) error {
				keys = append(keys, o.Key)
				return nil
			}); err != nil {
				return err
			}
			if err := readParallel(ctx, src, bucket, keys, model, d.Format(dayLayout), opt, fn); err != nil {
				return err
			}
			continue
		}
		err := src.List(ctx, bucket, prefix, func(o store.ObjectInfo) error {
			return readObject(ctx, src, bucket, o.Key, model, d.Format(dayLayout), opt, fn)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// item is what an object's decoder hands the reader: a record, a bad line
// for OnBad, or the error that ended the object.
type item struct {
	rec Record
	bad *DecodeError
	err error
}

// chunkRecords is how many items a decoder sends at once; chunksAhead how
// many chunks it may hold unread.
const (
	chunkRecords = 512
	chunksAhead  = 4
)

// readParallel is Read's loop over one day's objects with opt.Workers
// decoders running ahead of fn, whose calls stay in key and line order.
func readParallel(ctx context.Context, src Source, bucket string, keys []string, model, dt string, opt ReadOptions,
	fn func(Record) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	outs := make([]chan []item, len(keys))
	for i := range outs {
		outs[i] = make(chan []item, chunksAhead)
	}
	slots := make(chan struct{}, opt.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1) // the launcher: the count never falls to 0 while it may still add
	go func() {
		defer wg.Done()
		for i, key := range keys {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				for _, ch := range outs[i:] {
					close(ch)
				}
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				decodeObject(ctx, src, bucket, key, model, dt, opt.OnBad != nil, outs[i])
			}()
		}
	}()
	for i := range keys {
		for chunk := range outs[i] {
			for _, it := range chunk {
				var err error
				switch {
				case it.err != nil:
					err = it.err
				case it.bad != nil:
					err = opt.OnBad(it.bad)
				default:
					err = fn(it.rec)
				}
				if err != nil {
					cancel()
					for range outs[i] { // let its decoder end
					}
					return err
				}
			}
		}
		<-slots
	}
	return nil
}

// decodeObject decodes one object into out, in chunks, and closes it. With
// skipBad, bad lines are handed on (OnBad decides); without, the first ends
// the object as its error.
func decodeObject(ctx context.Context, src Source, bucket, key, model, dt string, skipBad bool, out chan<- []item) {
	defer close(out)
	chunk := make([]item, 0, chunkRecords)
	send := func() error {
		if len(chunk) == 0 {
			return nil
		}
		select {
		case out <- chunk:
			chunk = make([]item, 0, chunkRecords)
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	add := func(it item) error {
		chunk = append(chunk, it)
		if len(chunk) == chunkRecords {
			return send()
		}
		return nil
	}
	var opt ReadOptions
	if skipBad {
		opt.OnBad = func(e *DecodeError) error { return add(item{bad: e}) }
	}
	err := readObject(ctx, src, bucket, key, model, dt, opt, func(r Record) error { return add(item{rec: r}) })
	if err != nil && ctx.Err() == nil {
		chunk = append(chunk, item{err: err})
	}
	_ = send()
}

// ReadDay reads one UTC day: Read from day to day, stopping at the first bad
// line.
func ReadDay(ctx context.Context, src Source, bucket, model string, day time.Time, fn func(Record) error) error {
	return Read(ctx, src, bucket, model, day, day, ReadOptions{}, fn)
}

func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func readObject(ctx context.Context, src Source, bucket, key, model, dt string, opt ReadOptions,
	fn func(Record) error) error {
	body, _, err := src.Get(ctx, bucket, key, store.GetOptions{})
	if err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	defer body.Close()
	check := func(r Record) error {
		if r.Model != model || r.Time.Format(dayLayout) != dt {
			return fmt.Errorf("a record of model %s on %s in the folder of %s on %s",
				r.Model, r.Time.Format(dayLayout), model, dt)
		}
		return nil
	}
	return decode(body, key, opt, fn, check)
}

// errStop carries fn's error out of Decode unwrapped.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// Decode streams the records of one object's bytes r (gzip or plain JSON
// Lines) to fn, as Read does for each object but for the check of its folder;
// key names the object in errors.
func Decode(r io.Reader, key string, opt ReadOptions, fn func(Record) error) error {
	return decode(r, key, opt, fn, nil)
}

// decode is Decode, where check (if not nil) may refuse a decoded record: its
// error is a *DecodeError of the record's line.
func decode(r io.Reader, key string, opt ReadOptions, fn func(Record) error, check func(Record) error) error {
	bad := func(line int, err error) error {
		de := &DecodeError{Key: key, Line: line, Err: err}
		if opt.OnBad == nil {
			return de
		}
		return opt.OnBad(de)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return bad(0, fmt.Errorf("gzip: %w", err))
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	var line []byte
	d := newLineDecoder()
	for n := 1; ; n++ {
		var err error
		var tooLong bool
		line, tooLong, err = readLine(br, line[:0])
		if err != nil && err != io.EOF {
			// The object ends early or is corrupt: the lines so far were read.
			return bad(0, fmt.Errorf("after line %d: %w", n-1, err))
		}
		if tooLong {
			if e := bad(n, fmt.Errorf("longer than %d bytes", MaxLineBytes)); e != nil {
				return e
			}
		} else if e := d.decodeLine(line, fn, check); e != nil {
			var stop errStop
			var verr *VersionError
			switch {
			case errors.As(e, &stop):
				return stop.err
			case errors.As(e, &verr):
				return &DecodeError{Key: key, Line: n, Err: e}
			}
			if e := bad(n, e); e != nil {
				return e
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// readLine reads one line into buf without its end of line ("\n" or "\r\n").
// A line over MaxLineBytes is read to its end and reported too long, so
// memory stays bounded. err is io.EOF on the last line.
func readLine(br *bufio.Reader, buf []byte) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > MaxLineBytes+2 {
				tooLong, buf = true, buf[:0]
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		if !tooLong && len(buf) > MaxLineBytes {
			tooLong, buf = true, buf[:0]
		}
		return buf, tooLong, err
	}
}

// decodeLineJSON decodes the records of one line: one, as the sinks write, or
// several written end to end (as Firehose joins the records of one CloudWatch
// Logs batch when its stream adds no delimiter). An empty line holds none.
// It defines what a line means; lineDecoder.decodeLine is the same, faster
// (decode_fast.go).
func decodeLineJSON(line []byte, fn func(Record) error, check func(Record) error) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("not a JSON record: %w", err)
		}
		r, err := DecodeRecord(raw)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(r); err != nil {
				return err
			}
		}
		if err := fn(r); err != nil {
			return errStop{err}
		}
	}
}
