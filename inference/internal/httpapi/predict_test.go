package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/internal/testutil"
)

func TestPredict_BadInput(t *testing.T) {
	t.Parallel()
	big := `{"model":"iris","inputs":[` + strings.Repeat(irisRow+",", 20000) + irisRow + `]}`
	many := `{"model":"iris","inputs":[` + strings.Repeat(irisRow+",", 1000) + irisRow + `]}`
	const js = "application/json"
	runBadInput(t, newTestServer(t, nil), []badInput{
		{name: "malformed JSON is 400", path: "/v2/predict", contentType: js, body: `{"model":`,
			wantStatus: 400, wantType: problem.TypeMalformedJSON},
		{name: "trailing garbage is malformed", path: "/v1/predict", contentType: js, body: `{"inputs":[]} x`,
			wantStatus: 400, wantType: problem.TypeMalformedJSON},
		{name: "wrong content type is 415", path: "/v2/predict", contentType: "text/plain", body: `{}`,
			wantStatus: 415, wantType: problem.TypeUnsupportedMediaType},
		{name: "missing content type is 415", path: "/v1/predict", body: `{}`,
			wantStatus: 415, wantType: problem.TypeUnsupportedMediaType},
		{name: "body over the limit is 413", path: "/v2/predict", contentType: js, body: big,
			wantStatus: 413, wantType: problem.TypeBodyTooLarge},
		{name: "empty inputs", path: "/v2/predict", contentType: js, body: `{"model":"iris","inputs":[]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs"}},
		{name: "inputs missing", path: "/v1/predict", contentType: js, body: `{}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs"}},
		{name: "too many rows", path: "/v2/predict", contentType: js, body: many,
			wantStatus: 400, wantType: problem.TypeTooManyRows, wantPointers: []string{"/inputs"}},
		{name: "body not an object", path: "/v2/predict", contentType: js, body: `[1]`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{""}},
		{
			name: "every row problem is listed by pointer", path: "/v2/predict", contentType: js,
			body:       `{"model":"iris","inputs":[` + irisRow + `,{"sepal_length":5,"sepal_width":"3","petal_length":1,"petal_width":null},{"sepal_length":5,"sepal_width":3,"petal_length":1},{"sepal_length":5,"sepal_width":3,"petal_length":1,"petal_width":1,"colour":"red"},7]}`,
			wantStatus: 400, wantType: problem.TypeValidation,
			wantPointers: []string{"/inputs/1/sepal_width", "/inputs/1/petal_width", "/inputs/2/petal_width", "/inputs/3/colour", "/inputs/4"},
		},
		{name: "infinity is rejected", path: "/v1/predict", contentType: js, body: `{"inputs":[{"sepal_length":1e999,"sepal_width":3,"petal_length":1,"petal_width":1}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/sepal_length"}},
		{name: "NaN literal is malformed JSON", path: "/v1/predict", contentType: js, body: `{"inputs":[{"sepal_length":NaN}]}`,
			wantStatus: 400, wantType: problem.TypeMalformedJSON},
		{name: "unknown top-level member", path: "/v2/predict", contentType: js, body: `{"model":"iris","inputs":[` + irisRow + `],"temperature":1}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/temperature"}},
		{name: "model missing", path: "/v2/predict", contentType: js, body: `{"inputs":[` + irisRow + `]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/model"}},
		{name: "unknown option", path: "/v2/predict", contentType: js, body: `{"model":"iris","inputs":[` + irisRow + `],"options":{"explain":true}}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/options/explain"}},
		{name: "pointer escapes slash and tilde", path: "/v2/predict", contentType: js, body: `{"model":"iris","inputs":[{"sepal_length":5,"sepal_width":3,"petal_length":1,"petal_width":1,"a/b~c":1}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/a~1b~0c"}},
		{name: "unknown model is 404", path: "/v2/predict", contentType: js, body: `{"model":"tulip","inputs":[` + irisRow + `]}`,
			wantStatus: 404, wantType: problem.TypeUnknownModel},
		{name: "unknown version is 404", path: "/v2/predict", contentType: js, body: `{"model":"iris","version":"7","inputs":[` + irisRow + `]}`,
			wantStatus: 404, wantType: problem.TypeUnknownVersion},
	})
}

// TestV2Predict_Parity requires /v2/predict to give the Python library's
// predictions for the committed parity rows.
func TestV2Predict_Parity(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, mv := range parityVersions {
		model, version := mv[0], mv[1]
		pf := loadParity(t, model, version)
		t.Run(model+"/"+version, func(t *testing.T) {
			res := do(t, s, http.MethodPost, "/v2/predict", "application/json",
				`{"model":"`+model+`","version":"`+version+`","inputs":`+rowsJSON(pf)+`,"options":{"return_probabilities":true}}`)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			require.Equal(t, version, res.header.Get(header.ModelVersion))
			var out struct {
				ModelVersion string `json:"model_version"`
				Predictions  []struct {
					Label         string             `json:"label"`
					Value         *float64           `json:"value"`
					Probabilities map[string]float64 `json:"probabilities"`
				} `json:"predictions"`
				Usage struct{ Rows int } `json:"usage"`
			}
			require.NoError(t, json.Unmarshal(res.body, &out))
			require.Equal(t, version, out.ModelVersion)
			require.Equal(t, len(pf.Rows), out.Usage.Rows)
			for i, want := range pf.Rows {
				got := out.Predictions[i]
				if want.Value != nil {
					require.InDelta(t, *want.Value, *got.Value, 1e-6, "row %d", i)
					continue
				}
				require.Equal(t, want.Label, got.Label, "row %d", i)
				for c, name := range pf.Outputs {
					require.InDelta(t, want.Proba[c], got.Probabilities[name], 1e-6, "row %d class %s", i, name)
				}
			}
		})
	}
}

func TestV1Predict(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	pf := loadParity(t, "iris", "2")
	res := do(t, s, http.MethodPost, "/v1/predict", "application/json", `{"inputs":`+rowsJSON(pf)+`,"model_version":"latest","options":{}}`)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	var out struct {
		Predictions  []string `json:"predictions"`
		ModelVersion string   `json:"model_version"`
		RequestID    string   `json:"request_id"`
		LatencyMS    *float64 `json:"latency_ms"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Equal(t, "2", out.ModelVersion, "latest resolves through the catalog")
	require.Equal(t, res.header.Get(header.RequestID), out.RequestID)
	require.NotNil(t, out.LatencyMS)
	for i, r := range pf.Rows {
		require.Equal(t, r.Label, out.Predictions[i])
	}
}

// TestPredict_LatencyFromClock checks that latency_ms is measured on the
// injected clock, between the handler's start and its answer.
func TestPredict_LatencyFromClock(t *testing.T) {
	t.Parallel()
	clock := testutil.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	clock.Step(1500 * time.Microsecond)
	s := newTestServerWith(t, nil, func(c *Config) { c.Now = clock.Now })
	tests := []struct {
		name string
		path string
		body string
	}{
		{name: "v1 predict", path: "/v1/predict", body: `{"inputs":[` + irisRow + `]}`},
		{name: "v2 predict", path: "/v2/predict", body: `{"model":"iris","inputs":[` + irisRow + `]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := do(t, s, http.MethodPost, tc.path, "application/json", tc.body)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			var out struct {
				LatencyMS float64 `json:"latency_ms"`
			}
			require.NoError(t, json.Unmarshal(res.body, &out))
			require.InDelta(t, 1.5, out.LatencyMS, 1e-9, "one clock step between start and answer")
		})
	}
}

func TestVersionChoice(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	body := func(v string) string {
		return `{"model":"iris","version":"` + v + `","inputs":[` + irisRow + `]}`
	}
	tests := []struct {
		name        string
		bodyVersion string
		headerValue string
		want        string
	}{
		{name: "latest alias resolves through the catalog", bodyVersion: "latest", want: "2"},
		{name: "stable alias resolves through the catalog", bodyVersion: "stable", want: "1"},
		{name: "empty version means latest", want: "2"},
		{name: "pinned version in the body", bodyVersion: "1", want: "1"},
		{name: "header wins over the body", bodyVersion: "2", headerValue: "1", want: "1"},
		{name: "header alias wins over the body", bodyVersion: "1", headerValue: "latest", want: "2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var hdr []string
			if tc.headerValue != "" {
				hdr = []string{header.ModelVersion, tc.headerValue}
			}
			res := do(t, s, http.MethodPost, "/v2/predict", "application/json", body(tc.bodyVersion), hdr...)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			require.Equal(t, tc.want, res.header.Get(header.ModelVersion))
			var out struct {
				ModelVersion string `json:"model_version"`
			}
			require.NoError(t, json.Unmarshal(res.body, &out))
			require.Equal(t, tc.want, out.ModelVersion)
		})
	}
}

func TestServesOnlySelectedVersions(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, []config.Selection{{Model: "iris", Version: "1"}})
	res := do(t, s, http.MethodPost, "/v2/predict", "application/json", `{"model":"iris","inputs":[`+irisRow+`]}`)
	require.Equal(t, http.StatusNotFound, res.status)
	var p problem.Problem
	require.NoError(t, json.Unmarshal(res.body, &p))
	require.Equal(t, []string{"iris:1"}, p.Available)
	res = do(t, s, http.MethodPost, "/v2/predict", "application/json", `{"model":"iris","inputs":[`+irisRow+`]}`, header.ModelVersion, "1")
	require.Equal(t, http.StatusOK, res.status)
}
