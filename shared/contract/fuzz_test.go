package contract

import (
	"bytes"
	"testing"
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
		checkStable(t, c)
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
		checkStable(t, c)
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
			checkStable(t, c)
			if err := inf.Contract.Validate(); err != nil {
				t.Fatalf("YAML parsed but the contract does not validate: %v", err)
			}
			if !bytes.Equal(c.Canonical(), inf.Contract.Canonical()) {
				t.Fatalf("inferred YAML parses to a different contract:\n%s\n%s", c.Canonical(), inf.Contract.Canonical())
			}
		}
	})
}

// checkStable: the canonical form reads back to itself.
func checkStable(t *testing.T, c *Contract) {
	t.Helper()
	j := c.Canonical()
	if j == nil {
		t.Fatal("Canonical of a valid contract is nil")
	}
	again, err := ParseCanonical(j)
	if err != nil {
		t.Fatalf("canonical JSON does not parse back: %v\n%s", err, j)
	}
	if !bytes.Equal(again.Canonical(), j) {
		t.Fatalf("canonical form not stable:\n%s\n%s", j, again.Canonical())
	}
}
