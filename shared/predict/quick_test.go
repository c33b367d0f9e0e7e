package predict

import (
	"bytes"
	"testing"
)

// FuzzQuickScalar holds the decoder's fast path to its full one (seeds:
// testdata/fuzz/FuzzQuickScalar): whatever quick reads, scalar reads too,
// to the same byte, so the fast path changes no verdict and no value.
func FuzzQuickScalar(f *testing.F) {
	for _, seed := range []string{`"rent"`, `"a\"b"`, `"\u00e9"`, "\"\xff\"", `""`, `35,`, `-0}`, `0.5 `, `01`, `-`, `1.`,
		`1e5`, `1.5E-3`, `true`, `tru`, `false,`, `null}`, `nul`, `NaN`, `{"a": 1}`, `[1]`, `123456789012345678901234567890123456789`,
		`12345678901234567890123456789012345678.5`, "\"tab\there\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast := &scanner{b: b, lim: unlimited}
		v, ok := fast.quick()
		if !ok {
			if fast.i != 0 {
				t.Fatalf("%q: quick declined after reading %d bytes", b, fast.i)
			}
			return
		}
		full := &scanner{b: b, lim: unlimited}
		w, err := full.scalar(at{top: "instances", index: 0, field: "f", hasField: true})
		if err != nil {
			t.Fatalf("%q: quick read %q, scalar refuses it: %v", b, v, err)
		}
		if !bytes.Equal(v, w) || fast.i != full.i {
			t.Fatalf("%q: quick read %q to byte %d, scalar %q to byte %d", b, v, fast.i, w, full.i)
		}
	})
}
