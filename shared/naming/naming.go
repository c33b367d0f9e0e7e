// Package naming holds the rule for the names people give datasets and
// models. A name becomes an S3 key segment, a URL path segment, part of a run
// ID and of an AWS Batch job name, so the rule is narrow: one rule, checked
// the same way everywhere.
package naming

// Pattern is the rule as a regular expression without anchors, for patterns
// that embed a name (a run ID is <model>-<hash>-<attempt>).
const Pattern = `[a-z0-9][a-z0-9_-]{0,62}`

// Rule is the rule in words, for messages.
const Rule = "1 to 63 characters of a-z, 0-9, '_' or '-', starting with a letter or digit"

// MaxLen is the longest name.
const MaxLen = 63

// Valid reports whether s is a dataset or model name: it matches Pattern.
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}
