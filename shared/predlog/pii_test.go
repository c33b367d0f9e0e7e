package predlog_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predlog"
)

// The keyed hash is HMAC-SHA-256 over "<column>\x00<type>:<value>", as the
// doc spells it; the expected values come from Python's hmac module:
//
//	/usr/bin/python3 -c 'import hmac,hashlib; print(hmac.new(b"0123456789abcdef0123456789abcdef",
//	    b"Age\x00number:30", hashlib.sha256).hexdigest())'
func TestHMACMatchesTheDocumentedForm(t *testing.T) {
	r, err := predlog.NewRedactor(creditContract(t), "", []byte(testKey))
	if err != nil || r.Mode() != predlog.ModeHMAC {
		t.Fatalf("redactor %v, mode %v", err, r.Mode())
	}
	for _, tc := range []struct {
		column string
		value  any
		want   string
	}{
		{"Age", 30.0, "5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07"},
		{"Age", json.Number("30.0"), "5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07"},
		{"Age", json.Number("3e1"), "5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07"},
		{"Age", 30, "5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07"},
		{"Postcode", "SW1A 1AA", "b68547d4cf1e62de8d082f6d1092c972ad658089a570898d374a559015b3efc1"},
	} {
		rec := predlog.Record{Features: map[string]any{tc.column: tc.value, "Income": 0.1}}
		r.Apply(&rec)
		if got := rec.Features[tc.column]; got != predlog.HMACPrefix+tc.want {
			t.Errorf("%s=%#v: %v", tc.column, tc.value, got)
		}
		if rec.Features["Income"] != 0.1 {
			t.Errorf("a column that is not pii changed: %v", rec.Features["Income"])
		}
	}
	// Another key, other hashes: the key is what makes them irreversible.
	other, _ := predlog.NewRedactor(creditContract(t), predlog.ModeHMAC, []byte(strings.Repeat("k", 32)))
	rec := predlog.Record{Features: map[string]any{"Age": 30.0}}
	other.Apply(&rec)
	if rec.Features["Age"] == predlog.HMACPrefix+"5af2f2bae1b891be1966bbb0f2817689b42c1056e818cfe8cc73f2c31d501c07" {
		t.Error("the hash does not depend on the key")
	}
}

func TestRedactorModes(t *testing.T) {
	c := creditContract(t)
	if r, err := predlog.NewRedactor(c, "", nil); err != nil || r.Mode() != predlog.ModeDrop {
		t.Errorf("no key: mode %v, %v (want drop)", r.Mode(), err)
	}
	for _, tc := range []struct {
		mode predlog.Mode
		key  string
		want string
	}{
		{predlog.ModeHMAC, "", "at least 32 bytes"},
		{"", strings.Repeat("x", 31), "at least 32 bytes"},
		{"mask", testKey, `mode "mask"`},
	} {
		if _, err := predlog.NewRedactor(c, tc.mode, []byte(tc.key)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("mode %q key of %d bytes: %v", tc.mode, len(tc.key), err)
		}
	}
	if _, err := predlog.NewRedactor(nil, "", nil); err == nil {
		t.Error("no contract")
	}

	features := map[string]any{"Age": 30.0, "Postcode": nil, "Income": 130.0, "Home": "rent"}
	original := maps.Clone(features)
	flags := []string{"Age: 30 is below min 18", "Age: above max 120", "Income: above max 100"}

	hm, _ := predlog.NewRedactor(c, predlog.ModeHMAC, []byte(testKey))
	if !hm.HasPII() {
		t.Error("Age and Postcode are pii")
	}
	rec := predlog.Record{Features: features, Flags: flags}
	hm.Apply(&rec)
	if !strings.HasPrefix(rec.Features["Age"].(string), predlog.HMACPrefix) {
		t.Errorf("hmac: Age %v", rec.Features["Age"])
	}
	if v, ok := rec.Features["Postcode"]; !ok || v != nil {
		t.Errorf("hmac: a null pii value must stay null, got %v (present %v)", v, ok)
	}
	if rec.Features["Income"] != 130.0 || rec.Features["Home"] != "rent" {
		t.Errorf("hmac: other columns changed: %v", rec.Features)
	}
	if rec.Flags[0] == flags[0] || strings.Contains(rec.Flags[0], "30") || !strings.HasPrefix(rec.Flags[0], "Age:") ||
		rec.Flags[1] != flags[1] || rec.Flags[2] != flags[2] {
		t.Errorf("hmac: flags %q", rec.Flags)
	}

	dr, _ := predlog.NewRedactor(c, predlog.ModeDrop, []byte(testKey))
	rec = predlog.Record{Features: features}
	dr.Apply(&rec)
	if _, ok := rec.Features["Age"]; ok {
		t.Errorf("drop: Age still there: %v", rec.Features)
	}
	if _, ok := rec.Features["Postcode"]; ok {
		t.Errorf("drop: Postcode still there: %v", rec.Features)
	}
	if len(rec.Features) != 2 {
		t.Errorf("drop: %v", rec.Features)
	}
	if !maps.Equal(features, original) || flags[0] != "Age: 30 is below min 18" {
		t.Errorf("the request's own values changed: %v %q", features, flags)
	}

	// Features given as members are redacted exactly as a map, and the
	// request's own members are left alone.
	for _, r := range []*predlog.Redactor{hm, dr} {
		byMap := predlog.Record{Features: maps.Clone(features), Flags: flags}
		r.Apply(&byMap)
		members := sortedMembers(features)
		own := slices.Clone(members)
		byMembers := predlog.Record{SortedFeatures: members, Flags: flags}
		r.Apply(&byMembers)
		if !reflect.DeepEqual(byMembers.SortedFeatures, sortedMembers(byMap.Features)) || !slices.Equal(byMembers.Flags, byMap.Flags) {
			t.Errorf("%s: as members %v %q, as a map %v %q", r.Mode(), byMembers.SortedFeatures, byMembers.Flags, byMap.Features, byMap.Flags)
		}
		if !reflect.DeepEqual(members, own) {
			t.Errorf("%s: the request's members changed: %v", r.Mode(), members)
		}
		// A member's text (Member.JSON) is the raw value's: never kept for
		// a column of personal data, whose value is hashed or dropped.
		withText := sortedMembers(features)
		for i := range withText {
			withText[i].JSON = fmt.Sprintf("%q", fmt.Sprint(withText[i].Value))
		}
		byText := predlog.Record{SortedFeatures: withText, Flags: flags}
		r.Apply(&byText)
		for _, m := range byText.SortedFeatures {
			if (m.Name == "Age" || m.Name == "Postcode") && m.JSON != "" {
				t.Errorf("%s: %s keeps its raw text %s", r.Mode(), m.Name, m.JSON)
			}
		}
	}

	// A contract without pii columns changes nothing.
	plain, _ := predlog.NewRedactor(lambdatest.CreditContract(t), predlog.ModeHMAC, []byte(testKey))
	rec = predlog.Record{Features: features}
	plain.Apply(&rec)
	if plain.HasPII() || !maps.Equal(rec.Features, original) {
		t.Errorf("no pii columns: %v", rec.Features)
	}
}

// Raw personal data never reaches the bytes either sink writes, in either
// mode: records carrying distinctive raw values go through each sink, and the
// bytes read back hold none of them.
func TestRawPIINeverWritten(t *testing.T) {
	rows := creditRows(t)
	raw := []string{"Zq7 4XJ", "Yv3 9KP", "104729", "7919"} // postcodes and ages found nowhere else
	recs := func() []predlog.Record {
		var out []predlog.Record
		for i, r := range rows[:40] {
			f := maps.Clone(r)
			f["Postcode"] = raw[i%2]
			age := map[bool]string{true: raw[2], false: raw[3]}[i%3 == 0]
			f["Age"] = json.Number(age)
			if i%5 == 0 {
				f["Postcode"] = nil
			}
			rec := record("pii", i, day0, f)
			rec.Flags = []string{"Age: " + age + " above max 120"} // a careless writer quoting the value
			out = append(out, rec)
		}
		return out
	}
	check := func(t *testing.T, mode predlog.Mode, b []byte) {
		t.Helper()
		if len(b) == 0 {
			t.Fatal("nothing written")
		}
		for _, v := range raw {
			if bytes.Contains(b, []byte(v)) {
				i := bytes.Index(b, []byte(v))
				t.Errorf("raw value %q written: …%s…", v, b[max(0, i-200):min(len(b), i+50)])
			}
		}
		hashes := bytes.Count(b, []byte(predlog.HMACPrefix))
		switch mode {
		case predlog.ModeHMAC:
			if hashes != 40+32 { // every Age, and the Postcodes that are not null
				t.Errorf("%d hashes written, want 72", hashes)
			}
		case predlog.ModeDrop:
			if hashes != 0 || bytes.Contains(b, []byte(`"Age"`)) || bytes.Contains(b, []byte(`"Postcode"`)) {
				t.Errorf("drop mode wrote pii columns")
			}
		}
	}
	for _, mode := range []predlog.Mode{predlog.ModeHMAC, predlog.ModeDrop} {
		red, err := predlog.NewRedactor(creditContract(t), mode, []byte(testKey))
		if err != nil {
			t.Fatal(err)
		}
		redacted := recs()
		for i := range redacted {
			red.Apply(&redacted[i])
		}
		t.Run(string(mode)+"/lines", func(t *testing.T) {
			var out lambdatest.SyncBuffer
			if err := predlog.NewLines(&out).Write(context.Background(), redacted); err != nil {
				t.Fatal(err)
			}
			check(t, mode, []byte(out.String()))
		})
		t.Run(string(mode)+"/batcher", func(t *testing.T) {
			_, st := lambdatest.S3(t, bucket)
			b, err := predlog.NewBatcher(st, predlog.BatcherConfig{Bucket: bucket, MaxRecords: 7, Interval: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			if err := b.Write(context.Background(), redacted); err != nil {
				t.Fatal(err)
			}
			if err := b.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			check(t, mode, rawBytes(t, st, predlog.KeyPrefix))
			if n := len(readAll(t, st, "credit", day0, day0)); n != 40 {
				t.Errorf("%d records read back", n)
			}
		})
	}
}
