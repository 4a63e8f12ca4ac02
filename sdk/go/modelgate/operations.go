package modelgate

// Operations maps each "METHOD /path/template" of api/openapi.yaml to the
// [Client] method that calls it; the contract test holds the two together.
var Operations = map[string]string{
	"POST /v1/predict":                                 "PredictV1",
	"POST /v2/predict":                                 "Predict",
	"GET /v2/models":                                   "ListModels",
	"GET /v2/models/{model}":                           "ModelMetadata",
	"GET /v2/models/{model}/versions/{version}":        "ModelMetadata",
	"GET /v2/models/{model}/ready":                     "ModelReady",
	"GET /v2/models/{model}/versions/{version}/ready":  "ModelReady",
	"POST /v2/models/{model}/infer":                    "Infer",
	"POST /v2/models/{model}/versions/{version}/infer": "Infer",
	"GET /v2":                      "ServerMetadata",
	"GET /v2/health/live":          "Live",
	"GET /v2/health/ready":         "Ready",
	"GET /healthz":                 "GatewayHealth",
	"GET /openapi.json":            "OpenAPI",
	"POST /v1/chat/completions":    "ChatCompletion",
	"POST /v1/completions":         "Completion",
	"GET /v1/models":               "ListTextModels",
	"GET /v1/models/{model}":       "RetrieveTextModel",
	"POST /v2/jobs":                "SubmitJob",
	"GET /v2/jobs":                 "ListJobs",
	"GET /v2/jobs/{id}":            "GetJob",
	"POST /v2/jobs/{id}/cancel":    "CancelJob",
	"GET /v2/jobs/{id}/deliveries": "JobDeliveries",
	"POST /v2/jobs/{id}/deliveries/{delivery_id}/redeliver": "Redeliver",
}

// Helpers are methods built from the operations rather than being one;
// ChatCompletionStream and CompletionStream are the streamed forms of their
// operations.
var Helpers = map[string]string{
	"WaitJob":              "polls GetJob until the job is finished",
	"Jobs":                 "follows ListJobs' next_cursor across pages",
	"ChatCompletionStream": "POST /v1/chat/completions with stream: true",
	"CompletionStream":     "POST /v1/completions with stream: true",
}
