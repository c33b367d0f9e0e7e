package main

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// prepared is the labelled data, split and encoded.
type prepared struct {
	target, positive string
	targetType       string
	classes          []string // [negative, positive]
	feats            []*feature
	columns          []string
	rows             []int       // the dataset row number of each labelled row
	y                []int       // 1: positive
	x                [][]float32 // the encoded feature vector of each labelled row
	train, val, test []int       // indices into rows, ascending
}

func findColumn(c *contractDoc, d *dataset, name, what string) (*column, int, error) {
	i := slices.IndexFunc(c.Columns, func(col column) bool { return col.Name == name })
	if i < 0 {
		return nil, 0, badInput("%s %q is not in the contract", what, name)
	}
	at := slices.Index(d.header, name)
	if at < 0 {
		return nil, 0, badInput("%s %q is not in the data's header", what, name)
	}
	return &c.Columns[i], at, nil
}

func normBool(s string) string {
	switch strings.ToLower(s) {
	case "true", "1", "yes":
		return "true"
	case "false", "0", "no":
		return "false"
	}
	return s
}

func prepare(c *contractDoc, s *specDoc, cfg *config, d *dataset) (*prepared, error) {
	p := &prepared{target: cmp.Or(s.Target.Column, c.Target), positive: s.Target.PositiveClass}
	if p.target == "" {
		return nil, badInput("no target: neither the spec nor the contract names one")
	}
	tc, ti, err := findColumn(c, d, p.target, "target")
	if err != nil {
		return nil, err
	}
	p.targetType = tc.Type
	if p.positive == "" {
		return nil, badInput("binary:logistic needs target.positiveClass")
	}
	if tc.Type == "boolean" {
		p.positive = normBool(p.positive)
	}
	var labels []string
	for r, rec := range d.rows {
		v := rec[ti]
		if v == "" {
			continue
		}
		if tc.Type == "boolean" {
			v = normBool(v)
		}
		p.rows = append(p.rows, r)
		labels = append(labels, v)
	}
	fmt.Printf("%d rows with a target, %d without (left out)\n", len(p.rows), len(d.rows)-len(p.rows))
	distinct := slices.Compact(slices.Sorted(slices.Values(labels)))
	if len(distinct) != 2 || !slices.Contains(distinct, p.positive) {
		return nil, badInput("target %q: want exactly two classes, one of them %q; the data has %q", p.target, p.positive, distinct)
	}
	p.classes = []string{distinct[0], p.positive}
	if distinct[0] == p.positive {
		p.classes[0] = distinct[1]
	}
	for _, l := range labels {
		p.y = append(p.y, b2i(l == p.positive))
	}
	p.train, p.val, p.test = stratify(p.y, cfg)
	if len(p.train) == 0 || len(p.test) == 0 {
		return nil, badInput("%d rows make no training and test split", len(p.rows))
	}
	fmt.Printf("split: %d train, %d validation, %d test\n", len(p.train), len(p.val), len(p.test))

	for _, name := range c.Features {
		if name == p.target {
			continue
		}
		col, at, err := findColumn(c, d, name, "feature")
		if err != nil {
			return nil, err
		}
		f := &feature{column: *col, at: at, first: len(p.columns)}
		switch col.Type {
		case "number", "integer":
			f.kind = "numeric"
		case "boolean", "timestamp":
			f.kind = col.Type
		case "category", "string":
			f.kind = "onehot"
			f.cats, err = categories(f, d, p)
			if err != nil {
				return nil, err
			}
		default:
			return nil, badInput("feature %q: unknown type %q", name, col.Type)
		}
		if f.kind == "onehot" {
			for _, cat := range f.cats {
				p.columns = append(p.columns, name+"="+cat)
			}
		} else {
			p.columns = append(p.columns, name)
		}
		p.feats = append(p.feats, f)
	}
	if len(p.feats) == 0 {
		return nil, badInput("no features")
	}
	seen := map[string]bool{}
	for _, col := range p.columns {
		if seen[col] {
			return nil, badInput("two model columns are named %q", col)
		}
		seen[col] = true
	}
	p.x = make([][]float32, len(p.rows))
	for i, r := range p.rows {
		p.x[i] = make([]float32, len(p.columns))
		for _, f := range p.feats {
			if !f.encode(d.rows[r][f.at], p.x[i]) {
				val := fmt.Sprintf("%q", d.rows[r][f.at])
				if f.PII {
					val = "(withheld: PII)"
				}
				return nil, badInput("%s: column %q: not a valid %s: %s", d.where[r], f.Name, f.Type, val)
			}
		}
	}
	for _, f := range p.feats {
		width := max(1, len(f.cats))
		has := func(idx []int) bool {
			for _, i := range idx {
				for k := range width {
					if v := p.x[i][f.first+k]; v == v {
						return true
					}
				}
			}
			return false
		}
		if f.kind == "onehot" && len(f.cats) == 0 || !has(p.train) {
			return nil, badInput("feature %q has no usable value in the training split", f.Name)
		}
	}
	return p, nil
}

// categories: the contract's allowed list, else the values of the training
// split, most frequent first (ties by value), at most 100.
func categories(f *feature, d *dataset, p *prepared) ([]string, error) {
	if len(f.Allowed) > 0 {
		var cats []string
		for _, a := range f.Allowed {
			s, ok := a.(string)
			if !ok {
				return nil, badInput("feature %q: allowed value %v is not a string", f.Name, a)
			}
			cats = append(cats, s)
		}
		return cats, nil
	}
	count := map[string]int{}
	for _, i := range p.train {
		if v := d.rows[p.rows[i]][f.at]; v != "" {
			count[v]++
		}
	}
	cats := slices.Collect(func(yield func(string) bool) {
		for k := range count {
			if !yield(k) {
				return
			}
		}
	})
	slices.SortFunc(cats, func(a, b string) int { return cmp.Or(count[b]-count[a], strings.Compare(a, b)) })
	return cats[:min(len(cats), 100)], nil
}

// stratify splits each class apart: shuffled with a seeded splitmix64
// Fisher-Yates (not numpy's PCG64: the contract records the test rows, it does
// not ask a trainer to reproduce the reference trainer's shuffle), the first
// round(n·test) to test, the next round(n·validation) to validation.
func stratify(y []int, cfg *config) (train, val, test []int) {
	state := uint64(cfg.seed)
	next := func() uint64 {
		state += 0x9e3779b97f4a7c15
		z := state
		z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
		z = (z ^ z>>27) * 0x94d049bb133111eb
		return z ^ z>>31
	}
	for class := range 2 {
		var idx []int
		for i, v := range y {
			if v == class {
				idx = append(idx, i)
			}
		}
		for i := len(idx) - 1; i > 0; i-- {
			j := int(next() % uint64(i+1))
			idx[i], idx[j] = idx[j], idx[i]
		}
		n := float64(len(idx))
		nt, nv := int(math.RoundToEven(n*cfg.test)), int(math.RoundToEven(n*cfg.validation))
		nv = min(nv, len(idx)-nt)
		test = append(test, idx[:nt]...)
		val = append(val, idx[nt:nt+nv]...)
		train = append(train, idx[nt+nv:]...)
	}
	slices.Sort(train)
	slices.Sort(val)
	slices.Sort(test)
	return train, val, test
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
