package policy_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/predict"
	"github.com/modelgate/modelgate/api/problem"
	"github.com/modelgate/modelgate/extproc/internal/policy"
)

// The OpenAPI document must describe exactly what the shared wire types
// (which inference serves) marshal to, requests and responses alike.
func TestOpenAPI_matchesTheWireTypes(t *testing.T) {
	t.Parallel()
	v, err := policy.Load(openapiPath, "V1PredictRequest", "V1PredictResponse", "V2PredictRequest", "V2PredictResponse",
		"InferRequest", "InferResponse", "ModelMetadata", "Problem")
	require.NoError(t, err)
	one := 1.5
	tests := []struct {
		schema string
		value  any
	}{
		{"V1PredictRequest", predict.V1Request{Inputs: []predict.Row{{"petal_width": json.RawMessage("0.2")}}, ModelVersion: "latest", Options: map[string]any{}}},
		{"V1PredictResponse", predict.V1Response{Predictions: []any{"setosa", 1.5}, ModelVersion: "2", RequestID: "r", LatencyMS: 0.1}},
		{"V2PredictRequest", predict.V2Request{Model: "iris", Version: "stable", Inputs: []predict.Row{{"a": json.RawMessage("1")}}, Options: predict.V2Options{ReturnProbabilities: true}}},
		{"V2PredictResponse", predict.V2Response{Model: "iris", ModelVersion: "2", RequestID: "r", Usage: predict.Usage{Rows: 2},
			Predictions: []predict.Prediction{{Label: "setosa", Probabilities: map[string]float64{"setosa": 1}}, {Value: &one}}}},
		{"InferRequest", oip.InferRequest{ID: "x", Inputs: []oip.InputTensor{{Name: "in", Shape: []int64{1, 4}, Datatype: oip.FP32, Data: json.RawMessage("[1,2,3,4]")}},
			Outputs: []oip.RequestedOutput{{Name: "label"}}}},
		{"InferResponse", oip.InferResponse{ModelName: "iris", ModelVersion: "2", ID: "x", Outputs: []oip.OutputTensor{{Name: "label", Shape: []int64{1}, Datatype: oip.BYTES, Data: []string{"setosa"}}}}},
		{"ModelMetadata", oip.ModelMetadata{Name: "iris", Versions: []string{"1", "2"}, Platform: "modelgate", Inputs: []oip.TensorMeta{{Name: "in", Datatype: oip.FP32, Shape: []int64{-1, 4}}}, Outputs: []oip.TensorMeta{}}},
		{"Problem", problem.Problem{Type: problem.TypeValidation, Title: "t", Status: 400, Errors: []problem.Violation{{Pointer: "/inputs/0", Detail: "d"}}, Available: []string{"1"}}},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.value)
		require.NoError(t, err)
		_, err = v.Validate(tt.schema, b)
		require.NoError(t, err, "%s: %s", tt.schema, b)
	}
}
