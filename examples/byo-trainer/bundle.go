package main

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The bundle's JSON documents. trainer/README.md names their fields but not
// their exact shapes; these are the shapes the platform accepts.

type headline struct {
	Name  string   `json:"name"`
	Value float64  `json:"value"`
	Lower *float64 `json:"lower"`
	Upper *float64 `json:"upper"`
	Level float64  `json:"level"`
	Reps  int      `json:"replicates"`
}

type calBin struct {
	Lower         float64 `json:"lower"`
	Upper         float64 `json:"upper"`
	Count         int     `json:"count"`
	MeanPredicted float64 `json:"meanPredicted"` // 0 in an empty bin
	FractionPos   float64 `json:"fractionPositive"`
}

type metricsDoc struct {
	Objective       string             `json:"objective"`
	Headline        headline           `json:"headline"`
	Test            map[string]float64 `json:"test"`
	Validation      map[string]float64 `json:"validation"`
	Train           map[string]float64 `json:"train"`
	Calibration     []calBin           `json:"calibration"`
	Threshold       float64            `json:"threshold"`
	Rows            map[string]int     `json:"rows"`
	BestIteration   int                `json:"bestIteration"`
	NumTrees        int                `json:"numTrees"`
	ConfusionMatrix [][]int            `json:"confusionMatrix"`
}

type sliceDoc struct {
	Name    string             `json:"value"`
	Rows    int                `json:"rows"`
	Metrics map[string]float64 `json:"metrics"`
}

type attributeDoc struct {
	Attribute         string     `json:"name"`
	Kind              string     `json:"kind"`
	Slices            []sliceDoc `json:"slices"`
	DemographicParity *float64   `json:"demographicParityDifference"`
	EqualOpportunity  *float64   `json:"equalOpportunityDifference"`
	DisparateImpact   *float64   `json:"disparateImpactRatio"`
}

type gainDoc struct {
	Name string  `json:"name"`
	Gain float64 `json:"gain"`
}

type baselineDoc struct {
	Name      string             `json:"name"`
	Edges     []float64          `json:"edges"`
	Counts    []int              `json:"counts"`
	Quantiles map[string]float64 `json:"quantiles"`
	Mean      float64            `json:"mean"`
	Count     int                `json:"count"`
}

type sampleDoc struct {
	Row    int       `json:"row"`
	Values []string  `json:"values"` // in encoding.json's features order
	Output []float64 `json:"output"`
}

type evaluation struct {
	metrics    metricsDoc
	slices     []attributeDoc
	importance map[string]any
	baseline   []baselineDoc
	samples    []sampleDoc
}

func pick[T any](v []T, idx []int) []T {
	out := make([]T, len(idx))
	for k, i := range idx {
		out[k] = v[i]
	}
	return out
}

func evaluate(p *prepared, m *model, d *dataset, c *contractDoc, cfg *config) *evaluation {
	e := &evaluation{}
	ty, tp := pick(p.y, p.test), pick(m.probs, p.test)
	thr := float32(cfg.threshold)
	mt := &e.metrics
	mt.Test, mt.Validation = binaryMetrics(ty, tp, thr), binaryMetrics(pick(p.y, p.val), pick(m.probs, p.val), thr)
	mt.Train = binaryMetrics(pick(p.y, p.train), pick(m.probs, p.train), thr)
	mt.Threshold, mt.BestIteration, mt.NumTrees = cfg.threshold, m.best, len(m.trees)
	mt.Rows = map[string]int{"train": len(p.train), "validation": len(p.val), "test": len(p.test)}
	mt.Objective, mt.Headline = "binary:logistic", headline{Name: "auc", Value: mt.Test["auc"], Level: 0.95}
	if lo, hi, reps := bootstrapAUC(ty, tp, cfg.seed); reps > 0 {
		mt.Headline.Lower, mt.Headline.Upper, mt.Headline.Reps = &lo, &hi, reps
	}
	fmt.Printf("test auc %.4f\n", mt.Headline.Value)
	mt.ConfusionMatrix = [][]int{{0, 0}, {0, 0}}
	for k, y := range ty {
		mt.ConfusionMatrix[y][b2i(tp[k] >= thr)]++
	}
	for b := range 10 {
		bin := calBin{Lower: float64(b) / 10, Upper: float64(b+1) / 10}
		var sp, sy float64
		for k, pr := range tp {
			if min(int(pr*10), 9) == b {
				bin.Count++
				sp += float64(pr)
				sy += float64(ty[k])
			}
		}
		if bin.Count > 0 {
			bin.MeanPredicted, bin.FractionPos = sp/float64(bin.Count), sy/float64(bin.Count)
		}
		mt.Calibration = append(mt.Calibration, bin)
	}

	for _, name := range c.Sensitive {
		if a, ok := sliceAttribute(name, p, m, d, c, thr); ok {
			e.slices = append(e.slices, a)
		}
	}

	gain := make([]float64, len(p.columns))
	for _, t := range m.trees {
		for n, l := range t.left {
			if l >= 0 {
				gain[t.feat[n]] += t.gain[n]
			}
		}
	}
	var cols, feats []gainDoc
	for j, name := range p.columns {
		cols = append(cols, gainDoc{name, gain[j]})
	}
	for _, f := range p.feats {
		var s float64
		for k := range max(1, len(f.cats)) {
			s += gain[f.first+k]
		}
		feats = append(feats, gainDoc{f.Name, s})
	}
	desc := func(a, b gainDoc) int {
		return cmp.Or(cmp.Compare(b.Gain, a.Gain), cmp.Compare(a.Name, b.Name))
	}
	slices.SortFunc(cols, desc)
	slices.SortFunc(feats, desc)
	e.importance = map[string]any{"type": "total_gain", "columns": cols, "features": feats}

	base := baselineDoc{Name: "p(" + p.positive + ")", Counts: make([]int, 20), Quantiles: map[string]float64{}, Count: len(tp)}
	for b := range 21 {
		base.Edges = append(base.Edges, float64(b)/20)
	}
	sorted := make([]float64, len(tp))
	for k, pr := range tp {
		base.Counts[min(int(pr*20), 19)]++
		base.Mean += float64(pr) / float64(len(tp))
		sorted[k] = float64(pr)
	}
	slices.Sort(sorted)
	for _, q := range []float64{0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99} {
		base.Quantiles[strconv.FormatFloat(q, 'f', -1, 64)] = quantile(sorted, q)
	}
	e.baseline = []baselineDoc{base}

	// Samples: test rows with a missing feature value first (up to half), then the others.
	var withMissing, complete []int
	for _, i := range p.test {
		missing := slices.ContainsFunc(p.feats, func(f *feature) bool { return d.rows[p.rows[i]][f.at] == "" })
		if missing && len(withMissing) < 100 {
			withMissing = append(withMissing, i)
		} else if !missing {
			complete = append(complete, i)
		}
	}
	chosen := append(withMissing, complete[:min(len(complete), 200-len(withMissing))]...)
	for _, i := range chosen {
		s := sampleDoc{Row: p.rows[i], Output: []float64{float64(m.probs[i])}}
		for _, f := range p.feats {
			s.Values = append(s.Values, d.rows[p.rows[i]][f.at])
		}
		e.samples = append(e.samples, s)
	}
	return e
}

// sliceAttribute reports the test metrics per value (categorical) or per
// quartile band (numeric) of a sensitive attribute, then its missing slice.
func sliceAttribute(name string, p *prepared, m *model, d *dataset, c *contractDoc, thr float32) (attributeDoc, bool) {
	a := attributeDoc{Attribute: name, Kind: "numeric"}
	col, at, err := findColumn(c, d, name, "sensitive attribute")
	if err != nil {
		fmt.Printf("slices: %v; skipped\n", err)
		return a, false
	}
	f := &feature{column: *col}
	groups := map[string][]int{}
	var names []string
	switch col.Type {
	case "category", "string", "boolean":
		a.Kind = "categorical"
		for _, i := range p.test {
			v := d.rows[p.rows[i]][at]
			if col.Type == "boolean" && v != "" {
				v = normBool(v)
			}
			groups[cmp.Or(v, "missing")] = append(groups[cmp.Or(v, "missing")], i)
		}
		// The contract's allowed order, then the other values sorted.
		for _, v := range col.Allowed {
			names = append(names, fmt.Sprint(v))
		}
		var others []string
		for v := range groups {
			if v != "missing" && !slices.Contains(names, v) {
				others = append(others, v)
			}
		}
		slices.Sort(others)
		names = append(names, others...)
	default:
		var vals []float64
		for _, i := range p.test {
			if v, ok := f.value(d.rows[p.rows[i]][at]); ok {
				vals = append(vals, v)
			}
		}
		slices.Sort(vals)
		var edges []float64
		if len(vals) > 0 {
			lo, hi := vals[0], vals[len(vals)-1]
			unit := roundUnit((hi - lo) / 8)
			edges = []float64{math.Floor(lo/unit) * unit}
			for _, q := range []float64{0.25, 0.5, 0.75} {
				if e := math.Round(quantile(vals, q)/unit) * unit; e > edges[len(edges)-1] && e <= hi {
					edges = append(edges, e)
				}
			}
			edges = append(edges, (math.Floor(hi/unit)+1)*unit)
		}
		for k := 0; k+1 < len(edges); k++ {
			names = append(names, fmt.Sprintf("[%s, %s)", fmtNum(edges[k]), fmtNum(edges[k+1])))
		}
		for _, i := range p.test {
			v, ok := f.value(d.rows[p.rows[i]][at])
			key := "missing"
			if ok && d.rows[p.rows[i]][at] != "" {
				k := 0
				for k+1 < len(names) && v >= edges[k+1] {
					k++
				}
				key = names[k]
			}
			groups[key] = append(groups[key], i)
		}
	}
	names = append(names, "missing")
	var rates, tprs []float64
	for _, n := range names {
		idx := groups[n]
		if len(idx) == 0 { // a slice with no test rows is left out
			continue
		}
		met := binaryMetrics(pick(p.y, idx), pick(m.probs, idx), thr)
		pos := 0
		for _, i := range idx {
			pos += b2i(m.probs[i] >= thr)
		}
		met["positive_rate"] = float64(pos) / float64(len(idx))
		recall, hasPositives := met["recall"]
		if hasPositives {
			met["tpr"] = recall
		}
		if len(idx) >= 10 {
			rates = append(rates, met["positive_rate"])
			if hasPositives {
				tprs = append(tprs, recall)
			}
		}
		a.Slices = append(a.Slices, sliceDoc{Name: n, Rows: len(idx), Metrics: met})
	}
	if len(rates) >= 2 {
		lo, hi := slices.Min(rates), slices.Max(rates)
		dp := hi - lo
		a.DemographicParity = &dp
		if hi > 0 {
			di := lo / hi
			a.DisparateImpact = &di
		}
	}
	if len(tprs) >= 2 {
		eo := slices.Max(tprs) - slices.Min(tprs)
		a.EqualOpportunity = &eo
	}
	return a, true
}

func featureNames(p *prepared) []string {
	var names []string
	for _, f := range p.feats {
		names = append(names, f.Name)
	}
	return names
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// roundUnit is the largest 1, 2 or 5 × 10ᵏ not above x (1 for x ≤ 0).
func roundUnit(x float64) float64 {
	if x <= 0 {
		return 1
	}
	u := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{5, 2} {
		if m*u <= x {
			return m * u
		}
	}
	return u
}

// quantile of sorted values, linear interpolation (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// aucOf is the Mann-Whitney AUC, ties counting half; false with one class.
func aucOf(y []int, p []float32) (float64, bool) {
	idx := make([]int, len(y))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(p[a], p[b]) })
	var rankPos float64
	npos := 0
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && p[idx[j]] == p[idx[i]] {
			j++
		}
		rank := float64(i+j+1) / 2 // average of ranks i+1 … j
		for k := i; k < j; k++ {
			if y[idx[k]] == 1 {
				rankPos += rank
				npos++
			}
		}
		i = j
	}
	nneg := len(y) - npos
	if npos == 0 || nneg == 0 {
		return 0, false
	}
	return (rankPos - float64(npos)*float64(npos+1)/2) / (float64(npos) * float64(nneg)), true
}

func binaryMetrics(y []int, p []float32, thr float32) map[string]float64 {
	out := map[string]float64{}
	if len(y) == 0 {
		return out
	}
	if auc, ok := aucOf(y, p); ok {
		out["auc"] = auc
	}
	var ll, brier float64
	tp, fp, fn, correct := 0, 0, 0, 0
	for i, pr := range p {
		q := math.Min(math.Max(float64(pr), 1e-15), 1-1e-15)
		t := float64(y[i])
		ll -= t*math.Log(q) + (1-t)*math.Log(1-q)
		brier += (float64(pr) - t) * (float64(pr) - t)
		pred := pr >= thr
		correct += b2i(pred == (y[i] == 1))
		tp += b2i(pred && y[i] == 1)
		fp += b2i(pred && y[i] == 0)
		fn += b2i(!pred && y[i] == 1)
	}
	n := float64(len(y))
	out["log_loss"], out["brier"], out["accuracy"] = ll/n, brier/n, float64(correct)/n
	out["precision"] = 0
	if tp+fp > 0 {
		out["precision"] = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		out["recall"] = float64(tp) / float64(tp+fn)
		out["f1"] = 0
		if s := out["precision"] + out["recall"]; s > 0 {
			out["f1"] = 2 * out["precision"] * out["recall"] / s
		}
	}
	return out
}

// bootstrapAUC: the percentile 95% interval of 1,000 seeded resamples (those
// with both classes), and how many there were.
func bootstrapAUC(y []int, p []float32, seed int64) (lo, hi float64, reps int) {
	if len(y) == 0 {
		return 0, 0, 0
	}
	state := uint64(seed) ^ 0x5bd1e995
	var aucs []float64
	by, bp := make([]int, len(y)), make([]float32, len(y))
	for range 1000 {
		for k := range y {
			state = state*6364136223846793005 + 1442695040888963407
			i := int((state >> 33) % uint64(len(y)))
			by[k], bp[k] = y[i], p[i]
		}
		if a, ok := aucOf(by, bp); ok {
			aucs = append(aucs, a)
		}
	}
	if len(aucs) == 0 {
		return 0, 0, 0
	}
	slices.Sort(aucs)
	return quantile(aucs, 0.025), quantile(aucs, 0.975), len(aucs)
}

// f32 is a float in XGBoost's JSON: its parser tells integers from numbers
// by their spelling, and refuses a float field written as a bare integer, so
// 1 is written 1.0. The shortest float32 spelling is exact: it parses back to
// the same float32.
type f32 float32

func (v f32) MarshalJSON() ([]byte, error) {
	s := strconv.FormatFloat(float64(v), 'g', -1, 32)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return []byte(s), nil
}

// xgbModel is the subset of XGBoost 1.7's JSON model this trainer writes.
func xgbModel(p *prepared, m *model) any {
	var trees []any
	for id, t := range m.trees {
		n := len(t.left)
		parents, defLeft, idx, splitType := make([]int, n), make([]int, n), make([]int, n), make([]int, n)
		base, loss, hess, cond := make([]f32, n), make([]f32, n), make([]f32, n), make([]f32, n)
		for k := range n {
			parents[k] = t.parent[k]
			if k == 0 {
				parents[k] = math.MaxInt32
			}
			if t.left[k] >= 0 {
				defLeft[k], idx[k], loss[k] = b2i(t.defLeft[k]), t.feat[k], f32(t.gain[k])
			}
			base[k], hess[k], cond[k] = f32(t.weight[k]), f32(t.hess[k]), f32(t.cond[k])
		}
		trees = append(trees, map[string]any{
			"base_weights": base, "categories": []int{}, "categories_nodes": []int{}, "categories_segments": []int{},
			"categories_sizes": []int{}, "default_left": defLeft, "id": id, "left_children": t.left,
			"loss_changes": loss, "parents": parents, "right_children": t.right, "split_conditions": cond,
			"split_indices": idx, "split_type": splitType, "sum_hessian": hess,
			"tree_param": map[string]string{"num_deleted": "0", "num_feature": strconv.Itoa(len(p.columns)),
				"num_nodes": strconv.Itoa(n), "size_leaf_vector": "0"},
		})
	}
	types := make([]string, len(p.columns))
	for j := range types {
		types[j] = "float"
	}
	return map[string]any{
		"learner": map[string]any{
			"attributes": map[string]string{}, "feature_names": p.columns, "feature_types": types,
			"gradient_booster": map[string]any{"name": "gbtree", "model": map[string]any{
				"gbtree_model_param": map[string]string{"num_parallel_tree": "1", "num_trees": strconv.Itoa(len(trees))},
				"tree_info":          make([]int, len(trees)), "trees": trees}},
			"learner_model_param": map[string]string{"base_score": "5E-1", "boost_from_average": "1", "num_class": "0",
				"num_feature": strconv.Itoa(len(p.columns)), "num_target": "1"},
			"objective": map[string]any{"name": "binary:logistic", "reg_loss_param": map[string]string{"scale_pos_weight": "1"}},
		},
		"version": []int{1, 7, 6},
	}
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

type fileEntry struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Bytes  int    `json:"bytes"`
}

func writeBundle(o options, c *contractDoc, s *specDoc, cfg *config, d *dataset, p *prepared, m *model,
	contractRaw, specRaw []byte, times []time.Time) error {
	e := evaluate(p, m, d, c, cfg)
	times = append(times, time.Now())
	var files []fileEntry
	write := func(name string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		b = append(b, '\n')
		files = append(files, fileEntry{name, sha(b), len(b)})
		return os.WriteFile(outPath(o.output, name), b, 0o644)
	}
	var feats []map[string]any
	for _, f := range p.feats {
		ef := map[string]any{"name": f.Name, "kind": f.kind}
		if f.kind == "timestamp" {
			ef["format"] = f.Format
		}
		if f.kind == "onehot" {
			ef["categories"], ef["unseen"] = f.cats, "missing"
		}
		feats = append(feats, ef)
	}
	testRows := pick(p.rows, p.test)
	docs := []struct {
		name string
		v    any
	}{
		{"model.json", xgbModel(p, m)},
		{"encoding.json", map[string]any{"features": feats, "columns": p.columns, "threshold": cfg.threshold,
			"target": map[string]any{"column": p.target, "kind": "binary", "classes": p.classes, "positiveClass": p.positive}}},
		{"metrics.json", e.metrics},
		{"slices.json", map[string]any{"attributes": e.slices}},
		{"importance.json", e.importance},
		{"predictions.json", map[string]any{"outputs": e.baseline}},
		{"samples.json", map[string]any{"columns": featureNames(p), "rows": e.samples}},
		{"test_rows.json", map[string]any{"datasetVersion": o.datasetVersion, "seed": cfg.seed, "rows": testRows}},
	}
	for _, doc := range docs {
		if err := write(doc.name, doc.v); err != nil {
			return err
		}
	}
	now := time.Now()
	secs := func(a, b time.Time) float64 { return b.Sub(a).Seconds() }
	lineage := map[string]any{
		"runId": o.runID, "model": s.Name, "dataset": c.Dataset, "datasetVersion": o.datasetVersion,
		"contractHash": sha(contractRaw), "specHash": sha(specRaw), "dataSha256": d.hashes, "trainer": o.trainer,
		"params": cfg.given, "numBoostRound": cfg.rounds, "seed": cfg.seed,
		"libraries": map[string]string{"go": runtime.Version(), "learner": "byo-trainer gbt.go"},
		"device":    "cpu", "treeMethod": "exact", "startedAt": times[0].UTC().Format(time.RFC3339Nano),
		"finishedAt": now.UTC().Format(time.RFC3339Nano),
		"durationsSeconds": map[string]float64{"load": secs(times[0], times[1]), "encode": secs(times[1], times[2]),
			"train": secs(times[2], times[3]), "evaluate": secs(times[3], times[4]), "write": secs(times[4], now)},
	}
	if err := write("lineage.json", lineage); err != nil {
		return err
	}
	slices.SortFunc(files, func(a, b fileEntry) int { return cmp.Compare(a.Path, b.Path) })
	manifest := map[string]any{"format": "mlops-bundle/1", "runId": o.runID, "model": s.Name,
		"objective": s.Objective, "createdAt": now.UTC().Format(time.RFC3339), "files": files}
	files = nil
	if err := write("manifest.json", manifest); err != nil {
		return err
	}
	if variant == "corrupt" { // one byte of model.json changes after the manifest recorded its hash
		path := outPath(o.output, "model.json")
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		i := bytes.Index(b, []byte(`"base_score":"5E-1"`))
		if i < 0 {
			return fmt.Errorf("model.json: no base_score to corrupt")
		}
		b[i+len(`"base_score":"`)] = '4' // still valid JSON, another model
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("bundle written to %s\n", o.output)
	return nil
}
