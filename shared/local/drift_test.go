package local_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/local"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/policystore"
	"github.com/openmlops/mlops/shared/predict"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/store"
)

// creditRecords are the credit data's rows after the header.
func creditRecords(t *testing.T) (header []string, rows [][]string) {
	t.Helper()
	all, err := csv.NewReader(bytes.NewReader(credit.CSV())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return all[0], all[1:]
}

// shifted moves ages up by 15 years (at most 120) and doubles incomes.
func shifted(t *testing.T, header []string, rows [][]string) [][]string {
	age, income := slices.Index(header, "Age"), slices.Index(header, "Income")
	out := make([][]string, len(rows))
	for i, r := range rows {
		r = slices.Clone(r)
		if a, err := strconv.Atoi(r[age]); err == nil {
			r[age] = strconv.Itoa(min(a+15, 120))
		}
		if v, err := strconv.ParseFloat(r[income], 64); err == nil {
			r[income] = strconv.FormatFloat(v*2, 'f', -1, 64)
		}
		out[i] = r
	}
	return out
}

// send predicts rows in requests of 500, and returns each request's id and size.
func send(t *testing.T, c *predict.Client, header []string, rows [][]string) []string {
	t.Helper()
	var ids []string
	for lo := 0; lo < len(rows); lo += 500 {
		hi := min(lo+500, len(rows))
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write(header[1:]) // no label
		for _, r := range rows[lo:hi] {
			_ = w.Write(r[1:])
		}
		w.Flush()
		req, err := predict.RequestFromCSV(&buf)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Predict(context.Background(), "credit", req)
		if err != nil {
			t.Fatalf("rows %d to %d: %v", lo, hi, err)
		}
		ids = append(ids, resp.RequestID)
	}
	return ids
}

func runDrift(t *testing.T, p *local.Platform) *drift.Result {
	t.Helper()
	ctx := context.Background()
	if err := p.SettleLog(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := p.Drift.Run(ctx, "credit", drift.Day(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Normal traffic shows no drift; shifted ages and incomes show drift on
// exactly those two features; labels uploaded later give live quality beside
// the estimate; re-running a day rewrites nothing; bad feedback is refused
// with its lines named, and the same file twice counts once.
func TestDriftOnShiftedTraffic(t *testing.T) {
	p := servedCredit(t, local.Config{DriftEvery: -1})
	ctx := context.Background()
	c := predictClient(t, p, "")
	header, rows := creditRecords(t)
	// The file is in no random order (its first rows have lower expenses
	// and incomes than the rest): traffic is a shuffle of it.
	rng := rand.New(rand.NewPCG(1, 1))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

	normal := rows[:1500]
	ids := send(t, c, header, normal)
	res := runDrift(t, p)
	rep := res.Report
	if !rep.EnoughData || rep.Rows != 1500 || rep.ChampionRows != 1500 || rep.CorruptLines != 0 {
		t.Fatalf("normal traffic: rows %d/%d, enough %v, corrupt %d", rep.Rows, rep.ChampionRows, rep.EnoughData, rep.CorruptLines)
	}
	if len(rep.Verdict.DriftedFeatures) != 0 || len(rep.Alerts) != 0 {
		t.Fatalf("normal traffic drifted: %v %v\n%s", rep.Verdict.DriftedFeatures, rep.Alerts, features(rep))
	}
	if len(rep.Features) != 13 || len(rep.Prediction) != 1 || rep.Prediction[0].Drifted {
		t.Fatalf("features %d, prediction %+v", len(rep.Features), rep.Prediction)
	}
	if again := runDrift(t, p); again.Changed {
		t.Fatal("a rerun of the same day rewrote its report")
	}

	send(t, c, header, shifted(t, header, rows[1500:3000]))
	res = runDrift(t, p)
	rep = res.Report
	if got := rep.Verdict.DriftedFeatures; !slices.Equal(got, []string{"Age", "Income"}) {
		t.Fatalf("shifted traffic drifted on %v, want Age and Income\n%s", got, features(rep))
	}
	if !res.Changed || rep.Rows != 3000 {
		t.Fatalf("changed %v rows %d", res.Changed, rep.Rows)
	}

	// Labels for the first 500 normal applicants (one request), uploaded as
	// people do: an object under feedback/ that the bus routes to drift.
	var lab bytes.Buffer
	lab.WriteString("request_id,index,label\n")
	for i, r := range normal[:500] {
		fmt.Fprintf(&lab, "%s,%d,%s\n", ids[0], i, r[0])
	}
	upload := func(key string, body []byte) {
		t.Helper()
		if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Uploads, key, body, store.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := p.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	upload("feedback/credit/day1.csv", lab.Bytes())
	upload("feedback/credit/day1-again.csv", lab.Bytes()) // the same file twice
	receipt := func(body []byte) drift.Receipt {
		t.Helper()
		var rc drift.Receipt
		key := drift.ReceiptKey("credit", sha(body))
		b, _, err := p.Store.ReadAll(ctx, p.Endpoint.Buckets.Monitoring, key)
		if err != nil {
			t.Fatalf("receipt %s: %v", key, err)
		}
		if err := json.Unmarshal(b, &rc); err != nil {
			t.Fatal(err)
		}
		return rc
	}
	if rc := receipt(lab.Bytes()); !rc.Accepted || rc.Joined != 500 {
		t.Fatalf("receipt %+v", rc)
	}
	bad := []byte("request_id,index,label\nnever-logged,0,good\n" + ids[0] + ",1,maybe\n")
	upload("feedback/credit/bad.csv", bad)
	rc := receipt(bad)
	if rc.Accepted || len(rc.Problems) == 0 || !strings.Contains(strings.Join(rc.Problems, "\n"), "line 3, column label") {
		t.Fatalf("bad feedback: %+v", rc)
	}
	unknown := []byte("request_id,index,label\nnever-logged,0,good\n")
	upload("feedback/credit/unknown.csv", unknown)
	if rc := receipt(unknown); rc.Accepted || !strings.Contains(rc.Problems[0], `line 2: request_id "never-logged" index 0: no prediction`) {
		t.Fatalf("unknown request: %+v", rc)
	}

	rep = runDrift(t, p).Report
	q := rep.Quality
	if q == nil || q.Labels != 500 || q.Relabelled != 0 || q.Binary == nil || q.Binary.AUC == nil || q.Estimated == nil || q.Estimated.AUC == nil {
		t.Fatalf("quality %+v", q)
	}
	if auc := q.Binary.AUC.Value; auc < 0.7 {
		t.Fatalf("live AUC %.3f on the training rows themselves", auc)
	}

	// Concurrent duplicate runs of the day: each succeeds, and the report is one.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := p.Drift.Run(ctx, "credit", drift.Day(time.Now()))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func features(rep *drift.Report) string {
	var b strings.Builder
	for _, f := range rep.Features {
		fmt.Fprintf(&b, "%s %s drifted=%v %s\n", f.Feature, f.Test, f.Drifted, f.Reason)
	}
	return b.String()
}

func sha(b []byte) string { return hashid.Of(b) }

// A drifted day asks for one retraining when the policy enables it; a
// drifted day within the cooldown does not ask again, and says why.
func TestDriftRetrainsOncePerCooldown(t *testing.T) {
	p := servedCredit(t, local.Config{DriftEvery: -1})
	ctx := context.Background()
	y := strings.Replace(string(credit.PolicyYAML()), "enabled: false", "enabled: true", 1)
	y = strings.Replace(y, "required: true", "required: false", 1)
	y = strings.Replace(y, `approvers: ["local:*"]`, `retire: ["local:*"]`, 1)
	y = strings.Replace(y, "separatePromotion: false", "", 1)
	pol, err := policy.Parse("policy.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := policystore.Apply(ctx, p.Store, p.Endpoint.Buckets.Platform, pol, time.Now()); err != nil {
		t.Fatal(err)
	}
	header, rows := creditRecords(t)
	send(t, predictClient(t, p, ""), header, shifted(t, header, rows))
	if err := p.SettleLog(ctx); err != nil {
		t.Fatal(err)
	}
	today := drift.Day(time.Now())
	res, err := p.Drift.Run(ctx, "credit", today)
	if err != nil {
		t.Fatal(err)
	}
	want := "drift-credit-" + today.From.Format("2006-01-02")
	if rt := res.Report.Retrain; rt == nil || !rt.Requested || rt.RequestID != want || !res.Announced {
		t.Fatalf("retrain %+v, announced %v, alerts %v", rt, res.Announced, res.Report.Alerts)
	}
	// The same traffic logged again the next day: drift again, within the cooldown.
	next := today.From.AddDate(0, 0, 1)
	var recs []predlog.Record
	err = predlog.Read(ctx, p.Store, p.Endpoint.Buckets.Monitoring, "credit", today.From, today.To, predlog.ReadOptions{}, func(r predlog.Record) error {
		r.Time = next.Add(time.Hour)
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PredictionLog.Write(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if err := p.SettleLog(ctx); err != nil {
		t.Fatal(err)
	}
	res, err = p.Drift.Run(ctx, "credit", drift.Day(next))
	if err != nil {
		t.Fatal(err)
	}
	if rt := res.Report.Retrain; len(res.Report.Alerts) == 0 || rt == nil || rt.Requested || !strings.Contains(rt.Reason, "cooldown") {
		t.Fatalf("the next day: alerts %v, retrain %+v", res.Report.Alerts, rt)
	}
	if err := p.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
}

// Hostile records among good ones are skipped and counted, never fatal: a
// line that is not JSON, a probability of 1.5, a column the contract lacks
// (ignored, counted), a feature of the wrong type (missing).
func TestDriftSkipsHostileRecords(t *testing.T) {
	p := servedCredit(t, local.Config{DriftEvery: -1})
	ctx := context.Background()
	header, rows := creditRecords(t)
	rng := rand.New(rand.NewPCG(2, 2))
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	send(t, predictClient(t, p, ""), header, rows[:1500])
	if err := p.SettleLog(ctx); err != nil {
		t.Fatal(err)
	}
	today := drift.Day(time.Now())
	var good predlog.Record
	err := predlog.Read(ctx, p.Store, p.Endpoint.Buckets.Monitoring, "credit", today.From, today.To, predlog.ReadOptions{}, func(r predlog.Record) error {
		good = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(r *predlog.Record)) string {
		r := good
		r.Features, r.Outputs = maps.Clone(good.Features), maps.Clone(good.Outputs)
		f(&r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	lines := []string{
		"{not json",
		mutate(func(r *predlog.Record) {
			for k := range r.Outputs {
				if strings.HasPrefix(k, "p_") {
					r.Outputs[k] = 1.5
				}
			}
		}),
		mutate(func(r *predlog.Record) { r.Features["Zzz"] = 1.0 }),
		mutate(func(r *predlog.Record) { r.Features["Age"] = "abc" }),
	}
	key := predlog.Prefix("credit", today.From) + "zz-hostile.jsonl"
	if _, err := p.Store.Put(ctx, p.Endpoint.Buckets.Monitoring, key, []byte(strings.Join(lines, "\n")+"\n"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := p.Drift.Run(ctx, "credit", today)
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if rep.CorruptLines != 2 || rep.Rows != 1502 || rep.UnknownColumnRows != 1 || rep.UnknownColumns["Zzz"] != 1 ||
		len(rep.CorruptExamples) != 2 || !strings.Contains(rep.CorruptExamples[0], key+" line 1") ||
		!strings.Contains(rep.CorruptExamples[1], "is not a probability in [0, 1]") {
		t.Fatalf("corrupt %d %q, rows %d, unknown %d %v", rep.CorruptLines, rep.CorruptExamples, rep.Rows, rep.UnknownColumnRows, rep.UnknownColumns)
	}
	if len(rep.Verdict.DriftedFeatures) != 0 {
		t.Fatalf("drifted: %v", rep.Verdict.DriftedFeatures)
	}
}
