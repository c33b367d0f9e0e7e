// Package hashid handles the platform's content identities: the hex SHA-256 of
// a document's canonical bytes, or of an object's content, by which specs,
// policies, contracts, bundles and audit records are named and checked.
package hashid

import (
	"crypto/sha256"
	"encoding/hex"
)

// Of returns the hex SHA-256 of b.
func Of(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Valid reports whether s is a hex SHA-256 as Of writes it: 64 lower-case
// hex digits.
func Valid(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ShortLen is how many leading hex digits Short keeps: enough to tell a
// model's or dataset's versions apart at a glance.
const ShortLen = 12

// Short abbreviates a hash for people to read (tables, messages), without an
// ellipsis so that it can be copied and searched for as is. It is display
// only: an identity that embeds part of a hash (a run ID, a receipt) fixes
// its own length.
func Short(h string) string {
	if len(h) > ShortLen {
		return h[:ShortLen]
	}
	return h
}
