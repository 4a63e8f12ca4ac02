package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ManifestFile is the manifest's file name inside a version folder.
const ManifestFile = "manifest.json"

// Feature is one named model input.
type Feature struct {
	Name string `json:"name"`
	// Type is the JSON type the feature takes; "number" is the only one the
	// tabular models use today.
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Output describes what the model predicts.
type Output struct {
	// Kind is "classification" or "regression".
	Kind        string   `json:"kind"`
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Classes     []string `json:"classes,omitempty"`
}

// Manifest describes one trained model version.
type Manifest struct {
	Name      string             `json:"name"`
	Version   string             `json:"version"`
	Format    string             `json:"format"`
	Algorithm string             `json:"algorithm"`
	Framework map[string]string  `json:"framework,omitempty"`
	Artifact  string             `json:"artifact"`
	Inputs    []Feature          `json:"inputs"`
	Output    Output             `json:"output"`
	Metrics   map[string]float64 `json:"metrics,omitempty"`
	Dataset   string             `json:"dataset,omitempty"`
	Created   string             `json:"created"`
}

// Output kinds.
const (
	KindClassification = "classification"
	KindRegression     = "regression"
)

// LoadManifest reads dir/manifest.json and checks it names the expected
// model and version.
func LoadManifest(dir, model, version string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", filepath.Join(dir, ManifestFile), err)
	}
	var errs []error
	if m.Name != model {
		errs = append(errs, fmt.Errorf("name %q, expected %q", m.Name, model))
	}
	if m.Version != version {
		errs = append(errs, fmt.Errorf("version %q, expected %q", m.Version, version))
	}
	if len(m.Inputs) == 0 {
		errs = append(errs, errors.New("inputs: at least one feature is required"))
	}
	seen := map[string]bool{}
	for i, f := range m.Inputs {
		if f.Name == "" || seen[f.Name] {
			errs = append(errs, fmt.Errorf("inputs[%d]: empty or duplicate name %q", i, f.Name))
		}
		seen[f.Name] = true
	}
	switch m.Output.Kind {
	case KindClassification:
		if len(m.Output.Classes) < 2 {
			errs = append(errs, errors.New("output.classes: classification needs at least two classes"))
		}
	case KindRegression:
	default:
		errs = append(errs, fmt.Errorf("output.kind: %q is neither classification nor regression", m.Output.Kind))
	}
	if m.Artifact == "" {
		errs = append(errs, errors.New("artifact: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", dir, err)
	}
	return &m, nil
}
