// Package catalog reads the model catalog: which models exist, which
// versions each has, the aliases (latest, stable, custom) that point at
// versions or split between them by weight (canaries, split.go), and the
// shadow version a model's traffic may be mirrored to. Both extproc (to resolve and route) and inference (to serve)
// read the same file, so the two can never disagree about what exists.
package catalog

import (
	"errors"
	"fmt"
	"github.com/modelgate/modelgate/api/problem"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Model is one catalog entry.
type Model struct {
	Name        string   `yaml:"-" json:"name"`
	Description string   `yaml:"description" json:"description,omitempty"`
	Versions    []string `yaml:"versions" json:"versions"`
	// Aliases maps each alias to its version; for a weighted alias (see
	// Splits) the primary version, the one with the largest weight.
	Aliases map[string]string `yaml:"aliases" json:"aliases"`
	// Splits are the weighted aliases (canaries): each alias's versions
	// and weights, in version order. [Catalog.ResolveFor] picks one per
	// subject.
	Splits map[string][]Split `yaml:"-" json:"splits,omitempty"`
	// Shadow, when set, mirrors a share of the model's traffic to a version
	// that answers no client.
	Shadow *Shadow `yaml:"shadow" json:"shadow,omitempty"`
	// Kind is what the model does: KindTabular (the default) predicts from
	// rows or tensors, KindLLM generates text (chat and completions).
	Kind string `yaml:"kind" json:"kind"`
}

// Model kinds.
const (
	KindTabular = "tabular"
	KindLLM     = "llm"
)

// IsLLM reports whether the model generates text.
func (m *Model) IsLLM() bool { return m.Kind == KindLLM }

// Catalog is the parsed catalog file.
type Catalog struct {
	// DefaultModel serves the legacy /v1/predict route, which names no model.
	DefaultModel string `yaml:"default_model"`
	// Models by name.
	Models map[string]*Model `yaml:"models"`
	// Dir is the folder of the catalog file; model versions live in
	// Dir/<name>/<version>/.
	Dir string `yaml:"-"`
}

// UnknownModelError reports a model that is not in the catalog.
type UnknownModelError struct {
	Model     string
	Available []string
}

func (e *UnknownModelError) Error() string {
	return fmt.Sprintf("unknown model %q (available: %s)", e.Model, strings.Join(e.Available, ", "))
}

// UnknownVersionError reports a version or alias that the model lacks.
type UnknownVersionError struct {
	Model     string
	Version   string
	Available []string // versions and aliases
}

func (e *UnknownVersionError) Error() string {
	return fmt.Sprintf("model %q has no version or alias %q (available: %s)",
		e.Model, e.Version, strings.Join(e.Available, ", "))
}

// Problem is the answer both services give for an unknown model: 404 with
// what is available.
func (e *UnknownModelError) Problem() *problem.Problem {
	p := problem.New(problem.TypeUnknownModel, 404, "Unknown model", e.Error())
	p.Model, p.Available = e.Model, e.Available
	return p
}

// Problem is the answer both services give for an unknown version: 404
// with the versions and aliases there are.
func (e *UnknownVersionError) Problem() *problem.Problem {
	p := problem.New(problem.TypeUnknownVersion, 404, "Unknown model version", e.Error())
	p.Model, p.ModelVersion, p.Available = e.Model, e.Version, e.Available
	return p
}

// DefaultAlias is used when a request names no version.
const DefaultAlias = "latest"

// Load reads and validates the catalog file at path.
func Load(path string) (*Catalog, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	c, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", path, err)
	}
	c.Dir = filepath.Dir(path)
	return c, nil
}

// Parse decodes and validates catalog YAML. Every problem is reported at
// once, each with its field path.
func Parse(b []byte) (*Catalog, error) {
	var c Catalog
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Catalog) validate() error {
	var errs []error
	if len(c.Models) == 0 {
		errs = append(errs, errors.New("models: at least one model is required"))
	}
	for name, m := range c.Models {
		if m == nil {
			errs = append(errs, fmt.Errorf("models.%s: empty entry", name))
			continue
		}
		m.Name = name
		switch m.Kind {
		case "":
			m.Kind = KindTabular
		case KindTabular, KindLLM:
		default:
			errs = append(errs, fmt.Errorf("models.%s.kind: %q is neither %s nor %s", name, m.Kind, KindTabular, KindLLM))
		}
		if !validName(name) {
			errs = append(errs, fmt.Errorf("models.%s: name must match [a-z0-9][a-z0-9_-]*", name))
		}
		if len(m.Versions) == 0 {
			errs = append(errs, fmt.Errorf("models.%s.versions: at least one version is required", name))
		}
		seen := map[string]bool{}
		for i, v := range m.Versions {
			if !validName(v) {
				errs = append(errs, fmt.Errorf("models.%s.versions[%d]: %q must match [a-z0-9][a-z0-9_-]*", name, i, v))
			}
			if seen[v] {
				errs = append(errs, fmt.Errorf("models.%s.versions[%d]: duplicate version %q", name, i, v))
			}
			seen[v] = true
		}
		if m.Aliases == nil {
			m.Aliases = map[string]string{}
		}
		for alias, target := range m.Aliases {
			_, weighted := m.Splits[alias]
			if !validName(alias) {
				errs = append(errs, fmt.Errorf("models.%s.aliases.%s: alias must match [a-z0-9][a-z0-9_-]*", name, alias))
			}
			if seen[alias] {
				errs = append(errs, fmt.Errorf("models.%s.aliases.%s: alias shadows a version", name, alias))
			}
			if !weighted && !seen[target] {
				errs = append(errs, fmt.Errorf("models.%s.aliases.%s: target %q is not a version", name, alias, target))
			}
		}

		if _, ok := m.Aliases[DefaultAlias]; !ok && len(m.Versions) > 0 {
			// A model without an explicit latest alias serves its last listed version.
			m.Aliases[DefaultAlias] = m.Versions[len(m.Versions)-1]
		}
		errs = append(errs, m.validateSplits(seen)...)
	}
	if c.DefaultModel == "" {
		errs = append(errs, errors.New("default_model: required (serves /v1/predict)"))
	} else if d, ok := c.Models[c.DefaultModel]; !ok {
		errs = append(errs, fmt.Errorf("default_model: %q is not a model", c.DefaultModel))
	} else if d != nil && d.IsLLM() {
		errs = append(errs, fmt.Errorf("default_model: %q generates text; /v1/predict needs a tabular model", c.DefaultModel))
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}

// ModelNames returns the model names, sorted.
func (c *Catalog) ModelNames() []string {
	names := make([]string, 0, len(c.Models))
	for n := range c.Models {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Choices returns a model's versions followed by its aliases, sorted, for
// error messages that list what exists.
func (m *Model) Choices() []string {
	out := slices.Clone(m.Versions)
	aliases := make([]string, 0, len(m.Aliases))
	for a := range m.Aliases {
		aliases = append(aliases, a)
	}
	sort.Strings(aliases)
	return append(out, aliases...)
}

// HasVersion reports whether v is a concrete version of the model.
func (m *Model) HasVersion(v string) bool { return slices.Contains(m.Versions, v) }

// Resolve maps a model name and a version or alias (empty means latest) to
// the concrete version. Errors are *UnknownModelError or
// *UnknownVersionError.
func (c *Catalog) Resolve(model, version string) (string, error) {
	m, ok := c.Models[model]
	if !ok {
		return "", &UnknownModelError{Model: model, Available: c.ModelNames()}
	}
	if version == "" {
		version = DefaultAlias
	}
	if m.HasVersion(version) {
		return version, nil
	}
	if v, ok := m.Aliases[version]; ok {
		return v, nil
	}
	return "", &UnknownVersionError{Model: model, Version: version, Available: m.Choices()}
}

// VersionDir is the folder holding one model version's manifest and artifact.
func (c *Catalog) VersionDir(model, version string) string {
	return filepath.Join(c.Dir, model, version)
}
