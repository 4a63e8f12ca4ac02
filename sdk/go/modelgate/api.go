package modelgate

import (
	"context"
	"net/http"
	"net/url"

	"github.com/modelgate/modelgate/api/oip"
	"github.com/modelgate/modelgate/api/openai"
	"github.com/modelgate/modelgate/api/predict"
)

// Predict scores a batch of rows with a named model (POST /v2/predict).
func (c *Client) Predict(ctx context.Context, req predict.V2Request, opts ...RequestOption) (*predict.V2Response, error) {
	var out predict.V2Response
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v2/predict", "/v2/predict", req, opts), &out)
}

// PredictV1 calls the deprecated default-model route (POST /v1/predict).
func (c *Client) PredictV1(ctx context.Context, req predict.V1Request, opts ...RequestOption) (*predict.V1Response, error) {
	var out predict.V1Response
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v1/predict", "/v1/predict", req, opts), &out)
}

// CatalogModel is one model of GET /v2/models.
type CatalogModel struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Default     bool              `json:"default,omitempty"`
	Versions    []map[string]any  `json:"versions"`
	Aliases     map[string]string `json:"aliases,omitempty"`
}

// ListModels returns the catalog (GET /v2/models).
func (c *Client) ListModels(ctx context.Context, opts ...RequestOption) ([]CatalogModel, error) {
	var out struct {
		Models []CatalogModel `json:"models"`
	}
	err := c.doJSON(ctx, c.newCall(http.MethodGet, "/v2/models", "/v2/models", nil, opts), &out)
	return out.Models, err
}

func modelPath(model, version string) (path, route string) {
	if version == "" {
		return "/v2/models/" + seg(model), "/v2/models/{model}"
	}
	return "/v2/models/" + seg(model) + "/versions/" + seg(version), "/v2/models/{model}/versions/{version}"
}

// ModelMetadata returns a model's tensor metadata; version "" means the latest.
func (c *Client) ModelMetadata(ctx context.Context, model, version string, opts ...RequestOption) (*oip.ModelMetadata, error) {
	p, r := modelPath(model, version)
	var out oip.ModelMetadata
	return &out, c.doJSON(ctx, c.newCall(http.MethodGet, p, r, nil, opts), &out)
}

// ModelReady reports whether a model (or version) can serve.
func (c *Client) ModelReady(ctx context.Context, model, version string, opts ...RequestOption) (bool, error) {
	p, r := modelPath(model, version)
	var out oip.ModelReady
	err := c.doJSON(ctx, c.newCall(http.MethodGet, p+"/ready", r+"/ready", nil, opts), &out)
	return out.Ready, err
}

// Infer runs an Open Inference Protocol request; version "" means the latest.
func (c *Client) Infer(ctx context.Context, model, version string, req oip.InferRequest, opts ...RequestOption) (*oip.InferResponse, error) {
	p, r := modelPath(model, version)
	var out oip.InferResponse
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, p+"/infer", r+"/infer", req, opts), &out)
}

// ServerMetadata returns the server's name, version and extensions (GET /v2).
func (c *Client) ServerMetadata(ctx context.Context, opts ...RequestOption) (*oip.ServerMetadata, error) {
	var out oip.ServerMetadata
	return &out, c.doJSON(ctx, c.newCall(http.MethodGet, "/v2", "/v2", nil, opts), &out)
}

// Live reports server liveness (GET /v2/health/live).
func (c *Client) Live(ctx context.Context, opts ...RequestOption) (bool, error) {
	var out oip.Live
	err := c.doJSON(ctx, c.newCall(http.MethodGet, "/v2/health/live", "/v2/health/live", nil, opts), &out)
	return out.Live, err
}

// Ready reports server readiness (GET /v2/health/ready).
func (c *Client) Ready(ctx context.Context, opts ...RequestOption) (bool, error) {
	var out oip.Ready
	err := c.doJSON(ctx, c.newCall(http.MethodGet, "/v2/health/ready", "/v2/health/ready", nil, opts), &out)
	return out.Ready, err
}

// GatewayHealth reports whether the gateway itself answers (GET /healthz;
// no key needed).
func (c *Client) GatewayHealth(ctx context.Context, opts ...RequestOption) (bool, error) {
	var out struct {
		Status string `json:"status"`
	}
	err := c.doJSON(ctx, c.newCall(http.MethodGet, "/healthz", "/healthz", nil, opts), &out)
	return out.Status == "ok", err
}

// OpenAPI returns the deployment's OpenAPI document, scoped to the models
// the key may use (GET /openapi.json).
func (c *Client) OpenAPI(ctx context.Context, opts ...RequestOption) (map[string]any, error) {
	var out map[string]any
	return out, c.doJSON(ctx, c.newCall(http.MethodGet, "/openapi.json", "/openapi.json", nil, opts), &out)
}

// ChatCompletion generates the next assistant message (POST /v1/chat/completions).
func (c *Client) ChatCompletion(ctx context.Context, req openai.ChatCompletionRequest, opts ...RequestOption) (*openai.ChatCompletion, error) {
	req.Stream = false
	var out openai.ChatCompletion
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v1/chat/completions", "/v1/chat/completions", req, opts), &out)
}

// ChatCompletionStream streams the answer chunk by chunk; close the stream when done.
func (c *Client) ChatCompletionStream(ctx context.Context, req openai.ChatCompletionRequest, opts ...RequestOption) (*Stream[openai.ChatCompletionChunk], error) {
	req.Stream = true
	k := c.newCall(http.MethodPost, "/v1/chat/completions", "/v1/chat/completions", req, opts)
	k.header.Set("accept", "text/event-stream")
	resp, cancel, err := c.send(ctx, k, true)
	if err != nil {
		return nil, err
	}
	return newStream[openai.ChatCompletionChunk](resp, cancel), nil
}

// Completion continues a prompt (POST /v1/completions).
func (c *Client) Completion(ctx context.Context, req openai.CompletionRequest, opts ...RequestOption) (*openai.Completion, error) {
	req.Stream = false
	var out openai.Completion
	return &out, c.doJSON(ctx, c.newCall(http.MethodPost, "/v1/completions", "/v1/completions", req, opts), &out)
}

// CompletionStream streams a plain completion; close the stream when done.
func (c *Client) CompletionStream(ctx context.Context, req openai.CompletionRequest, opts ...RequestOption) (*Stream[openai.Completion], error) {
	req.Stream = true
	k := c.newCall(http.MethodPost, "/v1/completions", "/v1/completions", req, opts)
	k.header.Set("accept", "text/event-stream")
	resp, cancel, err := c.send(ctx, k, true)
	if err != nil {
		return nil, err
	}
	return newStream[openai.Completion](resp, cancel), nil
}

// ListTextModels lists the text-generation models OpenAI-style (GET /v1/models).
func (c *Client) ListTextModels(ctx context.Context, opts ...RequestOption) (*openai.ModelList, error) {
	var out openai.ModelList
	return &out, c.doJSON(ctx, c.newCall(http.MethodGet, "/v1/models", "/v1/models", nil, opts), &out)
}

// RetrieveTextModel returns one text-generation model by any id ListTextModels lists.
func (c *Client) RetrieveTextModel(ctx context.Context, id string, opts ...RequestOption) (*openai.Model, error) {
	var out openai.Model
	return &out, c.doJSON(ctx, c.newCall(http.MethodGet, "/v1/models/"+url.PathEscape(id), "/v1/models/{model}", nil, opts), &out)
}
