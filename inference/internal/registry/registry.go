// Package registry holds the model versions one inference process serves:
// the catalog, each version's manifest and its loaded engine. A Registry is
// immutable once built; reloads build a new one and swap it in whole.
package registry

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/engine"
	"github.com/modelgate/modelgate/inference/internal/llm"
	"github.com/modelgate/modelgate/internal/catalog"
)

// Version is one loaded model version: a tabular version has an Engine
// and an Index, a text-generation version (manifest output kind text) a
// Generator and neither of the others (Engine is nil, Index empty).
type Version struct {
	Manifest *catalog.Manifest
	Engine   engine.Engine
	// Index maps a feature name to its column in the engine's input.
	Index map[string]int
	// Generator produces text for a text-generation version; nil for a
	// tabular one.
	Generator llm.Generator
}

// Name returns the model name.
func (v *Version) Name() string { return v.Manifest.Name }

// ID returns the concrete version.
func (v *Version) ID() string { return v.Manifest.Version }

// Text reports whether the version generates text (it has a Generator
// and no Engine).
func (v *Version) Text() bool { return v.Manifest.Output.Kind == catalog.KindText }

// Classification reports whether the version predicts classes.
func (v *Version) Classification() bool {
	return v.Manifest.Output.Kind == catalog.KindClassification
}

// NotServedError reports a version that exists in the catalog but that this
// process was not told to serve (production runs one process per version).
type NotServedError struct {
	Model, Version string
	Served         []string
}

func (e *NotServedError) Error() string {
	return fmt.Sprintf("model %q version %q is not served by this deployment", e.Model, e.Version)
}

// Registry is the set of versions a process serves.
type Registry struct {
	Catalog  *catalog.Catalog
	versions map[key]*Version
}

// key names one model version.
type key struct{ model, version string }

// Load reads the catalog at path and loads every selected version (all when
// sel is empty). Every problem is reported at once.
func Load(path string, sel []config.Selection) (*Registry, error) {
	return LoadWith(path, sel, Options{})
}

// Options are what loading needs beside the catalog.
type Options struct {
	// Upstream builds the generator of a version whose manifest names an
	// OpenAI-compatible upstream; nil refuses such versions. The HTTP
	// client lives with the caller, so this package stays off the wire.
	Upstream func(m *catalog.Manifest) (llm.Generator, error)
}

// LoadWith is [Load] with options.
func LoadWith(path string, sel []config.Selection, opts Options) (*Registry, error) {
	cat, err := catalog.Load(path)
	if err != nil {
		return nil, err
	}
	want := map[key]bool{}
	var errs []error
	if len(sel) == 0 {
		for _, m := range cat.Models {
			for _, v := range m.Versions {
				want[key{m.Name, v}] = true
			}
		}
	}
	for _, s := range sel {
		v, err := cat.Resolve(s.Model, s.Version)
		if err != nil {
			errs = append(errs, fmt.Errorf("serve %s:%s: %w", s.Model, s.Version, err))
			continue
		}
		want[key{s.Model, v}] = true
	}
	r := &Registry{Catalog: cat, versions: map[key]*Version{}}
	// Load in a stable order so errors are reported in one.
	keys := slices.SortedFunc(maps.Keys(want), func(a, b key) int {
		return cmp.Or(strings.Compare(a.model, b.model), strings.Compare(a.version, b.version))
	})
	for _, k := range keys {
		v, err := loadVersion(cat, k.model, k.version, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.versions[k] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return r, nil
}

func loadVersion(cat *catalog.Catalog, model, version string, opts Options) (*Version, error) {
	dir := cat.VersionDir(model, version)
	m, err := catalog.LoadManifest(dir, model, version)
	if err != nil {
		return nil, err
	}
	if m.Upstream != nil {
		return upstreamVersion(m, opts)
	}
	if m.Output.Kind == catalog.KindText {
		if cm := cat.Models[model]; !cm.IsLLM() {
			return nil, fmt.Errorf("models.%s: version %s generates text but the model's kind is %q, not %q", model, version, cm.Kind, catalog.KindLLM)
		}
		gen, err := llm.Load(dir, m)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", filepath.Join(dir, m.Artifact), err)
		}
		return &Version{Manifest: m, Generator: gen, Index: map[string]int{}}, nil
	}
	if cat.Models[model].IsLLM() {
		return nil, fmt.Errorf("models.%s: kind %q, but version %s is a %s model", model, catalog.KindLLM, version, m.Output.Kind)
	}
	eng, err := engine.Load(m, dir)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", filepath.Join(dir, m.Artifact), err)
	}
	idx := make(map[string]int, len(m.Inputs))
	for i, f := range m.Inputs {
		idx[f.Name] = i
	}
	return &Version{Manifest: m, Engine: eng, Index: idx}, nil
}

func upstreamVersion(m *catalog.Manifest, opts Options) (*Version, error) {
	if opts.Upstream == nil {
		return nil, fmt.Errorf("%s:%s: served by an upstream, which this process cannot reach", m.Name, m.Version)
	}
	gen, err := opts.Upstream(m)
	if err != nil {
		return nil, fmt.Errorf("%s:%s: upstream: %w", m.Name, m.Version, err)
	}
	return &Version{Manifest: m, Generator: gen}, nil
}

// New builds a registry serving the given versions of cat; tests use it
// to serve versions they build themselves.
func New(cat *catalog.Catalog, versions ...*Version) *Registry {
	r := &Registry{Catalog: cat, versions: make(map[key]*Version, len(versions))}
	for _, v := range versions {
		r.versions[key{v.Name(), v.ID()}] = v
	}
	return r
}

// Resolve finds the served version for a model and a version or alias.
// Errors are *catalog.UnknownModelError, *catalog.UnknownVersionError or
// *NotServedError.
func (r *Registry) Resolve(model, version string) (*Version, error) {
	v, err := r.Catalog.Resolve(model, version)
	if err != nil {
		return nil, err
	}
	if ver, ok := r.versions[key{model, v}]; ok {
		return ver, nil
	}
	return nil, &NotServedError{Model: model, Version: v, Served: r.Served()}
}

// Served lists the served versions as "model:version", sorted.
func (r *Registry) Served() []string {
	out := make([]string, 0, len(r.versions))
	for _, v := range r.versions {
		out = append(out, v.Name()+":"+v.ID())
	}
	sort.Strings(out)
	return out
}

// Versions returns the served versions sorted by model then version.
func (r *Registry) Versions() []*Version {
	out := make([]*Version, 0, len(r.versions))
	for _, v := range r.versions {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name() != out[j].Name() {
			return out[i].Name() < out[j].Name()
		}
		return out[i].ID() < out[j].ID()
	})
	return out
}

// Lookup returns a served version by exact model and version.
func (r *Registry) Lookup(model, version string) (*Version, bool) {
	v, ok := r.versions[key{model, version}]
	return v, ok
}
