package ingest_test

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
)

// Datasets reads back, through its one API, everything ingest wrote: names,
// versions in order, the latest version, receipts, rejections, the current
// contract (hash-checked), profiles and the canonical CSV.
func TestDatasetsReadsWhatIngestWrote(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ds := ingest.NewDatasets(e.st, platform, uploads)

	if names, err := ds.Names(ctx); err != nil || len(names) != 0 {
		t.Fatalf("names of an empty platform: %v %v", names, err)
	}
	if _, err := ds.CurrentContract(ctx, "credit"); !errors.Is(err, ingest.ErrNoContract) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no contract: %v", err)
	}
	chash := e.applyContract(lambdatest.CreditContract(t))
	// A dataset with a contract and no version yet is a dataset.
	if names, err := ds.Names(ctx); err != nil || strings.Join(names, ",") != "credit" {
		t.Fatalf("names: %v %v", names, err)
	}
	if _, err := ds.Latest(ctx, "credit"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("latest before any version: %v", err)
	}
	cur, err := ds.CurrentContract(ctx, "credit")
	if err != nil || cur.Hash != chash || cur.Dataset != "credit" || cur.AppliedAt.IsZero() {
		t.Fatalf("current contract: %+v %v", cur, err)
	}

	csv := string(creditCSV(t))
	var ids []string
	for i, body := range []string{csv, csv[:strings.Index(csv, "\n")+1] + strings.Join(strings.Split(csv, "\n")[1:2001], "\n") + "\n"} {
		e.clock.Advance(time.Minute)
		out, err := e.svc.Ingest(ctx, e.upload("incoming/credit/part"+string(rune('a'+i))+".csv", []byte(body)))
		if err != nil || out.Receipt.Status != ingest.Accepted {
			t.Fatalf("upload %d: %+v %v", i, out, err)
		}
		ids = append(ids, out.Receipt.VersionID)
		u := out.Receipt.Upload
		rc, ok, err := ds.Receipt(ctx, "credit", ingest.ReceiptID(ingest.UploadID(u.Bucket, u.Key, u.ETag, u.VersionID), chash))
		if err != nil || !ok || rc.VersionID != out.Receipt.VersionID {
			t.Fatalf("receipt: %+v %v %v", rc, ok, err)
		}
	}
	if _, ok, err := ds.Receipt(ctx, "credit", "nothing-here"); ok || err != nil {
		t.Fatalf("a receipt that is not there: %v %v", ok, err)
	}
	vs, err := ds.Versions(ctx, "credit")
	if err != nil || len(vs) != 2 || vs[0].VersionID != ids[0] || vs[1].VersionID != ids[1] {
		t.Fatalf("versions, oldest first: %v %v (want %v)", vs, err, ids)
	}
	m, err := ds.LatestManifest(ctx, "credit")
	if err != nil || m.VersionID != ids[1] || m.Rows != 2000 {
		t.Fatalf("latest: %+v %v", m, err)
	}
	prof, err := ds.Profile(ctx, m)
	if err != nil || len(prof.Columns) != 14 {
		t.Fatalf("profile: %v", err)
	}
	body, err := ds.OpenPartition(ctx, m, 0)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(body)
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := io.ReadAll(zr)
	_ = body.Close()
	if n := strings.Count(string(canon), "\n"); n != 2001 {
		t.Errorf("canonical CSV has %d lines, want 2001", n)
	}
	if _, err := ds.OpenPartition(ctx, m, 1); err == nil {
		t.Error("a partition that does not exist opened")
	}
	if _, err := ds.Manifest(ctx, "credit", "v-nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing version: %v", err)
	}

	// A rejection is listed with its report, newest first.
	bad := strings.Replace(csv, "\n\"good\",9,\"rent\",60,30,", "\n\"good\",9,\"rent\",60,thirty,", 1)
	e.clock.Advance(time.Minute)
	out, err := e.svc.Ingest(ctx, e.upload("incoming/credit/bad.csv", []byte(bad)))
	if err != nil || out.Receipt.Status != ingest.Rejected {
		t.Fatalf("bad upload: %+v %v", out, err)
	}
	rejs, err := ds.Rejections(ctx, "credit")
	if err != nil || len(rejs) != 1 || rejs[0].Upload.Key != "incoming/credit/bad.csv" || len(rejs[0].Violations) == 0 ||
		rejs[0].ReportKey != out.Receipt.Rejection.ReportKey || !strings.HasSuffix(rejs[0].Prefix, "/") {
		t.Fatalf("rejections: %+v %v", rejs, err)
	}
	txt, err := ds.RejectionReport(ctx, out.Receipt.Rejection, true)
	if err != nil || !strings.Contains(string(txt), "thirty") {
		t.Fatalf("report.txt: %q %v", txt, err)
	}

	// Damage is reported, not read: a manifest that names another version, and a
	// contract whose stored bytes do not hash to their name.
	if _, err := e.st.Put(ctx, platform, ingest.ManifestKey("credit", "forged"), []byte(`{"dataset":"credit","versionId":"`+ids[0]+`","partitions":[{}]}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.Manifest(ctx, "credit", "forged"); err == nil || !strings.Contains(err.Error(), "damaged manifest") {
		t.Errorf("a manifest under another version's name: %v", err)
	}
	if _, err := ds.Versions(ctx, "credit"); err == nil {
		t.Error("Versions read past a damaged manifest")
	}
	if _, err := e.st.Put(ctx, platform, ingest.ContractKey("credit", chash), []byte(`{"tampered":true}`), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ds.CurrentContract(ctx, "credit"); err == nil || errors.Is(err, ingest.ErrNoContract) {
		t.Errorf("a tampered contract: %v", err)
	}
}
