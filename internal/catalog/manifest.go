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

// Generation describes a text-generation model (catalog kind llm).
type Generation struct {
	// ContextLength is the most tokens (prompt and completion) one
	// sequence may hold.
	ContextLength int `json:"context_length"`
	// VocabSize is the number of token ids.
	VocabSize int `json:"vocab_size"`
	// Tokenizer names the tokenizer: TokenizerBytes means one token per
	// UTF-8 byte (ids 0-255), so anyone can count a prompt's tokens.
	Tokenizer string `json:"tokenizer"`
	// MaxOutputTokens is the default and largest completion length.
	MaxOutputTokens int `json:"max_output_tokens"`
}

// TokenizerBytes is the byte-level tokenizer.
const TokenizerBytes = "bytes"

// Manifest describes one trained model version.
type Manifest struct {
	Name      string            `json:"name"`
	Version   string            `json:"version"`
	Format    string            `json:"format"`
	Algorithm string            `json:"algorithm"`
	Framework map[string]string `json:"framework,omitempty"`
	Artifact  string            `json:"artifact"`
	Inputs    []Feature         `json:"inputs"`
	Output    Output            `json:"output"`
	// Generation is set for text-generation models (output kind
	// KindText), which have no inputs.
	Generation *Generation        `json:"generation,omitempty"`
	Metrics    map[string]float64 `json:"metrics,omitempty"`
	Dataset    string             `json:"dataset,omitempty"`
	Created    string             `json:"created"`
}

// Output kinds.
const (
	KindClassification = "classification"
	KindRegression     = "regression"
	KindText           = "text"
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
	if len(m.Inputs) == 0 && m.Output.Kind != KindText {
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
	case KindText:
		errs = append(errs, m.Generation.validate()...)
	default:
		errs = append(errs, fmt.Errorf("output.kind: %q is not classification, regression or text", m.Output.Kind))
	}
	if m.Generation != nil && m.Output.Kind != KindText {
		errs = append(errs, errors.New("generation: only for output kind text"))
	}
	if m.Artifact == "" {
		errs = append(errs, errors.New("artifact: required"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", dir, err)
	}
	return &m, nil
}

func (g *Generation) validate() []error {
	if g == nil {
		return []error{errors.New("generation: required for output kind text")}
	}
	var errs []error
	if g.ContextLength < 1 {
		errs = append(errs, errors.New("generation.context_length: must be positive"))
	}
	if g.VocabSize < 1 {
		errs = append(errs, errors.New("generation.vocab_size: must be positive"))
	}
	if g.Tokenizer == "" {
		errs = append(errs, errors.New("generation.tokenizer: required"))
	}
	if g.MaxOutputTokens < 1 || g.MaxOutputTokens > g.ContextLength {
		errs = append(errs, errors.New("generation.max_output_tokens: must be between 1 and context_length"))
	}
	return errs
}
