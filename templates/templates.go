// Package templates holds the governance site's HTML templates and the assets
// it ships (its stylesheet, its script and the vendored ECharts library), as
// an embed.FS: reportgen cannot embed a parent folder, so this package does.
//
// assets/echarts.min.js is npm's echarts@5.6.0 dist/echarts.min.js, unmodified
// (Apache-2.0, assets/echarts-LICENSE.txt); EChartsSHA256 pins it (README.md
// says how to update it).
package templates

import "embed"

// FS holds *.html (the page templates) and assets/ (copied into every site).
//
//go:embed *.html assets
var FS embed.FS

// EChartsVersion and EChartsSHA256 name the vendored library.
const (
	EChartsVersion = "5.6.0"
	EChartsSHA256  = "bf4a223524e40b77c304bec67e1222cf551f14880cf42c69dc046558e11c07b1"
)
