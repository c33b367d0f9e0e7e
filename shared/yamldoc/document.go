package yamldoc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Kind describes a kind of document, for the messages about a file that is
// not one.
type Kind struct {
	// APIVersion and Kind are what the document's header says (mlops/v1,
	// ModelSpec); empty for a document whose header its parser checks itself.
	APIVersion, Kind string
	Name             string // "model spec": "expected one model spec per file"
	Plural           string // "model specs": "anchors are not supported in model specs"
	// Short names the file in the size message: "the spec is 2000000 bytes".
	Short string
	// MaxBytes bounds the input, 0 for no bound; SizeHint follows the size
	// message (say what to do instead).
	MaxBytes int
	SizeHint string
}

// Decode reads the one YAML document in data and returns its top node: never
// nil when the error is nil. It refuses input over k.MaxBytes, an empty
// document, a second document (a single decode would silently ignore it),
// anchors and aliases, and anything the YAML library panics on. Each refusal
// is an *Error located in file.
func Decode(file string, data []byte, k Kind) (*yaml.Node, error) {
	if k.MaxBytes > 0 && len(data) > k.MaxBytes {
		return nil, &Error{File: file, Msg: fmt.Sprintf("the %s is %d bytes: expected at most %d%s", k.Short, len(data), k.MaxBytes, k.SizeHint)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	err := safeDecode(dec, &root)
	if errors.Is(err, io.EOF) || (err == nil && len(root.Content) == 0) {
		msg := "empty document: expected " + article(k.Name) + " " + k.Name
		if k.APIVersion != "" {
			msg += " (apiVersion: " + k.APIVersion + ", kind: " + k.Kind + ")"
		}
		return nil, &Error{File: file, Line: 1, Msg: msg}
	}
	if err != nil {
		return nil, syntaxError(file, err)
	}
	// Empty extra documents (a trailing ---) are harmless.
	for {
		var extra yaml.Node
		err := safeDecode(dec, &extra)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, syntaxError(file, err)
		}
		if len(extra.Content) > 0 && extra.Content[0].Tag != "!!null" {
			n := extra.Content[0]
			return nil, &Error{File: file, Line: n.Line, Col: n.Column, Msg: "more than one YAML document: expected one " + k.Name + " per file"}
		}
	}
	doc := root.Content[0]
	if a := FindAlias(doc); a != nil {
		return nil, &Error{File: file, Line: a.Line, Col: a.Column, Msg: "YAML anchors and aliases are not supported in " + k.Plural + ": write the value out"}
	}
	return doc, nil
}

func article(name string) string {
	if name != "" && strings.ContainsRune("AEIOUaeiou", rune(name[0])) {
		return "an"
	}
	return "a"
}

// safeDecode turns a panic inside the YAML library into an error: documents
// come from people, and no input may take the process down.
func safeDecode(dec *yaml.Decoder, n *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return dec.Decode(n)
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// parserProblems are the problems yaml.v3's parser (as opposed to its
// scanner) reports. For these it prints a 0-based line: that of the construct
// being parsed (an unclosed '{', a block mapping), one less than the line an
// editor shows. syntaxError adds the one back.
var parserProblems = []string{"did not find expected <stream-start>", "did not find expected <document start>",
	"did not find expected node content", "did not find expected key", "did not find expected '-' indicator",
	"did not find expected ',' or ']'", "did not find expected ',' or '}'", "found undefined tag handle",
	"found duplicate %YAML directive", "found incompatible YAML document", "found duplicate %TAG directive"}

// syntaxError is the YAML library's error at the line an editor shows.
func syntaxError(file string, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{File: file}
	if m := lineRE.FindStringSubmatchIndex(msg); m != nil {
		e.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
		for _, pp := range parserProblems {
			if strings.HasSuffix(msg, pp) {
				e.Line++
				msg = msg[:m[2]] + strconv.Itoa(e.Line) + msg[m[3]:]
				break
			}
		}
	}
	e.Msg = "not valid YAML: " + msg
	return e
}

// kindHints say what a document of another kind is and what reads it, for
// the message about a document of the wrong kind.
var kindHints = map[string]string{
	"ModelSpec":    "this is a model spec: apply it with mlops models apply",
	"DataContract": "this is a dataset contract: apply it with mlops contract apply",
}

// Header checks the document's apiVersion and kind against k's, reporting a
// missing one. It returns false when the document is another version or kind
// of document: what it lacks as a k would only bury the one message that
// matters.
func (p *Problems) Header(doc *yaml.Node, f map[string]Entry, k Kind) bool {
	ok := true
	if e, found := f["apiVersion"]; !found {
		p.At(doc, "apiVersion", "missing apiVersion: expected apiVersion: %s", k.APIVersion)
	} else if v, isStr := p.Str(e.Val, "apiVersion"); isStr && v != k.APIVersion {
		p.At(e.Val, "apiVersion", "apiVersion %q is not supported: expected %s", Clip(v), k.APIVersion)
		ok = false
	}
	if e, found := f["kind"]; !found {
		p.At(doc, "kind", "missing kind: expected kind: %s", k.Kind)
	} else if v, isStr := p.Str(e.Val, "kind"); isStr && v != k.Kind {
		msg := fmt.Sprintf("kind %q is not %s %s: expected %s", Clip(v), article(k.Name), k.Name, k.Kind)
		if h, known := kindHints[v]; known {
			msg += " (" + h + ")"
		}
		p.At(e.Val, "kind", "%s", msg)
		ok = false
	}
	return ok
}
