package catalog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
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
	// Upstream is set, instead of Artifact, for a text-generation version
	// served by an OpenAI-compatible server.
	Upstream *Upstream `json:"upstream,omitempty"`
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
	switch {
	case m.Upstream != nil && m.Artifact != "":
		errs = append(errs, errors.New("artifact, upstream: a version is served by a built-in artifact or an upstream, not both"))
	case m.Upstream != nil:
		if m.Output.Kind != KindText {
			errs = append(errs, errors.New("upstream: only for output kind text"))
		}
		errs = append(errs, m.Upstream.validate()...)
	case m.Artifact == "":
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

// Upstream names the OpenAI-compatible server (vLLM, llama.cpp, TGI, …)
// that serves a text-generation version instead of a built-in artifact.
type Upstream struct {
	// BaseURL is the API root the paths /chat/completions and
	// /completions are appended to, e.g. http://vllm:8000/v1.
	BaseURL string `json:"base_url"`
	// Model is the upstream's own name for the model.
	Model string `json:"model"`
	// APIKeyEnv names the inference process's environment variable that
	// holds the key sent to the upstream as a Bearer token; empty sends
	// none. The key is the gateway's, never the client's. Names must start
	// with UpstreamKeyEnvPrefix, so a catalog entry cannot ship an
	// unrelated secret of the process to a URL of its choosing.
	APIKeyEnv string `json:"api_key_env,omitempty"`
}

// UpstreamKeyEnvPrefix starts every Upstream.APIKeyEnv.
const UpstreamKeyEnvPrefix = "INFERENCE_UPSTREAM_"

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

func (u *Upstream) validate() []error {
	var errs []error
	if b, err := url.Parse(u.BaseURL); err != nil || (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		errs = append(errs, fmt.Errorf("upstream.base_url: %q is not an absolute http or https URL", u.BaseURL))
	} else if b.User != nil || b.RawQuery != "" || b.Fragment != "" {
		errs = append(errs, errors.New("upstream.base_url: no user info, query or fragment allowed"))
	}
	if u.Model == "" {
		errs = append(errs, errors.New("upstream.model: required"))
	}
	if u.APIKeyEnv != "" && (!envName.MatchString(u.APIKeyEnv) || len(u.APIKeyEnv) <= len(UpstreamKeyEnvPrefix) ||
		u.APIKeyEnv[:len(UpstreamKeyEnvPrefix)] != UpstreamKeyEnvPrefix) {
		errs = append(errs, fmt.Errorf("upstream.api_key_env: %q must be an upper-case variable name starting with %s", u.APIKeyEnv, UpstreamKeyEnvPrefix))
	}
	return errs
}
