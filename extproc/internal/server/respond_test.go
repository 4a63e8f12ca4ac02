package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

// Each case is a request that extproc refuses itself, and the
// ImmediateResponse Envoy must send for it.
func TestProcess_immediateResponses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		headers    []string // extra request headers
		body       string   // "" with noBody: refused at the headers
		atHeaders  bool
		wantStatus int
		want       problem.Problem // compared on the fields set
		wantHdrs   map[string]string
	}{
		{
			name: "every schema violation is listed by JSON Pointer", path: "/v2/predict",
			body:       `{"model":"iris","inputs":[{"a":1},{"a":2},{"a":3},{"petal_width":"wide"}],"options":{"return_probabilities":"yes"}}`,
			wantStatus: 400,
			want: problem.Problem{Type: problem.TypeValidation, Title: "Request validation failed", Errors: []problem.Violation{
				{Pointer: "/inputs/3/petal_width", Detail: "got string, want number"},
				{Pointer: "/options/return_probabilities", Detail: "got string, want boolean"},
			}},
		},
		{
			name: "malformed JSON", path: "/v1/predict", body: `{"inputs":[{"a":1}`,
			wantStatus: 400, want: problem.Problem{Type: problem.TypeMalformedJSON},
			wantHdrs: map[string]string{header.Deprecation: "@1767225600"},
		},
		{
			name: "wrong content type is refused before the body", path: "/v2/predict", atHeaders: true,
			headers:    []string{header.ContentType, "text/csv"},
			wantStatus: 415, want: problem.Problem{Type: problem.TypeUnsupportedMediaType},
		},
		{
			name: "a declared length over the limit is refused before the body", path: "/v2/predict", atHeaders: true,
			headers:    []string{header.ContentLength, "5000"},
			wantStatus: 413, want: problem.Problem{Type: problem.TypeBodyTooLarge},
		},
		{
			name: "a body over the limit", path: "/v2/predict",
			body:       `{"model":"iris","inputs":[{"a":1}],"pad":"` + strings.Repeat("x", 5000) + `"}`,
			wantStatus: 413, want: problem.Problem{Type: problem.TypeBodyTooLarge},
		},
		{
			name: "too many rows", path: "/v2/predict",
			body:       `{"model":"iris","inputs":[{"a":1},{"a":1},{"a":1},{"a":1},{"a":1},{"a":1}]}`,
			wantStatus: 400, want: problem.Problem{Type: problem.TypeTooManyRows, Errors: []problem.Violation{{Pointer: "/inputs", Detail: "6 rows exceed the limit of 5 rows per request"}}},
		},
		{
			name: "unknown model lists the models", path: "/v2/predict", body: `{"model":"churn","inputs":[{"a":1}]}`,
			wantStatus: 404, want: problem.Problem{Type: problem.TypeUnknownModel, Model: "churn", Available: []string{"diabetes", "iris"}},
		},
		{
			name: "unknown version lists versions and aliases", path: "/v2/predict",
			headers:    []string{header.ModelVersion, "7"},
			body:       `{"model":"iris","inputs":[{"a":1}]}`,
			wantStatus: 404, want: problem.Problem{Type: problem.TypeUnknownVersion, Model: "iris", ModelVersion: "7", Available: []string{"1", "2", "latest", "stable"}},
		},
		{
			name: "OIP errors carry the error member", path: "/v2/models/iris/versions/9/infer",
			body:       `{"inputs":[{"name":"x","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}]}`,
			wantStatus: 404, want: problem.Problem{Type: problem.TypeUnknownVersion, Model: "iris", ModelVersion: "9", OIPError: `model "iris" has no version or alias "9" (available: 1, 2, latest, stable)`},
		},
		{
			name: "a key not allowed the model", path: "/v2/predict",
			headers:    []string{header.KeyID, "k-iris"},
			body:       `{"model":"diabetes","inputs":[{"age":0.01}]}`,
			wantStatus: 403, want: problem.Problem{Type: problem.TypeForbidden, Model: "diabetes"},
		},
		{
			name: "a key not allowed the model learns nothing of its versions", path: "/v2/predict",
			headers:    []string{header.KeyID, "k-iris", header.ModelVersion, "99"},
			body:       `{"model":"diabetes","inputs":[{"age":0.01}]}`,
			wantStatus: 403, want: problem.Problem{Type: problem.TypeForbidden, Model: "diabetes"},
		},
		{
			name: "nor whether a model exists", path: "/v2/predict",
			headers:    []string{header.KeyID, "k-iris"},
			body:       `{"model":"secret-model","inputs":[{"a":1}]}`,
			wantStatus: 403, want: problem.Problem{Type: problem.TypeForbidden, Model: "secret-model"},
		},
		{
			name: "nor through model metadata", path: "/v2/models/diabetes/versions/99", atHeaders: true,
			headers:    []string{header.KeyID, "k-iris", header.Method, "GET"},
			wantStatus: 403, want: problem.Problem{Type: problem.TypeForbidden, Model: "diabetes"},
		},
		{
			name: "no authenticated key at all", path: "/v2/predict",
			headers:    []string{header.KeyID, ""},
			body:       `{"model":"iris","inputs":[{"a":1}]}`,
			wantStatus: 403, want: problem.Problem{Type: problem.TypeForbidden, Model: "iris"},
		},
		{
			name: "a POST without a body", path: "/v2/predict", atHeaders: true,
			headers:    []string{"eos", "true"},
			wantStatus: 400, want: problem.Problem{Type: problem.TypeMalformedJSON},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			st := e.open(t)
			extra := tt.headers
			eos := false
			if len(extra) == 2 && extra[0] == "eos" {
				extra, eos = nil, true
			}
			hreq := post(tt.path, "req-x", extra...)
			hreq.GetRequestHeaders().EndOfStream = eos
			resp := st.send(hreq)
			if !tt.atHeaders {
				require.Nil(t, resp.GetImmediateResponse(), "nothing to refuse before the body")
				resp = st.send(requestBody(tt.body, true))
			}
			ir := resp.GetImmediateResponse()
			require.NotNil(t, ir, "want an ImmediateResponse, got %v", resp)
			require.Equal(t, tt.wantStatus, int(ir.GetStatus().GetCode()))
			got := set(ir.GetHeaders())
			require.Equal(t, header.MediaProblemJSON, got[header.ContentType])
			require.Equal(t, "req-x", got[header.RequestID])
			for k, v := range tt.wantHdrs {
				require.Equal(t, v, got[k], k)
			}
			p := decodeProblem(t, ir.GetBody())
			require.Equal(t, tt.wantStatus, p.Status, "status member matches the HTTP status")
			require.Equal(t, "req-x", p.RequestID)
			require.Equal(t, tt.want.Type, p.Type)
			require.NotEmpty(t, p.Title)
			if tt.want.Title != "" {
				require.Equal(t, tt.want.Title, p.Title)
			}
			if tt.want.Errors != nil {
				require.Equal(t, tt.want.Errors, p.Errors)
			}
			if tt.want.Model != "" {
				require.Equal(t, tt.want.Model, p.Model)
			}
			if tt.want.ModelVersion != "" {
				require.Equal(t, tt.want.ModelVersion, p.ModelVersion)
			}
			if tt.want.Available != nil {
				require.Equal(t, tt.want.Available, p.Available)
			}
			if tt.want.OIPError != "" {
				require.Equal(t, tt.want.OIPError, p.OIPError)
			}
			require.True(t, strings.HasPrefix(ir.GetDetails(), "modelgate_"), ir.GetDetails())
			st.finish()

			rec := e.waitRecord(t)
			require.Equal(t, tt.wantStatus, rec.Status)
			require.Equal(t, tt.want.Type, rec.Problem)
		})
	}
}

func TestProcess_deprecatedRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	want := map[string]string{
		header.Deprecation: "@1767225600",
		header.Sunset:      "Fri, 01 Jan 2027 00:00:00 GMT",
		header.Link:        `<https://docs.modelgate.dev/migrate-v1>; rel="deprecation"; type="text/html"`,
	}
	v1 := `{"inputs":[{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}],"model_version":"latest","options":{}}`
	v1Resp := `{"predictions":["setosa"],"model_version":"2","request_id":"req-d1","latency_ms":0.3}`

	t.Run("announces itself on upstream answers", func(t *testing.T) {
		st := e.open(t)
		st.send(post("/v1/predict", "req-d1"))
		resp := st.send(requestBody(v1, true))
		require.Equal(t, map[string]string{header.Model: "iris", header.ModelVersion: "2"},
			set(resp.GetRequestBody().GetResponse().GetHeaderMutation()), "v1 serves the default model")
		resp = st.send(upstreamOK(v1Resp, "2"))
		got := set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation())
		for k, v := range want {
			require.Equal(t, v, got[k], k)
		}
		st.send(responseBody(v1Resp, true))
		st.finish()
	})
	t.Run("and on cache hits, which Envoy does not run through ext_proc", func(t *testing.T) {
		st := e.open(t)
		st.send(post("/v1/predict", "req-d2"))
		ir := st.send(requestBody(v1, true)).GetImmediateResponse()
		require.NotNil(t, ir)
		got := set(ir.GetHeaders())
		require.Equal(t, "HIT", got[header.Cache])
		for k, v := range want {
			require.Equal(t, v, got[k], k)
		}
		var body map[string]any
		require.NoError(t, json.Unmarshal(ir.GetBody(), &body))
		require.Equal(t, "req-d2", body["request_id"], "a hit shows the current request id")
	})
	t.Run("answers 410 from the sunset on", func(t *testing.T) {
		e.clock.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
		st := e.open(t)
		ir := st.send(post("/v1/predict", "req-d3")).GetImmediateResponse()
		require.NotNil(t, ir, "refused at the headers, before any body is buffered")
		require.Equal(t, 410, int(ir.GetStatus().GetCode()))
		got := set(ir.GetHeaders())
		for k, v := range want {
			require.Equal(t, v, got[k], k)
		}
		p := decodeProblem(t, ir.GetBody())
		require.Equal(t, problem.TypeGone, p.Type)
		require.Equal(t, "@1767225600", p.Deprecation)
		require.Equal(t, "Fri, 01 Jan 2027 00:00:00 GMT", p.Sunset)
		require.Contains(t, p.Detail, "https://docs.modelgate.dev/migrate-v1")
	})
	t.Run("other routes are not announced", func(t *testing.T) {
		st := e.open(t)
		st.send(requestHeaders(true, header.Method, "GET", header.Path, "/v2/models"))
		resp := st.send(responseHeaders(false, header.Status, "200"))
		require.Empty(t, set(resp.GetResponseHeaders().GetResponse().GetHeaderMutation()))
		st.finish()
	})
}
