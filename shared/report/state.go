package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/openmlops/mlops/reportgen"
	"github.com/openmlops/mlops/shared/store"
)

// StateKey is the publisher's state in the platform bucket. The report
// function owns it: nothing else reads or writes it.
const StateKey = "reports/state.json"

// State is what the publisher knows of the site it last published: the
// SHA-256 of every object it uploaded, so that it uploads only what changed,
// and the index's rows of every model and dataset, so that an event about one
// model re-reads only that model and still renders a complete index.
type State struct {
	// Pages maps a site path (assets included) to the hex SHA-256 of the
	// bytes uploaded there.
	Pages    map[string]string                   `json:"pages"`
	Models   map[string]reportgen.ModelSummary   `json:"models"`
	Datasets map[string]reportgen.DatasetSummary `json:"datasets"`
}

func newState() *State {
	return &State{Pages: map[string]string{}, Models: map[string]reportgen.ModelSummary{},
		Datasets: map[string]reportgen.DatasetSummary{}}
}

// clone copies s deeply enough that an attempt's changes never reach the
// state it started from.
func (s *State) clone() *State {
	c := newState()
	for k, v := range s.Pages {
		c.Pages[k] = v
	}
	for k, v := range s.Models {
		c.Models[k] = v
	}
	for k, v := range s.Datasets {
		c.Datasets[k] = v
	}
	return c
}

// summaries are the index's rows, by name.
func (s *State) summaries() ([]reportgen.ModelSummary, []reportgen.DatasetSummary) {
	ms := make([]reportgen.ModelSummary, 0, len(s.Models))
	for _, m := range s.Models {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Name < ms[j].Name })
	ds := make([]reportgen.DatasetSummary, 0, len(s.Datasets))
	for _, d := range s.Datasets {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Name < ds[j].Name })
	return ms, ds
}

// loadState reads the state and its ETag; a missing state is empty, with
// ETag "" (the next write creates it).
func (s *Service) loadState(ctx context.Context) (*State, string, error) {
	b, info, err := s.st.ReadAll(ctx, s.cfg.PlatformBucket, StateKey)
	if errors.Is(err, store.ErrNotFound) {
		return newState(), "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read report state: %w", err)
	}
	st := newState()
	if err := json.Unmarshal(b, st); err != nil {
		// A damaged state costs one full rebuild, not a stuck function: the
		// state holds nothing that the platform's records do not.
		s.log.Warn("report state unreadable: rebuilding everything", "key", StateKey, "error", err)
		return newState(), info.ETag, nil
	}
	if st.Pages == nil {
		st.Pages = map[string]string{}
	}
	if st.Models == nil {
		st.Models = map[string]reportgen.ModelSummary{}
	}
	if st.Datasets == nil {
		st.Datasets = map[string]reportgen.DatasetSummary{}
	}
	return st, info.ETag, nil
}

// saveState writes st over the version read with etag ("": none was there).
// It fails with store.ErrPrecondition (or ErrNotFound) when another
// invocation wrote first.
func (s *Service) saveState(ctx context.Context, st *State, etag string) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode report state: %w", err)
	}
	opt := store.PutOptions{ContentType: "application/json"}
	if etag == "" {
		_, err = s.st.Create(ctx, s.cfg.PlatformBucket, StateKey, b, opt)
	} else {
		_, err = s.st.Swap(ctx, s.cfg.PlatformBucket, StateKey, etag, b, opt)
	}
	if errors.Is(err, store.ErrPrecondition) || errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%w: %w", errLostRace, err)
	}
	if err != nil {
		return fmt.Errorf("write report state: %w", err)
	}
	return nil
}

// errLostRace: another invocation wrote the state since this one read it.
var errLostRace = errors.New("report state written by another invocation")
