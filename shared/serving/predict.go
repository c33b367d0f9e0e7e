package serving

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/reuse"
)

// Predict scores req's instances with name's champion (predict.Service).
func (s *Service) Predict(ctx context.Context, name string, req *predict.Request, requestID string) (*predict.Response, error) {
	start := time.Now()
	received := s.now()
	m, shadow, err := s.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	// The rows, and below the records, are in memory the next requests
	// reuse once released: released only where nothing reads them any more
	// (the answer holds their Flags and Logged values, never the rows).
	checked, err := m.checker.CheckRows(req.Instances)
	if err != nil {
		return nil, err
	}
	rows := checked.List
	logged := s.sampler.Sampled(requestID)
	var shadowed chan scored
	if shadow != nil && logged {
		// Scored beside the champion, never in its place: its outcome, late
		// or failed, changes nothing in the answer. It reads the instances
		// after Predict returns: they are kept.
		req.Keep()
		shadowed = make(chan scored, 1)
		go func() { shadowed <- s.score(shadow, req.Instances, nil, false, nil) }()
	}
	// The answer's outputs, and the log's copy of them, are in memory that
	// the next requests reuse once both are done with it: the answer once
	// written (Response.Release), the log once its records are taken.
	buf := scoreBufs.Get().(*scoreBuf)
	buf.holders.Store(1)
	res := s.score(m, req.Instances, rows, req.Explain, buf)
	if res.err != nil {
		checked.Release()
		buf.release() // no answer holds it
		return nil, res.err
	}
	buf.preds = reuse.Slice(buf.preds, len(rows))
	resp := &predict.Response{Model: name, ModelVersion: m.version.Version, RequestID: requestID, Predictions: buf.preds}
	for i, out := range res.outputs {
		resp.Predictions[i] = predict.Prediction{Outputs: out.fields, Flags: rows[i].Flags, Explanation: out.explanation}
	}
	resp.OnRelease(buf.release)
	if !logged {
		checked.Release()
		return resp, nil
	}
	buf.holders.Add(1) // the log's
	write := func(ctx context.Context, recs *records) error {
		defer buf.release()
		defer recs.release() // written or lost: the sink keeps none of it
		if err := s.sink.Write(ctx, recs.list); err != nil {
			s.log.Error("prediction log: records lost", "model", name, "requestId", requestID, "records", len(recs.list), "error", err)
			return fmt.Errorf("prediction log: %w", err)
		}
		return nil
	}
	complete := func(ctx context.Context) error {
		recs := s.records(m, rows, res, received, requestID, time.Since(start))
		checked.Release()
		if shadowed != nil {
			s.addShadow(recs.list, shadow, shadowed)
		}
		return write(ctx, recs)
	}
	if s.cfg.LogBeforeAnswer {
		if err := complete(ctx); err != nil {
			resp.Release()  // never written: the answer's hold ends here
			return nil, err // the answer goes out only with its record durable
		}
		return resp, nil
	}
	if shadowed == nil {
		// A buffering sink takes records at once unless it is full: taken
		// here, they cost no goroutine (whose stack growth alone was a few
		// per cent of the server's CPU). Only a Write that would wait for
		// room (refused at once under an ended context) waits in the
		// background, never in the answer's way.
		recs := s.records(m, rows, res, received, requestID, time.Since(start))
		checked.Release()
		if s.sink.Write(ended, recs.list) == nil {
			recs.release()
			buf.release()
			return resp, nil
		}
		s.logging(+1)
		s.background(func() {
			defer s.logging(-1)
			_ = write(context.WithoutCancel(ctx), recs)
		})
		return resp, nil
	}
	s.logging(+1)
	s.background(func() {
		defer s.logging(-1)
		_ = complete(context.WithoutCancel(ctx))
	})
	return resp, nil
}

// ended is a context that has ended: a Write under it takes its records only
// if it need not wait.
var ended = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// logging counts the answers whose records are still on their way to the
// sink, for Settle.
func (s *Service) logging(delta int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logsInFlight += delta
	if s.logsInFlight == 0 && s.logsSettled != nil {
		close(s.logsSettled)
		s.logsSettled = nil
	}
}

// Settle waits until the record of every answer already given is in the
// sink (a reader of the log, such as the local drift run, then sees them
// all once the sink is flushed), or ctx ends.
func (s *Service) Settle(ctx context.Context) error {
	s.mu.Lock()
	if s.logsInFlight == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.logsSettled == nil {
		s.logsSettled = make(chan struct{})
	}
	ch := s.logsSettled
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("serving: settle the log: %w", ctx.Err())
	}
}

// background runs f in a goroutine Close waits for; after Close, in place.
func (s *Service) background(f func()) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		f()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// scored is one model's outputs for a request's instances.
type scored struct {
	outputs []outputs
	err     error
}

// scoreBuf is the memory of one request's scoring: the answer's outputs and
// predictions, and the log's copy of the outputs. It has two holders, the
// answer until written and the log until its records are taken, and is
// reused once both have released it.
type scoreBuf struct {
	holders atomic.Int32
	outputs []outputs
	fields  []predict.Field
	members []predlog.Member
	text    []byte
	offsets []int
	labels  []string
	preds   []predict.Prediction
}

var scoreBufs = sync.Pool{New: func() any { return new(scoreBuf) }}

// release lets go of one holder's hold; the last clears b (the pool keeps
// nothing it pointed to alive) and gives it back.
func (b *scoreBuf) release() {
	if b.holders.Add(-1) != 0 {
		return
	}
	if cap(b.fields) > maxPooledMembers || cap(b.members) > maxPooledMembers || cap(b.text) > 1<<20 ||
		cap(b.outputs) > predict.DefaultMaxInstances || cap(b.preds) > predict.DefaultMaxInstances {
		return
	}
	b.outputs, b.fields, b.members, b.labels, b.preds = reuse.Clear(b.outputs), reuse.Clear(b.fields),
		reuse.Clear(b.members), reuse.Clear(b.labels), reuse.Clear(b.preds)
	b.text = b.text[:0]
	scoreBufs.Put(b)
}

// outputs are one instance's outputs, as the answer writes them and as the
// log records them.
type outputs struct {
	fields []predict.Field
	// logged are the same outputs for the log, in name order: each number
	// as the json.Number of the answer's text, the label as the class.
	logged      []predlog.Member
	explanation *predict.Explanation // when asked for
}

// score evaluates every row with m, and explains each where asked, into
// buf's memory (nil: new memory). rows nil checks the instances against m's
// own contract first (the shadow's may differ from the champion's).
func (s *Service) score(m *model, instances []predict.Instance, rows []predict.Row, explain bool, buf *scoreBuf) scored {
	var res scored
	if rows == nil {
		if rows, res.err = m.checker.Check(instances); res.err != nil {
			return res
		}
	}
	sc, err := m.scorer()
	if err != nil {
		res.err = fmt.Errorf("model %s version %d: %w", m.name, m.version.Version, err)
		return res
	}
	defer m.release(sc)
	cols := sc.Columns()
	nc := len(cols)
	enc := &m.bundle.Encoding
	if buf == nil {
		buf = &scoreBuf{}
	}
	// One array each for the request's fields, log members and outputs'
	// text, rather than allocations per instance; each output is formatted
	// once, for the answer and the log alike.
	buf.outputs = reuse.Slice(buf.outputs, len(rows))
	buf.fields = reuse.Slice(buf.fields, len(rows)*nc)
	buf.members = reuse.Slice(buf.members, len(rows)*nc)
	if cap(buf.text) < len(rows)*nc*24 {
		buf.text = make([]byte, 0, len(rows)*nc*24)
	}
	buf.offsets = reuse.Slice(buf.offsets, len(rows)) // where each row's outputs start in text: each written
	buf.labels = reuse.Slice(buf.labels, len(rows))
	res.outputs = buf.outputs
	fields, members, text, offsets, labels := buf.fields, buf.members, buf.text[:0], buf.offsets, buf.labels
	defer func() { buf.text = text }() // as it grew, for the next request
	// The outputs before the label, if any.
	numeric := nc
	var phi []float32
	if explain {
		phi = make([]float32, sc.NumExplained())
	}
	for i, r := range rows {
		out, err := sc.ScoreParsed(r.Values, r.Numbers)
		if err != nil {
			// The checker let through a value the encoding refuses: the
			// contract and the encoding disagree, a fault of the platform.
			res.err = fmt.Errorf("model %s version %d: instances[%d]: %w", m.name, m.version.Version, i, err)
			return res
		}
		f := fields[i*nc : (i+1)*nc : (i+1)*nc]
		if numeric = len(out); numeric < nc {
			labels[i] = enc.Label(out)
		}
		start := len(text)
		if text, err = predict.AppendOutputs(text, f, cols, out, labels[i]); err != nil {
			res.err = fmt.Errorf("model %s version %d: instances[%d]: %w", m.name, m.version.Version, i, err)
			return res
		}
		offsets[i] = start
		res.outputs[i].fields = f
		if explain {
			// The scorer still holds the row it just encoded.
			if res.err = sc.Explain(phi); res.err != nil {
				return res
			}
			res.outputs[i].explanation = s.explanation(m, phi, out, r)
		}
	}
	// The log's copy, from the same text: one string for the request, each
	// number a json.Number of its own text.
	all := string(text)
	for i := range rows {
		lm := members[i*nc : (i+1)*nc : (i+1)*nc]
		for j, k := range m.outOrder {
			if k >= numeric {
				lm[j] = m.label(cols[k], labels[i])
				continue
			}
			start := offsets[i]
			for _, f := range fields[i*nc : i*nc+k] {
				start += len(f.Value)
			}
			// The answer's text of the number (AppendOutputs'): valid JSON,
			// written to the log as it is.
			text := all[start : start+len(fields[i*nc+k].Value)]
			lm[j] = predlog.Member{Name: cols[k], Value: json.Number(text), JSON: text}
		}
		res.outputs[i].logged = lm
	}
	return res
}

// explanation is one prediction's contributions per input feature (phi, as
// bundle.Scorer.Explain writes them), its bias and its top reasons.
func (s *Service) explanation(m *model, phi, out []float32, r predict.Row) *predict.Explanation {
	feats := m.bundle.Encoder.Features()
	enc := &m.bundle.Encoding
	nf := len(feats) + 1
	ex := &predict.Explanation{}
	for g := range m.bundle.Model.NumOutputs() {
		c := predict.Contributions{Features: make([]predict.Contribution, len(feats)), Bias: float64(phi[g*nf+nf-1])}
		if enc.Target.Kind == bundle.LabelMulticlass {
			c.Class = enc.Target.Classes[g]
		}
		for f, name := range feats {
			c.Features[f] = predict.Contribution{Feature: name, Value: float64(phi[g*nf+f])}
		}
		ex.Outputs = append(ex.Outputs, c)
	}
	ex.Reasons = reasons(enc, out, ex, r, s.cfg.Reasons)
	return ex
}

// reasons are the features that pushed hardest towards the answer given: for
// a binary model, towards the label decided (up for the positive class, down
// for the negative); for a multiclass model, towards the class predicted; for
// a regression, either way. Features that contributed nothing are no reason.
func reasons(enc *bundle.Encoding, out []float32, ex *predict.Explanation, r predict.Row, k int) []predict.Reason {
	g, sign := 0, 0.0
	switch enc.Target.Kind {
	case bundle.LabelBinary:
		sign = -1
		if enc.Label(out) == enc.Target.Classes[1] {
			sign = 1
		}
	case bundle.LabelMulticlass:
		g = slices.Index(enc.Target.Classes, enc.Label(out))
		sign = 1
	}
	c := ex.Outputs[g].Features
	idx := make([]int, 0, len(c))
	for f, v := range c {
		if sign == 0 && v.Value != 0 || sign*v.Value > 0 {
			idx = append(idx, f)
		}
	}
	strength := func(f int) float64 {
		if sign == 0 {
			return math.Abs(c[f].Value)
		}
		return sign * c[f].Value
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(strength(b), strength(a)) })
	out2 := make([]predict.Reason, 0, min(k, len(idx)))
	for _, f := range idx[:min(k, len(idx))] {
		out2 = append(out2, predict.Reason{Feature: c[f].Feature, Value: r.Logged[f], Contribution: c[f].Value})
	}
	return out2
}

// records are one request's records for the prediction log, in memory the
// next request's reuse once released (a sink keeps none of what it is given).
type records struct {
	list    []predlog.Record
	members []predlog.Member
}

var recordBufs = sync.Pool{New: func() any { return new(records) }}

// maxPooledMembers bounds the features a pooled records keeps room for.
const maxPooledMembers = 1 << 16

// release clears r (the pool keeps nothing it pointed to alive) and gives it
// back: r is not to be read afterwards.
func (r *records) release() {
	if cap(r.members) > maxPooledMembers || cap(r.list) > predict.DefaultMaxInstances {
		return
	}
	r.list, r.members = reuse.Clear(r.list), reuse.Clear(r.members)
	recordBufs.Put(r)
}

// records are the prediction log's records of one request, personal data
// redacted by the model's contract.
func (s *Service) records(m *model, rows []predict.Row, res scored, at time.Time, requestID string, took time.Duration) *records {
	buf := recordBufs.Get().(*records)
	buf.list = reuse.Slice(buf.list, len(rows))
	recs := buf.list
	ms := float64(took.Microseconds()) / 1000
	names, order := m.checker.Names(), m.checker.NameOrder()
	// The features go as members in name order, all the request's in one
	// array: no map to build per record, nor for the log's encoder to look
	// names up in.
	n := len(order)
	buf.members = reuse.Slice(buf.members, len(rows)*n)
	members := buf.members
	for i, r := range rows {
		features := members[i*n : (i+1)*n : (i+1)*n]
		for j, f := range order {
			features[j] = predlog.Member{Name: names[f], Value: r.Logged[f], JSON: r.LoggedJSON[f]}
		}
		recs[i] = predlog.Record{Schema: predlog.RecordSchema, RequestID: requestID, Index: i, Time: at,
			Model: m.name, Version: m.version.Version, BundleSHA256: m.bundle.SHA256,
			SortedFeatures: features, SortedOutputs: res.outputs[i].logged, Flags: r.Flags, LatencyMs: ms}
		m.redactor.Apply(&recs[i])
	}
	return buf
}

// addShadow puts the shadow's outputs beside the champion's, waiting at most
// ShadowWait for them.
func (s *Service) addShadow(recs []predlog.Record, shadow *model, ch <-chan scored) {
	sh := func() *predlog.Shadow {
		return &predlog.Shadow{Version: shadow.version.Version, BundleSHA256: shadow.bundle.SHA256}
	}
	var res scored
	select {
	case res = <-ch:
	case <-time.After(s.cfg.ShadowWait):
		for i := range recs {
			recs[i].Shadow = sh()
			recs[i].Shadow.Error = fmt.Sprintf("no outputs within %s", s.cfg.ShadowWait)
		}
		return
	}
	if res.err == nil && len(res.outputs) != len(recs) {
		// Never so; but a panic here, in the background, would end the server.
		res.err = fmt.Errorf("%d outputs for %d instances", len(res.outputs), len(recs))
	}
	for i := range recs {
		recs[i].Shadow = sh()
		if res.err != nil {
			recs[i].Shadow.Error = res.err.Error()
			continue
		}
		recs[i].Shadow.Outputs = make(map[string]any, len(res.outputs[i].logged))
		for _, o := range res.outputs[i].logged {
			recs[i].Shadow.Outputs[o.Name] = o.Value
		}
	}
}

// Metadata describes name's champion (predict.Service): its version, the
// features it takes with the contract's rules, its outputs, what it was made
// of, and where its model card is in the governance site.
func (s *Service) Metadata(ctx context.Context, name string) (*predict.Metadata, error) {
	m, _, err := s.resolve(ctx, name)
	if err != nil {
		return nil, err
	}
	md := predict.NewMetadata(name, m.version.Version, m.checker, &m.bundle.Encoding)
	md.Metadata.BundleSHA256 = m.bundle.SHA256
	md.Metadata.ContractHash = m.bundle.Lineage.ContractHash
	md.Metadata.DatasetVersion = m.bundle.Lineage.DatasetVersion
	md.Metadata.ModelCard = ModelCardPath(name, m.version.Version)
	return md, nil
}

// ModelCardPath is where the governance site puts a version's model card,
// relative to the site's root.
func ModelCardPath(model string, version int) string {
	return fmt.Sprintf("models/%s/v%d/index.html", model, version)
}
