//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

// testContract: what the OpenAPI document promises, through real Envoy:
// the document itself, scoped to the key, and 405 with Allow for every
// method a path does not declare, however Envoy first sees it.
func testContract(t *testing.T, e *env) {
	t.Run("serves the deployment document to a key of every model", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodGet, path: "/openapi.json", client: clientPro})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		require.Equal(t, "application/json", a.header.Get("content-type"))
		want, err := os.ReadFile("../../api/openapi.deployment.json")
		require.NoError(t, err)
		require.JSONEq(t, string(want), string(a.body))
	})
	t.Run("scopes the document to the key's models", func(t *testing.T) {
		a := e.do(t, call{method: http.MethodGet, path: "/openapi.json", client: clientIrisOnly})
		require.Equal(t, http.StatusOK, a.status, "%s", a)
		var doc struct {
			Paths map[string]any `json:"paths"`
		}
		require.NoError(t, json.Unmarshal(a.body, &doc))
		require.Contains(t, doc.Paths, "/v2/models/iris/infer")
		for p := range doc.Paths {
			require.NotContains(t, p, "diabetes")
		}
	})
	t.Run("needs a key for the document", func(t *testing.T) {
		requireProblem(t, e.do(t, call{method: http.MethodGet, path: "/openapi.json"}), 401, problem.TypeUnauthorized)
	})
	tests := []struct {
		name, method, path string
		headers            map[string]string
		wantAllow          string
	}{
		{name: "QUERY without content-type, refused by Envoy itself", method: "QUERY", path: "/v2/models/iris/versions/stable", wantAllow: "GET, HEAD"},
		{name: "QUERY with a content-type, refused by the plugin", method: "QUERY", path: "/v2/models/iris/versions/stable",
			headers: map[string]string{"content-type": "application/json"}, wantAllow: "GET, HEAD"},
		{name: "PUT on a prediction route", method: http.MethodPut, path: "/v1/predict", wantAllow: "POST"},
		{name: "DELETE on infer", method: http.MethodDelete, path: "/v2/models/diabetes/versions/1/infer", wantAllow: "POST"},
		{name: "POST on the gateway's health route", method: http.MethodPost, path: "/healthz", wantAllow: "GET, HEAD"},
		{name: "PATCH on the document", method: http.MethodPatch, path: "/openapi.json", wantAllow: "GET, HEAD"},
	}
	for _, tc := range tests {
		t.Run("answers 405 with Allow: "+tc.name, func(t *testing.T) {
			a := e.do(t, call{method: tc.method, path: tc.path, client: clientPro, headers: tc.headers})
			p := requireProblem(t, a, http.StatusMethodNotAllowed, problem.TypeMethodNotAllowed)
			require.Equal(t, tc.wantAllow, a.header.Get("allow"), "%s", a)
			require.True(t, strings.Contains(p.Detail, tc.method), "%s", a)
		})
	}
}
