// Package credit embeds the credit example, the sample dataset every demo, test
// and benchmark uses: its data (see NOTICE.md for provenance and licence) and its
// dataset contract.
package credit

import (
	_ "embed"

	"github.com/openmlops/mlops/shared/contract"
)

//go:embed credit_data.csv
var data []byte

//go:embed credit_broken.csv
var broken []byte

//go:embed credit.odcs.yaml
var contractYAML []byte

// CSV is credit_data.csv: 4,454 rows, a header, NA for missing values.
func CSV() []byte { return clone(data) }

// BrokenCSV is credit_broken.csv: 300 rows with one deliberate problem per rule
// the demo shows (wrong type, unknown category, out of range, not finite, missing
// required value, formula injection).
func BrokenCSV() []byte { return clone(broken) }

// ContractYAML is credit.odcs.yaml, the dataset's ODCS contract.
func ContractYAML() []byte { return clone(contractYAML) }

// Contract parses the contract.
func Contract() (*contract.Contract, error) { return contract.Parse("credit.odcs.yaml", contractYAML) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
