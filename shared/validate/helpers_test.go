package validate

import "github.com/openmlops/mlops/shared/contract"

func ptr(f float64) *float64 { return &f }

// creditContract mirrors examples/credit.
func creditContract() *contract.Contract {
	zero := ptr(0)
	cat := func(name string, nullable bool, allowed ...string) contract.Column {
		return contract.Column{Name: name, Type: contract.Category, Allowed: allowed, Required: !nullable}
	}
	num := func(name string, t contract.Type, nullable bool) contract.Column {
		return contract.Column{Name: name, Type: t, Min: zero, Required: !nullable}
	}
	return &contract.Contract{
		Dataset: "credit", Mode: contract.Replace, Target: "Status",
		Dialect: contract.Dialect{Delimiter: ",", Quote: `"`, Header: true, NullTokens: []string{"NA"}, Compression: "auto"},
		Columns: []contract.Column{
			cat("Status", false, "good", "bad"),
			num("Seniority", contract.Integer, false),
			cat("Home", true, "rent", "owner", "parents", "priv", "ignore", "other"),
			num("Time", contract.Integer, false),
			num("Age", contract.Integer, false),
			cat("Marital", true, "married", "single", "separated", "widow", "divorced"),
			cat("Records", false, "yes", "no"),
			cat("Job", true, "fixed", "freelance", "partime", "others"),
			num("Expenses", contract.Number, false),
			num("Income", contract.Number, true),
			num("Assets", contract.Number, true),
			num("Debt", contract.Number, true),
			num("Amount", contract.Number, false),
			num("Price", contract.Number, false),
		},
	}
}
