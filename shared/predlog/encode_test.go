package predlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/predlog"
)

// referenceLine is the record's line as encoding/json writes it (HTML left
// unescaped, the schema filled in, the time in UTC): what the sinks wrote
// before their encoder was written by hand, and what it must still write.
// It refuses what Validate refuses and what encoding/json cannot write.
func referenceLine(r predlog.Record) ([]byte, error) {
	if r.Schema == "" {
		r.Schema = predlog.RecordSchema
	}
	r.Time = r.Time.UTC()
	if err := r.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&r); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ourLine is the record's line as the sinks write it.
func ourLine(r predlog.Record) ([]byte, error) {
	w := &calls{}
	if err := predlog.NewLines(w).Write(context.Background(), []predlog.Record{r}); err != nil {
		return nil, err
	}
	return w.calls[0], nil
}

// checkLine holds the sinks' line for r to encoding/json's, byte for byte,
// and to its refusals (but for MaxRecordBytes, which only the sinks apply).
func checkLine(t *testing.T, r predlog.Record) {
	t.Helper()
	want, refErr := referenceLine(r)
	got, err := ourLine(r)
	switch {
	case refErr != nil && err == nil:
		t.Fatalf("encoding/json refuses %+v (%v); the sinks wrote %s", r, refErr, got)
	case refErr == nil && len(want) > predlog.MaxRecordBytes:
		if err == nil {
			t.Fatalf("a line of %d bytes written", len(got))
		}
	case refErr == nil && err != nil:
		t.Fatalf("the sinks refuse %+v: %v; encoding/json writes %s", r, err, want)
	case refErr == nil && !bytes.Equal(got, want):
		t.Fatalf("the sinks wrote\n%s\nencoding/json writes\n%s", got, want)
	}
	// The same features as members in name order write the same bytes, or
	// are refused alike.
	if r.Features != nil {
		m := r
		m.Features, m.SortedFeatures = nil, sortedMembers(r.Features)
		got2, err2 := ourLine(m)
		if (err2 == nil) != (err == nil) || !bytes.Equal(got2, got) {
			t.Fatalf("as members: %s (%v); as a map: %s (%v)", got2, err2, got, err)
		}
		// With each value's text given (Member.JSON, as encoding/json
		// writes it without HTML escaping), the same bytes again.
		if err == nil {
			for i, kv := range m.SortedFeatures {
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				if enc.Encode(kv.Value) == nil {
					m.SortedFeatures[i].JSON = strings.TrimSuffix(b.String(), "\n")
				}
			}
			if got3, err3 := ourLine(m); err3 != nil || !bytes.Equal(got3, got) {
				t.Fatalf("as members with their text: %s (%v); as a map: %s", got3, err3, got)
			}
		}
	}
	// And so do the outputs; numbers also as the json.Number of the text
	// encoding/json writes for them, as the endpoint gives them.
	if r.Outputs != nil {
		for _, asText := range []bool{false, true} {
			m := r
			m.Outputs, m.SortedOutputs = nil, sortedMembers(r.Outputs)
			for i, o := range m.SortedOutputs {
				if x, ok := o.Value.(float64); ok && asText {
					if text, err := json.Marshal(x); err == nil {
						m.SortedOutputs[i].Value = json.Number(text)
					}
				}
			}
			got2, err2 := ourLine(m)
			if (err2 == nil) != (err == nil) || !bytes.Equal(got2, got) {
				t.Fatalf("outputs as members (numbers as text: %v): %s (%v); as a map: %s (%v)", asText, got2, err2, got, err)
			}
		}
	}
}

// sortedMembers are m's members in name order.
func sortedMembers(m map[string]any) []predlog.Member {
	ms := make([]predlog.Member, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		ms = append(ms, predlog.Member{Name: k, Value: m[k]})
	}
	return ms
}

// Every shape of record the endpoint writes, and values of every kind
// checkScalars allows, are written as encoding/json writes them, and read
// back as they were.
func TestEncodeMatchesReference(t *testing.T) {
	rows := creditRows(t)
	zone := time.FixedZone("CEST", 2*3600)
	full := record("e\"1<&>\u2028", 7, day0.In(zone), map[string]any{
		"f64": 0.1, "tiny": 1e-7, "huge": 1e21, "neg0": math.Copysign(0, -1), "f32": float32(0.1), "f32tiny": float32(1e-7),
		"int": -3, "i8": int8(-8), "i16": int16(16), "i32": int32(-32), "i64": int64(math.MinInt64),
		"uint": uint(3), "u8": uint8(8), "u16": uint16(16), "u32": uint32(32), "u64": uint64(math.MaxUint64),
		"num": json.Number("-1.5e+10"), "empty": json.Number(""), "yes": true, "no": false, "none": nil,
		"text": "tab\t\"quote\" \\ \x01 \xff ünï", "": nil,
	})
	delete(full.Features, "")
	full.Flags = []string{"Age: above max 120", "Home: <unknown>"}
	full.Shadow = &predlog.Shadow{Version: 4, BundleSHA256: bundleSHA, Outputs: map[string]any{"p_bad": 0.25, "label": "bad"}}
	failed := record("req-2", 0, day0, rows[1])
	failed.Shadow = &predlog.Shadow{Version: 4, BundleSHA256: bundleSHA, Error: "no outputs within 1s"}
	empty := record("req-3", 0, day0, map[string]any{})
	empty.Flags = []string{}
	for _, r := range []predlog.Record{record("plain", 0, day0, rows[0]), full, failed, empty} {
		checkLine(t, r)
		line, err := ourLine(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := predlog.DecodeRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := referenceLine(r)
		ref, err := predlog.DecodeRecord(want)
		if err != nil || !reflect.DeepEqual(back, ref) {
			t.Errorf("read back %+v\nencoding/json's reads %+v (%v)", back, ref, err)
		}
	}
}

// The sinks refuse what Validate refuses, naming the field, and what JSON
// cannot carry.
func TestEncodeRefusals(t *testing.T) {
	for _, tc := range []struct {
		want   string
		breaks func(*predlog.Record)
	}{
		{"model", func(r *predlog.Record) { r.Model = "../credit" }},
		{"time", func(r *predlog.Record) { r.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }},
		{"features: missing", func(r *predlog.Record) { r.Features = nil }},
		{"features: an empty name", func(r *predlog.Record) { r.Features[""] = 1.0 }},
		{"features.Age: NaN", func(r *predlog.Record) { r.Features["Age"] = math.NaN() }},
		{"features.Age: +Inf", func(r *predlog.Record) { r.Features["Age"] = float32(math.Inf(1)) }},
		{"features.Age: json.Number", func(r *predlog.Record) { r.Features["Age"] = json.Number("0x1") }},
		{"features.Home: a []interface {}", func(r *predlog.Record) { r.Features["Home"] = []any{"rent"} }},
		{"outputs.label: a map", func(r *predlog.Record) { r.Outputs["label"] = map[string]any{} }},
		{"shadow.outputs.p_bad: -Inf", func(r *predlog.Record) {
			r.Shadow = &predlog.Shadow{Version: 1, BundleSHA256: bundleSHA, Outputs: map[string]any{"p_bad": math.Inf(-1)}}
		}},
		{"latencyMs", func(r *predlog.Record) { r.LatencyMs = math.Inf(1) }},
		{`features: "Age" after "Home": members must be in name order`, func(r *predlog.Record) {
			r.Features, r.SortedFeatures = nil, []predlog.Member{{Name: "Home", Value: "rent"}, {Name: "Age", Value: 30.0}}
		}},
		{`features: "Age" after "Age"`, func(r *predlog.Record) {
			r.Features, r.SortedFeatures = nil, []predlog.Member{{Name: "Age", Value: 31.0}, {Name: "Age", Value: 30.0}}
		}},
		{"features.Age: NaN", func(r *predlog.Record) {
			r.Features, r.SortedFeatures = nil, []predlog.Member{{Name: "Age", Value: math.NaN()}}
		}},
		{"outputs: missing", func(r *predlog.Record) { r.Outputs, r.SortedOutputs = nil, []predlog.Member{} }},
		{`outputs: "label" after "p_bad": members must be in name order`, func(r *predlog.Record) {
			r.Outputs, r.SortedOutputs = nil, []predlog.Member{{Name: "p_bad", Value: 0.5}, {Name: "label", Value: "bad"}}
		}},
		{"outputs.p_bad: json.Number", func(r *predlog.Record) {
			r.Outputs, r.SortedOutputs = nil, []predlog.Member{{Name: "label", Value: "bad"}, {Name: "p_bad", Value: json.Number("NaN")}}
		}},
	} {
		r := record("bad", 2, day0, map[string]any{"Age": 30.0, "Home": "rent"})
		tc.breaks(&r)
		_, err := ourLine(r)
		if err == nil || !strings.Contains(err.Error(), "bad[2]: "+tc.want) {
			t.Errorf("%s: %v", tc.want, err)
		}
		if r.SortedFeatures != nil || r.SortedOutputs != nil {
			r.Schema = predlog.RecordSchema
			if err := r.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate: %s: %v", tc.want, err)
			}
		}
	}
}

// FuzzEncodeMatchesReference holds the sinks' hand-written encoder to
// encoding/json: for records of every field and value kind built from the
// fuzzer's values (testdata/fuzz/FuzzEncodeMatchesReference), the same bytes,
// or a refusal of both.
func FuzzEncodeMatchesReference(f *testing.F) {
	f.Fuzz(func(t *testing.T, requestID string, index int, nanos int64, zone int, model string, version int,
		feature, text string, number float64, single float32, flag bool, literal, label string, p float64,
		note string, latency float64) {
		r := predlog.Record{RequestID: requestID, Index: index, Time: time.Unix(0, nanos).In(time.FixedZone("z", zone%86400)),
			Model: model, Version: version, BundleSHA256: bundleSHA,
			Features: map[string]any{feature: text, "Amount": number, "Ratio": single, "Owner": flag,
				"Raw": json.Number(literal), "Missing": nil, "Count": index},
			Outputs: map[string]any{"label": label, "p_" + label: p}, LatencyMs: latency}
		if note != "" {
			r.Flags = []string{note, feature + ": " + note}
		}
		if flag {
			r.Shadow = &predlog.Shadow{Version: version + 1, BundleSHA256: bundleSHA, Error: note}
			if index%2 == 0 {
				r.Shadow.Outputs = map[string]any{"p_" + label: 1 - p, feature: single}
			}
		}
		checkLine(t, r)
	})
}

// Records written in one call, each after one that starts the same or not
// (the encoder writes the shared start of a request's records once), are each
// the line encoding/json writes for it; a bad start after a good one is
// refused.
func TestEncodeSharedStarts(t *testing.T) {
	rows := creditRows(t)
	base := record("req-1", 0, day0, rows[0])
	var recs []predlog.Record
	for i, change := range []func(*predlog.Record){
		func(*predlog.Record) {},
		func(*predlog.Record) {},
		func(r *predlog.Record) { r.RequestID = "req-2" },
		func(r *predlog.Record) { r.Time = r.Time.Add(time.Nanosecond) },
		func(r *predlog.Record) { r.Time = r.Time.In(time.FixedZone("CEST", 2*3600)) }, // the same instant
		func(r *predlog.Record) { r.Model = "credit2" },
		func(r *predlog.Record) { r.Version = 4 },
		func(r *predlog.Record) { r.BundleSHA256 = strings.Repeat("b", 64) },
		func(r *predlog.Record) { r.Schema = predlog.RecordSchema },
		func(*predlog.Record) {},
	} {
		r := base
		r.Index = i
		change(&r)
		recs = append(recs, r)
	}
	w := &calls{}
	if err := predlog.NewLines(w).Write(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	got := bytes.SplitAfter(bytes.Join(w.calls, nil), []byte("\n"))
	for i, r := range recs {
		want, err := referenceLine(r)
		if err != nil || !bytes.Equal(got[i], want) {
			t.Errorf("record %d: wrote\n%s\nencoding/json writes\n%s (%v)", i, got[i], want, err)
		}
	}
	bad := base
	bad.Model = "../credit"
	err := predlog.NewLines(&calls{}).Write(context.Background(), []predlog.Record{base, bad})
	if err == nil || !strings.Contains(err.Error(), "model") {
		t.Errorf("a bad model after a good record: %v", err)
	}
}
