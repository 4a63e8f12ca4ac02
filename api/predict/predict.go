// Package predict holds the JSON bodies of the tabular prediction API:
// the legacy /v1/predict contract and the /v2/predict batch contract.
package predict

import "encoding/json"

// Row is one input row: feature name to JSON value. Values stay raw until
// the model's input schema is applied, so that type errors can be reported
// with a JSON Pointer to the offending field.
type Row map[string]json.RawMessage

// V1Request is the legacy /v1/predict body. The model is the configured
// default model.
type V1Request struct {
	Inputs       []Row          `json:"inputs"`
	ModelVersion string         `json:"model_version,omitempty"`
	Options      map[string]any `json:"options,omitempty"`
}

// V1Response is the legacy /v1/predict answer. Predictions holds a class
// label (classification) or a number (regression) per row.
type V1Response struct {
	Predictions  []any   `json:"predictions"`
	ModelVersion string  `json:"model_version"`
	RequestID    string  `json:"request_id"`
	LatencyMS    float64 `json:"latency_ms"`
}

// V2Options tunes a /v2/predict request.
type V2Options struct {
	// ReturnProbabilities adds per-class probabilities to classification
	// predictions.
	ReturnProbabilities bool `json:"return_probabilities,omitempty"`
}

// V2Request is the /v2/predict batch body.
type V2Request struct {
	Model   string    `json:"model"`
	Version string    `json:"version,omitempty"`
	Inputs  []Row     `json:"inputs"`
	Options V2Options `json:"options,omitzero"`
}

// Prediction is one row's result. Classification sets Label (and
// Probabilities on request); regression sets Value.
type Prediction struct {
	Label         string             `json:"label,omitempty"`
	Value         *float64           `json:"value,omitempty"`
	Probabilities map[string]float64 `json:"probabilities,omitempty"`
}

// Usage reports what a request consumed.
type Usage struct {
	Rows int `json:"rows"`
}

// V2Response is the /v2/predict answer.
type V2Response struct {
	Model        string       `json:"model"`
	ModelVersion string       `json:"model_version"`
	Predictions  []Prediction `json:"predictions"`
	RequestID    string       `json:"request_id"`
	LatencyMS    float64      `json:"latency_ms"`
	Usage        Usage        `json:"usage"`
}
