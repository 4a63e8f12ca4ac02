package processor_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/extproc/internal/authz"
	"github.com/modelgate/modelgate/extproc/internal/deprecation"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/extproc/internal/quota"
	"github.com/modelgate/modelgate/extproc/internal/routing"
)

// deprecations is a table that never reloads.
type deprecations struct{ t *deprecation.Table }

func (d deprecations) Deprecations() *deprecation.Table { return d.t }

func sunsetTable(t *testing.T) deprecations {
	t.Helper()
	var rules []deprecation.Rule
	require.NoError(t, yaml.Unmarshal([]byte(`
- {path: /v1/predict, deprecated: 2026-01-01T00:00:00Z, sunset: 2026-03-01T00:00:00Z}
- {path: /v2/predict, deprecated: 2026-01-01T00:00:00Z, sunset: 2027-01-01T00:00:00Z}
`), &rules))
	tab, err := deprecation.New(rules)
	require.NoError(t, err)
	return deprecations{tab}
}

func TestAdmission_ReadHeaders(t *testing.T) {
	t.Parallel()
	inPlugin := processor.NewAdmission(processor.AdmissionConfig{
		Keys: keys{}, Deprecations: sunsetTable(t), Now: func() time.Time { return epoch },
	})
	tests := []struct {
		name       string
		adm        *processor.Admission
		headers    []string
		wantErr    any
		wantClient string
		wantKind   routing.Kind
	}{
		{
			name:       "trusts the identity ext_authz set when the plugin does not check keys",
			adm:        processor.NewAdmission(processor.AdmissionConfig{}),
			headers:    []string{header.Method, "POST", header.Path, "/v2/predict", header.Client, "acme", header.Tier, "pro", header.KeyID, "k-acme"},
			wantClient: "acme", wantKind: routing.V2Predict,
		},
		{
			name:       "checks the key itself in ext_proc mode",
			adm:        inPlugin,
			headers:    []string{header.Method, "POST", header.Path, "/v2/predict", header.APIKey, "key-acme"},
			wantClient: "acme", wantKind: routing.V2Predict,
		},
		{
			name:    "ignores identity headers in ext_proc mode",
			adm:     inPlugin,
			headers: []string{header.Method, "POST", header.Path, "/v2/predict", header.Client, "spoofed"},
			wantErr: &processor.KeyError{}, wantKind: routing.V2Predict,
		},
		{
			name:    "refuses a route past its sunset",
			adm:     inPlugin,
			headers: []string{header.Method, "POST", header.Path, "/v1/predict", header.APIKey, "key-acme"},
			wantErr: &deprecation.SunsetError{}, wantClient: "acme", wantKind: routing.V1Predict,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := processor.NewRequest(epoch)
			err := tt.adm.ReadHeaders(t.Context(), r, headers(false, tt.headers...))
			switch want := tt.wantErr.(type) {
			case nil:
				require.NoError(t, err)
			case *processor.KeyError:
				require.ErrorAs(t, err, &want)
				require.ErrorIs(t, err, authz.ErrMissing)
			case *deprecation.SunsetError:
				require.ErrorAs(t, err, &want)
			}
			require.Equal(t, tt.wantClient, r.Client)
			require.Equal(t, tt.wantKind, r.Match.Kind)
		})
	}
	t.Run("a deprecated route is announced, not refused, before its sunset", func(t *testing.T) {
		t.Parallel()
		r := processor.NewRequest(epoch)
		require.NoError(t, inPlugin.ReadHeaders(t.Context(), r, post("/v2/predict", "key-acme")))
		require.NotNil(t, r.Deprecation)
	})
}

func TestAdmission_Admit(t *testing.T) {
	t.Parallel()
	admitted := func(t *testing.T, q *quotaCalls) (*processor.Admission, *processor.Request) {
		t.Helper()
		a := processor.NewAdmission(processor.AdmissionConfig{Keys: keys{}, Quota: q})
		r := processor.NewRequest(epoch)
		require.NoError(t, a.ReadHeaders(t.Context(), r, post("/v2/predict", "key-acme")))
		return a, r
	}
	t.Run("makes one quota call per request, with the model once known", func(t *testing.T) {
		t.Parallel()
		q := &quotaCalls{}
		a, r := admitted(t, q)
		require.NoError(t, a.Admit(t.Context(), r, &routing.Target{Model: "iris", Version: "2"}))
		require.NoError(t, a.Admit(t.Context(), r, nil), "a second call counts nothing")
		require.Len(t, q.Calls(), 1)
		require.Equal(t, quota.Descriptors(quota.Subject{Client: "acme", Tier: "pro", Model: "iris", Version: "2"}), q.Calls()[0])
	})
	t.Run("refuses over quota with the tightest limit", func(t *testing.T) {
		t.Parallel()
		limit := &quota.Limit{Requests: 1, Window: time.Minute, Reset: 20 * time.Second}
		a, r := admitted(t, &quotaCalls{answer: quota.Decision{Over: true, Tightest: limit}})
		var exceeded *quota.ExceededError
		require.ErrorAs(t, a.Admit(t.Context(), r, nil), &exceeded)
		require.Same(t, limit, exceeded.Limit)
		require.Same(t, limit, r.Quota, "the answer carries the x-ratelimit-* headers")
	})
	t.Run("admits when the quota service cannot answer", func(t *testing.T) {
		t.Parallel()
		a, r := admitted(t, &quotaCalls{err: errors.New("unavailable")})
		require.NoError(t, a.Admit(t.Context(), r, nil))
		require.Nil(t, r.Quota)
	})
	t.Run("counts nothing for requests ext_authz admitted", func(t *testing.T) {
		t.Parallel()
		q := &quotaCalls{}
		a := processor.NewAdmission(processor.AdmissionConfig{Quota: q})
		r := processor.NewRequest(epoch)
		require.NoError(t, a.ReadHeaders(t.Context(), r, post("/v2/predict", "", header.Client, "acme")))
		require.NoError(t, a.Admit(t.Context(), r, nil))
		require.Empty(t, q.Calls())
	})
}
