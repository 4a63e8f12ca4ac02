package processor_test

import (
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
