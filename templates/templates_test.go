package templates_test

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"testing"

	"github.com/openmlops/mlops/templates"
)

// The vendored ECharts is the pinned npm release's file, byte for byte.
func TestEChartsIsThePinnedRelease(t *testing.T) {
	b, err := fs.ReadFile(templates.FS, "assets/echarts.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != templates.EChartsSHA256 {
		t.Fatalf("assets/echarts.min.js has sha256 %s; echarts@%s's is %s", got, templates.EChartsVersion, templates.EChartsSHA256)
	}
}
