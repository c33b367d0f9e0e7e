// Package credit embeds the credit example, the sample dataset every demo, test
// and benchmark uses: its data (see NOTICE.md for provenance and licence), its
// dataset contract, and a model spec with its model card and promotion policy.
package credit

import (
	_ "embed"
	"fmt"

	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/spec"
)

//go:embed credit_data.csv
var data []byte

//go:embed credit_broken.csv
var broken []byte

//go:embed credit.odcs.yaml
var contractYAML []byte

//go:embed credit.model.yaml
var specYAML []byte

//go:embed card.md
var card []byte

//go:embed policy.yaml
var policyYAML []byte

//go:embed datasheet.md
var datasheet []byte

// Datasheet is datasheet.md: the human sections of the dataset's datasheet
// (mlops datasets describe credit examples/credit/datasheet.md).
func Datasheet() []byte { return clone(datasheet) }

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

// SpecYAML is credit.model.yaml, the model spec (binary:logistic on Status,
// positive class bad).
func SpecYAML() []byte { return clone(specYAML) }

// Card is card.md, the model card the spec names.
func Card() []byte { return clone(card) }

// Spec parses the model spec, reading its card from the embedded card.md as
// spec.Parse would read it from beside the YAML on disk.
func Spec() (*spec.Spec, error) {
	return spec.Parse("credit.model.yaml", specYAML, func(name string) ([]byte, error) {
		if name != "card.md" {
			return nil, fmt.Errorf("open %s: the credit example embeds only card.md", name)
		}
		return clone(card), nil
	})
}

// PolicyYAML is policy.yaml, the promotion policy the spec names.
func PolicyYAML() []byte { return clone(policyYAML) }

// Policy parses the promotion policy.
func Policy() (*policy.Policy, error) { return policy.Parse("policy.yaml", policyYAML) }

func clone(b []byte) []byte { return append([]byte(nil), b...) }
