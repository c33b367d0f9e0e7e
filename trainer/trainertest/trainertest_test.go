package trainertest_test

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"slices"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/training"
	"github.com/openmlops/mlops/trainer/trainertest"
)

func TestCreditRowsAreCanonical(t *testing.T) {
	rows := trainertest.CreditRows(t)
	if len(rows) < 2 {
		t.Fatalf("%d rows", len(rows))
	}
	for _, r := range rows[1:] {
		if slices.Contains(r, "NA") {
			t.Fatalf("row %v still holds the NA token", r)
		}
	}
	zr, err := gzip.NewReader(bytes.NewReader(trainertest.GzipCSV(t, rows)))
	if err != nil {
		t.Fatal(err)
	}
	back, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(back, rows, slices.Equal) {
		t.Fatal("GzipCSV does not read back as the rows")
	}
}

func TestSplitKeepsTheHeaderAndEveryRow(t *testing.T) {
	rows := [][]string{{"h"}, {"1"}, {"2"}, {"3"}}
	parts := trainertest.Split(rows, 2)
	want := [][][]string{{{"h"}, {"1"}, {"2"}}, {{"h"}, {"3"}}}
	if len(parts) != len(want) {
		t.Fatalf("%d parts, want %d", len(parts), len(want))
	}
	for i := range want {
		if !slices.EqualFunc(parts[i], want[i], slices.Equal) {
			t.Fatalf("part %d: %v, want %v", i, parts[i], want[i])
		}
	}
}

func TestCreditContractWithAnotherTarget(t *testing.T) {
	var got []*contract.Contract
	for _, target := range []string{"", "Price"} {
		c, err := trainertest.CreditContract(target)
		if err != nil {
			t.Fatalf("target %q: %v", target, err)
		}
		got = append(got, c)
	}
	own, c := got[0], got[1]
	if c.Target != "Price" || slices.Contains(c.Features, "Price") || !slices.Contains(c.Features, own.Target) {
		t.Fatalf("target %q, features %v", c.Target, c.Features)
	}
	if _, err := trainertest.CreditContract("no such column"); err == nil {
		t.Fatal("a target that is no column was accepted")
	}
}

func TestTrainArgsFillTheContractsReferences(t *testing.T) {
	params := map[string]string{training.ParamRunID: "run-1", training.ParamData: "a.csv.gz,b.csv.gz"}
	args := trainertest.TrainArgs("train.py", params)
	if args[0] != "train.py" || len(args) != len(training.ContractArgs())+1 {
		t.Fatalf("args %v", args)
	}
	for _, a := range args {
		if strings.HasPrefix(a, "Ref::") {
			t.Fatalf("unfilled %s in %v", a, args)
		}
	}
	if !slices.Contains(args, "run-1") || !slices.Contains(args, "a.csv.gz,b.csv.gz") {
		t.Fatalf("args %v lack the parameters", args)
	}
	cmd := trainertest.TrainCommand("train.py", params, "X=1")
	if !slices.Contains(cmd.Env, "OMP_NUM_THREADS=1") || cmd.Env[len(cmd.Env)-1] != "X=1" {
		t.Fatalf("env %v", cmd.Env[len(cmd.Env)-3:])
	}
}
