package pythontest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openmlops/mlops/shared/pythontest"
)

func TestGeneratedRunsTheScriptOnce(t *testing.T) {
	if _, err := os.Stat(pythontest.Python); err != nil {
		t.Skipf("%s: %v", pythontest.Python, err)
	}
	script := filepath.Join(t.TempDir(), "gen.py")
	// Each run appends a line, so a second run would show.
	body := "import sys, os\nopen(os.path.join(sys.argv[1], 'out'), 'a').write(' '.join(sys.argv[2:]) + '\\n')\n"
	if err := os.WriteFile(script, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &pythontest.Generated{Script: script, Args: []string{"a", "b"}, Prefix: "pythontest-"}
	defer g.Remove()
	first, err := g.Dir()
	if err != nil {
		t.Fatal(err)
	}
	second, err := g.Dir()
	if err != nil || second != first {
		t.Fatalf("second Dir: %q, %v; want %q", second, err, first)
	}
	out, err := os.ReadFile(filepath.Join(first, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "a b\n" {
		t.Fatalf("the script wrote %q, want one run with its arguments", out)
	}
	g.Remove()
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("after Remove: %v", err)
	}
}

func TestGeneratedReportsTheScriptsError(t *testing.T) {
	if _, err := os.Stat(pythontest.Python); err != nil {
		t.Skipf("%s: %v", pythontest.Python, err)
	}
	script := filepath.Join(t.TempDir(), "broken.py")
	if err := os.WriteFile(script, []byte("import sys\nsys.exit('no such model')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &pythontest.Generated{Script: script, Prefix: "pythontest-"}
	defer g.Remove()
	_, err := g.Dir()
	if err == nil || !strings.Contains(err.Error(), "broken.py") || !strings.Contains(err.Error(), "no such model") {
		t.Fatalf("Dir: %v, want the script's name and its standard error", err)
	}
}
