package reportgentest

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"

	"golang.org/x/net/html"
)

// CheckLinks checks a built site: every href and src of every page resolves
// to a file of the site (and its #fragment to an id of that page); nothing
// is loaded from another host (no src, stylesheet or script outside the
// site); a link to another host appears only in people's Markdown, marked
// rel="external"; and every page is reachable from index.html. It returns
// the problems, each naming the page and the link.
func CheckLinks(site fs.FS) ([]string, error) {
	files := map[string]bool{}
	var pages []string
	err := fs.WalkDir(site, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p] = true
		if strings.HasSuffix(p, ".html") {
			pages = append(pages, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	ids := map[string]map[string]bool{}
	links := map[string][]link{}
	var problems []string
	for _, p := range pages {
		b, err := fs.ReadFile(site, p)
		if err != nil {
			return nil, err
		}
		pageIDs, pageLinks, dups, err := scan(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for _, id := range dups {
			problems = append(problems, fmt.Sprintf("%s: id %q is used more than once (fragments and scripts find the first)", p, id))
		}
		ids[p], links[p] = pageIDs, pageLinks
	}
	bad := func(page string, l link, format string, a ...any) {
		problems = append(problems, fmt.Sprintf("%s: <%s %s=%q>: %s", page, l.tag, l.attr, l.value, fmt.Sprintf(format, a...)))
	}
	reached := map[string]bool{}
	for _, p := range pages {
		for _, l := range links[p] {
			u, err := url.Parse(l.value)
			if err != nil {
				bad(p, l, "not a URL: %v", err)
				continue
			}
			if u.Scheme != "" || u.Host != "" || strings.HasPrefix(l.value, "//") {
				if l.attr != "href" || l.tag != "a" || !l.external {
					bad(p, l, "a link to another host (only people's Markdown may link out, marked rel=external; nothing may be loaded from one)")
				}
				continue
			}
			if l.value == "" {
				if l.tag == "a" && l.external {
					continue // a dangerous URL goldmark emptied
				}
				bad(p, l, "empty")
				continue
			}
			target := p
			if u.Path != "" {
				if strings.HasPrefix(u.Path, "/") {
					bad(p, l, "an absolute path: the site must work from disk and under any prefix")
					continue
				}
				target = path.Join(path.Dir(p), u.Path)
				if strings.HasSuffix(u.Path, "/") || !files[target] {
					bad(p, l, "no such file %s", target)
					continue
				}
			}
			reached[target] = true
			if u.Fragment != "" && strings.HasSuffix(target, ".html") && !ids[target][u.Fragment] {
				bad(p, l, "no id %q in %s", u.Fragment, target)
			}
		}
	}
	// Reachability: a walk from the index.
	seen := map[string]bool{"index.html": true}
	queue := []string{"index.html"}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, l := range links[p] {
			u, err := url.Parse(l.value)
			if err != nil || u.Scheme != "" || u.Host != "" || u.Path == "" {
				continue
			}
			t := path.Join(path.Dir(p), u.Path)
			if strings.HasSuffix(t, ".html") && files[t] && !seen[t] {
				seen[t] = true
				queue = append(queue, t)
			}
		}
	}
	if !files["index.html"] {
		problems = append(problems, "the site has no index.html")
	}
	for _, p := range pages {
		if !seen[p] {
			problems = append(problems, p+": no link from index.html leads to it")
		}
	}
	sort.Strings(problems)
	return problems, nil
}

type link struct {
	tag, attr, value string
	external         bool // rel="external"
}

// scan lists an HTML page's ids, the URLs it links to or loads, and the ids
// it uses more than once.
func scan(b []byte) (map[string]bool, []link, []string, error) {
	ids := map[string]bool{}
	var links []link
	var dups []string
	z := html.NewTokenizer(bytes.NewReader(b))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if err := z.Err(); err.Error() != "EOF" {
				return nil, nil, nil, err
			}
			return ids, links, dups, nil
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			var rel string
			for _, a := range t.Attr {
				if a.Key == "rel" {
					rel = a.Val
				}
			}
			for _, a := range t.Attr {
				switch a.Key {
				case "id":
					if ids[a.Val] {
						dups = append(dups, a.Val)
					}
					ids[a.Val] = true
				case "href", "src", "action", "poster", "data":
					links = append(links, link{tag: t.Data, attr: a.Key, value: a.Val,
						external: strings.Contains(" "+rel+" ", " external ")})
				case "srcset", "style":
					if strings.Contains(a.Val, "url(") || a.Key == "srcset" {
						links = append(links, link{tag: t.Data, attr: a.Key, value: "//" + a.Val})
					}
				}
			}
		}
	}
}
