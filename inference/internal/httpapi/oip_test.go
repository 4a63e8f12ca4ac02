package httpapi

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/problem"
)

func TestInfer_BadInput(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	runBadInput(t, newTestServer(t, nil), []badInput{
		{name: "OIP unknown model carries error member", path: "/v2/models/tulip/infer", contentType: js, body: `{"inputs":[]}`,
			wantStatus: 404, wantType: problem.TypeUnknownModel, wantOIPError: true},
		{name: "OIP bad datatype", path: "/v2/models/iris/infer", contentType: js, body: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"INT8","data":[1,2,3,4]}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/datatype"}, wantOIPError: true},
		{name: "OIP shape mismatch", path: "/v2/models/iris/infer", contentType: js, body: `{"inputs":[{"name":"input","shape":[2,4],"datatype":"FP32","data":[1,2,3,4]}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/shape"}, wantOIPError: true},
		{name: "OIP unknown output", path: "/v2/models/iris/infer", contentType: js, body: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":[{"name":"logits"}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/outputs/0/name"}, wantOIPError: true},
		{name: "OIP string in data", path: "/v2/models/iris/infer", contentType: js, body: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,"2",3,4]}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/data"}, wantOIPError: true},
		{name: "OIP null member", path: "/v2/models/iris/infer", contentType: js, body: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[1,2,3,4]}],"outputs":null}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/outputs"}, wantOIPError: true},
		{name: "OIP malformed JSON", path: "/v2/models/iris/infer", contentType: js, body: `{`,
			wantStatus: 400, wantType: problem.TypeMalformedJSON, wantOIPError: true},
	})
}

// TestInfer_Parity requires the OIP infer route to give the Python
// library's predictions for the committed parity rows.
func TestInfer_Parity(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	for _, mv := range parityVersions {
		model, version := mv[0], mv[1]
		pf := loadParity(t, model, version)
		t.Run(model+"/"+version, func(t *testing.T) {
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
