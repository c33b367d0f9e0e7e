// Command byo-trainer is a bring-your-own trainer for the platform, written
// from trainer/README.md alone: Go, the standard library, and a small
// gradient-boosted tree learner of its own (gbt.go) in place of XGBoost. It
// exists to show that the container contract is the whole interface; see
// README.md in this folder.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// variant makes a deliberately broken build for the platform's tests:
// -ldflags "-X main.variant=corrupt" alters model.json after the manifest,
// "-X main.variant=badinput" refuses every input with exit code 2.
var variant string

// failure is an error with the contract's exit code and error.json kind.
type failure struct {
	code int
	kind string
	msg  string
}

func (f *failure) Error() string { return f.msg }

func badInput(format string, a ...any) error {
	return &failure{2, "bad_input", fmt.Sprintf(format, a...)}
}

type options struct{ data, contract, spec, output, runID, datasetVersion, trainer string }

func main() {
	var o options
	fs := flag.NewFlagSet("byo-trainer", flag.ContinueOnError)
	for _, f := range []struct {
		p    *string
		name string
	}{{&o.data, "data"}, {&o.contract, "contract"}, {&o.spec, "spec"}, {&o.output, "output"},
		{&o.runID, "run-id"}, {&o.datasetVersion, "dataset-version"}, {&o.trainer, "trainer"}} {
		fs.StringVar(f.p, f.name, "", "see trainer/README.md")
	}
	if err := fs.Parse(os.Args[1:]); err != nil || o.output == "" || o.data == "" || o.contract == "" || o.spec == "" {
		fmt.Fprintln(os.Stderr, "byo-trainer: --data, --contract, --spec and --output are required")
		os.Exit(1)
	}
	// A Go panic exits with status 2, which the contract reads as bad input
	// (do not retry): a bug must be exit code 1, kind internal.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "%v\n%s", r, debug.Stack())
			fail(o.output, &failure{1, "internal", fmt.Sprintf("panic: %v", r)})
		}
	}()
	if err := run(o); err != nil {
		var f *failure
		if !errors.As(err, &f) {
			f = &failure{1, "internal", err.Error()}
		}
		fail(o.output, f)
	}
}

// fail writes error.json and the same line to stderr, and exits with f's code.
func fail(output string, f *failure) {
	line := strings.ReplaceAll(f.msg, "\n", " ")
	fmt.Fprintln(os.Stderr, "byo-trainer:", line)
	b, _ := json.Marshal(map[string]string{"error": line, "kind": f.kind})
	_ = os.WriteFile(outPath(output, "error.json"), append(b, '\n'), 0o644)
	os.Exit(f.code)
}

func outPath(dir, name string) string { return strings.TrimSuffix(dir, "/") + "/" + name }

// readLocal reads a staged input. This demonstration takes local paths only:
// the local runner stages s3:// inputs and uploads the output folder.
func readLocal(uri string) ([]byte, error) {
	if strings.HasPrefix(uri, "s3://") {
		return nil, fmt.Errorf("%s: this trainer reads local paths only (it has no S3 client)", uri)
	}
	return os.ReadFile(uri)
}

type column struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Allowed []any  `json:"allowed"`
	Format  string `json:"format"`
	PII     bool   `json:"pii"`
}

type contractDoc struct {
	Dataset   string   `json:"dataset"`
	Columns   []column `json:"columns"`
	Target    string   `json:"target"`
	Features  []string `json:"features"`
	Sensitive []string `json:"sensitive"`
}

type specDoc struct {
	Name   string `json:"name"`
	Target struct {
		Column        string `json:"column"`
		PositiveClass string `json:"positiveClass"`
	} `json:"target"`
	Objective           string         `json:"objective"`
	Params              map[string]any `json:"params"`
	NumBoostRound       int            `json:"numBoostRound"`
	EarlyStoppingRounds *int           `json:"earlyStoppingRounds"`
	Threshold           float64        `json:"threshold"`
	Split               struct {
		Validation float64 `json:"validation"`
		Test       float64 `json:"test"`
		Seed       *int64  `json:"seed"`
	} `json:"split"`
}

// feature encodes one contract feature into one or more model columns.
type feature struct {
	column
	kind  string // numeric, boolean, timestamp, onehot
	at    int    // index in the CSV header
	cats  []string
	first int // its first model column
}

var (
	numberRE  = regexp.MustCompile(`^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	integerRE = regexp.MustCompile(`^[+-]?[0-9]+$`)
)

// value parses a non-empty cell of a numeric, boolean or timestamp feature.
func (f *feature) value(s string) (float64, bool) {
	switch f.Type {
	case "number":
		if !numberRE.MatchString(s) {
			return 0, false
		}
		v, err := strconv.ParseFloat(s, 64)
		return v, err == nil && !math.IsInf(float64(float32(v)), 0)
	case "integer":
		if !integerRE.MatchString(s) {
			return 0, false
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return float64(v), err == nil
	case "boolean":
		switch strings.ToLower(s) {
		case "true", "1", "yes":
			return 1, true
		case "false", "0", "no":
			return 0, true
		}
		return 0, false
	case "timestamp":
		layout := f.Format
		if layout == "" {
			layout = time.RFC3339Nano
		}
		t, err := time.Parse(layout, s)
		return float64(t.Unix()) + float64(t.Nanosecond())/1e9, err == nil
	}
	return 0, false
}

// encode writes the feature's columns of one row into x (NaN: missing).
func (f *feature) encode(s string, x []float32) bool {
	if f.kind == "onehot" {
		k := slices.Index(f.cats, s)
		for i := range f.cats {
			switch {
			case s == "" || k < 0:
				x[f.first+i] = float32(math.NaN())
			case i == k:
				x[f.first+i] = 1
			default:
				x[f.first+i] = 0
			}
		}
		return true
	}
	if s == "" {
		x[f.first] = float32(math.NaN())
		return true
	}
	v, ok := f.value(s)
	x[f.first] = float32(v)
	return ok
}

type dataset struct {
	header []string
	rows   [][]string
	where  []string // file:line of each row, for messages
	hashes []string // SHA-256 of each partition as read
}

func readData(uris []string) (*dataset, error) {
	d := &dataset{}
	for _, uri := range uris {
		raw, err := readLocal(uri)
		if err != nil {
			return nil, err
		}
		d.hashes = append(d.hashes, sha(raw))
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, badInput("%s: not gzip: %v", uri, err)
		}
		r := csv.NewReader(zr)
		header, err := r.Read()
		if err != nil {
			return nil, badInput("%s: no header: %v", uri, err)
		}
		if d.header == nil {
			d.header = header
		} else if !slices.Equal(header, d.header) {
			return nil, badInput("%s: header differs from the first partition's", uri)
		}
		for {
			rec, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, badInput("%s: %v", uri, err)
			}
			line, _ := r.FieldPos(0)
			d.rows = append(d.rows, rec)
			d.where = append(d.where, fmt.Sprintf("%s:%d", uri, line))
		}
	}
	if len(d.rows) == 0 {
		return nil, badInput("no rows")
	}
	return d, nil
}

func run(o options) error {
	start := time.Now()
	for _, stale := range []string{"manifest.json", "error.json"} {
		if err := os.Remove(outPath(o.output, stale)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	if err := os.MkdirAll(o.output, 0o755); err != nil {
		return err
	}
	if variant == "badinput" {
		return badInput("this build refuses every input (variant=badinput, a test of exit code 2)")
	}
	var c contractDoc
	var s specDoc
	contractRaw, err := readLocal(o.contract)
	if err != nil {
		return err
	}
	specRaw, err := readLocal(o.spec)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(contractRaw, &c); err != nil {
		return badInput("contract %s: %v", o.contract, err)
	}
	if err := json.Unmarshal(specRaw, &s); err != nil {
		return badInput("spec %s: %v", o.spec, err)
	}
	cfg, err := configure(&s)
	if err != nil {
		return err
	}
	d, err := readData(strings.Split(o.data, ","))
	if err != nil {
		return err
	}
	fmt.Printf("read %d rows from %d partition(s)\n", len(d.rows), len(d.hashes))
	loaded := time.Now()

	p, err := prepare(&c, &s, cfg, d)
	if err != nil {
		return err
	}
	encoded := time.Now()
	m := train(p, cfg)
	trained := time.Now()
	return writeBundle(o, &c, &s, cfg, d, p, m, contractRaw, specRaw, []time.Time{start, loaded, encoded, trained})
}

type config struct {
	params        params
	rounds, early int
	threshold     float64
	validation    float64
	test          float64
	seed          int64
	given         map[string]any // the params this trainer used
}

// configure applies the spec's defaults and the params this learner knows;
// the rest of XGBoost's params are ignored, with a log line.
func configure(s *specDoc) (*config, error) {
	if s.Objective != "binary:logistic" {
		return nil, badInput("objective %q: this trainer learns binary:logistic only", s.Objective)
	}
	cfg := &config{params: params{eta: 0.3, maxDepth: 6, minChildWeight: 1, lambda: 1}, rounds: s.NumBoostRound,
		early: 20, threshold: s.Threshold, validation: s.Split.Validation, test: s.Split.Test, seed: 42, given: map[string]any{}}
	if cfg.rounds == 0 {
		cfg.rounds = 500
	}
	if s.EarlyStoppingRounds != nil {
		cfg.early = *s.EarlyStoppingRounds
	}
	if cfg.threshold == 0 {
		cfg.threshold = 0.5
	}
	if cfg.validation == 0 {
		cfg.validation = 0.15
	}
	if cfg.test == 0 {
		cfg.test = 0.15
	}
	if s.Split.Seed != nil {
		cfg.seed = *s.Split.Seed
	}
	for k, v := range s.Params {
		f, isNum := v.(float64)
		switch k {
		case "objective", "seed", "eval_metric", "num_class", "tree_method", "nthread", "device":
			return nil, badInput("params.%s is set by the platform", k)
		case "eta", "learning_rate":
			cfg.params.eta = f
		case "max_depth":
			cfg.params.maxDepth = int(f)
		case "min_child_weight":
			cfg.params.minChildWeight = f
		case "lambda", "reg_lambda":
			cfg.params.lambda = f
		default:
			fmt.Printf("params.%s: not used by this trainer\n", k)
			continue
		}
		if !isNum || f < 0 {
			return nil, badInput("params.%s: want a non-negative number", k)
		}
		cfg.given[k] = v
	}
	if cfg.params.maxDepth < 1 || cfg.params.maxDepth > 10 {
		return nil, badInput("params.max_depth: want 1 to 10")
	}
	return cfg, nil
}
