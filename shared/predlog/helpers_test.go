package predlog_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/store"
)

const (
	bucket    = "monitoring"
	bundleSHA = "9f86d081884c7d659a2feb5a6b2b4e0a4d2b27e33e16d8d1e54b7eaf6a7d2f6b"
	// testKey is a 32-byte HMAC key for tests only.
	testKey = "0123456789abcdef0123456789abcdef"
)

var day0 = time.Date(2026, 3, 14, 9, 26, 53, 589793000, time.UTC)

// creditContract is the credit contract with Age marked as personal data and
// a Postcode column (a string, personal data) added, as a deployment that logs
// postcodes would declare it.
func creditContract(t testing.TB) *contract.Contract {
	t.Helper()
	c := lambdatest.CreditContract(t)
	for i := range c.Columns {
		if c.Columns[i].Name == "Age" {
			c.Columns[i].PII = true
		}
	}
	c.Columns = append(c.Columns, contract.Column{Name: "Postcode", Type: contract.String, PII: true})
	return c
}

// creditRows are the credit example's applicants as the endpoint receives
// them: the contract's features by name, JSON numbers as float64, strings,
// null for NA.
func creditRows(t testing.TB) []map[string]any {
	t.Helper()
	c := lambdatest.CreditContract(t)
	r := csv.NewReader(bytes.NewReader(credit.CSV()))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := rows[0]
	var out []map[string]any
	for _, row := range rows[1:] {
		m := map[string]any{}
		for j, name := range header {
			if !slices.Contains(c.Features, name) {
				continue
			}
			col := c.Column(name)
			switch v := row[j]; {
			case v == "NA":
				m[name] = nil
			case col.Type == contract.Integer || col.Type == contract.Number:
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("%s=%q: %v", name, v, err)
				}
				m[name] = f
			default:
				m[name] = v
			}
		}
		out = append(out, m)
	}
	return out
}

// record is a credit-model record of request req, instance i, at time at.
func record(req string, i int, at time.Time, features map[string]any) predlog.Record {
	p := float64(len(req)%97) / 97
	label := "good"
	if p >= 0.5 {
		label = "bad"
	}
	return predlog.Record{RequestID: req, Index: i, Time: at, Model: "credit", Version: 3, BundleSHA256: bundleSHA,
		Features: features, Outputs: map[string]any{"p_bad": p, "label": label}, LatencyMs: 1.25}
}

// id is a record's identity in a read back.
func id(r predlog.Record) string { return r.RequestID + "#" + strconv.Itoa(r.Index) }

// readAll reads model's records on days from..to through the embedded store.
func readAll(t testing.TB, st *store.Store, model string, from, to time.Time) []predlog.Record {
	t.Helper()
	var got []predlog.Record
	err := predlog.Read(context.Background(), st, bucket, model, from, to, predlog.ReadOptions{}, func(r predlog.Record) error {
		got = append(got, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// objects lists the objects under prefix.
func objects(t testing.TB, st *store.Store, prefix string) []store.ObjectInfo {
	t.Helper()
	var out []store.ObjectInfo
	if err := st.List(context.Background(), bucket, prefix, func(o store.ObjectInfo) error {
		out = append(out, o)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// rawBytes is every object's bytes under prefix, gunzipped.
func rawBytes(t testing.TB, st *store.Store, prefix string) []byte {
	t.Helper()
	var all bytes.Buffer
	for _, o := range objects(t, st, prefix) {
		b, _, err := st.ReadAll(context.Background(), bucket, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s: %v", o.Key, err)
		}
		all.Write(plain)
	}
	return all.Bytes()
}

// waitFor polls cond until it holds or a generous deadline passes: the
// condition is what is tested, the deadline only ends a hung test.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flaky fails its first n Puts, then passes them to the store.
type flaky struct {
	st *store.Store
	mu sync.Mutex
	n  int
	// failed counts the Puts failed.
	failed int
	down   bool // fail every Put while set
}

var errInjected = errors.New("injected store failure")

func (f *flaky) Put(ctx context.Context, bucket, key string, body []byte, opt store.PutOptions) (store.ObjectInfo, error) {
	f.mu.Lock()
	if f.n > 0 || f.down {
		if f.n > 0 {
			f.n--
		}
		f.failed++
		f.mu.Unlock()
		return store.ObjectInfo{}, fmt.Errorf("put %s: %w", key, errInjected)
	}
	f.mu.Unlock()
	return f.st.Put(ctx, bucket, key, body, opt)
}

func (f *flaky) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}
