// Package openapi builds the per-deployment OpenAPI document: the
// hand-edited api/openapi.yaml (the shared shapes, every operation and every
// error answer) refined with what the catalog and the manifests say about
// each model: the exact row schema of /v1/predict and /v2/predict, the
// tensors of each version's Open Inference Protocol paths, and the versions
// and aliases a request may name. The document can be scoped to the models
// one API key may use.
//
// Every schema the package writes accepts only what the static document
// accepts (a test proves it), so a client generated from either is never
// told a body is fine that the gateway refuses for its shape.
//
// The package knows nothing about Envoy or HTTP; extproc serves the
// document and reads the method table of [Static.Allow].
package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/internal/catalog"
)

// ExtModelKind marks an operation in the static document as one for models
// of a catalog kind (catalog.KindLLM for chat and completions): it is kept
// only when the document's scope holds a model of that kind, and a "model"
// member of its request body is narrowed to those models. The
// OpenAI-compatible generation paths have that kind without the mark
// (defaultKinds).
const ExtModelKind = "x-modelgate-model-kind"

// defaultKinds are the model kinds of the OpenAI-compatible text
// generation paths, for operations that carry no ExtModelKind.
var defaultKinds = map[string]string{
	"/v1/chat/completions": catalog.KindLLM,
	"/v1/completions":      catalog.KindLLM,
}

// Static is the parsed hand-edited document.
type Static struct {
	doc map[string]any
	// templates are the paths in document order, split into segments.
	templates []template
}

type template struct {
	path    string
	segs    []string
	methods []string
}

// methodNames are the operation keys of an OpenAPI path item, in the order
// an Allow header lists them.
var methodNames = []string{"get", "head", "post", "put", "patch", "delete", "options", "trace", "query"}

// ParseStatic reads an OpenAPI 3.1 document given as YAML or JSON.
func ParseStatic(b []byte) (*Static, error) {
	var y any
	if err := yaml.Unmarshal(b, &y); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	// Round-trip through JSON: YAML maps become map[string]any and numbers
	// float64, the shapes the rest of the package (and encoding/json) use.
	j, err := json.Marshal(y)
	if err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		return nil, fmt.Errorf("parse openapi document: %w", err)
	}
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		return nil, errors.New("parse openapi document: no paths")
	}
	s := &Static{doc: doc}
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		t := template{path: p, segs: strings.Split(strings.TrimPrefix(p, "/"), "/")}
		for _, m := range methodNames {
			if _, ok := item[m]; ok {
				t.methods = append(t.methods, strings.ToUpper(m))
			}
		}
		s.templates = append(s.templates, t)
	}
	return s, nil
}

// Allow returns the methods the document declares for a concrete request
// path (without query), with HEAD wherever GET is declared, as the
// servers answer it; declared is false when no path of the document
// matches. A template segment such as {model} matches one non-empty
// segment.
func (s *Static) Allow(path string) (methods []string, declared bool) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for _, t := range s.templates {
		if !t.matches(segs) {
			continue
		}
		declared = true
		for _, m := range t.methods {
			if !slices.Contains(methods, m) {
				methods = append(methods, m)
			}
		}
	}
	if slices.Contains(methods, "GET") && !slices.Contains(methods, "HEAD") {
		methods = append(methods, "HEAD")
	}
	slices.SortFunc(methods, func(a, b string) int {
		return slices.Index(methodNames, strings.ToLower(a)) - slices.Index(methodNames, strings.ToLower(b))
	})
	return methods, declared
}

func (t template) matches(segs []string) bool {
	if len(segs) != len(t.segs) {
		return false
	}
	for i, s := range t.segs {
		if isParam(s) {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if s != segs[i] {
			return false
		}
	}
	return true
}

func isParam(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

// Manifests looks up the manifest of a catalogued version; nil when it
// could not be read, and that version keeps the static document's schemas.
type Manifests func(model, version string) *catalog.Manifest

// DefaultMaxRows is extproc's default limits.max_rows, the bound of the
// checked-in deployment document.
const DefaultMaxRows = 1000

// DefaultJobsMaxRows is extproc's default limits.jobs_max_rows.
const DefaultJobsMaxRows = 100000

// Config is what the generator needs beside the documents.
type Config struct {
	// MaxRows is the most rows (or tensor rows) a request may carry.
	MaxRows int
	// JobsMaxRows is the most rows a job may carry.
	JobsMaxRows int
}

// Generator builds documents for one catalog. It is immutable and safe
// for concurrent use; build a new one when the catalog changes.
type Generator struct {
	static    *Static
	cat       *catalog.Catalog
	manifests Manifests
	cfg       Config
}

// New returns the generator of a catalog.
func New(s *Static, c *catalog.Catalog, m Manifests, cfg Config) *Generator {
	if m == nil {
		m = func(string, string) *catalog.Manifest { return nil }
	}
	return &Generator{static: s, cat: c, manifests: m, cfg: cfg}
}

// Document renders the document for the models allow accepts (nil allows
// every model) as indented JSON.
func (g *Generator) Document(allow func(model string) bool) ([]byte, error) {
	doc, err := g.build(allow)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("render openapi document: %w", err)
	}
	return append(b, '\n'), nil
}

// Path templates of the static document that the generator refines.
const (
	pathV1Predict     = "/v1/predict"
	pathV2Predict     = "/v2/predict"
	pathJobs          = "/v2/jobs"
	pathModel         = "/v2/models/{model}"
	pathModelVersion  = "/v2/models/{model}/versions/{version}"
	pathInfer         = "/v2/models/{model}/infer"
	pathInferVersion  = "/v2/models/{model}/versions/{version}/infer"
	paramModelVersion = "#/components/parameters/ModelVersion"
	paramModel        = "#/components/parameters/Model"
	paramVersion      = "#/components/parameters/Version"
)

func (g *Generator) build(allow func(string) bool) (map[string]any, error) {
	doc := deepCopy(g.static.doc).(map[string]any)
	paths := doc["paths"].(map[string]any)
	schemas := components(doc, "schemas")
	sc := g.scope(allow)

	info, _ := doc["info"].(map[string]any)
	if info != nil {
		d, _ := info["description"].(string)
		info["description"] = d + "\nThis document is generated for one deployment from its model catalog" +
			" and, when served at /openapi.json, scoped to the models the calling API key may use.\n"
	}

	for _, p := range sortedKeys(paths) {
		item := paths[p].(map[string]any)
		switch p {
		case pathV1Predict:
			if !g.v1Predict(item, sc, schemas) {
				delete(paths, p)
			}
		case pathV2Predict:
			if !g.v2Predict(item, sc, schemas) {
				delete(paths, p)
			}
		case pathJobs:
			if !g.jobs(item, sc, schemas) {
				delete(paths, p)
			}
		case pathModel, pathModelVersion, pathInfer, pathInferVersion:
			delete(paths, p)
			g.perModel(paths, p, item, sc, schemas)
		default:
			if !g.keepKindOperations(p, item, sc) {
				delete(paths, p)
			}
		}
	}
	return doc, nil
}

// scope is the tabular and text-generation models a document covers.
type scope struct {
	tabular, llm []string
	// defaultModel is set when the default model is in scope.
	defaultModel string
}

func (g *Generator) scope(allow func(string) bool) scope {
	var sc scope
	for _, name := range g.cat.ModelNames() {
		if allow != nil && !allow(name) {
			continue
		}
		if g.cat.Models[name].IsLLM() {
			sc.llm = append(sc.llm, name)
			continue
		}
		sc.tabular = append(sc.tabular, name)
		if name == g.cat.DefaultModel {
			sc.defaultModel = name
		}
	}
	return sc
}

// keepKindOperations drops the operations of a model kind the scope has no
// model of and narrows the body's model member of the others; it reports
// whether the path item still has an operation.
func (g *Generator) keepKindOperations(path string, item map[string]any, sc scope) bool {
	left := false
	for _, m := range methodNames {
		op, ok := item[m].(map[string]any)
		if !ok {
			continue
		}
		kind, ok := op[ExtModelKind].(string)
		if !ok {
			kind = defaultKinds[path]
		}
		var models []string
		switch kind {
		case "":
			left = true
			continue
		case catalog.KindLLM:
			models = sc.llm
		case catalog.KindTabular:
			models = sc.tabular
		}
		if len(models) == 0 {
			delete(item, m)
			continue
		}
		left = true
		narrowBodyModel(op, g.modelRefs(models))
	}
	return left
}

// modelRefs are the ways a body may name the models: "<name>" (the latest
// alias) or "<name>:<version-or-alias>".
func (g *Generator) modelRefs(models []string) []string {
	var out []string
	for _, m := range models {
		out = append(out, m)
		for _, c := range g.cat.Models[m].Choices() {
			out = append(out, m+":"+c)
		}
	}
	return out
}

// narrowBodyModel intersects the JSON request body schema of op with one
// whose "model" member, when present, names one of models.
func narrowBodyModel(op map[string]any, models []string) {
	media, ok := dig(op, "requestBody", "content", "application/json").(map[string]any)
	if !ok {
		return
	}
	orig, ok := media["schema"]
	if !ok {
		return
	}
	media["schema"] = map[string]any{"allOf": []any{orig, map[string]any{
		"properties": map[string]any{"model": map[string]any{"enum": strs(models)}},
	}}}
}

// components returns doc.components[kind], creating it.
func components(doc map[string]any, kind string) map[string]any {
	c, ok := doc["components"].(map[string]any)
	if !ok {
		c = map[string]any{}
		doc["components"] = c
	}
	k, ok := c[kind].(map[string]any)
	if !ok {
		k = map[string]any{}
		c[kind] = k
	}
	return k
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ReadManifests reads the manifest of every catalogued version once; a
// manifest that cannot be read is left out (its version keeps the static
// schemas).
func ReadManifests(c *catalog.Catalog) Manifests {
	byKey := map[[2]string]*catalog.Manifest{}
	for name, m := range c.Models {
		for _, v := range m.Versions {
			if man, err := catalog.LoadManifest(c.VersionDir(name, v), name, v); err == nil {
				byKey[[2]string{name, v}] = man
			}
		}
	}
	return func(model, version string) *catalog.Manifest { return byKey[[2]string{model, version}] }
}

// Models returns the names of the catalog's models, sorted: what a scope
// chooses from.
func (g *Generator) Models() []string { return g.cat.ModelNames() }

// PathMethods is one path template of the static document with the
// methods it declares (HEAD wherever GET is).
type PathMethods struct {
	// Template is the path, {name} for a parameter segment.
	Template string
	// Segments is Template split at "/", parameters as "{name}".
	Segments []string
	Methods  []string
}

// Paths lists the document's path templates in sorted order.
func (s *Static) Paths() []PathMethods {
	out := make([]PathMethods, 0, len(s.templates))
	for _, t := range s.templates {
		ms := slices.Clone(t.methods)
		if slices.Contains(ms, "GET") && !slices.Contains(ms, "HEAD") {
			ms = append(ms, "HEAD")
		}
		slices.SortFunc(ms, func(a, b string) int {
			return slices.Index(methodNames, strings.ToLower(a)) - slices.Index(methodNames, strings.ToLower(b))
		})
		out = append(out, PathMethods{Template: t.path, Segments: slices.Clone(t.segs), Methods: ms})
	}
	return out
}
