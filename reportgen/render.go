package reportgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/openmlops/mlops/templates"
)

// CSP is every page's Content-Security-Policy: scripts and style sheets
// from the site itself only (site.js draws the charts from JSON data blocks,
// so no page has an inline script, and no page an inline <style>); style
// attributes are allowed because ECharts writes its tooltips with them. The
// publisher sends the same policy as a header, with frame-ancestors, which a
// meta tag cannot carry.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; style-src-elem 'self'; style-src-attr 'unsafe-inline'; " +
	"img-src 'self'; font-src 'self'; connect-src 'none'; base-uri 'none'; form-action 'none'"

// Page paths. Model and dataset names are [a-z0-9][a-z0-9_-]*, so they are
// safe as path segments; every link is relative, so the site works opened
// from disk and under any prefix.
const (
	IndexPath = "index.html"
	AssetsDir = "assets"
)

// ModelPath is a model's overview page.
func ModelPath(model string) string { return "models/" + model + "/index.html" }

// CardPath is a model version's card.
func CardPath(model string, version int) string {
	return fmt.Sprintf("models/%s/v%d/index.html", model, version)
}

// RunsPath, DriftPath, AuditPath and LineagePath are a model's other pages.
func RunsPath(model string) string    { return "models/" + model + "/runs.html" }
func DriftPath(model string) string   { return "models/" + model + "/drift.html" }
func AuditPath(model string) string   { return "models/" + model + "/audit.html" }
func LineagePath(model string) string { return "models/" + model + "/lineage.html" }

// DatasetPath is a dataset's overview page.
func DatasetPath(dataset string) string { return "datasets/" + dataset + "/index.html" }

// DatasheetPath is a dataset version's datasheet.
func DatasheetPath(dataset, version string) string {
	return "datasets/" + dataset + "/" + version + "/index.html"
}

// crumb is one step of a page's breadcrumb.
type crumb struct{ Text, Href string }

// Table is a table as the "table" template draws it.
type Table struct {
	ID, Caption string
	Sortable    bool
	Head        []string
	Rows        [][]Cell
}

// Cell is one table cell: text, an optional link (relative to the page), a
// CSS class and a sort key.
type Cell struct{ Text, Href, Class, Sort string }

// Chart is a chart as the "chart" template draws it: Option is the ECharts
// option built with go-echarts, Table the same numbers.
type Chart struct {
	ID, Title, Note string
	Option          template.JS
	Table           Table
}

// pageData is what the layout sees.
type pageData struct {
	Title  string
	Root   string // "../" per folder level: the way back to the site's root
	CSP    string
	AsOf   string
	Crumbs []crumb
	Charts bool // the page draws charts: load ECharts
	Data   any  // the page's own
}

// renderer holds the parsed templates: one clone of the layout per page type.
type renderer struct {
	pages map[string]*template.Template
}

var (
	parsed    *renderer
	parsedErr error
	parseOnce sync.Once
)

// load parses the templates once.
func load() (*renderer, error) {
	parseOnce.Do(func() {
		parsed, parsedErr = parse(templates.FS)
	})
	return parsed, parsedErr
}

// parse reads the layout and every page template of fsys.
func parse(fsys fs.FS) (*renderer, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	names, err := fs.Glob(fsys, "*.html")
	if err != nil {
		return nil, err
	}
	r := &renderer{pages: map[string]*template.Template{}}
	for _, n := range names {
		if n == "layout.html" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("templates: %w", err)
		}
		r.pages[strings.TrimSuffix(n, ".html")] = t
	}
	return r, nil
}

// render executes page template name for the page at p.
func (r *renderer) render(p, name, title string, crumbs []crumb, asOf string, charts bool, data any) ([]byte, error) {
	t, ok := r.pages[name]
	if !ok {
		return nil, fmt.Errorf("no template %s.html", name)
	}
	root := strings.Repeat("../", strings.Count(p, "/"))
	for i := range crumbs {
		if crumbs[i].Href != "" {
			crumbs[i].Href = root + crumbs[i].Href
		}
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", pageData{Title: title, Root: root, CSP: CSP, AsOf: asOf, Crumbs: crumbs, Charts: charts, Data: data})
	if err != nil {
		return nil, fmt.Errorf("render %s: %w", p, err)
	}
	return buf.Bytes(), nil
}

// rel is the link from the page at from to the page at to.
func rel(from, to string) string {
	return strings.Repeat("../", strings.Count(from, "/")) + to
}

var funcs = template.FuncMap{
	"rel":   rel,
	"short": short,
	"num":   num,
	"pct":   pct,
	"day":   func(t time.Time) string { return formatDay(t) },
	"time":  func(t time.Time) string { return formatTime(t) },
}

// short is a hash's first 12 characters.
func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// num formats a metric: 4 significant digits.
func num(f float64) string { return fmt.Sprintf("%.4g", f) }

// pct formats a share as a percentage.
func pct(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) }

func formatDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02")
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// Assets are the files every site carries, by path.
func Assets() (map[string][]byte, error) {
	out := map[string][]byte{}
	err := fs.WalkDir(templates.FS, AssetsDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(templates.FS, p)
		out[path.Clean(p)] = b
		return err
	})
	return out, err
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// htmlEscaper escapes text and quoted attribute values as html/template does
// (the same entities), so that a table written here reads like the rest of
// the page.
var htmlEscaper = strings.NewReplacer("\x00", "\uFFFD", `"`, "&#34;", "&", "&amp;", "'", "&#39;", "+", "&#43;", "<", "&lt;", ">", "&gt;")

// safeHref is a cell's link as an attribute value: a path in the site, a
// fragment, or an http(s) URL; anything else (javascript:, data:, ...)
// becomes html/template's "#ZgotmplZ".
func safeHref(h string) string {
	if i := strings.IndexAny(h, ":/?#"); i >= 0 && h[i] == ':' {
		if scheme := strings.ToLower(h[:i]); scheme != "http" && scheme != "https" {
			return "#ZgotmplZ"
		}
	}
	return htmlEscaper.Replace(h)
}

// HTML writes the table. Tables are most of the site's markup, and writing
// them here rather than through html/template's reflective escaping makes a
// full build several times faster; every text and attribute is escaped.
func (t Table) HTML() template.HTML {
	var b strings.Builder
	b.Grow(256 + 64*len(t.Rows)*max(1, len(t.Head)))
	b.WriteString(`<div class="table-wrap"><table`)
	if t.ID != "" {
		b.WriteString(` id="` + htmlEscaper.Replace(t.ID) + `"`)
	}
	if t.Sortable {
		b.WriteString(` class="sortable"`)
	}
	b.WriteString(">\n")
	if t.Caption != "" {
		b.WriteString("<caption>" + htmlEscaper.Replace(t.Caption) + "</caption>")
	}
	b.WriteString("\n<thead><tr>")
	for _, h := range t.Head {
		b.WriteString(`<th scope="col">` + htmlEscaper.Replace(h) + "</th>")
	}
	b.WriteString("</tr></thead>\n<tbody>")
	for _, row := range t.Rows {
		b.WriteString("<tr>")
		for _, c := range row {
			b.WriteString("<td")
			if c.Class != "" {
				b.WriteString(` class="` + htmlEscaper.Replace(c.Class) + `"`)
			}
			if c.Sort != "" {
				b.WriteString(` data-sort="` + htmlEscaper.Replace(c.Sort) + `"`)
			}
			b.WriteString(">")
			if c.Href != "" {
				b.WriteString(`<a href="` + safeHref(c.Href) + `">` + htmlEscaper.Replace(c.Text) + "</a>")
			} else {
				b.WriteString(htmlEscaper.Replace(c.Text))
			}
			b.WriteString("</td>")
		}
		b.WriteString("</tr>\n")
	}
	b.WriteString("</tbody>\n</table></div>")
	return template.HTML(b.String()) //nolint:gosec // every value above is escaped
}

// optionJS is a chart's option as the JSON its data block holds.
// encoding/json escapes <, >, & and U+2028/2029, so the bytes cannot end
// the <script> element or run: they are inserted as they are, without
// html/template's second, reflective pass over the option.
func optionJS(option any) template.JS {
	b, err := json.Marshal(option)
	if err != nil {
		// Every option is numbers and strings (NaN and ±Inf are dropped
		// before): a failure here is a bug, and the table still shows.
		b, _ = json.Marshal(map[string]any{"title": map[string]string{"text": "chart unavailable: " + err.Error()}})
	}
	return template.JS(b) //nolint:gosec // JSON with <, >, & escaped: see above
}
