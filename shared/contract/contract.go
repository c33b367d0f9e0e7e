// Package contract holds dataset contracts: the one description of a dataset that
// the ingest gate, the trainer, the prediction endpoint and the drift baseline all read.
//
// On disk a contract is an Open Data Contract Standard (ODCS v3.1) YAML document;
// what ODCS has no field for (target, features, sensitive attributes, CSV dialect,
// dataset mode) lives in its customProperties extension mechanism. In the platform
// a contract is stored as canonical JSON of the Contract type below, and versioned by
// the SHA-256 of that canonical JSON, so formatting or comment edits do not make a
// new version.
package contract

// Type is a column's logical type.
type Type string

// The column types a contract may declare.
const (
	Integer   Type = "integer"
	Number    Type = "number"
	Boolean   Type = "boolean"
	Category  Type = "category"
	String    Type = "string"
	Timestamp Type = "timestamp"
)

// Mode says how successive uploads of a dataset relate.
type Mode string

const (
	// Replace: each upload is the whole dataset.
	Replace Mode = "replace"
	// Append: each accepted upload adds a partition; a version is the set so far.
	Append Mode = "append"
)

// Contract is the parsed, validated form of a dataset contract.
// Its JSON encoding (see Canonical) is the stored, hashed form.
type Contract struct {
	// Dataset is the dataset's name: the <dataset> in incoming/<dataset>/.
	Dataset     string   `json:"dataset"`
	Version     string   `json:"version,omitempty"` // the author's label; informational
	Description string   `json:"description,omitempty"`
	Mode        Mode     `json:"mode"`
	Dialect     Dialect  `json:"dialect"`
	Columns     []Column `json:"columns"`
	// Target is the label column's name; empty for unlabelled datasets.
	Target string `json:"target,omitempty"`
	// Features are the columns a model may use, in order.
	Features []string `json:"features,omitempty"`
	// Sensitive are the columns used for fairness slices.
	Sensitive []string `json:"sensitive,omitempty"`
	// UniqueKey is a set of columns whose combined value must not repeat.
	UniqueKey []string  `json:"uniqueKey,omitempty"`
	Rows      RowBounds `json:"rows,omitzero"`
}

// Dialect describes how the CSV bytes are written.
type Dialect struct {
	Delimiter string `json:"delimiter"` // one character; default ","
	Quote     string `json:"quote"`     // one character; default "\""
	Header    bool   `json:"header"`
	// NullTokens are cell values that mean "missing" besides the empty cell.
	NullTokens []string `json:"nullTokens,omitempty"`
	// Compression is "none", "gzip" or "auto" (detect by magic bytes).
	Compression string `json:"compression"`
}

// RowBounds bounds the number of data rows in one upload. Zero means no bound.
type RowBounds struct {
	Min int64 `json:"min,omitempty"`
	Max int64 `json:"max,omitempty"`
}

// Column is one column's rules.
type Column struct {
	Name        string `json:"name"`
	Type        Type   `json:"type"`
	Description string `json:"description,omitempty"`
	// Required means no value may be missing.
	Required bool `json:"required,omitempty"`
	// MaxNullRate, when set, is the largest allowed fraction of missing values (0..1).
	MaxNullRate *float64 `json:"maxNullRate,omitempty"`
	// Min and Max bound integer, number and timestamp (as Unix seconds) values.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Allowed lists the permitted values of a category (or any string) column.
	Allowed []string `json:"allowed,omitempty"`
	// Pattern is a Go (RE2) regular expression the whole value must match.
	Pattern string `json:"pattern,omitempty"`
	// PII marks personal data: its raw values never appear in profiles, reports or logs.
	PII bool `json:"pii,omitempty"`
	// Format is the timestamp layout (Go reference time); empty means RFC 3339.
	Format string `json:"format,omitempty"`
}

// Column returns the column with the given name, or nil.
func (c *Contract) Column(name string) *Column {
	for i := range c.Columns {
		if c.Columns[i].Name == name {
			return &c.Columns[i]
		}
	}
	return nil
}
