package registry_test

import (
	"testing"

	"github.com/openmlops/mlops/shared/registry"
)

// The registry's objects are read back from a bucket that people with the
// right role can write to: every parser must refuse bad bytes with an error,
// never a panic, and what it accepts must satisfy the invariants the rest of
// the package relies on.

func FuzzParseAudit(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"1","seq":1,"kind":"registered","model":"credit","version":1,"principal":"gate","time":"2026-01-01T00:00:00Z","hashes":{"bundleSha256":"ab"}}`))
	f.Add([]byte(`{"seq":2,"kind":"approved","model":"credit","version":1,"principal":"alice","prev":{"key":"audit/credit/000001-registered.json","sha256":"` + sha("x") + `"}}`))
	f.Add([]byte(`{"seq":1,"kind":"refused","model":"credit","principal":"gate"}`))
	f.Add([]byte(`{"seq":3,"kind":"checked","model":"credit","version":1,"principal":"gate","verdict":"maybe"}`))
	f.Add([]byte(`{"seq":-1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := registry.ParseAudit(b)
		if err != nil {
			return
		}
		if r.Seq < 1 || !r.Kind.Valid() || r.Principal == "" || (r.Seq > 1) != (r.Prev != nil) {
			t.Fatalf("accepted %+v", r)
		}
		if r.Kind != registry.KindRefused && r.Version < 1 {
			t.Fatalf("accepted a %s record without a version", r.Kind)
		}
	})
}

func FuzzParseVersion(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":"1","model":"credit","version":3,"runId":"r","bundleSha256":"ab","state":"approved","seq":7,"events":{"approved":"k"}}`))
	f.Add([]byte(`{"model":"credit","version":1,"state":"sideways"}`))
	f.Add([]byte(`{"model":"Credit","version":1,"state":"registered"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := registry.ParseVersion(b)
		if err != nil {
			return
		}
		if v.Version < 1 || !v.State.Valid() || v.Seq < 0 {
			t.Fatalf("accepted %+v", v)
		}
	})
}

func FuzzParseChampion(f *testing.F) {
	f.Add([]byte(`{"model":"credit","version":2,"bundleSha256":"ab","decision":"audit/credit/000009-promoted.json","seq":9,"at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"model":"credit","version":0,"decision":"audit/credit/000010-retired.json","seq":10}`))
	f.Add([]byte(`{"version":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := registry.ParseChampion(b)
		if err != nil {
			return
		}
		if c.Version < 0 || c.Seq < 1 || c.Decision == "" {
			t.Fatalf("accepted %+v", c)
		}
	})
}

func FuzzParseHead(f *testing.F) {
	rec := []byte(`{"seq":1}`)
	f.Add([]byte(`{"seq":1,"key":"audit/credit/000001-registered.json","sha256":"` + sha(string(rec)) + `","record":"eyJzZXEiOjF9"}`))
	f.Add([]byte(`{"seq":1,"key":"k","sha256":"` + sha("y") + `","record":"eyJzZXEiOjF9"}`))
	f.Add([]byte(`{"seq":1,"key":"k","sha256":"zz","record":"!!"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := registry.ParseHead(b)
		if err != nil {
			return
		}
		if h.Seq < 1 || h.Key == "" || sha(string(h.Record)) != h.SHA256 {
			t.Fatalf("accepted %+v", h)
		}
	})
}

func FuzzParseAuditName(f *testing.F) {
	f.Add("000001-registered.json")
	f.Add("000004-rolled_back.json")
	f.Add("000000-approved.json")
	f.Add("1-approved.json")
	f.Add("000002-hacked.json")
	f.Fuzz(func(t *testing.T, name string) {
		seq, kind, err := registry.ParseAuditName(name)
		if err != nil {
			return
		}
		if seq < 1 || !kind.Valid() {
			t.Fatalf("accepted %q as %d %q", name, seq, kind)
		}
		if seq < 1000000 && registry.AuditKey("m", seq, kind) != "audit/m/"+name {
			t.Fatalf("%q does not round-trip: %s", name, registry.AuditKey("m", seq, kind))
		}
	})
}

func FuzzParseRunIndex(f *testing.F) {
	f.Add([]byte(`{"runId":"r1","version":2,"input":{"model":"credit","runId":"r1","bundleSha256":"ab","principal":"gate"}}`))
	f.Add([]byte(`{"runId":"r1","version":2,"input":{"runId":"r2"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := registry.ParseRunIndex(b)
		if err != nil {
			return
		}
		if r.Version < 1 || r.RunID == "" || r.Input.RunID != r.RunID {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	f.Add([]byte(`{"model":"credit","seq":4,"key":"audit/credit/000004-promoted.json","sha256":"` + sha("x") + `","time":"2026-01-01T00:00:00Z","keyId":"hmac-sha256:00","mac":"AA=="}`))
	f.Add([]byte(`{"model":"credit","seq":0}`))
	f.Add([]byte(`{"model":"credit","seq":1,"key":"k","sha256":"nothex","keyId":"x","mac":"y"}`))
	f.Add([]byte(`7`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := registry.ParseCheckpoint(b)
		if err != nil {
			return
		}
		if c.Seq < 1 || c.Key == "" || c.KeyID == "" || c.MAC == "" || len(c.SHA256) != 64 {
			t.Fatalf("accepted %+v", c)
		}
	})
}
