package reportgen

import (
	"bytes"
	"fmt"
	"html/template"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// markdown renders text people wrote (card.md, datasheet.md) as HTML that
// cannot carry markup or script of its own: goldmark without raw HTML (it
// writes "<!-- raw HTML omitted -->" instead) and without dangerous URLs
// (javascript:, vbscript:, file:, data: other than images); headings moved
// down two levels to sit under the page's sections; images that would load
// from another host made links; links to other hosts marked external.
var md = goldmark.New(
	goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.TaskList),
	goldmark.WithParserOptions(parser.WithASTTransformers(
		util.Prioritized(safeTransformer{}, 100),
	)),
)

// Limits on the Markdown rendered: goldmark's time grows with the square of
// the nesting (quotes, lists) and of unclosed brackets, so text past them is
// shown as plain text rather than rendered (a 64 KiB file of nested lists
// would otherwise take seconds, on every page that shows it).
const (
	MaxMarkdownBytes   = 256 << 10
	MaxMarkdownNesting = 24
	MaxMarkdownOpeners = 4096
)

// Markdown renders src for a page.
func Markdown(src string) template.HTML {
	if why := tooComplex(src); why != "" {
		return template.HTML(`<p class="note">Shown as plain text: ` + template.HTMLEscapeString(why) + `.</p><pre class="plain">` +
			template.HTMLEscapeString(src) + "</pre>")
	}
	var buf bytes.Buffer
	if err := md.Convert([]byte(src), &buf); err != nil {
		// Convert fails only when writing to buf fails, which it cannot;
		// even so, the text is shown, escaped, rather than lost.
		return template.HTML("<pre>" + template.HTMLEscapeString(src) + "</pre>")
	}
	return template.HTML(buf.String()) //nolint:gosec // goldmark's output without raw HTML: see md
}

type safeTransformer struct{}

const externalRel = "external nofollow noopener noreferrer"

func (safeTransformer) Transform(doc *ast.Document, reader text.Reader, pc parser.Context) {
	src := reader.Source()
	type swap struct{ old, new ast.Node }
	var swaps []swap
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+2, 6)
		case *ast.Link:
			dest := string(n.Destination)
			switch {
			case external(dest) && !webScheme(dest):
				// javascript:, data:, file: and the like: the text stays, the link goes.
				swaps = append(swaps, swap{n, children(ast.NewEmphasis(1), n)})
			case external(dest):
				n.SetAttributeString("rel", []byte(externalRel))
			case !strings.HasPrefix(dest, "#"):
				// A path next to the Markdown file: the file was stored as
				// text, what it links to was not, so the link would be broken.
				swaps = append(swaps, swap{n, children(ast.NewEmphasis(1), n)})
			}
		case *ast.AutoLink:
			// Autolinks (<https://…>) take no attributes: they become links.
			if !webScheme(string(n.URL(src))) {
				swaps = append(swaps, swap{n, ast.NewString(n.Label(src))})
				return ast.WalkContinue, nil
			}
			link := ast.NewLink()
			link.Destination = n.URL(src)
			link.SetAttributeString("rel", []byte(externalRel))
			link.AppendChild(link, ast.NewString(n.Label(src)))
			swaps = append(swaps, swap{n, link})
		case *ast.Image:
			// An image would be a request (to another host) or a broken link
			// (to a file that was not stored): it becomes a link to an
			// external image, or its alt text.
			if external(string(n.Destination)) && webScheme(string(n.Destination)) {
				link := ast.NewLink()
				link.Destination, link.Title = n.Destination, n.Title
				link.SetAttributeString("rel", []byte(externalRel))
				swaps = append(swaps, swap{n, children(link, n)})
			} else {
				swaps = append(swaps, swap{n, children(ast.NewEmphasis(1), n)})
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	for _, s := range swaps {
		if p := s.old.Parent(); p != nil {
			p.ReplaceChild(p, s.old, s.new)
		}
	}
}

// children moves from's children to to (an "image" text when it has none).
func children(to, from ast.Node) ast.Node {
	for c := from.FirstChild(); c != nil; {
		next := c.NextSibling()
		to.AppendChild(to, c)
		c = next
	}
	if to.ChildCount() == 0 {
		to.AppendChild(to, ast.NewString([]byte("image")))
	}
	return to
}

// tooComplex says why src is not rendered, or "".
func tooComplex(src string) string {
	if len(src) > MaxMarkdownBytes {
		return fmt.Sprintf("%d bytes, over the %d rendered", len(src), MaxMarkdownBytes)
	}
	if n := strings.Count(src, "[") + strings.Count(src, "<"); n > MaxMarkdownOpeners {
		return fmt.Sprintf("%d brackets, over the %d rendered", n, MaxMarkdownOpeners)
	}
	for line := range strings.Lines(src) {
		// The line's prefix of quote markers, list markers ("- ", "1. ")
		// and indentation: each is a level of nesting.
		depth, indent := 0, 0
		for i := 0; i < len(line); i++ {
			c := line[i]
			next := byte(0)
			if i+1 < len(line) {
				next = line[i+1]
			}
			switch {
			case c == ' ':
				indent++
				continue
			case c == '\t':
				indent += 4
				continue
			case c == '>':
				depth++
				continue
			case (c == '-' || c == '*' || c == '+') && (next == ' ' || next == '\t'):
				depth++
				continue
			case c >= '0' && c <= '9':
				j := i
				for j < len(line) && line[j] >= '0' && line[j] <= '9' {
					j++
				}
				if j+1 < len(line) && (line[j] == '.' || line[j] == ')') && (line[j+1] == ' ' || line[j+1] == '\t') {
					depth++
					i = j
					continue
				}
			}
			break
		}
		if depth+indent/2 > MaxMarkdownNesting {
			return fmt.Sprintf("nested more than %d levels deep", MaxMarkdownNesting)
		}
	}
	return ""
}

// webScheme: an http, https or mailto URL (or one with no scheme).
func webScheme(u string) bool {
	u = strings.ToLower(strings.TrimSpace(u))
	if strings.HasPrefix(u, "//") {
		return true
	}
	i := strings.IndexAny(u, ":/?#")
	if i < 0 || u[i] != ':' {
		return true
	}
	switch u[:i] {
	case "http", "https", "mailto":
		return true
	}
	return false
}

// external: a URL with a scheme or a host (//host), i.e. not a path in the site.
func external(u string) bool {
	u = strings.TrimSpace(u)
	if strings.HasPrefix(u, "//") || strings.HasPrefix(u, `\\`) {
		return true
	}
	if i := strings.IndexAny(u, ":/?#"); i > 0 && u[i] == ':' {
		return true
	}
	return false
}
