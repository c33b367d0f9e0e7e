package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/net/html"
)

const hugoConfig = `baseURL = "/"
disableKinds = ["taxonomy", "term", "RSS", "sitemap", "robotsTXT", "404", "section", "home"]
[markup.goldmark.renderer]
unsafe = false
`

// hugoLayout is one page layout with the same frame as ours: header,
// breadcrumb, title, content, footer, our stylesheet.
const hugoLayout = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ .Title }} · MLOps governance</title>
<link rel="stylesheet" href="/assets/site.css">
</head>
<body>
<header class="site"><nav><a class="home" href="/index.html">MLOps governance</a> › {{ .Title }}</nav></header>
<main id="main">
<h1>{{ .Title }}</h1>
{{ .Content }}
</main>
<footer class="site"><p>Built from the platform's records.</p></footer>
</body>
</html>
`

// hugoSite writes a Hugo site whose pages hold what our pages at ours hold,
// as Markdown: headings, paragraphs, lists, links and tables (a chart as its
// table), at the same paths.
func hugoSite(dir, ours string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, body := range map[string]string{"config.toml": hugoConfig, "layouts/_default/single.html": hugoLayout} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return err
		}
	}
	paths, err := sortedPaths(ours)
	if err != nil {
		return err
	}
	for i, p := range paths {
		f, err := os.Open(filepath.Join(ours, filepath.FromSlash(p)))
		if err != nil {
			return err
		}
		doc, err := html.Parse(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		title, body := markdownOf(doc)
		md := fmt.Sprintf("---\ntitle: %q\nurl: %q\n---\n\n%s", title, "/"+p, body)
		if err := os.MkdirAll(filepath.Join(dir, "content"), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "content", fmt.Sprintf("page-%05d.md", i)), []byte(md), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// markdownOf converts a page's <main> to Markdown, and returns its <h1>.
func markdownOf(doc *html.Node) (string, string) {
	var main *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "main" {
			main = n
			return
		}
		for c := n.FirstChild; c != nil && main == nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if main == nil {
		return "", ""
	}
	var title string
	var b strings.Builder
	var block func(n *html.Node)
	block = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				if t := strings.TrimSpace(c.Data); t != "" {
					b.WriteString(t + "\n\n")
				}
				continue
			}
			if c.Type != html.ElementNode {
				continue
			}
			switch c.Data {
			case "h1":
				title = text(c)
			case "h2", "h3", "h4", "h5", "h6":
				b.WriteString(strings.Repeat("#", int(c.Data[1]-'0')) + " " + text(c) + "\n\n")
			case "p", "dt", "dd", "summary", "caption":
				b.WriteString(inline(c) + "\n\n")
			case "li":
				b.WriteString("- " + inline(c) + "\n")
			case "table":
				table(&b, c)
			case "script", "style", "input", "select", "button":
			default:
				block(c)
			}
		}
	}
	block(main)
	return title, b.String()
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// inline is a node's text with its links as Markdown links.
func inline(n *html.Node) string {
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(escape(n.Data))
			return
		}
		if n.Type == html.ElementNode && n.Data == "a" {
			for _, a := range n.Attr {
				if a.Key == "href" {
					b.WriteString("[" + escape(text(n)) + "](" + a.Val + ")")
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func escape(s string) string {
	return strings.NewReplacer("|", `\|`, "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`, "<", "&lt;", "#", `\#`).Replace(s)
}

// table writes a table as a Markdown table.
func table(b *strings.Builder, t *html.Node) {
	var rows [][]string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "tr" {
			var row []string
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
					row = append(row, inline(c))
				}
			}
			rows = append(rows, row)
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(t)
	if len(rows) == 0 {
		return
	}
	b.WriteString("| " + strings.Join(rows[0], " | ") + " |\n|")
	for range rows[0] {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, r := range rows[1:] {
		b.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	b.WriteString("\n")
}
