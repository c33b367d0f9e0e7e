package platform

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// constants are the string constants a package of this repository declares,
// read from its source: type-checked alone, its imports stood in for by
// empty packages, so constants that need nothing imported evaluate.
func constants(t *testing.T, dir string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	src := filepath.Join("..", "..", dir)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatalf("%s: %v", dir, err)
	}
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(src, e.Name()), nil, 0)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		files = append(files, f)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: emptyImporter{}, Error: func(error) {}}
	_, _ = conf.Check(dir, fset, files, info)
	out := map[string]string{}
	for id, obj := range info.Defs {
		if c, ok := obj.(*types.Const); ok && c.Val().Kind() == constant.String {
			out[id.Name] = constant.StringVal(c.Val())
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s: no string constants read", dir)
	}
	return out
}

type emptyImporter struct{}

func (emptyImporter) Import(p string) (*types.Package, error) {
	return types.NewPackage(p, path.Base(p)), nil
}

// The values spelled here to keep reportgen and predlog out of this module
// are theirs.
func TestPinnedToSource(t *testing.T) {
	if csp := constants(t, "reportgen")["CSP"]; csp != siteCSP {
		t.Errorf("reportgen.CSP is %q, the stack has %q", csp, siteCSP)
	}
	p := constants(t, filepath.Join("shared", "predlog"))
	for name, ours := range map[string]string{
		"SubscriptionFilterPattern": predlogValues.SubscriptionFilterPattern, "FirehoseJQ": predlogValues.FirehoseJQ,
		"FirehosePrefix": predlogValues.FirehosePrefix, "FirehoseErrorPrefix": predlogValues.FirehoseErrorPrefix,
		"FirehoseFileExtension": predlogValues.FirehoseFileExtension,
	} {
		if p[name] != ours {
			t.Errorf("predlog.%s is %q, the stack has %q", name, p[name], ours)
		}
	}
}
