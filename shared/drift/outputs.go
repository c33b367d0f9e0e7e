package drift

import (
	"strings"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/driftstat"
)

// outputs gathers the champion's logged outputs in windows on the test-set
// baseline's bins (prediction drift).
type outputs struct {
	names []string // the log's output names: p_<class> or prediction
	refs  []bundle.OutputDistribution
	wins  []*driftstat.OutputWindow
}

func newOutputs(b *bundle.Bundle) *outputs {
	o := &outputs{}
	for _, d := range b.Baseline.Outputs {
		name := bundle.OutputPrediction
		if strings.HasPrefix(d.Name, "p(") && strings.HasSuffix(d.Name, ")") {
			name = bundle.OutputProbPrefix + d.Name[2:len(d.Name)-1]
		}
		w, err := driftstat.NewOutputWindow(d)
		if err != nil {
			continue // a bundle's baseline is checked at load: this is not reached
		}
		o.names = append(o.names, name)
		o.refs = append(o.refs, d)
		o.wins = append(o.wins, w)
	}
	return o
}

func (o *outputs) add(out map[string]any) {
	for i, name := range o.names {
		v, ok := out[name].(float64)
		if !ok {
			continue
		}
		o.wins[i].Add(v)
	}
}

func (o *outputs) compare() []driftstat.Feature {
	out := make([]driftstat.Feature, 0, len(o.wins))
	for i, w := range o.wins {
		out = append(out, driftstat.CompareOutput(o.refs[i], w))
	}
	return out
}
