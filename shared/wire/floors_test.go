package wire

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/openmlops/mlops"

// The floors of the package doc, top (1) to bottom (5), by package path
// relative to the module; the longest prefix that matches a package places it.
const (
	entryPoints = iota + 1
	composition
	useCases
	adapters
	formats
)

var floors = map[string]int{
	"cmd": entryPoints, "functions": entryPoints, "bench": entryPoints, "examples/byo-trainer": entryPoints,

	"shared/local": composition, "shared/wire": composition,

	"shared/ingest": useCases, "shared/training": useCases, "shared/gate": useCases, "shared/registry": useCases,
	"shared/reconcile": useCases, "shared/testset": useCases, "shared/decisions": useCases, "shared/predict": useCases, "shared/serving": useCases, "shared/drift": useCases, "reportgen": useCases,
	"shared/report": useCases,

	"shared/store": adapters, "shared/pointer": adapters, "shared/bundlestore": adapters, "shared/policystore": adapters, "shared/specstore": adapters, "shared/predlog": adapters,
	"shared/aws": adapters, "shared/aws/stackout": adapters, "shared/aws/sigv4http": adapters, "shared/local/s3": adapters, "shared/local/bus": adapters, "shared/local/batch": adapters,
	"shared/local/api": adapters, "shared/local/runtimeapi": adapters,

	"shared/bundle": formats, "shared/policy": formats, "shared/spec": formats, "shared/contract": formats,
	"shared/profile": formats, "shared/table": formats, "shared/validate": formats, "shared/xgboost": formats,
	"shared/metrics": formats, "shared/yamldoc": formats, "shared/hashid": formats, "shared/jsonappend": formats, "shared/naming": formats, "shared/clip": formats, "shared/apierror": formats, "shared/apidoc": formats, "shared/event": formats, "shared/rules": formats,
	"shared/feedback": formats, "shared/quality": formats, "shared/driftstat": formats, "templates": formats, "shared/parallel": formats, "shared/reuse": formats,
	"events": formats, "examples/credit": formats, "trainer": formats,
}

// testSupport may import anything: it is imported by tests only.
var testSupport = map[string]bool{"shared/local/lambdatest": true, "shared/local/localtest": true, "shared/apidoc/apidoctest": true, "shared/pythontest": true, "reportgen/reportgentest": true, "trainer/trainertest": true,
	"shared/aws/awstest": true, "shared/event/eventtest": true}

// benchInputs are the test helpers a benchmark may import to generate its
// input, as the tests do.
var benchInputs = map[string]bool{"bench/report -> reportgen/reportgentest": true}

// upward are the imports the rule allows against the floors: adapters that
// implement a use case's port.
var upward = map[string]bool{
	"shared/aws/batch -> shared/training":   true, // implements training.Batch
	"shared/local/batch -> shared/training": true, // implements training.Batch
}

func floorOf(pkg string) (int, bool) {
	for p := pkg; p != "."; p = path.Dir(p) {
		if f, ok := floors[p]; ok {
			return f, true
		}
	}
	return 0, false
}

// Every package of the module stands on a floor, and imports only packages on
// its floor or below, but for the exceptions above.
func TestFloors(t *testing.T) {
	root := filepath.Join("..", "..")
	imports := map[string]map[string]bool{} // package -> module packages it imports
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			// infra/ is its own module; testdata and hidden folders hold no packages.
			if p != root && (name == "testdata" || name == "infra" || name == "node_modules" || strings.HasPrefix(name, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		if imports[pkg] == nil {
			imports[pkg] = map[string]bool{}
		}
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if dep, ok := strings.CutPrefix(ip, module+"/"); ok {
				imports[pkg][dep] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil || len(imports) < 30 {
		t.Fatalf("read %d packages from %s (%v): not the module root?", len(imports), root, err)
	}
	var bad []string
	for pkg, deps := range imports {
		if testSupport[pkg] {
			continue
		}
		from, ok := floorOf(pkg)
		if !ok {
			bad = append(bad, pkg+": on no floor (place it in the floors of shared/wire's package doc and this test)")
			continue
		}
		for dep := range deps {
			to, ok := floorOf(dep)
			if testSupport[dep] && !benchInputs[pkg+" -> "+dep] {
				bad = append(bad, pkg+" imports the test helper "+dep)
			} else if ok && to < from && !upward[pkg+" -> "+dep] {
				bad = append(bad, pkg+" imports "+dep+", a floor above it")
			}
		}
	}
	for e := range upward {
		pkg, dep, _ := strings.Cut(e, " -> ")
		if !imports[pkg][dep] {
			bad = append(bad, "the exception "+e+" is no longer needed: remove it")
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}
