// Package routing decides which API route a request addresses and which
// concrete model version serves it. Envoy routes on the model and version
// headers extproc sets from this package's answers. It is pure: no Envoy
// types, no I/O.
package routing

import (
	"strings"

	"github.com/modelgate/modelgate/internal/catalog"
)

// Kind is an API route that extproc processes.
type Kind int

// Route kinds. PassThrough covers everything extproc does not inspect.
const (
	PassThrough Kind = iota
	V1Predict
	V2Predict
	Infer
	ModelMetadata
	// ChatCompletions and Completions are the OpenAI-compatible text
	// generation routes; Models is their model list (GET /v1/models and
	// /v1/models/{model}).
	ChatCompletions
	Completions
	Models
	// ModelList is GET /v2/models, answered by extproc from the catalog.
	ModelList
	Document
	// Jobs is POST /v2/jobs: a prediction body run asynchronously by the
	// version it names. The jobs' reads and cancels pass through.
	Jobs
)

// Route names, used as metric and log attributes and as part of cache keys.
var kindNames = [...]string{
	PassThrough:     "passthrough",
	V1Predict:       "v1_predict",
	V2Predict:       "v2_predict",
	Infer:           "oip_infer",
	ModelMetadata:   "oip_model",
	ChatCompletions: "chat_completions",
	Completions:     "completions",
	Models:          "models",
	ModelList:       "model_list",
	Document:        "openapi",
	Jobs:            "jobs",
}

// Generates reports whether the route generates text.
func (k Kind) Generates() bool { return k == ChatCompletions || k == Completions }

// String returns the route name.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// DocumentPath serves the deployment's OpenAPI document.
const DocumentPath = "/openapi.json"

// Match is the route of one request and what its path names.
type Match struct {
	Kind Kind
	// Path is the request path without its query.
	Path string
	// Model and Version are taken from Open Inference Protocol paths
	// (/v2/models/{model}[/versions/{version}]/...); empty otherwise.
	Model, Version string
}

// exactRoute is a route of one path: the method (and, for reads, HEAD)
// that makes it that kind; other methods pass through.
type exactRoute struct {
	method string
	head   bool
	kind   Kind
}

var exactRoutes = map[string]exactRoute{
	"/v1/predict":          {method: "POST", kind: V1Predict},
	"/v2/predict":          {method: "POST", kind: V2Predict},
	DocumentPath:           {method: "GET", head: true, kind: Document},
	"/v2/models":           {method: "GET", kind: ModelList},
	"/v2/jobs":             {method: "POST", kind: Jobs},
	"/v1/chat/completions": {method: "POST", kind: ChatCompletions},
	"/v1/completions":      {method: "POST", kind: Completions},
}

// Route matches a request method and :path (the query is ignored) to a
// route. Method mismatches fall through to PassThrough, so the upstream
// answers 405 as it would without extproc.
func Route(method, path string) Match {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	m := Match{Kind: PassThrough, Path: path}
	if r, ok := exactRoutes[path]; ok {
		if method == r.method || (r.head && method == "HEAD") {
			m.Kind = r.kind
		}
		return m
	}
	switch {
	case path == "/v1/models" || strings.HasPrefix(path, "/v1/models/"):
		if method == "GET" || method == "HEAD" {
			m.Kind = Models
			m.Model = strings.TrimPrefix(strings.TrimPrefix(path, "/v1/models"), "/")
		}
		return m
	}
	rest, ok := strings.CutPrefix(path, "/v2/models/")
	if !ok || rest == "" {
		return m
	}
	seg := strings.Split(rest, "/")
	model, seg := seg[0], seg[1:]
	version := ""
	if len(seg) >= 2 && seg[0] == "versions" {
		version, seg = seg[1], seg[2:]
		if version == "" {
			return m
		}
	}
	if model == "" {
		return m
	}
	switch {
	case len(seg) == 1 && seg[0] == "infer" && method == "POST":
		m.Kind = Infer
	case len(seg) == 0 && (method == "GET" || method == "HEAD"),
		len(seg) == 1 && seg[0] == "ready" && (method == "GET" || method == "HEAD"):
		m.Kind = ModelMetadata
	default:
		return m
	}
	m.Model, m.Version = model, version
	return m
}

// Target is a resolved model version.
type Target struct {
	Model string
	// Version is the concrete version.
	Version string
	// Requested is what the client asked for (a version or an alias;
	// "latest" when it asked for nothing).
	Requested string
}

// Resolve picks the first non-empty of candidates (in precedence order:
// x-model-version header, then body or path) and resolves it, or latest,
// against the catalog. Errors are *catalog.UnknownModelError or
// *catalog.UnknownVersionError.
func Resolve(c *catalog.Catalog, model string, candidates ...string) (Target, error) {
	return ResolveFor(c, "", model, candidates...)
}

// ResolveFor is [Resolve] for one subject (see [Subject]): a weighted
// alias resolves to the subject's sticky pick.
func ResolveFor(c *catalog.Catalog, subject, model string, candidates ...string) (Target, error) {
	requested := ""
	for _, v := range candidates {
		if v != "" {
			requested = v
			break
		}
	}
	v, err := c.ResolveFor(model, requested, subject)
	if err != nil {
		return Target{}, err
	}
	if requested == "" {
		requested = catalog.DefaultAlias
	}
	return Target{Model: model, Version: v, Requested: requested}, nil
}

// Subject is what a weighted alias picks by: the client, and the session
// within it when the request names one. Empty without a client.
func Subject(client, session string) string {
	if client == "" {
		return ""
	}
	return client + "\x00" + session
}

// SplitModelID reads an OpenAI-style model id, "name" or "name:version"
// (the version may be an alias such as "stable"), as the text-generation
// routes accept it in their body's model member and in /v1/models/{id}.
func SplitModelID(id string) (model, version string) {
	model, version, _ = strings.Cut(id, ":")
	return model, version
}
