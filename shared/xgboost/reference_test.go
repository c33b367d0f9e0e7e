package xgboost

// The reference decoder: encoding/json into the schema of parse.go, as Parse
// read models before decode.go. It is kept to check the decoder against.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// parseReference is Parse with encoding/json as the decoder.
func parseReference(data []byte) (*Model, error) {
	var doc jsonModel
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("xgboost: decoding model JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("xgboost: decoding model JSON: trailing data after the model")
	}
	b := new(builder)
	if l := doc.Learner; l != nil && l.GradientBooster != nil && l.GradientBooster.Model != nil {
		trees := l.GradientBooster.Model.Trees
		for i := range trees {
			if err := b.addTree(&trees[i]); err != nil {
				return nil, fmt.Errorf("xgboost: invalid model: %w", err)
			}
		}
	}
	m, err := b.build(&doc)
	if err != nil {
		return nil, fmt.Errorf("xgboost: invalid model: %w", err)
	}
	return m, nil
}

func (s *jsonString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		*s = jsonString(str)
		return nil
	}
	if len(b) == 0 || !(b[0] == '-' || (b[0] >= '0' && b[0] <= '9')) {
		return fmt.Errorf("expected a string or number, got %.20s", b)
	}
	*s = jsonString(b)
	return nil
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		s = str
	}
	v, err := parseFloat32(s)
	if err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "0", "false":
		*v = false
	case "1", "true":
		*v = true
	default:
		return fmt.Errorf("expected 0, 1, true or false, got %.20s", b)
	}
	return nil
}

// quoteNonFinite returns data with each of xgboost's non-finite literals
// (NaN, Infinity, -Infinity) that stands where a value may quoted: the
// reference decoder then reads what Parse reads in their place.
func quoteNonFinite(data []byte) []byte {
	var out []byte
	var stack []byte // open containers
	inString, escaped := false, false
	valueNext := true // at the top level, a value comes first
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			out = append(out, c)
			continue
		}
		if valueNext {
			for _, lit := range []string{"-Infinity", "Infinity", "NaN"} {
				if bytes.HasPrefix(data[i:], []byte(lit)) {
					out = append(append(append(out, '"'), lit...), '"')
					i += len(lit) - 1
					c = 0
					break
				}
			}
			if c == 0 {
				valueNext = false
				continue
			}
		}
		switch c {
		case ' ', '\t', '\n', '\r':
		case '"':
			inString = true
			valueNext = false
		case '{':
			stack = append(stack, c)
			valueNext = false
		case '[':
			stack = append(stack, c)
			valueNext = true
		case '}', ']':
			if len(stack) != 0 {
				stack = stack[:len(stack)-1]
			}
			valueNext = false
		case ':':
			valueNext = true
		case ',':
			valueNext = len(stack) != 0 && stack[len(stack)-1] == '['
		default:
			valueNext = false
		}
		out = append(out, c)
	}
	return out
}

// hasDuplicateMember reports whether an object in data names a member twice
// (ignoring case, as encoding/json matches names) before the JSON, read by
// encoding/json's tokenizer, has an error.
func hasDuplicateMember(data []byte) bool {
	type frame struct {
		object    bool
		expectKey bool
		keys      []string
	}
	dec := json.NewDecoder(bytes.NewReader(quoteNonFinite(data)))
	var stack []*frame
	valueDone := func() {
		if n := len(stack); n != 0 && stack[n-1].object {
			stack[n-1].expectKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		top := (*frame)(nil)
		if n := len(stack); n != 0 {
			top = stack[n-1]
		}
		if key, ok := tok.(string); ok && top != nil && top.object && top.expectKey {
			for _, k := range top.keys {
				if strings.EqualFold(k, key) {
					return true
				}
			}
			top.keys = append(top.keys, key)
			top.expectKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// checkMatchesReference checks that Parse accepts data exactly when the
// reference decoder accepts it (with xgboost's non-finite literals quoted),
// and builds the same model; or that Parse refused a member named twice,
// which data has.
func checkMatchesReference(t *testing.T, data []byte) {
	t.Helper()
	m, err := Parse(data)
	if (m == nil) == (err == nil) {
		t.Fatalf("Parse returned %v and %v", m, err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "xgboost: ") {
		t.Fatalf("Parse: %v", err)
	}
	if errors.Is(err, errDuplicateMember) {
		if !hasDuplicateMember(data) {
			t.Fatalf("Parse: %v, but no object names a member twice", err)
		}
		return
	}
	ref, refErr := parseReference(quoteNonFinite(data))
	if (err == nil) != (refErr == nil) {
		t.Fatalf("Parse: %v\nreference: %v", err, refErr)
	}
	if err != nil {
		return
	}
	if diff := modelDiff(m, ref); diff != "" {
		t.Fatalf("Parse and the reference built different models: %s", diff)
	}
}

// modelDiff describes the first difference between a and b, bit for bit, or
// returns "".
func modelDiff(a, b *Model) string {
	f32 := func(x, y []float32) bool {
		return slices.EqualFunc(x, y, func(p, q float32) bool { return math.Float32bits(p) == math.Float32bits(q) })
	}
	nodes := func(x, y []node) bool {
		return slices.EqualFunc(x, y, func(p, q node) bool {
			return math.Float32bits(p.value) == math.Float32bits(q.value) && p.feature == q.feature && p.child == q.child
		})
	}
	switch {
	case a.objective != b.objective || a.numFeature != b.numFeature || a.numOutputs != b.numOutputs || a.numTrees != b.numTrees:
		return fmt.Sprintf("header %s/%d/%d/%d vs %s/%d/%d/%d", a.objective, a.numFeature, a.numOutputs, a.numTrees,
			b.objective, b.numFeature, b.numOutputs, b.numTrees)
	case !reflect.DeepEqual(a.featureNames, b.featureNames):
		return fmt.Sprintf("feature names %#v vs %#v", a.featureNames, b.featureNames)
	case !reflect.DeepEqual(a.version, b.version):
		return fmt.Sprintf("version %#v vs %#v", a.version, b.version)
	case !slices.Equal(a.group, b.group) || !f32(a.base, b.base):
		return "groups or base scores"
	case (a.blocked == nil) != (b.blocked == nil) || (a.generic == nil) != (b.generic == nil) || (a.shap == nil) != (b.shap == nil):
		return "layouts"
	}
	if a.blocked != nil && !reflect.DeepEqual(a.blocked, b.blocked) {
		return "blocked layouts"
	}
	if a.generic != nil {
		g, h := a.generic, b.generic
		if !nodes(g.nodes, h.nodes) || !slices.Equal(g.roots, h.roots) || !slices.Equal(g.depth, h.depth) || !slices.Equal(g.quadDepth, h.quadDepth) {
			return "generic layouts"
		}
	}
	if s, r := a.shap, b.shap; s != nil {
		if !nodes(s.nodes, r.nodes) || !f32(s.covers, r.covers) || !slices.Equal(s.roots, r.roots) || s.maxDepth != r.maxDepth ||
			!f32(s.nodeMeans(), r.nodeMeans()) {
			return "SHAP forests"
		}
	}
	// The same structure predicts the same; check it on two rows anyway.
	if a.numFeature <= 1<<16 {
		row := make([]float32, a.numFeature)
		pa, pb := make([]float32, a.numOutputs), make([]float32, b.numOutputs)
		for _, v := range []float32{float32(math.NaN()), 0} {
			for i := range row {
				row[i] = v
			}
			if a.PredictMargin(row, pa) != nil || b.PredictMargin(row, pb) != nil || !f32(pa, pb) {
				return fmt.Sprintf("margins on a row of %v: %v vs %v", v, pa, pb)
			}
		}
	}
	return ""
}

// referenceCases are documents where the decoder could most easily part from
// encoding/json: each is an edit of the small_binary fixture's text (old, the
// first occurrence, replaced by new), or a whole document.
var referenceCases = []struct{ name, old, new string }{
	{"as is", "", ""},
	{"member names in capitals", `"learner"`, `"LEARNER"`},
	{"member names in mixed case", `"left_children"`, `"Left_Children"`},
	{"long s folds to s", `"split_indices"`, "\"\u017fplit_indices\""},
	{"kelvin sign in an unknown member", `"learner":{`, `"learner":{"\u212a":1,`},
	{"escaped member name", `"learner"`, `"\u006cearner"`},
	{"escaped member name, capitals", `"objective"`, `"\u004fBJECTIVE"`},
	{"unknown member", `"learner":{`, `"learner":{"unknown":[1,{"a":null},"x",true,false,-1.5e-3],`},
	{"learner null", `"learner":{`, `"learner":null,"x":{`},
	{"version null", `"version":[1,7,4]`, `"version":null`},
	{"version empty", `"version":[1,7,4]`, `"version":[]`},
	{"version with null", `"version":[1,7,4]`, `"version":[1,null,4]`},
	{"version string", `"version":[1,7,4]`, `"version":["1"]`},
	{"version fraction", `"version":[1,7,4]`, `"version":[1.5]`},
	{"feature names null", `"feature_names":[]`, `"feature_names":null`},
	{"feature names with null", `"feature_names":[]`, `"feature_names":["a",null,"c","d","e"]`},
	{"feature names with escapes", `"feature_names":[]`, `"feature_names":["\u00e9","\ud83d\ude00","\ud800","tab\t","e"]`},
	{"feature names with bad UTF-8", `"feature_names":[]`, "\"feature_names\":[\"\xff\",\"b\xc3\",\"c\",\"d\",\"e\"]"},
	{"feature names with a control character", `"feature_names":[]`, "\"feature_names\":[\"\x01\",\"b\",\"c\",\"d\",\"e\"]"},
	{"feature names with a bad escape", `"feature_names":[]`, `"feature_names":["\x","b","c","d","e"]`},
	{"feature names with a short \\u", `"feature_names":[]`, `"feature_names":["\u12","b","c","d","e"]`},
	{"feature names bare NaN", `"feature_names":[]`, `"feature_names":[NaN,Infinity,-Infinity,"d","e"]`},
	{"feature types categorical", `"feature_types":[]`, `"feature_types":["q","q","c","q","q"]`},
	{"feature types number", `"feature_types":[]`, `"feature_types":[1]`},
	{"num_feature a number", `"num_feature":"5","num_target"`, `"num_feature":5,"num_target"`},
	{"num_feature a float", `"num_feature":"5","num_target"`, `"num_feature":5.0E0,"num_target"`},
	{"num_feature a fraction", `"num_feature":"5","num_target"`, `"num_feature":"5.5","num_target"`},
	{"num_feature bare NaN", `"num_feature":"5","num_target"`, `"num_feature":NaN,"num_target"`},
	{"num_feature true", `"num_feature":"5","num_target"`, `"num_feature":true,"num_target"`},
	{"num_feature null", `"num_feature":"5","num_target"`, `"num_feature":null,"num_target"`},
	{"num_feature an object", `"num_feature":"5","num_target"`, `"num_feature":{},"num_target"`},
	{"tree num_feature a number", `"num_feature":"5","num_nodes"`, `"num_feature":5,"num_nodes"`},
	{"tree num_feature true", `"num_feature":"5","num_nodes"`, `"num_feature":true,"num_nodes"`},
	{"num_class a number", `"num_class":"0"`, `"num_class":0`},
	{"num_class hex", `"num_class":"0"`, `"num_class":"0x0"`},
	{"base_score a number", `"base_score":"5E-1"`, `"base_score":0.5`},
	{"base_score bare Infinity", `"base_score":"5E-1"`, `"base_score":Infinity`},
	{"tree num_feature bare -Infinity", `"num_feature":"5","num_nodes"`, `"num_feature":-Infinity,"num_nodes"`},
	{"objective name null", `"name":"binary:logistic"`, `"name":null`},
	{"objective name a number", `"name":"binary:logistic"`, `"name":1`},
	{"gradient booster null", `"gradient_booster":{`, `"gradient_booster":null,"x":{`},
	{"dart inner booster", `"name":"gbtree"`, `"name":"gbtree","gbtree":{"model":{"trees":[{"left_children":[1,-1,-1]}],"tree_info":[0]}}`},
	{"dart inner booster, bad type", `"name":"gbtree"`, `"name":"gbtree","gbtree":{"model":{"trees":[{"left_children":["1"]}]}}`},
	{"dart inner booster null", `"name":"gbtree"`, `"name":"gbtree","gbtree":null`},
	{"gbtree param null", `"gbtree_model_param":{`, `"gbtree_model_param":null,"x":{`},
	{"trees null", `"trees":[`, `"trees":null,"x":[`},
	{"tree null", `"trees":[`, `"trees":[null,`},
	{"tree not an object", `"trees":[`, `"trees":[1,`},
	{"tree id null", `"id":0`, `"id":null`},
	{"tree id a float", `"id":0`, `"id":0.0`},
	{"tree id negative zero", `"id":0`, `"id":-0`},
	{"tree id a string", `"id":0`, `"id":"0"`},
	{"tree id bare NaN", `"id":0`, `"id":NaN`},
	{"tree param null", `"tree_param":{`, `"tree_param":null,"x":{`},
	{"left children null", `"left_children":[`, `"left_children":null,"x":[`},
	{"left children with null", `"left_children":[1`, `"left_children":[null`},
	{"left child 1.0", `"left_children":[1`, `"left_children":[1.0`},
	{"left child 1e0", `"left_children":[1`, `"left_children":[1e0`},
	{"left child leading zero", `"left_children":[1`, `"left_children":[01`},
	{"left child huge", `"left_children":[1`, `"left_children":[9223372036854775808`},
	{"left child max int64", `"left_children":[1`, `"left_children":[9223372036854775807`},
	{"left child min int64", `"left_children":[1`, `"left_children":[-9223372036854775808`},
	{"left child 19 digits", `"left_children":[1`, `"left_children":[0000000000000000001`},
	{"left child -0", `"left_children":[1`, `"left_children":[-0`},
	{"left child -", `"left_children":[1`, `"left_children":[-`},
	{"left child bare NaN", `"left_children":[1`, `"left_children":[NaN`},
	{"split type string", `"split_type":[0`, `"split_type":["0"`},
	{"default left true", `"default_left":[1`, `"default_left":[true`},
	{"default left false", `"default_left":[1`, `"default_left":[false`},
	{"default left 2", `"default_left":[1`, `"default_left":[2`},
	{"default left 0.0", `"default_left":[1`, `"default_left":[0.0`},
	{"default left -0", `"default_left":[1`, `"default_left":[-0`},
	{"default left 1e0", `"default_left":[1`, `"default_left":[1e0`},
	{"default left string", `"default_left":[1`, `"default_left":["1"`},
	{"default left null", `"default_left":[1`, `"default_left":[null`},
	{"split condition string", `"split_conditions":[-2.1859577E1`, `"split_conditions":["1.5E0"`},
	{"split condition bare NaN", `"split_conditions":[-2.1859577E1`, `"split_conditions":[NaN`},
	{"split condition string inf", `"split_conditions":[-2.1859577E1`, `"split_conditions":["inf"`},
	{"split condition bare Infinity", `"split_conditions":[-2.1859577E1`, `"split_conditions":[Infinity`},
	{"split condition bare -Infinity", `"split_conditions":[-2.1859577E1`, `"split_conditions":[-Infinity`},
	{"split condition -NaN", `"split_conditions":[-2.1859577E1`, `"split_conditions":[-NaN`},
	{"split condition nan", `"split_conditions":[-2.1859577E1`, `"split_conditions":[nan`},
	{"split condition hex string", `"split_conditions":[-2.1859577E1`, `"split_conditions":["0x1p-2"`},
	{"split condition 1e999", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1e999`},
	{"split condition 1e-999", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1e-999`},
	{"split condition subnormal", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1.4E-45`},
	{"split condition many digits", `"split_conditions":[-2.1859577E1`, `"split_conditions":[0.1000000000000000055511151231257827021181583404541015625`},
	{"split condition halfway", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1.00000005960464477539062500000001`},
	{"split condition null", `"split_conditions":[-2.1859577E1`, `"split_conditions":[null`},
	{"split condition true", `"split_conditions":[-2.1859577E1`, `"split_conditions":[true`},
	{"split condition an array", `"split_conditions":[-2.1859577E1`, `"split_conditions":[[1]`},
	{"split condition 1.", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1.`},
	{"split condition .5", `"split_conditions":[-2.1859577E1`, `"split_conditions":[.5`},
	{"split condition +1", `"split_conditions":[-2.1859577E1`, `"split_conditions":[+1`},
	{"split condition 1e", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1e`},
	{"split condition 1E+2", `"split_conditions":[-2.1859577E1`, `"split_conditions":[1E+2`},
	{"leaf NaN", `-5.0769234E-1`, `NaN`},
	{"leaf Infinity", `-5.0769234E-1`, `Infinity`},
	{"leaf 1e999", `-5.0769234E-1`, `1e999`},
	{"leaf string", `-5.0769234E-1`, `"-5.0769234E-1"`},
	{"tree_info with null", `"tree_info":[0`, `"tree_info":[null`},
	{"tree_info string", `"tree_info":[0`, `"tree_info":["0"`},
	{"num_trees a number", `"num_trees":"4"`, `"num_trees":4`},
	{"base weight bare Infinity", `"base_weights":[-1.3636364E-1`, `"base_weights":[-Infinity`},
	{"base weight bare NaN", `"base_weights":[-1.3636364E-1`, `"base_weights":[NaN`},
	{"base weight string", `"base_weights":[-1.3636364E-1`, `"base_weights":["x"`},
	{"base weight null", `"base_weights":[-1.3636364E-1`, `"base_weights":[null`},
	{"sum hessian negative", `"sum_hessian":[2.1E1`, `"sum_hessian":[-1`},
	{"sum hessian bare Infinity", `"sum_hessian":[2.1E1`, `"sum_hessian":[Infinity`},
	{"sum hessian empty", `"sum_hessian":[`, `"sum_hessian":[],"x":[`},
	{"loss changes bare literals", `"loss_changes":[`, `"loss_changes":[NaN,Infinity,-Infinity,`},
	{"loss changes -NaN", `"loss_changes":[`, `"loss_changes":[-NaN,`},
	{"loss changes bad number", `"loss_changes":[`, `"loss_changes":[1.e5,`},
	{"categories", `"categories":[]`, `"categories":[1]`},
	{"categories null", `"categories":[]`, `"categories":null`},
	{"spaces", `":`, `"  :  `},
	{"tabs and newlines", `,"`, ",\r\n\t\""},
	{"space before a comma in an array", `[1,`, `[1 ,`},
	{"space after a comma in an array", `[1,`, `[1, `},
	{"space after the last element", `],"`, ` ],"`},
	{"trailing data", `"version":[1,7,4]}`, `"version":[1,7,4]}{}`},
	{"trailing space", `"version":[1,7,4]}`, "\"version\":[1,7,4]} \n"},
	{"trailing comma", `"version":[1,7,4]}`, `"version":[1,7,4],}`},
	{"trailing comma in an array", `"version":[1,7,4]}`, `"version":[1,7,4,]}`},
	{"missing comma", `,"version"`, `"version"`},
	{"unterminated string", `"version":[1,7,4]}`, `"version":[1,7,4],"x":"abc`},
	{"single quotes", `"version":[1,7,4]}`, `"version":[1,7,4],'x':1}`},
	{"member name a number", `"version":[1,7,4]}`, `"version":[1,7,4],1:1}`},
	{"member name bare NaN", `"version":[1,7,4]}`, `"version":[1,7,4],NaN:1}`},
	{"comment", `"version":[1,7,4]}`, `"version":[1,7,4] /* x */}`},
	{"byte order mark", `{"learner"`, "\ufeff{\"learner\""},
	{"duplicate learner", `"version":[1,7,4]}`, `"version":[1,7,4],"learner":{}}`},
	{"duplicate member in a tree", `"id":0`, `"id":0,"ID":0`},
	{"duplicate unknown member", `"learner":{`, `"learner":{"x":1,"x":2,`},
	{"tree ids reversed", "", "reverse ids"},
	{"a tree without covers", "", "drop sum_hessian of tree 1"},
	{"a bad cover", `"sum_hessian":[2.1E1`, `"sum_hessian":[-1`},
	{"a bad cover, a tree without covers", "", "bad cover, drop sum_hessian of tree 1"},
	{"empty", "", "doc:"},
	{"null", "", "doc:null"},
	{"empty object", "", "doc:{}"},
	{"bare NaN", "", "doc:NaN"},
	{"array", "", "doc:[]"},
	{"deep ignored member", "", "deep 9990"},
	{"too deep ignored member", "", "deep 9999"},
}

// referenceDoc returns the document of a reference case.
func referenceDoc(t testing.TB, old, new string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/fixtures/small_binary.model.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	switch {
	case strings.HasPrefix(new, "doc:"):
		return []byte(new[len("doc:"):])
	case new == "reverse ids":
		n := strings.Count(s, `"id":`)
		for i := range n {
			s = strings.Replace(s, fmt.Sprintf(`"id":%d,`, i), fmt.Sprintf(`"id":@%d,`, n-1-i), 1)
		}
		return []byte(strings.ReplaceAll(s, "@", ""))
	case new == "bad cover, drop sum_hessian of tree 1":
		s = strings.Replace(s, `"sum_hessian":[2.1E1`, `"sum_hessian":[-1`, 1)
		fallthrough
	case new == "drop sum_hessian of tree 1":
		i := strings.Index(s, `"id":1,`)
		j := i + strings.Index(s[i:], `"sum_hessian":[`)
		k := j + strings.Index(s[j:], `]`)
		return []byte(s[:j] + `"sum_hessian":[]` + s[k+1:])
	case strings.HasPrefix(new, "deep "):
		var n int
		fmt.Sscan(new[len("deep "):], &n)
		return []byte(strings.Replace(s, `"learner":{`, `"learner":{"x":`+strings.Repeat("[", n)+strings.Repeat("]", n)+",", 1))
	case old == "":
		return data
	}
	if !strings.Contains(s, old) {
		t.Fatalf("the fixture has no %q", old)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

func TestParseMatchesReference(t *testing.T) {
	for _, tc := range referenceCases {
		t.Run(tc.name, func(t *testing.T) { checkMatchesReference(t, referenceDoc(t, tc.old, tc.new)) })
	}
	for _, name := range []string{"small_binary", "small_regression", "small_multi", "small_deep"} {
		data, err := os.ReadFile("testdata/fixtures/" + name + ".model.json")
		if err != nil {
			t.Fatal(err)
		}
		var indented bytes.Buffer
		if err := json.Indent(&indented, data, "", "  "); err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) { checkMatchesReference(t, data) })
		t.Run(name+" indented", func(t *testing.T) { checkMatchesReference(t, indented.Bytes()) })
		// Cut anywhere, a model is refused by both.
		t.Run(name+" truncated", func(t *testing.T) {
			for n := range len(data) {
				if _, err := Parse(data[:n]); err == nil {
					t.Fatalf("Parse of the first %d bytes succeeded", n)
				}
			}
		})
	}
}

// TestParseMatchesReferenceOnTrainedModels checks the models
// testdata/gen_models.py trains with xgboost.
func TestParseMatchesReferenceOnTrainedModels(t *testing.T) {
	dir := models.For(t)
	for _, name := range []string{"binary", "binary_exact_gamma", "regression", "multi", "forest", "big"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name+".model.json"))
			if err != nil {
				t.Fatal(err)
			}
			checkMatchesReference(t, data)
		})
	}
}

// FuzzParseMatchesReference is checkMatchesReference on any input. Its seeds
// are the reference cases, the fixtures, and testdata/fuzz/FuzzParseMatchesReference.
func FuzzParseMatchesReference(f *testing.F) {
	for _, tc := range referenceCases {
		if !strings.HasPrefix(tc.new, "deep ") {
			f.Add(referenceDoc(f, tc.old, tc.new))
		}
	}
	for _, name := range []string{"small_binary", "small_regression", "small_multi"} {
		data, err := os.ReadFile("testdata/fixtures/" + name + ".model.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkMatchesReference(t, data) })
}
