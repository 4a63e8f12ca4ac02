package openapi

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/internal/catalog"
)

var update = flag.Bool("update", false, "rewrite api/openapi.deployment.json")

const (
	staticPath     = "../../api/openapi.yaml"
	deploymentPath = "../../api/openapi.deployment.json"
	catalogPath    = "../../models/catalog.yaml"
)

func loadStatic(t *testing.T) *Static {
	t.Helper()
	b, err := os.ReadFile(staticPath)
	require.NoError(t, err)
	s, err := ParseStatic(b)
	require.NoError(t, err)
	return s
}

func repoGenerator(t *testing.T) (*Generator, *Static) {
	t.Helper()
	s := loadStatic(t)
	c, err := catalog.Load(catalogPath)
	require.NoError(t, err)
	return New(s, c, ReadManifests(c), Config{MaxRows: DefaultMaxRows, JobsMaxRows: DefaultJobsMaxRows}), s
}

func parse(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	return doc
}

// TestDeploymentDocument_UpToDate keeps the checked-in document of every
// model equal to what the gateway serves a key that may use them all.
func TestDeploymentDocument_UpToDate(t *testing.T) {
	g, _ := repoGenerator(t)
	got, err := g.Document(nil)
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(deploymentPath, got, 0o644))
	}
	want, err := os.ReadFile(deploymentPath)
	require.NoError(t, err)
	require.True(t, string(want) == string(got), "api/openapi.deployment.json is stale: go run ./tools/openapigen (or go test ./internal/openapi -update)")
}

// TestDocument_RefinesStatic proves the generated document a refinement of
// api/openapi.yaml: each path an instance of a static path, each operation
// one of its operations with the same answers, each parameter and request
// body schema narrower than the static one, and each example valid under
// both.
func TestDocument_RefinesStatic(t *testing.T) {
	t.Parallel()
	g, s := repoGenerator(t)
	for _, tc := range []struct {
		name  string
		allow func(string) bool
	}{
		{name: "every model"},
		{name: "one model", allow: func(m string) bool { return m == "diabetes" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := g.Document(tc.allow)
			require.NoError(t, err)
			requireRefinement(t, s, parse(t, b))
		})
	}
}

func requireRefinement(t *testing.T, s *Static, genDoc map[string]any) {
	t.Helper()
	gen, err := newSchemaDoc("urn:modelgate:generated", genDoc)
	require.NoError(t, err)
	static, err := newSchemaDoc("urn:modelgate:static", deepCopy(s.doc).(map[string]any))
	require.NoError(t, err)
	n := &narrowing{gen: gen, static: static, seen: map[string]bool{}}
	// Static components are kept as they are; generated ones are added
	// beside them.
	for _, kind := range keys(s.doc["components"]) {
		for _, name := range keys(dig(s.doc, "components", kind)) {
			require.Equal(t, dig(s.doc, "components", kind, name), dig(genDoc, "components", kind, name),
				"static component %s/%s changed", kind, name)
		}
	}
	paths := genDoc["paths"].(map[string]any)
	require.NotEmpty(t, paths)
	for _, p := range sortedKeys(paths) {
		segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
		var tmpl *template
		for i := range s.templates {
			if s.templates[i].matches(segs) && (tmpl == nil || literals(s.templates[i]) > literals(*tmpl)) {
				tmpl = &s.templates[i]
			}
		}
		require.NotNil(t, tmpl, "path %s is no instance of a static path", p)
		item := paths[p].(map[string]any)
		for _, m := range methodNames {
			if _, ok := item[m]; !ok {
				continue
			}
			gp := problem.Pointer("paths", p, m)
			sp := problem.Pointer("paths", tmpl.path, m)
			require.NotNil(t, static.at(sp), "%s %s: the static path %s has no such operation", m, p, tmpl.path)
			requireOperationRefines(t, n, gp, sp, segs, *tmpl)
		}
	}
}

func literals(t template) int {
	n := 0
	for _, s := range t.segs {
		if !isParam(s) {
			n++
		}
	}
	return n
}

func requireOperationRefines(t *testing.T, n *narrowing, gp, sp string, segs []string, tmpl template) {
	t.Helper()
	gop := n.gen.at(gp).(map[string]any)
	sop := n.static.at(sp).(map[string]any)
	// The same answers, the same way.
	require.Equal(t, keys(sop["responses"]), keys(gop["responses"]), "%s: answers differ from %s", gp, sp)
	for _, code := range keys(sop["responses"]) {
		gr := n.gen.at(gp + "/responses/" + code)
		sr := n.static.at(sp + "/responses/" + code)
		require.Equal(t, sr, gr, "%s: answer %s differs", gp, code)
	}
	require.Equal(t, sop["security"], gop["security"], "%s: security differs", gp)

	// A concrete path segment must be a value the static path parameter
	// takes.
	sParams := params(n.static, sp)
	for i, seg := range tmpl.segs {
		if !isParam(seg) {
			continue
		}
		name := strings.Trim(seg, "{}")
		ptr, ok := sParams["path "+name]
		require.True(t, ok, "%s: static parameter %s undeclared", sp, name)
		if !isParam(segs[i]) {
			require.NoError(t, n.static.validates(ptr+"/schema", segs[i]), "%s: %q is no valid %s", gp, segs[i], name)
		}
	}
	for k, ptr := range params(n.gen, gp) {
		sptr, ok := sParams[k]
		require.True(t, ok, "%s: parameter %s is not in %s", gp, k, sp)
		require.NoError(t, n.narrows(ptr+"/schema", sptr+"/schema"), "%s: parameter %s", gp, k)
	}
	for k, sptr := range sParams {
		if _, ok := params(n.gen, gp)[k]; ok {
			continue
		}
		require.True(t, strings.HasPrefix(k, "path "), "%s: drops static parameter %s (%s)", gp, k, sptr)
	}

	// Bodies: the same media types, each schema narrower, each example
	// valid under both documents.
	if n.static.at(sp+"/requestBody") == nil {
		require.Nil(t, n.gen.at(gp+"/requestBody"), "%s: body the static operation does not take", gp)
		return
	}
	require.Equal(t, keys(n.static.at(sp+"/requestBody/content")), keys(n.gen.at(gp+"/requestBody/content")), "%s: body media types", gp)
	for _, mt := range keys(n.gen.at(gp + "/requestBody/content")) {
		g := gp + "/requestBody/content/" + problem.EscapePointer(mt)
		s := sp + "/requestBody/content/" + problem.EscapePointer(mt)
		require.NoError(t, n.narrows(g+"/schema", s+"/schema"), "%s: body schema", gp)
		if ex := n.gen.at(g + "/example"); ex != nil {
			require.NoError(t, n.gen.validates(g+"/schema", ex), "%s: example invalid under the generated schema", gp)
			require.NoError(t, n.static.validates(s+"/schema", ex), "%s: example invalid under the static schema", gp)
		}
	}
}

// params maps "in name" of an operation's parameters to their pointers,
// references followed.
func params(d *schemaDoc, op string) map[string]string {
	out := map[string]string{}
	for i := range asSlice(d.at(op + "/parameters")) {
		ptr := op + "/parameters/" + strconv.Itoa(i)
		if r, ok := refOf(d.at(ptr)); ok {
			ptr = r
		}
		p := d.at(ptr).(map[string]any)
		out[p["in"].(string)+" "+p["name"].(string)] = ptr
	}
	return out
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	return sortedKeys(m)
}

// TestDocument_SchemasSayWhatTheGatewayChecks: bodies the gateway refuses
// for their features or tensors are refused by the generated schemas, and
// the static ones let them through (which is why the document is
// refined).
func TestDocument_SchemasSayWhatTheGatewayChecks(t *testing.T) {
	t.Parallel()
	g, s := repoGenerator(t)
	b, err := g.Document(nil)
	require.NoError(t, err)
	gen, err := newSchemaDoc("urn:modelgate:generated", parse(t, b))
	require.NoError(t, err)
	static, err := newSchemaDoc("urn:modelgate:static", s.doc)
	require.NoError(t, err)
	body := func(p string) string {
		return problem.Pointer("paths", p, "post", "requestBody", "content", "application/json", "schema")
	}
	iris := map[string]any{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
	without := func(m map[string]any, k string) map[string]any {
		out := map[string]any{}
		for kk, v := range m {
			if kk != k {
				out[kk] = v
			}
		}
		return out
	}
	with := func(m map[string]any, k string, v any) map[string]any {
		out := without(m, k)
		out[k] = v
		return out
	}
	matrix := func(width int, dt string) map[string]any {
		data := make([]any, width)
		for i := range data {
			data[i] = 1.0
		}
		return map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []any{1, width}, "datatype": dt, "data": data}}}
	}
	tests := []struct {
		name       string
		path, stat string
		body       any
		wantOK     bool
	}{
		{name: "accepts an iris row on /v1/predict", path: "/v1/predict", body: map[string]any{"inputs": []any{iris}}, wantOK: true},
		{name: "accepts a pinned alias on /v1/predict", path: "/v1/predict", body: map[string]any{"inputs": []any{iris}, "model_version": "stable"}, wantOK: true},
		{name: "refuses a missing feature", path: "/v1/predict", body: map[string]any{"inputs": []any{without(iris, "petal_width")}}},
		{name: "refuses an unknown feature", path: "/v1/predict", body: map[string]any{"inputs": []any{with(iris, "colour", 1.0)}}},
		{name: "refuses an unknown version", path: "/v1/predict", body: map[string]any{"inputs": []any{iris}, "model_version": "9"}},
		{name: "refuses more rows than the limit", path: "/v1/predict", body: map[string]any{"inputs": slices.Repeat([]any{iris}, DefaultMaxRows+1)}},
		{name: "accepts iris rows on /v2/predict", path: "/v2/predict", body: map[string]any{"model": "iris", "inputs": []any{iris}}, wantOK: true},
		{name: "refuses iris rows for diabetes", path: "/v2/predict", body: map[string]any{"model": "diabetes", "inputs": []any{iris}}},
		{name: "refuses an unknown model", path: "/v2/predict", body: map[string]any{"model": "wine", "inputs": []any{iris}}},
		{name: "accepts a [rows, 4] matrix for iris", path: "/v2/models/iris/versions/2/infer", stat: pathInferVersion, body: matrix(4, "FP32"), wantOK: true},
		{name: "refuses a [rows, 3] matrix for iris", path: "/v2/models/iris/versions/2/infer", stat: pathInferVersion, body: matrix(3, "FP32")},
		{name: "refuses an integer tensor", path: "/v2/models/iris/infer", stat: pathInfer, body: matrix(4, "INT32")},
		{name: "refuses a [rows, 4] matrix for diabetes", path: "/v2/models/diabetes/infer", stat: pathInfer, body: matrix(4, "FP64")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := gen.validates(body(tt.path), tt.body)
			if tt.wantOK {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
			stat := tt.stat
			if stat == "" {
				stat = tt.path
			}
			if tt.name != "refuses an integer tensor" {
				require.NoError(t, static.validates(body(stat), tt.body), "the static document accepts the body")
			}
		})
	}
}

func TestDocument_Scope(t *testing.T) {
	t.Parallel()
	g, _ := repoGenerator(t)
	b, err := g.Document(func(m string) bool { return m == "diabetes" })
	require.NoError(t, err)
	doc := parse(t, b)
	paths := keys(doc["paths"])
	require.NotContains(t, paths, "/v1/predict", "the default model (iris) is out of scope")
	require.Contains(t, paths, "/v2/predict")
	require.Contains(t, paths, "/v2/models/diabetes/versions/stable/infer")
	for _, p := range paths {
		require.NotContains(t, p, "iris")
	}
	require.NotContains(t, string(b), "Row.iris", "no schema of a model out of scope")
	require.Contains(t, paths, "/v2/models", "operations of no model stay")

	b, err = g.Document(func(string) bool { return false })
	require.NoError(t, err)
	paths = keys(parse(t, b)["paths"])
	require.NotContains(t, paths, "/v2/predict")
	require.Contains(t, paths, "/openapi.json")
}

// TestDocument_KindOperations: operations marked for a catalog kind stay
// only when a model of that kind is in scope, with the body's model named.
func TestDocument_KindOperations(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	static := `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /v1/chat/completions:
    post:
      x-modelgate-model-kind: llm
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Chat'}
      responses: {'200': {description: ok}}
  /v1/completions:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Chat'}
      responses: {'200': {description: ok}}
  /v2/models:
    get:
      responses: {'200': {description: ok}}
components:
  schemas:
    Chat:
      type: object
      required: [model]
      properties:
        model: {type: string}
`
	cat := "default_model: iris\nmodels:\n  iris: {versions: [\"1\"]}\n  tiny: {versions: [\"1\"], kind: llm}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "catalog.yaml"), []byte(cat), 0o644))
	c, err := catalog.Load(filepath.Join(dir, "catalog.yaml"))
	require.NoError(t, err)
	s, err := ParseStatic([]byte(static))
	require.NoError(t, err)
	g := New(s, c, nil, Config{MaxRows: 10})

	b, err := g.Document(nil)
	require.NoError(t, err)
	doc := parse(t, b)
	require.Contains(t, keys(doc["paths"]), "/v1/chat/completions")
	require.Contains(t, keys(doc["paths"]), "/v1/completions")
	schema := dig(doc, "paths", "/v1/chat/completions", "post", "requestBody", "content", "application/json", "schema")
	d, err := newSchemaDoc("urn:t", doc)
	require.NoError(t, err)
	ptr := problem.Pointer("paths", "/v1/chat/completions", "post", "requestBody", "content", "application/json", "schema")
	require.NoError(t, d.validates(ptr, map[string]any{"model": "tiny"}), "schema %v", schema)
	require.NoError(t, d.validates(ptr, map[string]any{"model": "tiny:latest"}), "a version or alias may follow the name")
	require.Error(t, d.validates(ptr, map[string]any{"model": "tiny:9"}))
	require.Error(t, d.validates(ptr, map[string]any{"model": "iris"}), "a tabular model is no chat model")

	b, err = g.Document(func(m string) bool { return m == "iris" })
	require.NoError(t, err)
	require.NotContains(t, keys(parse(t, b)["paths"]), "/v1/chat/completions", "no llm model in scope")
	require.NotContains(t, keys(parse(t, b)["paths"]), "/v1/completions", "an OpenAI path is of kind llm unmarked")
	require.Contains(t, keys(parse(t, b)["paths"]), "/v2/models")
}

func TestStatic_Allow(t *testing.T) {
	t.Parallel()
	s := loadStatic(t)
	tests := []struct {
		path         string
		want         []string
		wantDeclared bool
	}{
		{path: "/v1/predict", want: []string{"POST"}, wantDeclared: true},
		{path: "/v2/models/iris/versions/stable", want: []string{"GET", "HEAD"}, wantDeclared: true},
		{path: "/v2/models/iris/versions/stable/infer", want: []string{"POST"}, wantDeclared: true},
		{path: "/openapi.json", want: []string{"GET", "HEAD"}, wantDeclared: true},
		{path: "/v2/models//infer"},
		{path: "/nowhere"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			got, declared := s.Allow(tt.path)
			require.Equal(t, tt.wantDeclared, declared)
			require.Equal(t, tt.want, got)
		})
	}
}
