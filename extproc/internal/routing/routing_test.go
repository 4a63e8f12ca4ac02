package routing_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/extproc/internal/routing"
	"github.com/modelgate/modelgate/internal/catalog"
)

func TestRoute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		method, path string
		want         routing.Match
	}{
		{"POST", "/v1/predict", routing.Match{Kind: routing.V1Predict, Path: "/v1/predict"}},
		{"POST", "/v1/predict?debug=1", routing.Match{Kind: routing.V1Predict, Path: "/v1/predict"}},
		{"GET", "/v1/predict", routing.Match{Kind: routing.PassThrough, Path: "/v1/predict"}},
		{"POST", "/v2/predict", routing.Match{Kind: routing.V2Predict, Path: "/v2/predict"}},
		{"POST", "/v2/jobs", routing.Match{Kind: routing.Jobs, Path: "/v2/jobs"}},
		{"GET", "/v2/jobs?status=queued", routing.Match{Kind: routing.PassThrough, Path: "/v2/jobs"}},
		{"GET", "/v2/jobs/job_1", routing.Match{Kind: routing.PassThrough, Path: "/v2/jobs/job_1"}},
		{"POST", "/v2/jobs/job_1/cancel", routing.Match{Kind: routing.PassThrough, Path: "/v2/jobs/job_1/cancel"}},
		{"POST", "/v2/models/iris/infer", routing.Match{Kind: routing.Infer, Path: "/v2/models/iris/infer", Model: "iris"}},
		{"POST", "/v2/models/iris/versions/stable/infer", routing.Match{Kind: routing.Infer, Path: "/v2/models/iris/versions/stable/infer", Model: "iris", Version: "stable"}},
		{"GET", "/v2/models/iris/infer", routing.Match{Kind: routing.PassThrough, Path: "/v2/models/iris/infer"}},
		{"GET", "/v2/models/iris", routing.Match{Kind: routing.ModelMetadata, Path: "/v2/models/iris", Model: "iris"}},
		{"GET", "/v2/models/iris/versions/1", routing.Match{Kind: routing.ModelMetadata, Path: "/v2/models/iris/versions/1", Model: "iris", Version: "1"}},
		{"GET", "/v2/models/iris/versions/1/ready", routing.Match{Kind: routing.ModelMetadata, Path: "/v2/models/iris/versions/1/ready", Model: "iris", Version: "1"}},
		{"GET", "/v2/models", routing.Match{Kind: routing.ModelList, Path: "/v2/models"}},
		{"HEAD", "/v2/models", routing.Match{Kind: routing.PassThrough, Path: "/v2/models"}},
		{"GET", "/v2/models?x=1", routing.Match{Kind: routing.ModelList, Path: "/v2/models"}},
		{"GET", "/v2/models/", routing.Match{Kind: routing.PassThrough, Path: "/v2/models/"}},
		{"GET", "/v2/models/iris/versions//ready", routing.Match{Kind: routing.PassThrough, Path: "/v2/models/iris/versions//ready"}},
		{"GET", "/v2/models/iris/stats", routing.Match{Kind: routing.PassThrough, Path: "/v2/models/iris/stats"}},
		{"GET", "/v2/health/live", routing.Match{Kind: routing.PassThrough, Path: "/v2/health/live"}},
		{"POST", "/v1/chat/completions", routing.Match{Kind: routing.ChatCompletions, Path: "/v1/chat/completions"}},
		{"GET", "/v1/chat/completions", routing.Match{Kind: routing.PassThrough, Path: "/v1/chat/completions"}},
		{"POST", "/v1/completions?x=1", routing.Match{Kind: routing.Completions, Path: "/v1/completions"}},
		{"GET", "/v1/models", routing.Match{Kind: routing.Models, Path: "/v1/models"}},
		{"GET", "/v1/models/scribe:1", routing.Match{Kind: routing.Models, Path: "/v1/models/scribe:1", Model: "scribe:1"}},
		{"POST", "/v1/models", routing.Match{Kind: routing.PassThrough, Path: "/v1/models"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, routing.Route(tt.method, tt.path))
		})
	}
}

func TestResolve(t *testing.T) {
	t.Parallel()
	c, err := catalog.Parse([]byte(`default_model: iris
models:
  iris: {versions: ["1", "2"], aliases: {latest: "2", stable: "1"}}
`))
	require.NoError(t, err)
	tests := []struct {
		name       string
		model      string
		candidates []string
		want       routing.Target
		wantErr    any
	}{
		{name: "defaults to latest", model: "iris", want: routing.Target{Model: "iris", Version: "2", Requested: "latest"}},
		{name: "header wins over body", model: "iris", candidates: []string{"stable", "2"}, want: routing.Target{Model: "iris", Version: "1", Requested: "stable"}},
		{name: "falls back to the body", model: "iris", candidates: []string{"", "1"}, want: routing.Target{Model: "iris", Version: "1", Requested: "1"}},
		{name: "unknown version lists what exists", model: "iris", candidates: []string{"9"}, wantErr: &catalog.UnknownVersionError{}},
		{name: "unknown model lists what exists", model: "nope", wantErr: &catalog.UnknownModelError{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := routing.Resolve(c, tt.model, tt.candidates...)
			switch want := tt.wantErr.(type) {
			case *catalog.UnknownVersionError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, []string{"1", "2", "latest", "stable"}, want.Available)
			case *catalog.UnknownModelError:
				require.ErrorAs(t, err, &want)
				require.Equal(t, []string{"iris"}, want.Available)
			default:
				require.NoError(t, err)
				require.Equal(t, tt.want, got)
			}
		})
	}
}

func TestSplitModelID(t *testing.T) {
	t.Parallel()
	m, v := routing.SplitModelID("scribe:stable")
	require.Equal(t, []string{"scribe", "stable"}, []string{m, v})
	m, v = routing.SplitModelID("scribe")
	require.Equal(t, []string{"scribe", ""}, []string{m, v})
	require.True(t, routing.ChatCompletions.Generates())
	require.False(t, routing.Models.Generates())
}

func TestResolveFor(t *testing.T) {
	t.Parallel()
	c, err := catalog.Parse([]byte(`
default_model: iris
models:
  iris:
    versions: ["1", "2"]
    aliases: {stable: {"1": 50, "2": 50}}
`))
	require.NoError(t, err)
	seen := map[string]bool{}
	for i := range 200 {
		subject := routing.Subject("acme", fmt.Sprintf("session-%d", i))
		got, err := routing.ResolveFor(c, subject, "iris", "", "stable")
		require.NoError(t, err)
		require.Equal(t, "stable", got.Requested)
		again, err := routing.ResolveFor(c, subject, "iris", "", "stable")
		require.NoError(t, err)
		require.Equal(t, got, again, "one session sees one version")
		seen[got.Version] = true
	}
	require.Equal(t, map[string]bool{"1": true, "2": true}, seen, "sessions of one client spread over the split")
	pinned, err := routing.ResolveFor(c, routing.Subject("acme", ""), "iris", "2", "stable")
	require.NoError(t, err)
	require.Equal(t, "2", pinned.Version, "a pinned x-model-version wins over the alias")
	require.Empty(t, routing.Subject("", "session-1"), "no client, no subject")
}
