package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/header"
	"github.com/modelgate/modelgate/api/problem"
)

// TestMemberNames_CachePoisoning sends bodies that name a member twice, in
// two cases or exactly: encoding/json would answer for one copy while the
// gateway keys its cache on the other, so every JSON route refuses them with
// one violation per repeat.
func TestMemberNames_CachePoisoning(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tensor := `{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}`
	other := `{"name":"input","shape":[1,4],"datatype":"FP32","data":[6.7,3.0,5.2,2.3]}`
	runBadInput(t, newTestServer(t, nil), []badInput{
		{name: "v2 predict: inputs and INPUTS", path: "/v2/predict", contentType: js,
			body:       `{"model":"iris","inputs":[` + irisRow + `],"INPUTS":[{"sepal_length":6.7,"sepal_width":3.0,"petal_length":5.2,"petal_width":2.3}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/INPUTS"}},
		{name: "v2 predict: model twice", path: "/v2/predict", contentType: js,
			body:       `{"model":"iris","model":"diabetes","inputs":[` + irisRow + `]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/model"}},
		{name: "v1 predict: a case-variant feature in a row", path: "/v1/predict", contentType: js,
			body:       `{"inputs":[{"sepal_length":5.1,"SEPAL_LENGTH":6.7,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/SEPAL_LENGTH"}},
		{name: "v1 predict: an escaped duplicate", path: "/v1/predict", contentType: js,
			body:       `{"inputs":[` + irisRow + `],"\u0069nputs":[]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs"}},
		{name: "OIP infer: inputs and Inputs", path: "/v2/models/iris/infer", contentType: js,
			body:       `{"inputs":[` + tensor + `],"Inputs":[` + other + `]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/Inputs"}, wantOIPError: true},
		{name: "OIP infer: a tensor's data twice", path: "/v2/models/iris/infer", contentType: js,
			body:       `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2],"DATA":[6.7,3.0,5.2,2.3]}]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs/0/DATA"}, wantOIPError: true},
		{name: "OIP infer: a lone case variant is not the member", path: "/v2/models/iris/infer", contentType: js,
			body:       `{"INPUTS":[` + tensor + `]}`,
			wantStatus: 400, wantType: problem.TypeValidation, wantPointers: []string{"/inputs"}, wantOIPError: true},
		{name: "v2 predict: nesting past the depth limit", path: "/v2/predict", contentType: js,
			body:       `{"model":"iris","inputs":[` + irisRow + `],"options":` + strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40) + `}`,
			wantStatus: 400, wantType: problem.TypeValidation},
	})
}

// TestMemberNames_BinaryHead applies the rule to the JSON head of a binary
// infer request, and still serves a clean one.
func TestMemberNames_BinaryHead(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tensor := string([]byte{0, 0, 0xa0, 0x40, 0, 0, 0x60, 0x40, 0x33, 0x33, 0xb3, 0x3f, 0xcd, 0xcc, 0x4c, 0x3e})
	tests := []struct {
		name         string
		head         string
		wantStatus   int
		wantPointers []string
	}{
		{name: "serves a clean head", wantStatus: http.StatusOK,
			head: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16}}]}`},
		{name: "refuses a case-variant parameter", wantStatus: http.StatusBadRequest, wantPointers: []string{"/inputs/0/parameters/Binary_Data_Size"},
			head: `{"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","parameters":{"binary_data_size":16,"Binary_Data_Size":8}}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, s, http.MethodPost, "/v2/models/iris/infer", header.MediaOctetStream, tc.head+tensor,
				header.InferenceHeaderContentLength, strconv.Itoa(len(tc.head)))
			if tc.wantStatus == http.StatusOK {
				require.Equal(t, http.StatusOK, res.status, string(res.body))
				return
			}
			p := requireProblem(t, res, tc.wantStatus, problem.TypeValidation)
			require.Len(t, p.Errors, len(tc.wantPointers))
			for i, want := range tc.wantPointers {
				require.Equal(t, want, p.Errors[i].Pointer)
			}
		})
	}
}

// TestMemberNames_CleanBodiesServe checks that the rule leaves normal
// bodies alone, including the same name in different objects.
func TestMemberNames_CleanBodiesServe(t *testing.T) {
	t.Parallel()
	s := newTestServer(t, nil)
	tests := []struct {
		name string
		path string
		body string
	}{
		{name: "v1 predict", path: "/v1/predict", body: `{"inputs":[` + irisRow + `,` + irisRow + `]}`},
		{name: "v2 predict", path: "/v2/predict", body: `{"model":"iris","inputs":[` + irisRow + `],"options":{"return_probabilities":true}}`},
		{name: "OIP infer", path: "/v2/models/iris/infer",
			body: `{"id":"x","parameters":{"name":"p"},"inputs":[{"name":"input","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}],"outputs":[{"name":"label"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := do(t, s, http.MethodPost, tc.path, "application/json", tc.body)
			require.Equal(t, http.StatusOK, res.status, string(res.body))
			require.True(t, json.Valid(res.body))
		})
	}
}
