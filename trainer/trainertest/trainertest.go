// Package trainertest holds what tests that run the reference trainer
// (train.py) share: its inputs, the credit sample as the platform hands it to a
// trainer (canonical gzipped CSV partitions, the contract with a chosen
// target), and its command line as the container contract spells it.
package trainertest

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/openmlops/mlops/examples/credit"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/pythontest"
	"github.com/openmlops/mlops/shared/training"
)

// ReadCreditRows is credit_data.csv as the canonical CSV holds it: header
// first, the "NA" null token turned into the empty cell.
func ReadCreditRows() ([][]string, error) {
	rows, err := csv.NewReader(bytes.NewReader(credit.CSV())).ReadAll()
	if err != nil {
		return nil, err
	}
	for _, r := range rows[1:] {
		for j, v := range r {
			if v == "NA" {
				r[j] = ""
			}
		}
	}
	return rows, nil
}

// CreditRows is ReadCreditRows, failing tb on an error.
func CreditRows(tb testing.TB) [][]string {
	tb.Helper()
	rows, err := ReadCreditRows()
	if err != nil {
		tb.Fatal(err)
	}
	return rows
}

// EncodeGzipCSV writes canonical CSV (encoding/csv quotes only where needed),
// gzipped.
func EncodeGzipCSV(rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	w := csv.NewWriter(zw)
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// GzipCSV is EncodeGzipCSV, failing tb on an error.
func GzipCSV(tb testing.TB, rows [][]string) []byte {
	tb.Helper()
	b, err := EncodeGzipCSV(rows)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Split cuts rows (header first) into parts partitions, each with the header.
func Split(rows [][]string, parts int) [][][]string {
	body := rows[1:]
	size := (len(body) + parts - 1) / parts
	var out [][][]string
	for k := 0; k < parts; k++ {
		part := [][]string{rows[0]}
		out = append(out, append(part, body[min(k*size, len(body)):min((k+1)*size, len(body))]...))
	}
	return out
}

// CreditContract is the credit contract; with a target, the contract with that
// target and the rest of the columns as features: how a user would set up a
// regression or multiclass model.
func CreditContract(target string) (*contract.Contract, error) {
	c, err := contract.Parse("credit.odcs.yaml", credit.ContractYAML())
	if err != nil || target == "" {
		return c, err
	}
	c.Target = target
	c.Features = nil
	for _, col := range c.Columns {
		if col.Name != target {
			c.Features = append(c.Features, col.Name)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// TrainArgs is script's command line with the container contract's arguments,
// exactly as training.ContractArgs spells them, each Ref:: filled in from
// params.
func TrainArgs(script string, params map[string]string) []string {
	args := []string{script}
	for _, a := range training.ContractArgs() {
		if name, ok := strings.CutPrefix(a, "Ref::"); ok {
			a = params[name]
		}
		args = append(args, a)
	}
	return args
}

// TrainCommand runs script with TrainArgs under pythontest.Python, on the CPU
// and with one OpenMP thread, followed by env: tests run trainers side by side,
// and OpenMP threads that outnumber the cores spin instead of working.
func TrainCommand(script string, params map[string]string, env ...string) *exec.Cmd {
	cmd := exec.Command(pythontest.Python, TrainArgs(script, params)...)
	cmd.Env = append(append(os.Environ(), "MLOPS_DEVICE=cpu", "OMP_NUM_THREADS=1"), env...)
	return cmd
}
