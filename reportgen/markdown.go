package reportgen

import (
	"bytes"
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

// Markdown renders src for a page.
func Markdown(src string) template.HTML {
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
