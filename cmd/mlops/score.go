package main

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/bundlestore"
	"github.com/openmlops/mlops/shared/xgboost"
)

type scoreOptions struct {
	bundle, model   string
	input, output   string
	noHeader        bool
	nulls           []string // input cells that mean missing, besides the empty cell
	format          *string  // the summary format, g.output
	summaryToStderr bool
}

func newScoreCmd(g *globals) *cobra.Command {
	o := scoreOptions{format: &g.output}
	cmd := &cobra.Command{
		Use:   "score (--bundle DIR|s3://BUCKET/PREFIX | --xgboost-model FILE) --input FILE.csv --output FILE.csv",
		Short: "Score a CSV file with a model bundle or a bare XGBoost model, offline",
		Long: `score evaluates a model on every row of a CSV file with the platform's own Go
evaluator, the one the prediction endpoint runs, streaming the input.

With --bundle, the bundle (a directory, or an s3:// prefix read through the
platform's S3 endpoint) is verified first: every file against the manifest's
SHA-256, and the evaluator against the predictions xgboost recorded in the
bundle's samples. Input columns are found by name, in any order; an empty cell
is a missing value. The output holds the input's columns, then
  binary       p_<positive class> and label (at the bundle's threshold)
  regression   prediction
  multiclass   p_<class> for each class, and label
(an input column with one of those names is replaced).

With --xgboost-model, the input's columns are the model's features, in order,
all numeric; the header must name the model's features where the model records
names (--no-header when the input has no header row). The output has one
column per model output: prediction, or p0, p1, ... for a multiclass model.

Values are written at full precision (the float32 result, exactly). Use - for
stdin or stdout; a gzip input is recognised. Because --output names the CSV,
the summary format is -o/--format here.

Exit status: 0 scored, 1 invalid bundle, model or input row, 2 usage error,
3 could not read or write.`,
		Example: `  mlops score --bundle runs/credit/bundle --input applicants.csv --output scored.csv
  mlops score --bundle s3://mlops-platform/runs/credit-3f9a0c1d2e4b5a69-1/bundle/ --input credit_data.csv --null NA --output scored.csv
  mlops score --bundle s3://mlops-platform/runs/3f9a0c1d2e4b/bundle --input - --output - < new.csv
  mlops score --xgboost-model model.json --input features.csv --output predictions.csv -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := g.checkOutput(); err != nil {
				return err
			}
			if (o.bundle == "") == (o.model == "") {
				return usageErr("give exactly one of --bundle and --xgboost-model")
			}
			if o.input == "" || o.output == "" {
				return usageErr("--input and --output are required (- for stdin, stdout)")
			}
			if len(o.nulls) > 0 && o.bundle == "" {
				return usageErr("--null is for --bundle")
			}
			if o.noHeader && o.bundle != "" {
				return usageErr("--no-header is for --xgboost-model: a bundle's features are found by name")
			}
			o.summaryToStderr = o.output == "-"
			if o.bundle != "" {
				return scoreBundle(cmd, g, &o)
			}
			return scoreModel(cmd, &o)
		},
	}
	cmd.Flags().StringVar(&o.bundle, "bundle", "", "the model bundle: a directory, or s3://BUCKET/PREFIX on the platform")
	cmd.Flags().StringVar(&o.model, "xgboost-model", "", "a bare XGBoost JSON model (Booster.save_model)")
	cmd.Flags().StringVar(&o.input, "input", "", "the CSV to score, with a header row (- for stdin)")
	// --output is the CSV here, which hides the global --output/-o; -o and
	// --format take the summary format instead, so `-o json` works as elsewhere.
	cmd.Flags().StringVar(&o.output, "output", "", "the CSV to write (- for stdout)")
	cmd.Flags().StringVarP(&g.output, "format", "o", "text", "summary format: text or json")
	cmd.Flags().BoolVar(&o.noHeader, "no-header", false, "with --xgboost-model: the input has no header row")
	cmd.Flags().StringSliceVar(&o.nulls, "null", nil, "with --bundle: input values that mean missing, besides the empty cell (e.g. NA, as the dataset's contract says)")
	return cmd
}

// scoring is what differs between a bundle and a bare model: how a record
// becomes a feature vector and which columns the output adds.
type scoring struct {
	// encode turns a record into the model's feature vector, which predict
	// evaluates.
	encode  func(record []string) error
	predict func() ([]float32, error)
	outputs []string // the columns added to each row
	// cells writes the added cells for one row's model outputs.
	cells func(out []float32, dst []string)
}

type scoreSummary struct {
	Rows      int64    `json:"rows"`
	Input     string   `json:"input"`
	Output    string   `json:"output"`
	Bundle    string   `json:"bundle,omitempty"` // SHA-256 of the manifest
	Model     string   `json:"model,omitempty"`
	RunID     string   `json:"runId,omitempty"`
	Objective string   `json:"objective"`
	Columns   []string `json:"columns"`
	// Verified is how many of xgboost's own predictions, recorded in the bundle,
	// the evaluator reproduced before scoring.
	Verified int `json:"verifiedSamples,omitempty"`
}

func scoreBundle(cmd *cobra.Command, g *globals, o *scoreOptions) error {
	b, err := openScoreBundle(cmd, g, o.bundle)
	if err != nil {
		return err
	}
	// Prove the evaluator and the encoding against xgboost's own predictions
	// before trusting them with anyone's data.
	if err := b.CheckSamples(); err != nil {
		return &exitError{code: exitFailed, err: err}
	}
	in, closeIn, err := openScoreInput(cmd, o.input)
	if err != nil {
		return err
	}
	defer closeIn()
	r := newScoreReader(in)
	header, err := r.Read()
	if err != nil {
		return scoreReadErr(o.input, r, err, "the header row")
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	header = slices.Clone(header) // the reader reuses its record
	sc, err := b.Scorer(header)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", o.input, err)}
	}
	outputs := sc.Columns()
	// Input columns named like an added column are replaced, so that scoring an
	// already scored file gives the same columns again.
	var keep []int
	for i, name := range header {
		if !slices.Contains(outputs, name) {
			keep = append(keep, i)
		}
	}
	var clean []string
	s := &scoring{
		outputs: outputs,
		cells:   sc.Cells,
		predict: sc.Predict,
		encode: func(record []string) error {
			if len(o.nulls) > 0 {
				// The output keeps the input's cells; only the model sees missing.
				clean = append(clean[:0], record...)
				for i, v := range clean {
					if slices.Contains(o.nulls, v) {
						clean[i] = ""
					}
				}
				record = clean
			}
			err := sc.Encode(record)
			var ve *bundle.ValueError
			if errors.As(err, &ve) {
				line, _ := r.FieldPos(sc.Position(ve.Feature))
				return fmt.Errorf("line %d: %w", line, err)
			}
			return err
		},
	}
	sum := scoreSummary{Input: o.input, Output: o.output, Bundle: b.SHA256, Model: b.Manifest.Model,
		RunID: b.Manifest.RunID, Objective: b.Manifest.Objective, Columns: outputs, Verified: len(b.Samples.Rows)}
	outHeader := append(pickColumns(header, keep, nil), outputs...)
	err = writeScores(cmd, o, outHeader, func(w *csv.Writer) error {
		return scoreRows(r, w, s, keep, o.input, &sum.Rows)
	})
	if err != nil {
		return err
	}
	return printScoreSummary(cmd, o, sum, b.String())
}

// openScoreBundle opens a bundle directory or fetches one from the platform's S3.
// A bundle that fails verification is exit status 1; one that cannot be read, 3.
func openScoreBundle(cmd *cobra.Command, g *globals, loc string) (*bundle.Bundle, error) {
	var b *bundle.Bundle
	var err error
	if rest, ok := strings.CutPrefix(loc, "s3://"); ok {
		bucket, prefix, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, usageErr("--bundle %q: want s3://BUCKET/PREFIX", loc)
		}
		cl, cerr := g.connect()
		if cerr != nil {
			return nil, cerr
		}
		b, err = bundlestore.Fetch(cmd.Context(), cl.store, bucket, prefix)
	} else {
		b, err = bundle.OpenDir(loc)
	}
	if err != nil {
		code := exitProblem
		if errors.Is(err, bundle.ErrInvalid) {
			code = exitFailed
		}
		return nil, &exitError{code: code, err: err}
	}
	return b, nil
}

func scoreModel(cmd *cobra.Command, o *scoreOptions) error {
	data, err := os.ReadFile(o.model)
	if err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("score: %w", err)}
	}
	m, err := xgboost.Parse(data)
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", o.model, err)}
	}
	in, closeIn, err := openScoreInput(cmd, o.input)
	if err != nil {
		return err
	}
	defer closeIn()
	r := newScoreReader(in)
	// The columns' names: the model's where it records them, else the header's,
	// else xgboost's defaults (f0, f1, ...).
	names := slices.Clone(m.FeatureNames())
	if !o.noHeader {
		header, err := r.Read()
		if err != nil {
			return scoreReadErr(o.input, r, err, "the header row")
		}
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
		if len(header) != m.NumFeatures() {
			return &exitError{code: exitFailed, err: fmt.Errorf("%s: the header has %d columns but the model has %d features",
				o.input, len(header), m.NumFeatures())}
		}
		if len(names) > 0 {
			for i, n := range names {
				if header[i] != n {
					return &exitError{code: exitFailed, err: fmt.Errorf("%s: column %d of the header is %q but the model's feature %d is %q",
						o.input, i+1, header[i], i, n)}
				}
			}
		} else {
			names = slices.Clone(header)
		}
	}
	enc, err := bareModelEncoder(names, m.NumFeatures())
	if err != nil {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", o.input, err)}
	}
	outputs := []string{"prediction"}
	if m.Objective() == xgboost.MultiSoftprob {
		outputs = make([]string, m.NumOutputs())
		for k := range outputs {
			outputs[k] = "p" + strconv.Itoa(k)
		}
	}
	x := make([]float32, m.NumFeatures())
	out := make([]float32, m.NumOutputs())
	s := &scoring{
		outputs: outputs,
		cells: func(out []float32, dst []string) {
			for k, v := range out {
				dst[k] = bundle.FormatOutput(v)
			}
		},
		predict: func() ([]float32, error) { return out, m.Predict(x, out) },
		encode: func(record []string) error {
			if len(record) != m.NumFeatures() {
				line, _ := r.FieldPos(0)
				return fmt.Errorf("line %d: %d columns but the model has %d features", line, len(record), m.NumFeatures())
			}
			err := enc.Encode(record, x)
			var ve *bundle.ValueError
			if errors.As(err, &ve) {
				line, _ := r.FieldPos(ve.Feature)
				return fmt.Errorf("line %d: %w", line, err)
			}
			return err
		},
	}
	sum := scoreSummary{Input: o.input, Output: o.output, Objective: m.Objective(), Columns: outputs}
	err = writeScores(cmd, o, outputs, func(w *csv.Writer) error {
		return scoreRows(r, w, s, nil, o.input, &sum.Rows)
	})
	if err != nil {
		return err
	}
	return printScoreSummary(cmd, o, sum, fmt.Sprintf("%s (%s, %d trees)", o.model, m.Objective(), m.NumTrees()))
}

// bareModelEncoder is the Encoder of a bare model: one numeric feature per
// column. Names that cannot be features (empty, repeated) give way to
// xgboost's default names.
func bareModelEncoder(names []string, n int) (*bundle.Encoder, error) {
	build := func(names []string) (*bundle.Encoder, error) {
		enc := bundle.Encoding{Columns: names}
		for _, name := range names {
			enc.Features = append(enc.Features, bundle.Feature{Name: name, Kind: bundle.KindNumeric})
		}
		return bundle.NewEncoder(enc)
	}
	if len(names) == n {
		if e, err := build(names); err == nil {
			return e, nil
		}
	}
	names = make([]string, n)
	for i := range names {
		names[i] = "f" + strconv.Itoa(i)
	}
	return build(names)
}

// scoreRows streams the input's rows to the output: the kept input columns,
// then the scores. keep nil keeps no input column.
func scoreRows(r *csv.Reader, w *csv.Writer, s *scoring, keep []int, input string, rows *int64) error {
	var row []string
	for {
		record, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return scoreReadErr(input, r, err, "a row")
		}
		if err := s.encode(record); err != nil {
			return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", input, err)}
		}
		out, err := s.predict()
		if err != nil {
			return fmt.Errorf("%s: %w", input, err)
		}
		row = pickColumns(record, keep, row[:0])
		n := len(row)
		for range s.outputs {
			row = append(row, "")
		}
		s.cells(out, row[n:])
		if err := w.Write(row); err != nil {
			return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
		}
		*rows++
	}
}

func pickColumns(record []string, keep []int, dst []string) []string {
	for _, i := range keep {
		dst = append(dst, record[i])
	}
	return dst
}

func newScoreReader(in io.Reader) *csv.Reader {
	r := csv.NewReader(in)
	r.ReuseRecord = true
	return r
}

// scoreReadErr classifies a CSV read error: malformed CSV is the input's fault
// (exit 1, with the line csv reports); anything else is a failed read (3).
func scoreReadErr(input string, r *csv.Reader, err error, what string) error {
	if err == io.EOF {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: empty input: no header row", input)}
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", input, err)}
	}
	line, _ := r.FieldPos(0)
	return &exitError{code: exitProblem, err: fmt.Errorf("%s: reading %s near line %d: %w", input, what, line, err)}
}

// openScoreInput opens the input file or stdin, decompressing gzip where the
// bytes say so.
func openScoreInput(cmd *cobra.Command, name string) (io.Reader, func(), error) {
	var src io.Reader
	closer := func() {}
	if name == "-" {
		src = cmd.InOrStdin()
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, &exitError{code: exitProblem, err: fmt.Errorf("score: %w", err)}
		}
		src, closer = f, func() { f.Close() }
	}
	br := bufio.NewReaderSize(src, 1<<16)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			closer()
			return nil, nil, &exitError{code: exitFailed, err: fmt.Errorf("%s: %w", name, err)}
		}
		return zr, closer, nil
	}
	return br, closer, nil
}

// writeScores writes the header and then whatever body writes to the output:
// stdout, or a temporary file renamed over the output only once every row is
// written, so that a failed run leaves no half-scored file behind.
func writeScores(cmd *cobra.Command, o *scoreOptions, header []string, body func(*csv.Writer) error) error {
	var dst io.Writer
	var tmp *os.File
	if o.output == "-" {
		dst = cmd.OutOrStdout()
	} else {
		var err error
		tmp, err = os.CreateTemp(filepath.Dir(o.output), "."+filepath.Base(o.output)+".*.tmp")
		if err != nil {
			return &exitError{code: exitProblem, err: fmt.Errorf("score: %w", err)}
		}
		defer os.Remove(tmp.Name()) // fails harmlessly once renamed
		defer tmp.Close()
		dst = tmp
	}
	w := csv.NewWriter(dst)
	if err := w.Write(header); err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
	}
	if err := body(w); err != nil {
		w.Flush()
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
	}
	if tmp == nil {
		return nil
	}
	if err := tmp.Chmod(0o644); err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
	}
	if err := tmp.Close(); err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
	}
	if err := os.Rename(tmp.Name(), o.output); err != nil {
		return &exitError{code: exitProblem, err: fmt.Errorf("write: %w", err)}
	}
	return nil
}

// printScoreSummary says what was scored: on stdout, or on stderr when stdout
// carries the scores.
func printScoreSummary(cmd *cobra.Command, o *scoreOptions, sum scoreSummary, what string) error {
	w := cmd.OutOrStdout()
	if o.summaryToStderr {
		w = cmd.ErrOrStderr()
	}
	if *o.format == "json" {
		return printJSON(w, sum)
	}
	if sum.Verified > 0 {
		fmt.Fprintf(w, "verified: every file of bundle %s against its manifest; the Go evaluator reproduced all %d of xgboost's recorded predictions\n",
			sum.Bundle, sum.Verified)
	}
	fmt.Fprintf(w, "scored %d rows of %s with %s into %s (%s)\n", sum.Rows, o.input, what, o.output, strings.Join(sum.Columns, ", "))
	return nil
}
