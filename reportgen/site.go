// Package reportgen renders the governance site: an index of models and
// datasets, a model card per model version, a datasheet per dataset version,
// and per model its runs, drift, audit log and lineage. It reads the
// platform's state through the owning packages' readers (Gather) and renders
// pages from what it read (Build, Render), as static HTML that makes no
// request to any other host and works opened from disk.
package reportgen

import (
	"html/template"

	"github.com/openmlops/mlops/shared/bundle"
	"github.com/openmlops/mlops/shared/contract"
	"github.com/openmlops/mlops/shared/drift"
	"github.com/openmlops/mlops/shared/ingest"
	"github.com/openmlops/mlops/shared/policy"
	"github.com/openmlops/mlops/shared/profile"
	"github.com/openmlops/mlops/shared/registry"
	"github.com/openmlops/mlops/shared/spec"
	"github.com/openmlops/mlops/shared/training"
)

// Site is everything the site shows.
type Site struct {
	Models   []*Model
	Datasets []*Dataset
	// ModelSummaries and DatasetSummaries are what the index lists: every
	// model and dataset, where Models and Datasets may hold only those an
	// incremental build re-read. Nil: summarized from Models and Datasets.
	ModelSummaries   []ModelSummary
	DatasetSummaries []DatasetSummary

	// index is built by Build, once: cards and datasheets look dataset
	// versions up in it rather than scanning the site each.
	index versionIndex
}

// versionIndex finds a dataset version, and the model versions trained on
// it, by the version's id (ids are unique across datasets).
type versionIndex struct {
	datasets map[string]indexedVersion
	trained  map[string][]trainedVersion
}

type indexedVersion struct {
	dataset string
	version *DatasetVersion
}

type trainedVersion struct {
	model   *Model
	version *Version
}

// indexVersions indexes site: the first dataset version of an id, and the
// model versions of each in the site's order.
func indexVersions(site *Site) versionIndex {
	x := versionIndex{datasets: map[string]indexedVersion{}, trained: map[string][]trainedVersion{}}
	for _, ds := range site.Datasets {
		for _, dv := range ds.Versions {
			if dv.Manifest == nil {
				continue
			}
			if _, seen := x.datasets[dv.Manifest.VersionID]; !seen {
				x.datasets[dv.Manifest.VersionID] = indexedVersion{ds.Name, dv}
			}
		}
	}
	for _, m := range site.Models {
		for _, v := range m.Versions {
			if v.Version != nil {
				x.trained[v.DatasetVersion] = append(x.trained[v.DatasetVersion], trainedVersion{m, v})
			}
		}
	}
	return x
}

// Model is one model's records.
type Model struct {
	Name string
	// Spec and Policy are the current ones (nil: none applied); SpecHash and
	// PolicyHash name them.
	Spec       *spec.Spec
	SpecHash   string
	Policy     *policy.Policy
	PolicyHash string
	// Champion is the champion pointer (nil: none).
	Champion *registry.Champion
	// Versions in order of their number.
	Versions []*Version
	// Runs, newest first.
	Runs []*training.Run
	// Trail is the audit trail, oldest first; Verify is its verification.
	Trail  []registry.Entry
	Verify *registry.VerifyReport
	// Drift holds the drift reports, oldest window first.
	Drift []*drift.Report
	// Problems are what could not be read (named, never hidden).
	Problems []string
}

// Version is one model version and what its card shows.
type Version struct {
	*registry.Version
	// Bundle is the verified bundle (nil: it could not be read; BundleError says why).
	Bundle      *bundle.Bundle
	BundleError string
	// Spec is the spec the version was trained under (its card.md is the
	// card's human part).
	Spec *spec.Spec
	// Contract is the contract it was trained under (its pii columns are
	// masked on the card); nil when it could not be read.
	Contract *contract.Contract
	// Checks are the policies' results on it, by policy hash.
	Checks map[string]*registry.ChecksRecord
	// Decision is its approval or rejection record (nil: none).
	Decision *registry.Entry
}

// Dataset is one dataset's records.
type Dataset struct {
	Name string
	// Versions in order of creation.
	Versions []*DatasetVersion
	// Datasheet is the current datasheet.md (nil: none) and its hash.
	Datasheet     *ingest.Datasheet
	DatasheetHash string
	// Rejections are the quarantined uploads.
	Rejections []ingest.Quarantined
	Problems   []string

	// sheet is the datasheet rendered, once per build for all the
	// dataset's pages (Build sets it before rendering them).
	sheet template.HTML
}

// datasheetHTML is the datasheet's Markdown as Build rendered it.
func (d *Dataset) datasheetHTML() template.HTML { return d.sheet }

// DatasetVersion is one dataset version and what its datasheet shows.
type DatasetVersion struct {
	Manifest *ingest.Manifest
	Contract *contract.Contract
	Profile  *profile.Dataset
	Problem  string
}

// Model returns the named model, or nil.
func (s *Site) Model(name string) *Model {
	for _, m := range s.Models {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Dataset returns the named dataset, or nil.
func (s *Site) Dataset(name string) *Dataset {
	for _, d := range s.Datasets {
		if d.Name == name {
			return d
		}
	}
	return nil
}
