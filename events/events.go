// Package events holds sample AWS event payloads, exactly as the services
// deliver them to a Lambda function, for tests (the functions' handlers, and
// shared/rules' routing) and documentation. Each sample is
// round-trip tested against the Go types that decode it, so a field those
// types would drop shows up as a test failure rather than in production.
package events

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.json
var samples embed.FS

// Sample returns a copy of the named sample, with or without its ".json"
// extension (for example "s3-object-created"). The samples are fixed at build
// time, so an unknown name is a programming error and panics, listing the
// names that exist.
func Sample(name string) []byte {
	if !strings.HasSuffix(name, ".json") {
		name += ".json"
	}
	data, err := samples.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("events: no sample %q (have %s)", name, strings.Join(Names(), ", ")))
	}
	return data
}

// Names lists the samples, without extension, sorted.
func Names() []string {
	entries, err := fs.ReadDir(samples, ".")
	if err != nil {
		// The embedded root always exists; this cannot happen.
		panic(fmt.Sprintf("events: read embedded samples: %v", err))
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".json"))
	}
	sort.Strings(names)
	return names
}
