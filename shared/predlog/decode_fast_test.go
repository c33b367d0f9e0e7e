package predlog_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/predlog"
)

// decoded is what a line decoder made of a line: the records it passed on,
// then its error.
type decoded struct {
	recs []predlog.Record
	err  error
}

func decodeWith(dec func([]byte, func(predlog.Record) error) error, line []byte) decoded {
	var d decoded
	d.err = dec(line, func(r predlog.Record) error {
		d.recs = append(d.recs, r)
		return nil
	})
	return d
}

// sameDecoding fails t unless the fast decoder made of line exactly what
// encoding/json's did: the same records, the same error.
func sameDecoding(t *testing.T, line []byte) {
	t.Helper()
	want := decodeWith(predlog.DecodeLineJSON, line)
	got := decodeWith(predlog.DecodeLineFast, line)
	if !reflect.DeepEqual(got.recs, want.recs) {
		t.Fatalf("%q:\nfast decoded %+v\nencoding/json %+v", line, got.recs, want.recs)
	}
	if (got.err == nil) != (want.err == nil) || (got.err != nil && got.err.Error() != want.err.Error()) {
		t.Fatalf("%q:\nfast error %v\nencoding/json error %v", line, got.err, want.err)
	}
	var v1, v2 *predlog.VersionError
	if errors.As(got.err, &v1) != errors.As(want.err, &v2) {
		t.Fatalf("%q: a version error on one side only: %v, %v", line, got.err, want.err)
	}
}

// The fast decoder against encoding/json's on the lines the sinks write and
// on each way JSON can say the same thing differently or break: both make
// the same records and errors of every line.
func TestDecodeFastSameAsJSON(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	rec := `{"schema":"mlops.prediction/1","requestId":"r-1","index":2,"time":"2026-03-14T09:26:53.589793Z",` +
		`"model":"credit","version":3,"bundleSha256":"` + sha + `","features":{"Age":30,"Home":"rent","Income":null,` +
		`"Ok":true,"X":-1.5e-3},"outputs":{"label":"good","p_bad":0.125},"latencyMs":1.25}`
	with := func(old, new string) string {
		if !strings.Contains(rec, old) {
			t.Fatalf("%q is not in the record", old)
		}
		return strings.Replace(rec, old, new, 1)
	}
	cases := map[string]string{
		"as written":         rec,
		"empty":              "",
		"blank":              " \t\r",
		"two end to end":     rec + rec,
		"two spaced":         rec + " \t " + rec,
		"then garbage":       rec + "x",
		"then truncated":     rec + rec[:40],
		"truncated":          rec[:len(rec)-1],
		"not an object":      "[1,2]",
		"null":               "null",
		"number then record": "1 " + rec,
		"a string":           `"x"`,
		"flags":              with(`"latencyMs"`, `"flags":["Age: above max 120","b"],"latencyMs"`),
		"empty flags":        with(`"latencyMs"`, `"flags":[],"latencyMs"`),
		"null flags":         with(`"latencyMs"`, `"flags":null,"latencyMs"`),
		"flag not a string":  with(`"latencyMs"`, `"flags":[1],"latencyMs"`),
		"shadow":             with(`"latencyMs"`, `"shadow":{"version":4,"bundleSha256":"`+sha+`","outputs":{"p_bad":0.5}},"latencyMs"`),
		"shadow error":       with(`"latencyMs"`, `"shadow":{"version":4,"bundleSha256":"`+sha+`","error":"boom","outputs":{}},"latencyMs"`),
		"shadow folded key":  with(`"latencyMs"`, `"shadow":{"VERSION":4,"bundleSha256":"`+sha+`","error":"x"},"latencyMs"`),
		"shadow unknown key": with(`"latencyMs"`, `"shadow":{"v2":[{"a":[]}],"version":4,"bundleSha256":"`+sha+`","error":"x"},"latencyMs"`),
		"folded key":         with(`"model"`, `"MODEL"`),
		"long s key":         with(`"schema"`, `"ſchema"`),
		"folded duplicate":   with(`"model":"credit"`, `"model":"credit","Model":"other"`),
		"repeated features":  with(`"outputs"`, `"features":{"B":1},"outputs"`),
		"repeated feature":   with(`"Age":30`, `"Age":30,"Age":31`),
		"unknown field":      with(`"latencyMs"`, `"later":{"a":[1,true,null,"x\n"]},"latencyMs"`),
		"unknown bad":        with(`"latencyMs"`, `"later":[1,],"latencyMs"`),
		"escaped id":         with(`"r-1"`, `"r\u002d1\n"`),
		"escaped feature":    with(`"rent"`, `"r\"ent\ud83d\ude00"`),
		"escaped name":       with(`"Home"`, `"H\u006fme"`),
		"bad utf-8":          with(`"rent"`, "\"r\xffent\""),
		"nested feature":     with(`"Income":null`, `"Income":{"a":1}`),
		"array feature":      with(`"Income":null`, `"Income":[1]`),
		"huge number":        with(`"X":-1.5e-3`, `"X":1e400`),
		"long integer":       with(`"X":-1.5e-3`, `"X":123456789012345678901234567890`),
		"leading zero":       with(`"X":-1.5e-3`, `"X":01`),
		"bare minus":         with(`"X":-1.5e-3`, `"X":-`),
		"float index":        with(`"index":2`, `"index":2.0`),
		"exponent version":   with(`"version":3`, `"version":3e0`),
		"negative index":     with(`"index":2`, `"index":-2`),
		"minus zero":         with(`"index":2`, `"index":-0`),
		"string version":     with(`"version":3`, `"version":"3"`),
		"null model":         with(`"model":"credit"`, `"model":null`),
		"null features":      with(`"features":{`, `"features":null,"f":{`),
		"bad time":           with(`09:26:53`, `24:26:53`),
		"time offset":        with(`.589793Z`, `+02:00`),
		"escaped time":       with(`2026-03-14T`, `2026-03-14\u0054`),
		"newer schema":       with(`prediction/1`, `prediction/2`),
		"newer, other types": with(`prediction/1","requestId":"r-1"`, `prediction/2","requestId":7`),
		"other schema":       with(`prediction/1`, `other/1`),
		"no outputs":         with(`{"label":"good","p_bad":0.125}`, `{}`),
		"empty feature name": with(`"Age"`, `""`),
		"spaces":             strings.NewReplacer(",", " ,\t", ":", " : ", "{", "{ ", "}", " }").Replace(rec),
		"control character":  with(`"r-1"`, "\"r\x01\""),
		"bad escape":         with(`"r-1"`, `"r\x"`),
		"deep unknown":       with(`"latencyMs"`, `"d":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`,"latencyMs"`),
		"empty object":       "{}",
		"bad literal":        with(`"Ok":true`, `"Ok":tru`),
		"missing colon":      with(`"index":2`, `"index" 2`),
		"missing comma":      with(`"index":2,`, `"index":2 `),
		"trailing comma":     with(`"latencyMs":1.25}`, `"latencyMs":1.25,}`),
	}
	for name, line := range cases {
		t.Run(name, func(t *testing.T) { sameDecoding(t, []byte(line)) })
	}
	// The record as written must take the fast path's result, not only agree.
	if d := decodeWith(predlog.DecodeLineFast, []byte(rec)); d.err != nil || len(d.recs) != 1 {
		t.Fatalf("the record as written: %v, %d records", d.err, len(d.recs))
	}
}

// FuzzDecodeFast compares the fast line decoder with encoding/json's on
// arbitrary lines (seeds in testdata/fuzz/FuzzDecodeFast: records of each
// shape, and the cases of TestDecodeFastSameAsJSON that differ in form).
func FuzzDecodeFast(f *testing.F) {
	f.Fuzz(func(t *testing.T, line []byte) { sameDecoding(t, line) })
}

// Decoding credit-model records, plain JSON Lines (gzip is another cost):
// the fast decoder against encoding/json's, per record.
func BenchmarkDecodeLine(b *testing.B) {
	recs := creditRecords(b, 1000)
	var ls [][]byte
	for _, r := range recs {
		ls = append(ls, lines(b, r))
	}
	for _, dec := range []struct {
		name string
		fn   func([]byte, func(predlog.Record) error) error
	}{{"fast", predlog.FastLineDecoder()}, {"encoding-json", predlog.DecodeLineJSON}} {
		b.Run(dec.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := dec.fn(ls[i%len(ls)], func(predlog.Record) error { return nil }); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
