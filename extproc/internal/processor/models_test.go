package processor_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/internal/catalog"
)

func TestMetadata_RequestHeaders(t *testing.T) {
	t.Parallel()
	get := func(path string) []string {
		return []string{header.Method, "GET", header.Path, path, header.APIKey, "key-iris"}
	}
	tests := []struct {
		name, path  string
		wantErr     any
		wantVersion string
	}{
		{name: "routes to the version the path names", path: "/v2/models/iris/versions/1", wantVersion: "1"},
		{name: "routes a bare model to its latest version", path: "/v2/models/iris/ready", wantVersion: "2"},
		{name: "a model the key may not use is 403 before it is looked up", path: "/v2/models/nope", wantErr: &processor.ForbiddenError{}},
		{name: "an unknown version of an allowed model is 404", path: "/v2/models/iris/versions/9", wantErr: &catalog.UnknownVersionError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &quotaCalls{}
			adm := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}, Scopes: testScopes, Quota: q})
			r := processor.NewRequest(epoch)
			h := headers(true, get(tt.path)...)
			require.NoError(t, adm.ReadHeaders(t.Context(), r, h))
			p := processor.NewMetadata(newCatalog(t), adm)(r)
			defer p.Close()
			resp, err := p.RequestHeaders(t.Context(), h)
			switch want := tt.wantErr.(type) {
			case nil:
				require.NoError(t, err)
				m := resp.GetRequestHeaders().GetResponse()
				require.True(t, m.GetClearRouteCache())
				v, _ := headerValue(m.GetHeaderMutation(), header.ModelVersion)
				require.Equal(t, tt.wantVersion, v)
				require.Equal(t, [][]quota.Descriptor{quota.Descriptors(quota.Subject{
					Client: "initech", Tier: "free", Model: "iris", Version: tt.wantVersion})}, q.Calls())
			case *processor.ForbiddenError:
				require.ErrorAs(t, err, &want)
			case *catalog.UnknownVersionError:
				require.ErrorAs(t, err, &want)
			}
		})
	}
}

func TestModelList_listsEveryVersionTheKeyMayUse(t *testing.T) {
	t.Parallel()
	c, err := catalog.Load("../../../models/catalog.yaml")
	require.NoError(t, err)
	tests := []struct {
		name, key  string
		wantModels []string
	}{
		{name: "a key for every model sees them all", key: "key-acme", wantModels: c.ModelNames()},
		{name: "a key for iris sees iris only", key: "key-iris", wantModels: []string{"iris"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := &quotaCalls{}
			adm := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}, Scopes: testScopes, Quota: q})
			r := processor.NewRequest(epoch)
			h := headers(true, header.Method, "GET", header.Path, "/v2/models", header.APIKey, tt.key, header.RequestID, "rid-1")
			require.NoError(t, adm.ReadHeaders(t.Context(), r, h))
			p := processor.NewModelList(staticCatalog{c}, adm)(r)
			defer p.Close()
			resp, err := p.RequestHeaders(t.Context(), h)
			require.NoError(t, err)
			imm := resp.GetImmediateResponse()
			require.NotNil(t, imm, "answered by the gateway, not routed to one model server")
			require.EqualValues(t, 200, imm.GetStatus().GetCode())
			ct, _ := headerValue(imm.GetHeaders(), header.ContentType)
			require.Equal(t, "application/json", ct)
			id, _ := headerValue(imm.GetHeaders(), header.RequestID)
			require.Equal(t, "rid-1", id)
			require.Len(t, q.Calls(), 1, "the request counts against the client's quota")

			var got struct {
				Models []struct {
					Name     string `json:"name"`
					Versions []struct {
						Version string            `json:"version"`
						Served  bool              `json:"served"`
						Inputs  []catalog.Feature `json:"inputs"`
						Output  *catalog.Output   `json:"output"`
					} `json:"versions"`
				} `json:"models"`
			}
			require.NoError(t, json.Unmarshal(imm.GetBody(), &got), "%s", imm.GetBody())
			var names []string
			for _, m := range got.Models {
				names = append(names, m.Name)
				require.Len(t, m.Versions, len(c.Models[m.Name].Versions))
				for _, v := range m.Versions {
					mf, err := catalog.LoadManifest(c.VersionDir(m.Name, v.Version), m.Name, v.Version)
					require.NoError(t, err)
					require.True(t, v.Served, "%s %s", m.Name, v.Version)
					if len(mf.Inputs) == 0 { // a text-generation model has none
						require.Empty(t, v.Inputs)
					} else {
						require.Equal(t, mf.Inputs, v.Inputs, "every version shows its inputs, not only one server's")
					}
					require.Equal(t, mf.Output.Kind, v.Output.Kind)
				}
			}
			require.Equal(t, tt.wantModels, names)
		})
	}
}
