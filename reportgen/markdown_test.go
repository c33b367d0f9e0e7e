package reportgen_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/openmlops/mlops/reportgen"
)

// allowedTags are the elements Markdown may produce; allowedAttrs their attributes.
var (
	allowedTags = map[string]bool{"p": true, "h3": true, "h4": true, "h5": true, "h6": true, "em": true, "strong": true,
		"a": true, "code": true, "pre": true, "ul": true, "ol": true, "li": true, "blockquote": true, "table": true,
		"thead": true, "tbody": true, "tr": true, "th": true, "td": true, "del": true, "input": true, "hr": true, "br": true}
	allowedAttrs = map[string]bool{"href": true, "rel": true, "title": true, "checked": true, "disabled": true,
		"type": true, "start": true, "style": true, "class": true}
)

// checkSafe fails on markup in rendered Markdown that could run script,
// load from another host or carry an element people did not get from
// Markdown itself.
func checkSafe(t *testing.T, src, out string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedTags[tok.Data] {
			t.Fatalf("Markdown(%q) made a <%s> element:\n%s", src, tok.Data, out)
		}
		for _, a := range tok.Attr {
			if !allowedAttrs[a.Key] {
				t.Fatalf("Markdown(%q) made an attribute %s on <%s>:\n%s", src, a.Key, tok.Data, out)
			}
			v := strings.ToLower(strings.TrimSpace(a.Val))
			if a.Key == "href" && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "vbscript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "file:")) {
				t.Fatalf("Markdown(%q) made a dangerous link %q", src, a.Val)
			}
			if a.Key == "style" && (tok.Data != "th" && tok.Data != "td" || !strings.HasPrefix(v, "text-align:")) {
				t.Fatalf("Markdown(%q) made a style %q on <%s>", src, a.Val, tok.Data)
			}
			if a.Key == "type" && v != "checkbox" {
				t.Fatalf("Markdown(%q) made an input of type %q", src, a.Val)
			}
		}
		if tok.Data == "a" {
			var href, rel string
			for _, a := range tok.Attr {
				switch a.Key {
				case "href":
					href = a.Val
				case "rel":
					rel = a.Val
				}
			}
			if (strings.Contains(href, "://") || strings.HasPrefix(href, "//")) && !strings.Contains(rel, "external") {
				t.Fatalf("Markdown(%q) links out to %q without rel=external", src, href)
			}
		}
	}
}

func TestMarkdownIsSafe(t *testing.T) {
	for _, src := range []string{
		"<script>alert(1)</script>",
		"[x](javascript:alert(1))",
		"[x](JaVaScRiPt:alert(1))",
		"[x](  javascript:alert(1))",
		"![x](https://evil.example/p.png)",
		"![x](data:image/png;base64,AAAA)",
		"<https://evil.example>",
		"<img src=x onerror=alert(1)>",
		"[a](https://ok.example \"t\") and [b](#here) and [c](notes.md)",
		"| a |\n|:-:|\n| <b>x</b> |",
		"- [x] done\n- [ ] not",
		"<iframe src=//x></iframe>",
		"```html\n<script>x</script>\n```",
		"# h1\n###### h6",
	} {
		checkSafe(t, src, string(reportgen.Markdown(src)))
	}
	out := string(reportgen.Markdown("# Title\n\n[local](notes.md) ![pic](p.png)"))
	if !strings.Contains(out, "<h3") || strings.Contains(out, `href="notes.md"`) || strings.Contains(out, "<img") {
		t.Errorf("headings moved down, links to unstored files and images dropped: %s", out)
	}
}

// FuzzMarkdown: whatever people write, the HTML carries no script, no
// element Markdown does not make, and no load from another host.
func FuzzMarkdown(f *testing.F) {
	for _, s := range []string{"# x", "<script>x</script>", "[a](javascript:b)", "![i](https://e/x.png)", "<http://a>",
		"| a |\n|---|\n| b |", "> quote\n\n    code", "*a* **b** ~~c~~ `d`"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkSafe(t, src, string(reportgen.Markdown(src)))
	})
}

// Text nested past what goldmark renders in linear time is shown as plain,
// escaped text: a datasheet of nested quotes or lists cannot stall a build.
func TestPathologicalMarkdownIsPlainText(t *testing.T) {
	nested := func(n int) string {
		var b strings.Builder
		for i := range n {
			b.WriteString(strings.Repeat("  ", i) + "- <b>x</b>\n")
		}
		return b.String()
	}
	for name, src := range map[string]string{
		"quotes":   strings.Repeat(">", 64<<10),
		"brackets": strings.Repeat("[a](", 16<<10),
		"lists":    nested(200),
		"big":      strings.Repeat("a ", reportgen.MaxMarkdownBytes),
	} {
		out := string(reportgen.Markdown(src))
		if !strings.Contains(out, "Shown as plain text") || strings.Contains(out, "<b>") || strings.Contains(out, "<blockquote") {
			t.Errorf("%s: not shown as escaped plain text: %.200s", name, out)
		}
		checkSafe(t, name, out)
	}
	// Ordinary Markdown, headings underlined and lists a few levels deep, renders.
	ok := "Title\n" + strings.Repeat("-", 80) + "\n\n" + nested(6) + "\n> > quoted\n"
	if out := string(reportgen.Markdown(ok)); strings.Contains(out, "plain text") || !strings.Contains(out, "<ul>") {
		t.Errorf("ordinary Markdown shown as plain text: %s", out)
	}
}
