package reportgen

import (
	"fmt"
	"runtime"
	"sync"
)

// Scope says which pages to render: the index, the named models' pages and
// the named datasets' pages (All: every page).
type Scope struct {
	All      bool
	Index    bool
	Models   []string
	Datasets []string
}

// job renders one page.
type job struct {
	path string
	fn   func(r *renderer) ([]byte, error)
}

// Build renders the pages of scope from site, by path. Assets are not
// included (see Assets). The output depends only on site: the same records
// give the same bytes, so a publisher uploads only what changed. It keeps
// each dataset's rendered datasheet in the site: one Site is built by one
// goroutine at a time.
func Build(site *Site, scope Scope) (map[string][]byte, error) {
	r, err := load()
	if err != nil {
		return nil, err
	}
	site.index = indexVersions(site)
	var jobs []job
	if scope.All || scope.Index {
		jobs = append(jobs, indexJobs(site)...)
	}
	for _, m := range site.Models {
		if scope.All || contains(scope.Models, m.Name) {
			jobs = append(jobs, modelJobs(site, m)...)
		}
	}
	for _, d := range site.Datasets {
		if scope.All || contains(scope.Datasets, d.Name) {
			// The datasheet is on every page of the dataset: rendered once.
			d.sheet = ""
			if d.Datasheet != nil {
				d.sheet = Markdown(d.Datasheet.Markdown)
			}
			jobs = append(jobs, datasetJobs(site, d)...)
		}
	}
	out := make(map[string][]byte, len(jobs))
	errs := make([]error, len(jobs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				b, err := jobs[i].render(r)
				if err != nil {
					errs[i] = fmt.Errorf("%s: %w", jobs[i].path, err)
					continue
				}
				mu.Lock()
				out[jobs[i].path] = b
				mu.Unlock()
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// render runs the job; a panic (a record no reader would produce) fails
// that page's build with an error rather than the whole process.
func (j job) render(r *renderer) (b []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("render %s: panic: %v", j.path, p)
		}
	}()
	return j.fn(r)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// modelJobs and datasetJobs are filled in by the pages' files.
var (
	modelPages   []func(site *Site, m *Model) []job
	datasetPages []func(site *Site, d *Dataset) []job
)

func modelJobs(site *Site, m *Model) []job {
	var out []job
	for _, f := range modelPages {
		out = append(out, f(site, m)...)
	}
	return out
}

func datasetJobs(site *Site, d *Dataset) []job {
	var out []job
	for _, f := range datasetPages {
		out = append(out, f(site, d)...)
	}
	return out
}
