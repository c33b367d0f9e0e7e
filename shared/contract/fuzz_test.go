package contract

import (
	"bytes"
	"testing"

	"github.com/openmlops/mlops/shared/yamldoc/doctest"
)

// The seed corpora live in testdata/fuzz/<FuzzName>/ and include the credit
// contract and data, so `go test` replays them on every run.

func FuzzParse(f *testing.F) {
	f.Add(mustRead(f, "testdata/minimal.odcs.yaml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.odcs.yaml", data)
		if err != nil {
			return
		}
		doctest.Stable(t, c, ParseCanonical)
		y, err := c.MarshalODCS()
		if err != nil {
			t.Fatalf("MarshalODCS: %v", err)
		}
		back, err := Parse("marshalled", y)
		if err != nil {
			t.Fatalf("marshalled contract does not parse: %v\n%s", err, y)
		}
		if !bytes.Equal(back.Canonical(), c.Canonical()) {
			t.Fatalf("MarshalODCS round trip changed the contract:\n%s\n%s", c.Canonical(), back.Canonical())
		}
	})
}

func FuzzParseCanonical(f *testing.F) {
	f.Add(mustParse(f, "m", mustRead(f, "testdata/minimal.odcs.yaml")).Canonical())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCanonical(data)
		if err != nil {
			return
		}
		doctest.Stable(t, c, ParseCanonical)
	})
}

func FuzzInfer(f *testing.F) {
	f.Add([]byte("a,b\n1,x\n2,NA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inf, err := Infer(bytes.NewReader(data), "fuzz", InferOptions{MaxDistinct: 20})
		if err != nil {
			return
		}
		y := inf.YAML()
		// A proposal may be invalid (a column named twice after trimming, say),
		// but when it parses it must be the contract Infer proposed.
		if c, err := Parse("inferred", y); err == nil {
			doctest.Stable(t, c, ParseCanonical)
			if err := inf.Contract.Validate(); err != nil {
				t.Fatalf("YAML parsed but the contract does not validate: %v", err)
			}
			if !bytes.Equal(c.Canonical(), inf.Contract.Canonical()) {
				t.Fatalf("inferred YAML parses to a different contract:\n%s\n%s", c.Canonical(), inf.Contract.Canonical())
			}
		}
	})
}
