package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/inference/internal/config"
	"github.com/modelgate/modelgate/inference/internal/registry"
)

const catalogPath = "../../../models/catalog.yaml"

func newTestServer(t testing.TB, sel []config.Selection) *Server {
	t.Helper()
	reg, err := registry.Load(catalogPath, sel)
	require.NoError(t, err)
	var p atomic.Pointer[registry.Registry]
	p.Store(reg)
	var ready atomic.Bool
	ready.Store(true)
	s, err := New(Config{MaxBatchRows: 1000, MaxBodyBytes: 1 << 20, BuildVersion: "test"}, &p, &ready,
		slog.New(slog.NewTextHandler(io.Discard, nil)), noop.NewMeterProvider().Meter("test"), nil)
	require.NoError(t, err)
	return s
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func do(t testing.TB, s http.Handler, method, path, contentType, body string, hdr ...string) result {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set(header.ContentType, contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	return result{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

const irisRow = `{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}`

func TestBadInput(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	big := `{"model":"iris","inputs":[` + strings.Repeat(irisRow+",", 20000) + irisRow + `]}`
	many := `{"model":"iris","inputs":[` + strings.Repeat(irisRow+",", 1000) + irisRow + `]}`
	tests := []struct {
		name         string
		path         string
		contentType  string
		body         string
		wantStatus   int
		wantType     string
		wantPointers []string
		wantOIPError bool
	}{
		{"malformed JSON is 400", "/v2/predict", "application/json", `{"model":`, 400, problem.TypeMalformedJSON, nil, false},
		{"trailing garbage is malformed", "/v1/predict", "application/json", `{"inputs":[]} x`, 400, problem.TypeMalformedJSON, nil, false},
		{"wrong content type is 415", "/v2/predict", "text/plain", `{}`, 415, problem.TypeUnsupportedMediaType, nil, false},
		{"missing content type is 415", "/v1/predict", "", `{}`, 415, problem.TypeUnsupportedMediaType, nil, false},
		{"body over the limit is 413", "/v2/predict", "application/json", big, 413, problem.TypeBodyTooLarge, nil, false},
		{"empty inputs", "/v2/predict", "application/json", `{"model":"iris","inputs":[]}`, 400, problem.TypeValidation, []string{"/inputs"}, false},
		{"inputs missing", "/v1/predict", "application/json", `{}`, 400, problem.TypeValidation, []string{"/inputs"}, false},
		{"too many rows", "/v2/predict", "application/json", many, 400, problem.TypeTooManyRows, []string{"/inputs"}, false},
		{"body not an object", "/v2/predict", "application/json", `[1]`, 400, problem.TypeValidation, []string{""}, false},
		{
			"every row problem is listed by pointer", "/v2/predict", "application/json",
			`{"model":"iris","inputs":[` + irisRow + `,{"sepal_length":5,"sepal_width":"3","petal_length":1,"petal_width":null},{"sepal_length":5,"sepal_width":3,"petal_length":1},{"sepal_length":5,"sepal_width":3,"petal_length":1,"petal_width":1,"colour":"red"},7]}`,
			400, problem.TypeValidation,
			[]string{"/inputs/1/sepal_width", "/inputs/1/petal_width", "/inputs/2/petal_width", "/inputs/3/colour", "/inputs/4"}, false,
		},
		{"infinity is rejected", "/v1/predict", "application/json", `{"inputs":[{"sepal_length":1e999,"sepal_width":3,"petal_length":1,"petal_width":1}]}`, 400, problem.TypeValidation, []string{"/inputs/0/sepal_length"}, false},
		{"NaN literal is malformed JSON", "/v1/predict", "application/json", `{"inputs":[{"sepal_length":NaN}]}`, 400, problem.TypeMalformedJSON, nil, false},
		{"unknown top-level member", "/v2/predict", "application/json", `{"model":"iris","inputs":[` + irisRow + `],"temperature":1}`, 400, problem.TypeValidation, []string{"/temperature"}, false},
		{"model missing", "/v2/predict", "application/json", `{"inputs":[` + irisRow + `]}`, 400, problem.TypeValidation, []string{"/model"}, false},
		{"unknown option", "/v2/predict", "application/json", `{"model":"iris","inputs":[` + irisRow + `],"options":{"explain":true}}`, 400, problem.TypeValidation, []string{"/options/explain"}, false},
		{"pointer escapes slash and tilde", "/v2/predict", "application/json", `{"model":"iris","inputs":[{"sepal_length":5,"sepal_width":3,"petal_length":1,"petal_width":1,"a/b~c":1}]}`, 400, problem.TypeValidation, []string{"/inputs/0/a~1b~0c"}, false},
		{"unknown model is 404", "/v2/predict", "application/json", `{"model":"tulip","inputs":[` + irisRow + `]}`, 404, problem.TypeUnknownModel, nil, false},
		{"unknown version is 404", "/v2/predict", "application/json", `{"model":"iris","version":"7","inputs":[` + irisRow + `]}`, 404, problem.TypeUnknownVersion, nil, false},
		{"OIP unknown model carries error member", "/v2/models/tulip/infer", "application/json", `{"inputs":[]}`, 404, problem.TypeUnknownModel, nil, true},
		{"OIP bad datatype", "/v2/models/iris/infer", "application/json", `{"inputs":[{"name":"input","shape":[1,4],"datatype":"INT8","data":[1,2,3,4]}]}`, 400, problem.TypeValidation, []string{"/inputs/0/datatype"}, true},
		{"OIP shape mismatch", "/v2/models/iris/infer", "application/json", `{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4]}]}`, 400, problem.TypeValidation, []string{"/inputs/0/shape"}, true},
		{"OIP unknown output", "/v2/models/iris/infer", "application/json", `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"logits"}]}`, 400, problem.TypeValidation, []string{"/outputs/0/name"}, true},
		{"OIP string in data", "/v2/models/iris/infer", "application/json", `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,"2",3,4]}]}`, 400, problem.TypeValidation, []string{"/inputs/0/data"}, true},
		{"OIP null member", "/v2/models/iris/infer", "application/json", `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":null}`, 400, problem.TypeValidation, []string{"/outputs"}, true},
		{"OIP malformed JSON", "/v2/models/iris/infer", "application/json", `{`, 400, problem.TypeMalformedJSON, nil, true},
		{"unknown route", "/v3/predict", "application/json", `{}`, 404, problem.TypeNotFound, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, s, http.MethodPost, tc.path, tc.contentType, tc.body)
			require.Equal(t, tc.wantStatus, res.status, string(res.body))
			require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
			require.NotEmpty(t, res.header.Get(header.RequestID))
			var p problem.Problem
			require.NoError(t, json.Unmarshal(res.body, &p))
			require.Equal(t, tc.wantType, p.Type)
			require.Equal(t, tc.wantStatus, p.Status)
			require.NotEmpty(t, p.Title)
			require.NotEmpty(t, p.Detail)
			require.Equal(t, res.header.Get(header.RequestID), p.RequestID)
			require.NotContains(t, string(res.body), "goroutine", "no stack traces in answers")
			if tc.wantPointers != nil {
				got := make([]string, len(p.Errors))
				for i, e := range p.Errors {
					got[i] = e.Pointer
				}
				require.ElementsMatch(t, tc.wantPointers, got)
			}
			if tc.wantOIPError {
				require.Equal(t, p.Detail, p.OIPError, "OIP clients read the error member")
			}
		})
	}
}

func TestMethodNotAllowedIsProblem(t *testing.T) {
	t.Parallel()
	res := do(t, newTestServer(t, nil), http.MethodGet, "/v2/predict", "", "")
	require.Equal(t, http.StatusMethodNotAllowed, res.status)
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	require.Contains(t, res.header.Get("Allow"), "POST")
}

type parityFile struct {
	Features []string `json:"features"`
	Outputs  []string `json:"outputs"`
	Rows     []struct {
		X     []float64 `json:"x"`
		Label string    `json:"label"`
		Proba []float64 `json:"proba"`
		Value *float64  `json:"value"`
	} `json:"rows"`
}

func loadParity(t *testing.T, model, version string) parityFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../../../models", model, version, "parity.json"))
	require.NoError(t, err)
	var pf parityFile
	require.NoError(t, json.Unmarshal(b, &pf))
	require.NotEmpty(t, pf.Rows)
	return pf
}

func rowsJSON(pf parityFile) string {
	rows := make([]map[string]float64, len(pf.Rows))
	for i, r := range pf.Rows {
		rows[i] = map[string]float64{}
		for j, f := range pf.Features {
			rows[i][f] = r.X[j]
		}
	}
	b, _ := json.Marshal(rows)
	return string(b)
}

// TestParityOverHTTP requires every route to give the Python library's
// predictions for the committed parity rows.
func TestParityOverHTTP(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, mv := range [][2]string{{"iris", "1"}, {"iris", "2"}, {"diabetes", "1"}} {
		model, version := mv[0], mv[1]
		pf := loadParity(t, model, version)
		t.Run(model+"/"+version+" v2 predict", func(t *testing.T) {
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
		t.Run(model+"/"+version+" OIP infer", func(t *testing.T) {
			flat := make([]float64, 0, len(pf.Rows)*len(pf.Features))
			for _, r := range pf.Rows {
				flat = append(flat, r.X...)
			}
			data, _ := json.Marshal(flat)
			res := do(t, s, http.MethodPost, "/v2/models/"+model+"/versions/"+version+"/infer", "application/json",
				`{"id":"req-7","inputs":[{"name":"input","shape":[`+itoa(len(pf.Rows))+`,`+itoa(len(pf.Features))+`],"datatype":"FP64","data":`+string(data)+`}]}`)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			var out struct {
				ID           string `json:"id"`
				ModelVersion string `json:"model_version"`
				Outputs      []struct {
					Name  string          `json:"name"`
					Shape []int           `json:"shape"`
					Data  json.RawMessage `json:"data"`
				} `json:"outputs"`
			}
			require.NoError(t, json.Unmarshal(res.body, &out))
			require.Equal(t, "req-7", out.ID, "the request id is echoed")
			require.Equal(t, version, out.ModelVersion)
			for _, o := range out.Outputs {
				switch o.Name {
				case "label":
					var labels []string
					require.NoError(t, json.Unmarshal(o.Data, &labels))
					for i, r := range pf.Rows {
						require.Equal(t, r.Label, labels[i])
					}
				case "probabilities", "value":
					var vals []float64
					require.NoError(t, json.Unmarshal(o.Data, &vals))
					k := len(pf.Outputs)
					for i, r := range pf.Rows {
						if r.Value != nil {
							require.InDelta(t, *r.Value, vals[i], 1e-6)
							continue
						}
						for c := range k {
							require.InDelta(t, r.Proba[c], vals[i*k+c], 1e-6)
						}
					}
				default:
					t.Fatalf("unexpected output %q", o.Name)
				}
			}
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

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
		{"latest alias resolves through the catalog", "latest", "", "2"},
		{"stable alias resolves through the catalog", "stable", "", "1"},
		{"empty version means latest", "", "", "2"},
		{"pinned version in the body", "1", "", "1"},
		{"header wins over the body", "2", "1", "1"},
		{"header alias wins over the body", "1", "latest", "2"},
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

func TestRequestIDEcho(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	res := do(t, s, http.MethodGet, "/healthz", "", "", header.RequestID, "abc-123")
	require.Equal(t, "abc-123", res.header.Get(header.RequestID))
	res = do(t, s, http.MethodGet, "/healthz", "", "", header.RequestID, "bad\x01id")
	require.Len(t, res.header.Get(header.RequestID), 32, "an unsafe id is replaced")
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

func TestOIPEndpoints(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tests := []struct {
		name, path string
		wantStatus int
		want       string
	}{
		{"server live", "/v2/health/live", 200, `{"live":true}`},
		{"server ready", "/v2/health/ready", 200, `{"ready":true}`},
		{"server metadata", "/v2", 200, `{"name":"modelgate-inference","version":"test","extensions":[]}`},
		{"model ready", "/v2/models/iris/ready", 200, `{"name":"iris","ready":true}`},
		{"version ready", "/v2/models/iris/versions/1/ready", 200, `{"name":"iris","ready":true}`},
		{"model metadata", "/v2/models/diabetes/versions/1", 200, `{"name":"diabetes","versions":["1"],"platform":"modelgate.trees/v1","inputs":[{"name":"input","datatype":"FP64","shape":[-1,10]}],"outputs":[{"name":"value","datatype":"FP64","shape":[-1]}]}`},
		{"unknown version metadata", "/v2/models/iris/versions/9", 404, ""},
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

func TestOIPPerFeatureTensors(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	body := `{"inputs":[
		{"name":"petal_width","shape":[2],"datatype":"FP32","data":[0.2,2.3]},
		{"name":"sepal_length","shape":[2,1],"datatype":"FP32","data":[[5.1],[6.7]]},
		{"name":"sepal_width","shape":[2],"datatype":"FP32","data":[3.5,3.0]},
		{"name":"petal_length","shape":[2],"datatype":"FP32","data":[1.4,5.2]}],
		"outputs":[{"name":"label"}]}`
	res := do(t, s, http.MethodPost, "/v2/models/iris/infer", "application/json", body)
	require.Equal(t, http.StatusOK, res.status, string(res.body))
	var out struct {
		Outputs []struct {
			Name string   `json:"name"`
			Data []string `json:"data"`
		} `json:"outputs"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Len(t, out.Outputs, 1, "only the requested output")
	require.Equal(t, []string{"setosa", "virginica"}, out.Outputs[0].Data)
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	res := do(t, newTestServer(t, []config.Selection{{Model: "iris", Version: "stable"}}), http.MethodGet, "/v2/models", "", "")
	require.Equal(t, http.StatusOK, res.status)
	var out struct {
		Models []CatalogEntry `json:"models"`
	}
	require.NoError(t, json.Unmarshal(res.body, &out))
	require.Len(t, out.Models, 2)
	iris := out.Models[1]
	require.Equal(t, "iris", iris.Name)
	require.Equal(t, "2", iris.Aliases["latest"])
	require.True(t, iris.Versions[0].Served)
	require.Len(t, iris.Versions[0].Inputs, 4)
	require.False(t, iris.Versions[1].Served)
}

func TestPanicBecomesProblem(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	h := s.middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	res := do(t, h, http.MethodGet, "/x", "", "")
	require.Equal(t, http.StatusInternalServerError, res.status)
	require.Equal(t, header.MediaProblemJSON, res.header.Get(header.ContentType))
	require.NotContains(t, string(res.body), "boom")
}
