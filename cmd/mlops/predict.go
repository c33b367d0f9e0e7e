package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/openmlops/mlops/shared/apierror"
	"github.com/openmlops/mlops/shared/predict"
)

func newPredictCmd(g *globals) *cobra.Command {
	var data string
	var explain bool
	cmd := &cobra.Command{
		Use:   "predict MODEL --data FILE.json|FILE.csv|-",
		Short: "Score records with a model's champion through the prediction endpoint",
		Long: `predict sends records to the platform's prediction endpoint (POST
/v1/models/MODEL:predict, over HTTPS with the API's token) and prints each
prediction: the label and the class probabilities (or the predicted value), with
the flags of values scored out of range, and with --explain the features that
pushed each prediction hardest (TreeSHAP contributions, in the model's margin:
log-odds for a binary model).

The data is a CSV file with a header row (empty cells are missing values), or
JSON: {"instances": [{...}, ...]} or a bare array of objects. "-" reads standard
input, CSV or JSON by its first character. Every record is checked against the
contract the champion was trained under; a refusal lists every problem, each
naming the record (instances[i]) and the field. Files of more than 1000 records
are sent in batches of 1000.

Exit status: 0 scored, 1 refused (bad records, unknown model, no champion, a
bad token), 2 usage error, 3 the platform could not be reached or failed.`,
		Example: `  mlops predict credit --data applicants.csv
  mlops predict credit --data applicants.json --explain
  echo '[{"Seniority": 9, "Home": "rent", "Time": 60, "Age": 30, "Marital": "married", "Records": "no", "Job": "freelance", "Expenses": 73, "Income": 129, "Assets": 0, "Debt": 0, "Amount": 800, "Price": 846}]' | mlops predict credit --data - -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.ready(checkModel(args[0])); err != nil {
				return err
			}
			if data == "" {
				return usageErr("--data FILE.json|FILE.csv|- is required")
			}
			req, err := readInstances(data, cmd.InOrStdin())
			if err != nil {
				return err
			}
			req.Explain = explain
			c, err := g.predictAPI()
			if err != nil {
				return err
			}
			var all *predict.Response
			for _, part := range req.Split(predict.DefaultMaxInstances) {
				resp, err := c.Predict(cmd.Context(), args[0], part)
				if err != nil {
					return predictErr(err)
				}
				if all == nil {
					all = resp
				} else {
					all.Predictions = append(all.Predictions, resp.Predictions...)
					if resp.ModelVersion != all.ModelVersion {
						fmt.Fprintf(cmd.ErrOrStderr(), "mlops: the champion changed while scoring: records from %d on were scored by version %d, those before by version %d\n",
							len(all.Predictions)-len(resp.Predictions), resp.ModelVersion, all.ModelVersion)
					}
				}
			}
			if g.output == "json" {
				return printJSON(cmd.OutOrStdout(), all)
			}
			return printPredictions(cmd.OutOrStdout(), all, explain)
		},
	}
	cmd.Flags().StringVar(&data, "data", "", "records to score: FILE.csv, FILE.json, or - for standard input")
	cmd.Flags().BoolVar(&explain, "explain", false, "add each prediction's top reasons (TreeSHAP contributions)")
	return cmd
}

// readInstances reads a request from a CSV or JSON file, or from stdin ("-").
func readInstances(path string, stdin io.Reader) (*predict.Request, error) {
	var r io.Reader
	name := path
	if path == "-" {
		r, name = stdin, "standard input"
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, &exitError{code: exitUsage, err: err}
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReader(r)
	isJSON := strings.EqualFold(filepath.Ext(path), ".json")
	if path == "-" || !isJSON && !strings.EqualFold(filepath.Ext(path), ".csv") {
		// By its first character that is not a space: JSON opens with [ or {.
		for {
			b, err := br.Peek(1)
			if err != nil {
				break
			}
			if b[0] == ' ' || b[0] == '\t' || b[0] == '\r' || b[0] == '\n' || bytes.HasPrefix(b, []byte("\xef")) {
				if _, err := br.ReadByte(); err != nil {
					break
				}
				continue
			}
			isJSON = b[0] == '[' || b[0] == '{'
			break
		}
	}
	read := predict.RequestFromCSV
	if isJSON {
		read = predict.RequestFromJSON
	}
	req, err := read(br)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: %w", name, err)}
	}
	if len(req.Instances) == 0 {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("%s: no records to score", name)}
	}
	return req, nil
}

// predictErr gives an error of the prediction API its exit status: records
// the contract refuses, an unknown model or no champion are a refusal (1).
func predictErr(err error) error {
	var e *apierror.Error
	if errors.As(err, &e) {
		switch e.Code {
		case apierror.CodeBadRequest, apierror.CodeTooLarge:
			return &exitError{code: exitFailed, err: fmt.Errorf("the records were refused: %w", err)}
		case apierror.CodeNotFound, apierror.CodeUnavailable:
			return &exitError{code: exitFailed, err: err}
		}
	}
	return apiErr(err)
}

// printPredictions prints one line per record: its outputs, flags and, when
// explained, its top reasons.
func printPredictions(w io.Writer, resp *predict.Response, explain bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var names []string
	if len(resp.Predictions) > 0 {
		for _, f := range resp.Predictions[0].Outputs {
			names = append(names, f.Name)
		}
	}
	head := "#\t" + strings.Join(names, "\t")
	if explain {
		head += "\tTOP REASONS (feature=value: contribution)"
	}
	fmt.Fprintln(tw, head+"\tFLAGS")
	for i, p := range resp.Predictions {
		cells := []string{strconv.Itoa(i)}
		for _, f := range p.Outputs {
			v := string(f.Value)
			if n, err := strconv.ParseFloat(v, 64); err == nil {
				v = strconv.FormatFloat(n, 'f', 4, 64)
			} else if s, err := strconv.Unquote(v); err == nil {
				v = s
			}
			cells = append(cells, v)
		}
		if explain {
			var rs []string
			if p.Explanation != nil {
				for _, r := range p.Explanation.Reasons {
					rs = append(rs, fmt.Sprintf("%s=%v: %+.3f", r.Feature, reasonValue(r.Value), r.Contribution))
				}
			}
			cells = append(cells, strings.Join(rs, ", "))
		}
		cells = append(cells, strings.Join(p.Flags, "; "))
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "model %s version %d, request %s\n", resp.Model, resp.ModelVersion, resp.RequestID)
	return err
}

func reasonValue(v any) any {
	if v == nil {
		return "(missing)"
	}
	return v
}
