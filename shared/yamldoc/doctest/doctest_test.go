package doctest

import (
	"errors"
	"strings"
	"testing"
)

// word is a toy document: its canonical form is its text, lower-cased.
type word string

func (w word) Canonical() []byte { return []byte(strings.ToLower(string(w))) }
func (w word) Hash() string      { return string(w.Canonical()) }
func (w word) Validate() error {
	if w == "" {
		return errors.New("empty")
	}
	return nil
}

func parseWord(b []byte) (word, error) {
	if len(b) == 0 || strings.ContainsAny(string(b), " \n") {
		return "", errors.New("not a word")
	}
	return word(b), nil
}

func TestStable(t *testing.T) {
	Stable(t, word("Hello"), parseWord)
}

func FuzzWords(f *testing.F) {
	FuzzParse(f, [][]byte{[]byte("Hello"), []byte("two words")}, parseWord, parseWord, func(t *testing.T, w word) {
		if strings.ContainsRune(string(w), ' ') {
			t.Fatalf("parseWord accepted %q", w)
		}
	})
}

func FuzzWordsCanonical(f *testing.F) {
	FuzzParseCanonical(f, word("Hello"), parseWord)
}
