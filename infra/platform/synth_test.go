package platform

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// The stack is synthesized once per test binary (a synthesis takes seconds)
// and every test reads the same template.
var (
	synthOnce sync.Once
	synthed   struct {
		tmpl   assertions.Template
		doc    map[string]any // the template as JSON
		path   string         // the template's file
		outdir string
		err    error
	}
)

// placeholderAssets is a directory with an empty bootstrap per function:
// the stack only needs the files to exist to hash them.
func placeholderAssets(t testing.TB) string {
	dir, err := os.MkdirTemp("", "mlops-infra-assets-")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range Functions() {
		if err := os.MkdirAll(filepath.Join(dir, f.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f.Name, "bootstrap"), []byte("placeholder "+f.Name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// testProps are prod's defaults with an account and region, the assets above
// and the repository's trainer/.
func testProps(t testing.TB, assets string) PlatformStackProps {
	p := Defaults("test")
	p.AssetDir = assets
	p.TrainerDir = filepath.Join("..", "..", "trainer")
	p.AlarmEmails = []string{"ops@example.com"}
	p.Env = &awscdk.Environment{Account: jsii.String("123456789012"), Region: jsii.String("eu-west-1")}
	return p
}

// TestMain silences jsii's notice about the Node version (it must be set
// before the jsii runtime starts) and removes the synthesized output.
func TestMain(m *testing.M) {
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	code := m.Run()
	if synthed.outdir != "" {
		os.RemoveAll(synthed.outdir)
	}
	os.Exit(code)
}

// template is the shared synthesized template, as the assertions package
// reads it and as JSON.
func template(t *testing.T) (assertions.Template, map[string]any) {
	t.Helper()
	synthOnce.Do(func() {
		assets := placeholderAssets(t)
		defer os.RemoveAll(assets)
		out, err := os.MkdirTemp("", "mlops-infra-test-out-")
		if err != nil {
			synthed.err = err
			return
		}
		synthed.outdir = out
		app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
		p := testProps(t, assets)
		if _, err := NewPlatformStack(app, "mlops-test", &p); err != nil {
			synthed.err = err
			return
		}
		asm := app.Synth(nil)
		synthed.path = *asm.GetStackByName(jsii.String("mlops-test")).TemplateFullPath()
		raw, err := os.ReadFile(synthed.path)
		if err == nil {
			err = json.Unmarshal(raw, &synthed.doc)
		}
		if err != nil {
			synthed.err = err
			return
		}
		synthed.tmpl = assertions.Template_FromJSON(&synthed.doc, nil)
	})
	if synthed.err != nil {
		t.Fatalf("synthesize: %v", synthed.err)
	}
	return synthed.tmpl, synthed.doc
}

// resources are the template's resources of type typ, by logical id.
func resources(doc map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range doc["Resources"].(map[string]any) {
		r := r.(map[string]any)
		if typ == "" || r["Type"] == typ {
			out[id] = r
		}
	}
	return out
}

func props(r map[string]any) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

func TestSynthesizes(t *testing.T) {
	_, doc := template(t)
	n := len(resources(doc, ""))
	t.Logf("%d resources", n)
	if n < 50 {
		t.Fatalf("only %d resources", n)
	}
}

// synthWith synthesizes a stack from testProps changed by change, for the
// tests of an option (each costs a synthesis).
func synthWith(t *testing.T, change func(*PlatformStackProps)) map[string]any {
	t.Helper()
	assets := placeholderAssets(t)
	defer os.RemoveAll(assets)
	out := t.TempDir()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	p := testProps(t, assets)
	change(&p)
	if _, err := NewPlatformStack(app, "mlops-option", &p); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(*app.Synth(nil).GetStackByName(jsii.String("mlops-option")).TemplateFullPath())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}
