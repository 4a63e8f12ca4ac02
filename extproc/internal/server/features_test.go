package server_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
	"github.com/modelgate/modelgate/extproc/internal/processor"
	"github.com/modelgate/modelgate/internal/catalog"
)

// testFeatures are the models' input features of the test catalog, as the
// app builds them from the manifests.
type testFeatures struct {
	cat      *catalog.Catalog
	features map[string]map[string]*policy.Features
}

func (f testFeatures) Features(c *catalog.Catalog, model, version string) *policy.Features {
	if c != f.cat {
		return nil
	}
	return f.features[model][version]
}

var _ processor.FeatureSource = testFeatures{}

// withFeatures gives the test catalog's versions features; iris version 1
// has fewer than version 2, so a check against the wrong version shows.
func withFeatures(c *envConfig) {
	iris := []string{"sepal_length", "sepal_width", "petal_length", "petal_width"}
	c.predict.Features = testFeatures{cat: c.predict.Catalog.Catalog(), features: map[string]map[string]*policy.Features{
		"iris":     {"1": policy.NewFeatures(iris[:2]), "2": policy.NewFeatures(iris)},
		"diabetes": {"1": policy.NewFeatures([]string{"age", "bmi"})},
	}}
}

// answer sends one prediction request and returns the immediate answer, nil
// when the request goes upstream.
func answer(t *testing.T, e *env, path, keyID, body string, extra ...string) (int, problem.Problem) {
	t.Helper()
	st := e.open(t)
	st.send(post(path, "req-f", append([]string{header.KeyID, keyID}, extra...)...))
	resp := st.send(requestBody(body, true))
	ir := resp.GetImmediateResponse()
	if ir == nil {
		require.NotNil(t, resp.GetRequestBody(), "the request goes upstream")
		return 0, problem.Problem{}
	}
	return int(ir.GetStatus().GetCode()), decodeProblem(t, ir.GetBody())
}

func TestPredict_features(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withFeatures, withoutCache)
	tests := []struct {
		name, path, key, body string
		extra                 []string
		status                int
		typ                   string
		want                  []problem.Violation // nil: compare only the pointers in ptrs
		ptrs                  []string
	}{
		{
			name: "one answer lists the wrong type once and the missing features",
			path: "/v2/predict", key: "k-acme", body: `{"model":"iris","inputs":[{"sepal_length":"x"}]}`,
			status: 400, typ: problem.TypeValidation,
			ptrs: []string{"/inputs/0/petal_length", "/inputs/0/petal_width", "/inputs/0/sepal_length", "/inputs/0/sepal_width"},
		},
		{
			name: "a schema-valid body with missing and unknown features (v1, default model)",
			path: "/v1/predict", key: "k-acme", body: `{"inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2},{"sepal_length":1,"colour":2}]}`,
			status: 400, typ: problem.TypeValidation,
			want: []problem.Violation{
				{Pointer: "/inputs/1/colour", Detail: "unknown feature"},
				{Pointer: "/inputs/1/petal_length", Detail: "missing"},
				{Pointer: "/inputs/1/petal_width", Detail: "missing"},
				{Pointer: "/inputs/1/sepal_width", Detail: "missing"},
			},
		},
		{
			name: "the features are those of the resolved version (header)",
			path: "/v2/predict", key: "k-acme", body: `{"model":"iris","inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`,
			extra:  []string{header.ModelVersion, "stable"},
			status: 400, typ: problem.TypeValidation,
			want: []problem.Violation{
				{Pointer: "/inputs/0/petal_length", Detail: "unknown feature"},
				{Pointer: "/inputs/0/petal_width", Detail: "unknown feature"},
			},
		},
		{
			name: "a valid body goes upstream",
			path: "/v2/predict", key: "k-acme", body: `{"model":"diabetes","inputs":[{"age":0.1,"bmi":0.2}]}`,
		},
		{
			name: "an unknown model with a schema violation: the schema's 400 only, as before",
			path: "/v2/predict", key: "k-acme", body: `{"model":"tulip","inputs":[{"petals":"x"}]}`,
			status: 400, typ: problem.TypeValidation, ptrs: []string{"/inputs/0/petals"},
		},
		{
			name: "an unknown model with a schema-valid body: 404",
			path: "/v2/predict", key: "k-acme", body: `{"model":"tulip","inputs":[{"petals":1}]}`,
			status: 404, typ: problem.TypeUnknownModel,
		},
		{
			name: "a model the key may not use: 403, no feature names revealed",
			path: "/v2/predict", key: "k-iris", body: `{"model":"diabetes","inputs":[{"weight":1}]}`,
			status: 403, typ: problem.TypeForbidden,
		},
		{
			name: "a model the key may not use with a schema violation: the schema's 400 only",
			path: "/v2/predict", key: "k-iris", body: `{"model":"diabetes","inputs":[{"weight":"x"}]}`,
			status: 400, typ: problem.TypeValidation, ptrs: []string{"/inputs/0/weight"},
		},
		{
			name: "too many rows with a schema violation: the schema's 400 only",
			path: "/v2/predict", key: "k-acme", body: `{"model":"iris","inputs":[{"a":"x"},{},{},{},{},{}]}`,
			status: 400, typ: problem.TypeValidation,
			ptrs: []string{"/inputs/0/a", "/inputs/1", "/inputs/2", "/inputs/3", "/inputs/4", "/inputs/5"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p := answer(t, e, tt.path, tt.key, tt.body, tt.extra...)
			require.Equal(t, tt.status, status, "%+v", p)
			if status == 0 {
				return
			}
			require.Equal(t, tt.typ, p.Type, "%+v", p)
			if tt.want != nil {
				require.Equal(t, tt.want, p.Errors)
			}
			if tt.ptrs != nil {
				var got []string
				for _, v := range p.Errors {
					got = append(got, v.Pointer)
				}
				require.Equal(t, tt.ptrs, got, "%+v", p.Errors)
			}
		})
	}
}

// Without manifests (a runtime that knows no features) the gateway checks
// the schema only and leaves the features to inference, as before.
func TestPredict_featuresUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withoutCache)
	status, p := answer(t, e, "/v2/predict", "k-acme", `{"model":"iris","inputs":[{"sepal_length":"x"}]}`)
	require.Equal(t, 400, status)
	require.Len(t, p.Errors, 1)
	require.Equal(t, "/inputs/0/sepal_length", p.Errors[0].Pointer)
	status, _ = answer(t, e, "/v2/predict", "k-acme", `{"model":"iris","inputs":[{"sepal_length":1}]}`)
	require.Zero(t, status, "goes upstream")
}
