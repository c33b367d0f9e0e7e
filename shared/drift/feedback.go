package drift

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"time"

	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/feedback"
	"github.com/openmlops/mlops/shared/predlog"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/store"
)

// MaxFeedbackRows bounds one feedback file: the join holds its labels in
// memory while it scans the logs.
const MaxFeedbackRows = 1_000_000

// MaxFeedbackBytes bounds the bytes read of one feedback file.
const MaxFeedbackBytes = 256 << 20

// LabelsPrefix is where the monitoring bucket keeps the labels joined to
// their predictions, by the UTC day of the prediction:
// labels/<model>/dt=YYYY-MM-DD/<upload time>-<sha256 of the upload>.jsonl.
func LabelsPrefix(model string) string { return "labels/" + model + "/" }

// labelsKey names a file's labels of one day by the upload's time first, so
// that a reader takes them in the order they arrived: the first label given
// for an instance counts, and a later one is counted as relabelled.
func labelsKey(model, day string, uploaded time.Time, sha string) string {
	return LabelsPrefix(model) + "dt=" + day + "/" + uploaded.UTC().Format("20060102T150405.000Z") + "-" + sha + ".jsonl"
}

// ReceiptKey is the answer to a feedback upload: accepted (with counts) or
// rejected (with every problem), by the upload's SHA-256.
func ReceiptKey(model, sha string) string { return LabelsPrefix(model) + "receipts/" + sha + ".json" }

// Joined is one label joined to the prediction it is for: a line of a
// labels object.
type Joined struct {
	RequestID string         `json:"requestId"`
	Index     int            `json:"index"`
	Label     string         `json:"label"`
	Value     float64        `json:"value"` // feedback.Label.Value: the class's index, or the number
	Time      time.Time      `json:"time"`  // the prediction's
	Version   int            `json:"version"`
	Outputs   map[string]any `json:"outputs"`
	Source    string         `json:"source"` // the upload's key
}

// Receipt is what became of a feedback upload.
type Receipt struct {
	Key      string   `json:"key"` // in the uploads bucket
	SHA256   string   `json:"sha256"`
	Model    string   `json:"model"`
	Accepted bool     `json:"accepted"`
	Rows     int      `json:"rows"`
	Joined   int      `json:"joined"`
	Days     []string `json:"days,omitempty"` // the prediction days the labels went to
	Problems []string `json:"problems,omitempty"`
	// Searched is the window of logs the join looked in.
	Searched string `json:"searched"`
}

// OnFeedback validates a feedback file uploaded to the uploads bucket and
// joins each label to the logged prediction it is for. A file is taken whole
// or not at all: a malformed row, a label the model cannot have, a duplicate,
// or a request never logged in the last FeedbackLookback days rejects it,
// with every problem in its receipt. The same bytes uploaded twice make one
// set of labels (the objects are named by the upload's hash).
func (s *Service) OnFeedback(ctx context.Context, key string) (*Receipt, error) {
	model, ok := feedback.ParseKey(key)
	if !ok {
		s.log.Error("feedback: not a feedback key (feedback/<model>/<name>.csv)", "key", key)
		return nil, nil
	}
	body, info, err := s.st.Get(ctx, s.cfg.UploadsBucket, key, store.GetOptions{})
	if errors.Is(err, store.ErrNotFound) {
		s.log.Info("feedback file gone before it was read", "key", key)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("feedback %s: %w", key, err)
	}
	data, err := io.ReadAll(io.LimitReader(body, MaxFeedbackBytes+1))
	body.Close()
	if err != nil {
		return nil, fmt.Errorf("feedback %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	sha := hex.EncodeToString(sum[:])
	now := s.cfg.Now().UTC()
	from := day(now.AddDate(0, 0, -s.cfg.FeedbackLookback))
	rc := &Receipt{Key: key, SHA256: sha, Model: model,
		Searched: from.Format(dayLayout) + " to " + day(now).Format(dayLayout)}
	// The same bytes accepted before are the same labels; a rejection is
	// judged again (the logs it lacked may have arrived since).
	if old, err := s.receipt(ctx, model, sha); err != nil || old != nil && old.Accepted {
		return old, err
	}
	reject := func(problems ...string) (*Receipt, error) {
		rc.Problems = problems
		return rc, s.writeReceipt(ctx, rc)
	}
	if len(data) > MaxFeedbackBytes {
		return reject(fmt.Sprintf("%d bytes or more: at most %d per file, split it", len(data), MaxFeedbackBytes))
	}
	rule, err := s.labelRule(ctx, model)
	var noRule *noRuleError
	if errors.As(err, &noRule) {
		return reject(err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("feedback %s: %w", key, err) // the store or registry failed: retried
	}
	labels, err := feedback.ReadAll(bytes.NewReader(data), key, rule, MaxFeedbackRows)
	var fe *feedback.Error
	if errors.As(err, &fe) {
		var ps []string
		for _, p := range fe.Problems {
			ps = append(ps, p.String())
		}
		if fe.More > 0 {
			ps = append(ps, fmt.Sprintf("and %d more problems", fe.More))
		}
		return reject(ps...)
	}
	if err != nil {
		return nil, fmt.Errorf("feedback %s: %w", key, err)
	}
	rc.Rows = len(labels)

	type k struct {
		id    string
		index int
	}
	want := make(map[k]int, len(labels)) // → position in labels
	for i, l := range labels {
		want[k{l.RequestID, l.Index}] = i
	}
	found := make([]*Joined, len(labels))
	err = predlog.Read(ctx, s.st, s.cfg.MonitoringBucket, model, from, now, predlog.ReadOptions{Workers: min(runtime.GOMAXPROCS(0), 8), OnBad: func(*predlog.DecodeError) error { return nil }},
		func(r predlog.Record) error {
			i, ok := want[k{r.RequestID, r.Index}]
			if !ok || found[i] != nil {
				return nil
			}
			l := labels[i]
			found[i] = &Joined{RequestID: l.RequestID, Index: l.Index, Label: l.Label, Value: l.Value, Time: r.Time.UTC(),
				Version: r.Version, Outputs: r.Outputs, Source: key}
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("feedback %s: read the prediction log: %w", key, err)
	}
	var missing []string
	nMissing := 0
	for i, j := range found {
		if j != nil {
			continue
		}
		nMissing++
		if len(missing) < feedback.MaxProblems {
			l := labels[i]
			missing = append(missing, fmt.Sprintf("line %d: request_id %q index %d: no prediction with this id was logged for %s from %s",
				l.Line, clipMsg(l.RequestID), l.Index, model, rc.Searched))
		}
	}
	if nMissing > 0 {
		if nMissing > len(missing) {
			missing = append(missing, fmt.Sprintf("and %d more labels for requests never logged", nMissing-len(missing)))
		}
		return reject(missing...)
	}
	byDay := map[string][]*Joined{}
	for _, j := range found {
		d := j.Time.Format(dayLayout)
		byDay[d] = append(byDay[d], j)
	}
	for d, js := range byDay {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		for _, j := range js {
			if err := enc.Encode(j); err != nil {
				return nil, fmt.Errorf("feedback %s: %w", key, err)
			}
		}
		_, err := s.st.Create(ctx, s.cfg.MonitoringBucket, labelsKey(model, d, info.LastModified, sha), buf.Bytes(), store.PutOptions{ContentType: "application/x-ndjson"})
		if err != nil && !errors.Is(err, store.ErrPrecondition) {
			return nil, fmt.Errorf("feedback %s: write the labels of %s: %w", key, d, err)
		}
		rc.Days = append(rc.Days, d)
	}
	sort.Strings(rc.Days)
	rc.Accepted, rc.Joined = true, len(found)
	s.log.Info("feedback joined", "key", key, "model", model, "labels", rc.Joined, "days", rc.Days)
	return rc, s.writeReceipt(ctx, rc)
}

// noRuleError: the model has no champion, or one whose target takes no
// labels: the file is refused, not retried.
type noRuleError struct{ msg string }

func (e *noRuleError) Error() string { return e.msg }

// labelRule is the label values the model's champion can be told.
func (s *Service) labelRule(ctx context.Context, model string) (feedback.LabelRule, error) {
	ch, err := s.reg.Champion(ctx, model)
	if errors.Is(err, registry.ErrNotFound) {
		return feedback.LabelRule{}, &noRuleError{fmt.Sprintf("model %s has no versions: labels are checked against the champion's classes", model)}
	}
	if err != nil {
		return feedback.LabelRule{}, fmt.Errorf("model %s: %w", model, err)
	}
	if ch == nil || ch.Version == 0 {
		return feedback.LabelRule{}, &noRuleError{fmt.Sprintf("model %s has no champion: labels are checked against the champion's classes", model)}
	}
	v, err := s.reg.Get(ctx, model, ch.Version)
	if err != nil {
		return feedback.LabelRule{}, fmt.Errorf("model %s: %w", model, err)
	}
	b, err := bundlestore.FetchVerified(ctx, s.st, s.cfg.PlatformBucket, v.BundlePrefix, v.BundleSHA256)
	if err != nil {
		return feedback.LabelRule{}, fmt.Errorf("model %s version %d: %w", model, v.Version, err)
	}
	rule, err := feedback.RuleFor(b.Encoding.Target)
	if err != nil {
		return rule, &noRuleError{fmt.Sprintf("model %s version %d: %v", model, v.Version, err)}
	}
	return rule, nil
}

func (s *Service) receipt(ctx context.Context, model, sha string) (*Receipt, error) {
	b, _, err := s.st.ReadAll(ctx, s.cfg.MonitoringBucket, ReceiptKey(model, sha))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("feedback receipt: %w", err)
	}
	var rc Receipt
	if err := json.Unmarshal(b, &rc); err != nil {
		return nil, fmt.Errorf("feedback receipt %s: %w", ReceiptKey(model, sha), err)
	}
	return &rc, nil
}

func (s *Service) writeReceipt(ctx context.Context, rc *Receipt) error {
	b, err := json.MarshalIndent(rc, "", "  ")
	if err != nil {
		return fmt.Errorf("feedback receipt: %w", err)
	}
	if _, err := s.st.Put(ctx, s.cfg.MonitoringBucket, ReceiptKey(rc.Model, rc.SHA256), b, store.PutOptions{ContentType: "application/json"}); err != nil {
		return fmt.Errorf("feedback receipt: %w", err)
	}
	if !rc.Accepted {
		s.log.Error("feedback rejected", "key", rc.Key, "model", rc.Model, "problems", len(rc.Problems), "first", rc.Problems[0])
	}
	return nil
}

// readLabels streams the joined labels of model's prediction days in w.
func (s *Service) readLabels(ctx context.Context, model string, w Window, fn func(Joined) error) error {
	for d := day(w.From); !d.After(day(w.To)); d = d.AddDate(0, 0, 1) {
		prefix := LabelsPrefix(model) + "dt=" + d.Format(dayLayout) + "/"
		err := s.st.List(ctx, s.cfg.MonitoringBucket, prefix, func(o store.ObjectInfo) error {
			body, _, err := s.st.Get(ctx, s.cfg.MonitoringBucket, o.Key, store.GetOptions{})
			if err != nil {
				return err
			}
			defer body.Close()
			sc := bufio.NewScanner(body)
			sc.Buffer(make([]byte, 64<<10), predlog.MaxLineBytes)
			for line := 1; sc.Scan(); line++ {
				var j Joined
				if err := json.Unmarshal(sc.Bytes(), &j); err != nil {
					return fmt.Errorf("labels %s line %d: %w", o.Key, line, err)
				}
				if err := fn(j); err != nil {
					return err
				}
			}
			return sc.Err()
		})
		if err != nil {
			return fmt.Errorf("labels of %s: %w", model, err)
		}
	}
	return nil
}
