package server_test

import (
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/internal/catalog"
	"github.com/modelgate/modelgate/internal/openapi"
)

type documentSource struct{ gen *openapi.Generator }

func (d documentSource) Documents() *openapi.Generator { return d.gen }

// withContract answers 405 by the static document's paths and serves
// /openapi.json, as the app wires them.
func withContract(t testing.TB) envOption {
	b, err := os.ReadFile("../../../api/openapi.yaml")
	require.NoError(t, err)
	s, err := openapi.ParseStatic(b)
	require.NoError(t, err)
	cat, err := catalog.Parse([]byte(testCatalog))
	require.NoError(t, err)
	return func(c *envConfig) {
		c.admission.Methods = s
		c.documents = documentSource{openapi.New(s, cat, nil, openapi.Config{MaxRows: 5})}
	}
}

func TestProcess_methodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withContract(t))
	tests := []struct {
		name, method, path string
		wantAllow          string
	}{
		{name: "refuses QUERY on a version's metadata", method: "QUERY", path: "/v2/models/iris/versions/stable", wantAllow: "GET, HEAD"},
		{name: "refuses PUT on a prediction route", method: "PUT", path: "/v1/predict", wantAllow: "POST"},
		{name: "refuses GET on infer", method: "GET", path: "/v2/models/iris/infer?x=1", wantAllow: "POST"},
		{name: "refuses DELETE on the document", method: "DELETE", path: "/openapi.json", wantAllow: "GET, HEAD"},
		{name: "refuses POST on a health path Envoy routes here", method: "POST", path: "/healthz", wantAllow: "GET, HEAD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := e.open(t)
			ir := st.send(requestHeaders(true, header.Method, tt.method, header.Path, tt.path,
				header.RequestID, "req-405", header.KeyID, "k-acme")).GetImmediateResponse()
			require.NotNil(t, ir)
			require.EqualValues(t, 405, ir.GetStatus().GetCode())
			got := set(ir.GetHeaders())
			require.Equal(t, tt.wantAllow, got[header.Allow])
			require.Equal(t, header.MediaProblemJSON, got[header.ContentType])
			var p problem.Problem
			require.NoError(t, json.Unmarshal(ir.GetBody(), &p))
			require.Equal(t, problem.TypeMethodNotAllowed, p.Type)
			require.Equal(t, 405, p.Status)
			require.Equal(t, "req-405", p.RequestID)
		})
	}

	t.Run("lets a declared method and an undeclared path through", func(t *testing.T) {
		t.Parallel()
		st := e.open(t)
		resp := st.send(requestHeaders(true, header.Method, "HEAD", header.Path, "/v2/models",
			header.RequestID, "r", header.KeyID, "k-acme"))
		require.Nil(t, resp.GetImmediateResponse(), "HEAD goes wherever GET does")
		st = e.open(t)
		resp = st.send(requestHeaders(true, header.Method, "QUERY", header.Path, "/nowhere",
			header.RequestID, "r", header.KeyID, "k-acme"))
		require.Nil(t, resp.GetImmediateResponse(), "no such path: the upstream answers 404")
	})
}

func TestProcess_openAPIDocument(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withContract(t))
	fetch := func(t *testing.T, keyID string) map[string]any {
		st := e.open(t)
		ir := st.send(requestHeaders(true, header.Method, "GET", header.Path, "/openapi.json",
			header.RequestID, "req-doc", header.KeyID, keyID)).GetImmediateResponse()
		require.NotNil(t, ir)
		require.EqualValues(t, 200, ir.GetStatus().GetCode())
		require.Equal(t, header.MediaJSON, set(ir.GetHeaders())[header.ContentType])
		var doc map[string]any
		require.NoError(t, json.Unmarshal(ir.GetBody(), &doc))
		require.Equal(t, "3.1.0", doc["openapi"])
		return doc
	}
	paths := func(doc map[string]any) []string {
		var out []string
		for p := range doc["paths"].(map[string]any) {
			out = append(out, p)
		}
		slices.Sort(out)
		return out
	}

	t.Run("serves every model to a key that may use all", func(t *testing.T) {
		t.Parallel()
		ps := paths(fetch(t, "k-acme"))
		require.Contains(t, ps, "/v2/models/iris/versions/stable/infer")
		require.Contains(t, ps, "/v2/models/diabetes/infer")
		require.Contains(t, ps, "/v1/predict")
	})
	t.Run("scopes the document to the key's models", func(t *testing.T) {
		t.Parallel()
		ps := paths(fetch(t, "k-iris"))
		require.Contains(t, ps, "/v2/models/iris/infer")
		for _, p := range ps {
			require.NotContains(t, p, "diabetes")
		}
	})
	t.Run("gives a key of no model only what names no model", func(t *testing.T) {
		t.Parallel()
		ps := paths(fetch(t, "k-nobody"))
		require.NotContains(t, ps, "/v2/predict")
		require.NotContains(t, ps, "/v1/predict")
		require.Contains(t, ps, "/openapi.json")
	})
}

var _ processor.DocumentSource = documentSource{}
