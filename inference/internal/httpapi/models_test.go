package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/inference/internal/config"
)

func TestOIPEndpoints(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tests := []struct {
		name       string
		path       string
		wantStatus int
		want       string
	}{
		{name: "server live", path: "/v2/health/live", wantStatus: 200, want: `{"live":true}`},
		{name: "server ready", path: "/v2/health/ready", wantStatus: 200, want: `{"ready":true}`},
		{name: "server metadata", path: "/v2", wantStatus: 200, want: `{"name":"modelgate-inference","version":"test","extensions":[]}`},
		{name: "model ready", path: "/v2/models/iris/ready", wantStatus: 200, want: `{"name":"iris","ready":true}`},
		{name: "version ready", path: "/v2/models/iris/versions/1/ready", wantStatus: 200, want: `{"name":"iris","ready":true}`},
		{name: "model metadata", path: "/v2/models/diabetes/versions/1", wantStatus: 200, want: `{"name":"diabetes","versions":["1"],"platform":"modelgate.trees/v1","inputs":[{"name":"input","datatype":"FP64","shape":[-1,10]}],"outputs":[{"name":"value","datatype":"FP64","shape":[-1]}]}`},
		{name: "unknown version metadata", path: "/v2/models/iris/versions/9", wantStatus: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, s, http.MethodGet, tc.path, "", "")
			require.Equal(t, tc.wantStatus, res.status, string(res.body))
			if tc.want != "" {
				require.JSONEq(t, tc.want, string(res.body))
			}
		})
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	res := do(t, newTestServer(t, []config.Selection{{Model: "iris", Version: "stable"}}), http.MethodGet, "/v2/models", "", "")
	require.Equal(t, http.StatusOK, res.status)
	var out struct {
		Models []CatalogEntry `json:"models"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Len(t, out.Models, 3, "diabetes, iris, scribe")
	iris := out.Models[1]
	require.Equal(t, "iris", iris.Name)
	require.Equal(t, "2", iris.Aliases["latest"])
	require.True(t, iris.Versions[0].Served)
	require.Len(t, iris.Versions[0].Inputs, 4)
	require.False(t, iris.Versions[1].Served)
}
