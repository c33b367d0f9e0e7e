package drift

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openmlops/mlops/shared/event"
	"github.com/openmlops/mlops/shared/hashid"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/store"
)

// announcedKey marks a report's bytes as announced: a rerun that writes the
// same report does not announce it again.
func announcedKey(model, sha string) string { return Prefix(model) + "announced/" + sha + ".json" }

// retrainKey marks the retraining a day's report asked for: the cooldown is
// counted from these.
func retrainKey(model string, day time.Time) string {
	return Prefix(model) + "retrain/" + day.Format(dayLayout) + ".json"
}

// announce publishes Drift Detected for a report, once per report bytes: the
// marker is written after the event went out, so a crash in between
// publishes it again (at least once), never not at all.
func (s *Service) announce(ctx context.Context, rep *Report, key string, body []byte) (bool, error) {
	sha := hashid.Of(body)
	mk := announcedKey(rep.Model, sha)
	_, _, err := s.st.ReadAll(ctx, s.cfg.MonitoringBucket, mk)
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("drift %s: read %s: %w", rep.Model, mk, err)
	}
	// PutEvents takes 256 KB an entry: the lists are clipped, the report
	// holds them whole.
	d := event.DriftDetectedDetail{SchemaVersion: event.SchemaVersion, Model: rep.Model, Version: rep.Version,
		Window: rep.Window.From + "/" + rep.Window.To, Bucket: s.cfg.MonitoringBucket, ReportKey: key, ReportSHA256: sha,
		DriftedFeatures: clipList(rep.Verdict.DriftedFeatures, 50), Alerts: clipList(rep.Alerts, 20)}
	for i, a := range d.Alerts {
		d.Alerts[i] = clipMsg(a)
	}
	if rep.Retrain != nil && rep.Retrain.Requested {
		d.RetrainRequestID = rep.Retrain.RequestID
	}
	if err := s.pub.Publish(ctx, event.Event{Source: event.Source, DetailType: event.DriftDetected, Detail: d}); err != nil {
		return false, fmt.Errorf("drift %s: announce: %w", rep.Model, err)
	}
	mark, _ := json.Marshal(map[string]string{"reportKey": key, "reportSha256": sha})
	if _, err := s.st.Create(ctx, s.cfg.MonitoringBucket, mk, mark, store.PutOptions{ContentType: "application/json"}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return true, fmt.Errorf("drift %s: mark announced: %w", rep.Model, err)
	}
	return true, nil
}

// retrain asks for a retraining of a drifted model when its policy enables
// it, unless another day's report asked within the cooldown. The request's
// ID is the model and the window's last day, so a rerun of the day asks
// again with the same ID, which the train function answers once.
func (s *Service) retrain(ctx context.Context, rep *Report, w Window, r *policy.DriftRetrain) (*Retrain, error) {
	if r == nil || !r.Enabled {
		return &Retrain{Reason: "the policy does not enable retraining on drift (drift.retrain.enabled)"}, nil
	}
	last := day(w.To)
	cooldown := r.Cooldown()
	var recent string
	// Another day's request within the cooldown on either side stops this
	// one: days are run in any order (a backfill runs earlier days later).
	err := s.st.List(ctx, s.cfg.MonitoringBucket, Prefix(rep.Model)+"retrain/", func(o store.ObjectInfo) error {
		name := strings.TrimSuffix(o.Key[strings.LastIndexByte(o.Key, '/')+1:], ".json")
		d, err := ParseDay(name)
		if err != nil || d.Equal(last) {
			return nil
		}
		gap := last.Sub(d)
		if gap < 0 {
			gap = -gap
		}
		if gap < time.Duration(cooldown)*24*time.Hour && recent == "" {
			recent = name
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("drift %s: read the retrain markers: %w", rep.Model, err)
	}
	if recent != "" {
		return &Retrain{Reason: fmt.Sprintf("cooldown: the report of %s asked for a retraining, and the policy allows one per %d days", recent, cooldown)}, nil
	}
	id := "drift-" + rep.Model + "-" + last.Format(dayLayout)
	d := event.RetrainRequestedDetail{SchemaVersion: event.SchemaVersion, RequestID: id, Model: rep.Model,
		Reason: clipMsg("drift: " + strings.Join(rep.Alerts, "; ")), Principal: "drift"}
	// The request goes out before its marker: a marker without its request
	// would hold the cooldown for a retraining nobody asked for. A rerun
	// asks again under the same ID, which the train function answers once.
	if err := s.pub.Publish(ctx, event.Event{Source: event.Source, DetailType: event.RetrainRequested, Detail: d}); err != nil {
		return nil, fmt.Errorf("drift %s: request retraining: %w", rep.Model, err)
	}
	mark, _ := json.Marshal(map[string]string{"requestId": id, "window": w.String()})
	if _, err := s.st.Create(ctx, s.cfg.MonitoringBucket, retrainKey(rep.Model, last), mark, store.PutOptions{ContentType: "application/json"}); err != nil &&
		!errors.Is(err, store.ErrPrecondition) {
		return nil, fmt.Errorf("drift %s: mark the retrain request: %w", rep.Model, err)
	}
	return &Retrain{Requested: true, RequestID: id}, nil
}
