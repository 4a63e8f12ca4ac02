package processor

import (
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
)

// FeatureRuntime is a [Runtime] that also knows each model version's input
// features (from the manifests, read once per catalog load). When the
// runtime does not implement it, rows are checked against the schema only
// and inference checks the features.
type FeatureRuntime interface {
	// Features returns the feature set of a concrete version of the
	// catalog c, or nil when unknown or when c is no longer in force.
	Features(c *catalog.Catalog, model, version string) *policy.Features
}

// featureViolations checks the rows of a tabular body against the input
// features of the resolved version; nil when there is nothing to check
// against or nothing wrong.
func (p *predict) featureViolations(c *catalog.Catalog, t routing.Target, doc map[string]any) []problem.Violation {
	if p.route.oip {
		return nil // tensors, not rows of named features
	}
	fr, ok := p.d.Runtime.(FeatureRuntime)
	if !ok {
		return nil
	}
	f := fr.Features(c, t.Model, t.Version)
	if f == nil {
		return nil
	}
	rows, _ := doc["inputs"].([]any)
	return f.Check(rows)
}

// withFeatures adds the feature violations to a body's schema violations
// when the body is usable enough to say which model version it is for: an
// object whose inputs are an array within max_rows, whose model and version
// members (when present) are strings, naming a version that resolves and
// that the key may use. Otherwise the schema violations stand alone, as
// they did before the feature check existed: a schema violation still wins
// over an unknown model or version (404) and over a model the key may not
// use (403), and feature names are never revealed for a model the key may
// not use. Nothing of p.r changes.
func (p *predict) withFeatures(schema *policy.ViolationsError, doc map[string]any) error {
	if p.route.oip || doc == nil {
		return schema
	}
	rows, ok := doc["inputs"].([]any)
	if !ok || len(rows) > p.d.Limits.MaxRows {
		return schema
	}
	for _, member := range [...]string{"model", "version", "model_version"} {
		if v, present := doc[member]; present {
			if _, isString := v.(string); !isString {
				return schema
			}
		}
	}
	c := p.d.Runtime.Catalog()
	model, version := p.route.target(c, p.r.Match, doc)
	t, err := routing.Resolve(c, model, p.headerVersion, version)
	if err != nil {
		return schema
	}
	if p.d.Scopes != nil && !p.d.Scopes.Allows(p.r.KeyID, t.Model) {
		return schema
	}
	vs := p.featureViolations(c, t, doc)
	if len(vs) == 0 {
		return schema
	}
	return &policy.ViolationsError{Violations: policy.MergeViolations(schema.Violations, vs)}
}
