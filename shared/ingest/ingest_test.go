package ingest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/openmlops/mlops/events"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/local/lambdatest"
	"github.com/openmlops/mlops/shared/store"
	"github.com/openmlops/mlops/shared/validate"
)

func TestAcceptedUploadBecomesVersion(t *testing.T) {
	e := newEnv(t)
	c := lambdatest.CreditContract(t)
	chash := e.applyContract(c)
	data := creditCSV(t)
	up := e.upload("incoming/credit/credit_data.csv", data)

	out, err := e.svc.Ingest(context.Background(), up)
	if err != nil {
		t.Fatal(err)
	}
	rc := out.Receipt
	if rc.Status != ingest.Accepted || rc.VersionID == "" || rc.ContractHash != chash {
		t.Fatalf("receipt = %+v", rc)
	}
	var m ingest.Manifest
	e.readJSON(platform, ingest.ManifestKey("credit", rc.VersionID), &m)
	if m.Rows != 4454 || len(m.Partitions) != 1 || m.Mode != "replace" || m.ContractHash != chash {
		t.Fatalf("manifest: rows=%d parts=%d mode=%s", m.Rows, len(m.Partitions), m.Mode)
	}
	p := m.Partitions[0]
	if p.SourceKey != up.Key || p.SourceETag != up.ETag || p.Requester != "tester" || p.SourceIP != "127.0.0.1" || p.Bytes != int64(len(data)) {
		t.Errorf("partition lineage = %+v", p)
	}
	if sha := sha256Hex(data); p.PayloadSHA256 != sha || !strings.HasSuffix(p.PayloadKey, sha) {
		t.Errorf("payload sha %s, want %s", p.PayloadSHA256, sha)
	}
	// The payload is the uploaded bytes, content-addressed.
	raw, _, err := e.st.ReadAll(context.Background(), platform, p.PayloadKey)
	if err != nil || !bytes.Equal(raw, data) {
		t.Fatalf("payload copy differs (err %v)", err)
	}
	// The canonical form: gzip, header, LF, empty cell for NA.
	gz, _, err := e.st.ReadAll(context.Background(), platform, p.CanonicalKey)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSuffix(string(canon), "\n"), "\n")
	if len(lines) != 4455 || lines[0] != "Status,Seniority,Home,Time,Age,Marital,Records,Job,Expenses,Income,Assets,Debt,Amount,Price" {
		t.Fatalf("canonical: %d lines, header %q", len(lines), lines[0])
	}
	if strings.Contains(string(canon), "NA") || strings.Contains(string(canon), "\r") || strings.Contains(string(canon), `"`) {
		t.Error("canonical form still has NA tokens, CR or needless quotes")
	}
	// Profile stored with the version, hash recorded.
	pb, _, err := e.st.ReadAll(context.Background(), platform, m.ProfileKey)
	if err != nil || sha256Hex(pb) != m.ProfileSHA256 {
		t.Fatalf("profile: err %v or hash mismatch", err)
	}
	if len(m.Columns) != 14 {
		t.Fatalf("column summaries: %d", len(m.Columns))
	}
	for _, col := range m.Columns {
		if col.Name == "Income" && col.Nulls != 381 {
			t.Errorf("Income nulls = %d, want 381", col.Nulls)
		}
	}
	// One event, announcing exactly this version; the incoming object is gone.
	evs := e.pub.of(event.DatasetVersioned)
	if len(evs) != 1 {
		t.Fatalf("%d dataset.versioned events", len(evs))
	}
	d := evs[0].Detail.(event.DatasetVersionedDetail)
	if d.VersionID != rc.VersionID || d.Rows != 4454 || d.ManifestKey != ingest.ManifestKey("credit", rc.VersionID) {
		t.Errorf("event detail = %+v", d)
	}
	if e.exists(uploads, up.Key) {
		t.Error("incoming object still there after it was kept")
	}
	if !e.exists(platform, ingest.PublishedKey("credit", rc.VersionID)) || len(e.keys(platform, ingest.PendingPrefix)) != 0 {
		t.Error("version not marked published")
	}
	if ks := e.keys(platform, "datasets/credit/staging/"); len(ks) != 0 {
		t.Errorf("staging left behind: %v", ks)
	}
	var latest ingest.Latest
	e.readJSON(platform, ingest.LatestKey("credit"), &latest)
	if latest.VersionID != rc.VersionID {
		t.Errorf("latest = %s", latest.VersionID)
	}
}

func TestSameBytesTwiceGiveOneVersion(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	data := creditCSV(t)
	a, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/a.csv", data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/b.csv", data))
	if err != nil {
		t.Fatal(err)
	}
	if a.Receipt.VersionID != b.Receipt.VersionID {
		t.Fatalf("two versions for the same bytes: %s, %s", a.Receipt.VersionID, b.Receipt.VersionID)
	}
	if n := len(e.keys(platform, "datasets/credit/versions/")); n != 3 { // manifest, profile, published
		t.Errorf("version folder has %d objects", n)
	}
}

func TestNewContractMakesNewVersionSharingThePayload(t *testing.T) {
	e := newEnv(t)
	c := lambdatest.CreditContract(t)
	e.applyContract(c)
	data := creditCSV(t)
	a, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/a.csv", data))
	if err != nil {
		t.Fatal(err)
	}
	c2 := *c
	c2.Rows = contract.RowBounds{Min: 10}
	e.applyContract(&c2)
	b, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/a.csv", data))
	if err != nil {
		t.Fatal(err)
	}
	if a.Receipt.VersionID == b.Receipt.VersionID || a.Receipt.PayloadSHA256 != b.Receipt.PayloadSHA256 {
		t.Fatalf("versions %s %s, payloads %s %s", a.Receipt.VersionID, b.Receipt.VersionID, a.Receipt.PayloadSHA256, b.Receipt.PayloadSHA256)
	}
	if n := len(e.keys(platform, "datasets/credit/objects/"+a.Receipt.PayloadSHA256)); n != 5 { // raw + 2×(canonical, profile)
		t.Errorf("objects for the payload: %d", n)
	}
}

func TestConcurrentDuplicateDeliveries(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	up := e.upload("incoming/credit/credit_data.csv", creditCSV(t))
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.Ingest(context.Background(), up); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	versions := map[string]bool{}
	for _, k := range e.keys(platform, "datasets/credit/versions/") {
		if strings.HasSuffix(k, "/manifest.json") {
			versions[k] = true
		}
	}
	if len(versions) != 1 {
		t.Fatalf("%d versions, want 1: %v", len(versions), versions)
	}
	if n := len(e.pub.of(event.DatasetVersioned)); n < 1 {
		t.Fatal("no dataset.versioned event")
	}
	if n := len(e.pub.of(event.DatasetRejected)); n != 0 {
		t.Fatalf("%d rejections", n)
	}
}

func TestRejectedUploadIsQuarantinedWithReport(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	bad := strings.Replace(string(creditCSV(t)), "\n\"good\",9,\"rent\",60,30,", "\n\"good\",9,\"rent\",60,thirty,", 1)
	up := e.upload("incoming/credit/bad.csv", []byte(bad))
	out, err := e.svc.Ingest(context.Background(), up)
	if err != nil {
		t.Fatal(err)
	}
	rc := out.Receipt
	if rc.Status != ingest.Rejected || rc.Rejection == nil {
		t.Fatalf("receipt = %+v", rc)
	}
	// The rejected bytes are kept, byte for byte, before the upload is removed.
	q, _, err := e.st.ReadAll(context.Background(), uploads, rc.Rejection.QuarantineKey)
	if err != nil || string(q) != bad {
		t.Fatalf("quarantined copy: err %v", err)
	}
	if e.exists(uploads, up.Key) {
		t.Error("rejected upload still under incoming/")
	}
	var rep ingest.Report
	e.readJSON(uploads, rc.Rejection.ReportKey, &rep)
	if len(rep.Violations) != 1 || rep.Violations[0].Rule != "type" || rep.Violations[0].Column != "Age" ||
		len(rep.Violations[0].Examples) != 1 || rep.Violations[0].Examples[0].Row != 1 || rep.Violations[0].Examples[0].Line != 2 {
		t.Fatalf("report violations = %+v", rep.Violations)
	}
	txt, _, _ := e.st.ReadAll(context.Background(), uploads, rc.Rejection.ReportTextKey)
	for _, want := range []string{"bad.csv", "Age", "thirty", "row 1 (line 2)"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("report.txt lacks %q:\n%s", want, txt)
		}
	}
	evs := e.pub.of(event.DatasetRejected)
	if len(evs) != 1 || evs[0].Detail.(event.DatasetRejectedDetail).Reasons[0] != "type:Age" {
		t.Fatalf("rejected events = %+v", evs)
	}
	if n := len(e.keys(platform, "datasets/credit/versions/")); n != 0 {
		t.Errorf("a rejected upload made %d version objects", n)
	}
	// A redelivery after the upload is gone still announces the same decision.
	again, err := e.svc.Ingest(context.Background(), up)
	if err != nil || !again.Duplicate || again.Receipt.Status != ingest.Rejected {
		t.Fatalf("redelivery: %+v, %v", again, err)
	}
	if n := len(e.pub.of(event.DatasetRejected)); n != 2 {
		t.Errorf("redelivery published %d rejections in all, want 2", n)
	}
}

func TestUploadWithoutContractIsRejected(t *testing.T) {
	e := newEnv(t)
	out := mustIngest(t, e.svc, e.upload("incoming/nocontract/x.csv", []byte("a,b\n1,2\n")))
	if vs := e.violations(out); vs[0].Rule != "no_contract" || !strings.Contains(vs[0].Message, "mlops contract apply") {
		t.Fatalf("report = %+v", vs)
	}
}

func TestBadKeysAreRejectedOrIgnored(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	for _, key := range []string{"incoming/credit/../x.csv", "incoming/Bad Name/x.csv", "incoming/credit/a\x01b.csv", "incoming/credit//x.csv"} {
		out, err := e.svc.Ingest(context.Background(), e.upload(key, []byte("x")))
		if err != nil {
			t.Fatalf("%q: %v", key, err)
		}
		if out.Receipt.Status != ingest.Rejected {
			t.Fatalf("%q: %+v", key, out)
		}
		if vs := e.violations(out); vs[0].Rule != "bad_key" || !strings.Contains(vs[0].Message, "key") {
			t.Errorf("%q: %+v", key, vs)
		}
	}
	out, err := e.svc.Ingest(context.Background(), ingest.Upload{Bucket: uploads, Key: "elsewhere/x.csv"})
	if err != nil || out.Ignored == "" {
		t.Fatalf("key outside incoming/: %+v %v", out, err)
	}
}

func TestTooLargeUploadIsRejectedUnread(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	svc := ingest.New(e.st, e.pub, ingest.Config{UploadsBucket: uploads, PlatformBucket: platform, MaxUploadBytes: 1000})
	out := mustIngest(t, svc, e.upload("incoming/credit/big.csv", creditCSV(t)))
	if vs := e.violations(out); vs[0].Rule != "too_large" || !strings.Contains(vs[0].Message, "1000") {
		t.Fatalf("report = %+v", vs)
	}
}

func TestStaleEventIsIgnored(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	old := e.upload("incoming/credit/x.csv", creditCSV(t))
	e.upload("incoming/credit/x.csv", head(creditCSV(t), 20000)) // replaced before ingest ran
	out, err := e.svc.Ingest(context.Background(), old)
	if err != nil {
		t.Fatal(err)
	}
	if out.Ignored == "" {
		t.Fatalf("stale event processed: %+v", out.Receipt)
	}
	if !e.exists(uploads, "incoming/credit/x.csv") {
		t.Fatal("the newer upload was removed")
	}
}

func TestGzipUploadMatchesPlain(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(creditCSV(t))
	zw.Close()
	out, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/credit.csv.gz", buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var m ingest.Manifest
	e.readJSON(platform, ingest.ManifestKey("credit", out.Receipt.VersionID), &m)
	if m.Rows != 4454 || !m.Partitions[0].Compressed {
		t.Fatalf("gzip upload: rows %d compressed %v", m.Rows, m.Partitions[0].Compressed)
	}
}

func TestLatestNeverMovesBackward(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	data := creditCSV(t)
	first := e.upload("incoming/credit/jan.csv", head(data, 100000))
	e.clock.Advance(time.Hour)
	second := e.upload("incoming/credit/feb.csv", data)
	// Delivered in the opposite order.
	b, err := e.svc.Ingest(context.Background(), second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Ingest(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	var latest ingest.Latest
	e.readJSON(platform, ingest.LatestKey("credit"), &latest)
	if latest.VersionID != b.Receipt.VersionID {
		t.Fatalf("latest = %s, want the later upload's %s", latest.VersionID, b.Receipt.VersionID)
	}
}

func TestAppendDatasetVersionsArePartitionSets(t *testing.T) {
	e, c, lines := appendCredit(t)
	header := lines[0]
	part := func(from, to int) []byte { return []byte(header + strings.Join(lines[1+from:1+to], "")) }

	// Three partitions ingested concurrently: every one must end up in the head.
	var wg sync.WaitGroup
	for i, p := range [][]byte{part(0, 1000), part(1000, 2000), part(2000, 4454)} {
		up := e.upload("incoming/credit/part"+string(rune('a'+i))+".csv", p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := e.svc.Ingest(context.Background(), up); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	var head ingest.Head
	e.readJSON(platform, ingest.HeadKey("credit", c.Hash()), &head)
	if len(head.Partitions) != 3 {
		t.Fatalf("head has %d partitions", len(head.Partitions))
	}
	var m ingest.Manifest
	e.readJSON(platform, ingest.ManifestKey("credit", head.VersionID), &m)
	if m.Rows != 4454 || len(m.Partitions) != 3 || m.Mode != "append" {
		t.Fatalf("head version: rows %d partitions %d mode %s", m.Rows, len(m.Partitions), m.Mode)
	}
	for _, col := range m.Columns {
		if col.Name == "Income" && col.Nulls != 381 {
			t.Errorf("merged profile: Income nulls = %d, want 381", col.Nulls)
		}
	}
	// Re-delivering an old partition changes nothing.
	before := len(e.keys(platform, "datasets/credit/versions/"))
	if _, err := e.svc.Ingest(context.Background(), e.upload("incoming/credit/again.csv", part(0, 1000))); err != nil {
		t.Fatal(err)
	}
	if after := len(e.keys(platform, "datasets/credit/versions/")); after != before {
		t.Errorf("re-uploading a partition added %d version objects", after-before)
	}
}

// A process that dies at any write leaves no visible half version, and the next
// delivery of the same event finishes the work.
func TestCrashAtEveryWriteThenRedelivery(t *testing.T) {
	data := creditCSV(t)
	for failAt := 1; ; failAt++ {
		e := newEnv(t)
		e.applyContract(lambdatest.CreditContract(t))
		up := e.upload("incoming/credit/credit_data.csv", data)
		fs := &faultyStore{Store: e.st, failAt: failAt}
		_, err := e.service(fs).Ingest(context.Background(), up)
		if !fs.failed {
			if err != nil {
				t.Fatal(err)
			}
			if failAt < 5 {
				t.Fatalf("only %d writes: the fault injection is not reaching the store", failAt)
			}
			break // every write point has been crashed
		}
		if !errors.Is(err, errCrash) {
			t.Fatalf("failAt %d: error %v does not carry the crash", failAt, err)
		}
		assertNoHalfVersion(t, e)
		out, err := e.svc.Ingest(context.Background(), up)
		if err != nil {
			t.Fatalf("failAt %d: redelivery: %v", failAt, err)
		}
		if out.Receipt.Status != ingest.Accepted {
			t.Fatalf("failAt %d: redelivery: %+v", failAt, out.Receipt)
		}
		assertNoHalfVersion(t, e)
		if len(e.pub.of(event.DatasetVersioned)) == 0 {
			t.Fatalf("failAt %d: no event after redelivery", failAt)
		}
		if e.exists(uploads, up.Key) {
			t.Fatalf("failAt %d: incoming object left", failAt)
		}
	}
}

// Every visible manifest names objects that all exist.
func assertNoHalfVersion(t *testing.T, e *env) {
	t.Helper()
	for _, k := range e.keys(platform, "datasets/credit/versions/") {
		if !strings.HasSuffix(k, "/manifest.json") {
			continue
		}
		var m ingest.Manifest
		e.readJSON(platform, k, &m)
		for _, key := range []string{m.ProfileKey, m.Partitions[0].PayloadKey, m.Partitions[0].CanonicalKey, m.Partitions[0].ProfileKey} {
			if !e.exists(platform, key) {
				t.Fatalf("manifest %s names missing %s", k, key)
			}
		}
	}
}

func TestEventLostAfterManifestIsPublishedByReconcile(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	up := e.upload("incoming/credit/credit_data.csv", creditCSV(t))
	e.pub.fail = 1 // the bus is down when ingest announces the version
	if _, err := e.svc.Ingest(context.Background(), up); err == nil {
		t.Fatal("ingest reported success although publishing failed")
	}
	if len(e.pub.of(event.DatasetVersioned)) != 0 {
		t.Fatal("event recorded although publishing failed")
	}
	// Too young: reconcile leaves it to the ingest that may still be running.
	if n, err := e.svc.SweepPending(context.Background(), time.Minute); err != nil || n != 0 {
		t.Fatalf("young marker: fixed %d, err %v", n, err)
	}
	e.clock.Advance(2 * time.Minute)
	n, err := e.svc.SweepPending(context.Background(), time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("reconcile fixed %d, err %v", n, err)
	}
	if len(e.pub.of(event.DatasetVersioned)) != 1 {
		t.Fatal("reconcile did not publish")
	}
	if n, _ := e.svc.SweepPending(context.Background(), time.Minute); n != 0 {
		t.Errorf("second sweep fixed %d again", n)
	}
}

func TestReconcileIngestsStrayUploads(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	e.upload("incoming/credit/credit_data.csv", creditCSV(t)) // its event was lost
	e.clock.Advance(time.Hour)
	n, err := e.svc.SweepIncoming(context.Background(), 5*time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("fixed %d, err %v", n, err)
	}
	if len(e.pub.of(event.DatasetVersioned)) != 1 || e.exists(uploads, "incoming/credit/credit_data.csv") {
		t.Fatal("stray upload not ingested")
	}
}

func TestHandleParsesBothEventShapesAndNeverPanics(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	up := e.upload("incoming/credit/my file.csv", creditCSV(t))
	eb := `{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"1","time":"2026-11-22T10:00:00Z","region":"us-east-1","resources":[],"detail":{"version":"0","bucket":{"name":"` + uploads + `"},"object":{"key":"incoming/credit/my+file.csv","size":` + itoa(up.Size) + `,"etag":"` + up.ETag + `","sequencer":"01"},"request-id":"r","requester":"123","source-ip-address":"1.2.3.4","reason":"PutObject"}}`
	if err := e.svc.Handle(context.Background(), []byte(eb)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.pub.of(event.DatasetVersioned)); n != 1 {
		t.Fatalf("%d events", n)
	}
	classic := `{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventTime":"2026-11-22T10:00:00.000Z","eventName":"ObjectCreated:Put","userIdentity":{"principalId":"AWS:X"},"requestParameters":{"sourceIPAddress":"1.2.3.4"},"responseElements":{},"s3":{"s3SchemaVersion":"1.0","configurationId":"c","bucket":{"name":"` + uploads + `","arn":"arn:aws:s3:::` + uploads + `"},"object":{"key":"incoming/credit/my+file.csv","size":` + itoa(up.Size) + `,"eTag":"` + up.ETag + `","sequencer":"01"}}}]}`
	if err := e.svc.Handle(context.Background(), []byte(classic)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.pub.of(event.DatasetVersioned)); n != 2 {
		t.Fatalf("classic redelivery: %d events in all", n)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"detail-type":"Object Created","source":"aws.s3","detail":"x"}`, `{"Records":"x"}`, `{"detail-type":"Nope","source":"x"}`} {
		if err := e.svc.Handle(context.Background(), []byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// head returns the header and the first rows of data, cut at a line end.
func head(data []byte, n int) []byte { return data[:bytes.LastIndexByte(data[:n], '\n')+1] }

// The sample payloads in events/ are what AWS sends; both shapes name the same upload.
func TestParseUploadsOnSamplePayloads(t *testing.T) {
	eb, err := ingest.ParseUploads(events.Sample("s3-object-created.json"))
	if err != nil || len(eb) != 1 {
		t.Fatalf("EventBridge sample: %v %v", eb, err)
	}
	classic, err := ingest.ParseUploads(events.Sample("s3-notification.json"))
	if err != nil || len(classic) != 1 {
		t.Fatalf("S3 notification sample: %v %v", classic, err)
	}
	a, b := eb[0], classic[0]
	if a.Bucket != b.Bucket || a.Key != b.Key || a.ETag != b.ETag || a.Size != b.Size || a.Key != "incoming/credit/credit_data.csv" {
		t.Fatalf("samples disagree: %+v vs %+v", a, b)
	}
	mp, err := ingest.ParseUploads(events.Sample("s3-object-created-multipart.json"))
	if err != nil || len(mp) != 1 || !strings.Contains(mp[0].ETag, "-") {
		t.Fatalf("multipart sample: %+v %v", mp, err)
	}
	if _, err := ingest.ParseUploads(events.Sample("schedule.json")); err == nil {
		t.Fatal("a scheduled event parsed as an upload")
	}
}

func TestReconcileRemovesStaleStaging(t *testing.T) {
	e := newEnv(t)
	e.applyContract(lambdatest.CreditContract(t))
	ctx := context.Background()
	key := ingest.StagingKey("credit", "r", "crashed")
	if _, err := e.st.Put(ctx, platform, key, []byte("half"), store.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.svc.SweepStaging(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("young staging removed: %d %v", n, err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.svc.SweepStaging(ctx, time.Hour); err != nil || n != 1 || e.exists(platform, key) {
		t.Fatalf("stale staging kept: %d %v", n, err)
	}
}

// In an append dataset the latest pointer follows the growing partition set, even
// when the uploads are processed in the opposite order to their arrival.
func TestAppendLatestFollowsThePartitionSet(t *testing.T) {
	e, _, lines := appendCredit(t)
	first := e.upload("incoming/credit/jan.csv", []byte(lines[0]+strings.Join(lines[1:2001], "")))
	e.clock.Advance(time.Hour)
	second := e.upload("incoming/credit/feb.csv", []byte(lines[0]+strings.Join(lines[2001:], "")))
	for _, up := range []ingest.Upload{second, first} {
		if _, err := e.svc.Ingest(context.Background(), up); err != nil {
			t.Fatal(err)
		}
	}
	var latest ingest.Latest
	e.readJSON(platform, ingest.LatestKey("credit"), &latest)
	var m ingest.Manifest
	e.readJSON(platform, ingest.ManifestKey("credit", latest.VersionID), &m)
	if len(m.Partitions) != 2 || m.Rows != 4454 || latest.Partitions != 2 {
		t.Fatalf("latest is %s with %d partitions, %d rows", latest.VersionID, len(m.Partitions), m.Rows)
	}
}

// appendCredit is an env with the credit contract applied in append mode, and
// the lines of the credit data (the header first).
func appendCredit(t *testing.T) (*env, *contract.Contract, []string) {
	t.Helper()
	e := newEnv(t)
	c := lambdatest.CreditContract(t)
	c.Mode = contract.Append
	e.applyContract(c)
	return e, c, strings.SplitAfter(string(creditCSV(t)), "\n")
}

// violations reads the report of the rejected upload out and returns its
// violations.
func (e *env) violations(out *ingest.Outcome) []validate.Violation {
	var rep ingest.Report
	e.readJSON(uploads, out.Receipt.Rejection.ReportKey, &rep)
	return rep.Violations
}

// mustIngest ingests up with svc, failing the test on an error.
func mustIngest(t *testing.T, svc *ingest.Service, up ingest.Upload) *ingest.Outcome {
	t.Helper()
	out, err := svc.Ingest(context.Background(), up)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
