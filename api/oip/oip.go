// Package oip holds the Open Inference Protocol (KServe V2) REST bodies that
// modelgate serves, so that KServe and Triton clients work unchanged.
package oip

import "encoding/json"

// Datatypes accepted or produced by modelgate.
const (
	FP32  = "FP32"
	FP64  = "FP64"
	BYTES = "BYTES"
	INT64 = "INT64"
)

// TensorMeta describes one input or output tensor in model metadata.
type TensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ServerMetadata is the GET /v2 answer.
type ServerMetadata struct {
	Name       string   `json:"name"`
	Version    string   `json:"version"`
	Extensions []string `json:"extensions"`
}

// ModelMetadata is the GET /v2/models/{name}[/versions/{v}] answer.
type ModelMetadata struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions,omitempty"`
	Platform string       `json:"platform"`
	Inputs   []TensorMeta `json:"inputs"`
	Outputs  []TensorMeta `json:"outputs"`
}

// Live is the GET /v2/health/live answer.
type Live struct {
	Live bool `json:"live"`
}

// Ready is the GET /v2/health/ready answer.
type Ready struct {
	Ready bool `json:"ready"`
}

// ModelReady is the GET /v2/models/{name}[/versions/{v}]/ready answer.
type ModelReady struct {
	Name  string `json:"name"`
	Ready bool   `json:"ready"`
}

// InputTensor is one tensor of an inference request. Data is kept raw so the
// server can decode it according to Datatype and Shape (flat or nested
// row-major arrays are both legal).
type InputTensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// RequestedOutput names an output the client wants.
type RequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// InferRequest is the POST .../infer body.
type InferRequest struct {
	ID         string            `json:"id,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []InputTensor     `json:"inputs"`
	Outputs    []RequestedOutput `json:"outputs,omitempty"`
}

// OutputTensor is one tensor of an inference response.
type OutputTensor struct {
	Name       string         `json:"name"`
	Shape      []int64        `json:"shape"`
	Datatype   string         `json:"datatype"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data"`
}

// InferResponse is the POST .../infer answer.
type InferResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []OutputTensor `json:"outputs"`
}
