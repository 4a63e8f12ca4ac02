// The operation → method table that the contract test holds against api/openapi.yaml.

/**
 * OPERATIONS maps each "METHOD /path/template" of the API to the dotted name
 * of the client method that calls it. Paths with and without
 * /versions/{version} share a method whose version option picks the path.
 */
export const OPERATIONS: Readonly<Record<string, string>> = {
  "POST /v1/predict": "predictV1",
  "POST /v2/predict": "predict",
  "GET /v2/models": "models.list",
  "GET /v2/models/{model}": "models.metadata",
  "GET /v2/models/{model}/versions/{version}": "models.metadata",
  "GET /v2/models/{model}/ready": "models.ready",
  "GET /v2/models/{model}/versions/{version}/ready": "models.ready",
  "POST /v2/models/{model}/infer": "models.infer",
  "POST /v2/models/{model}/versions/{version}/infer": "models.infer",
  "GET /v2": "server.metadata",
  "GET /v2/health/live": "server.live",
  "GET /v2/health/ready": "server.ready",
  "GET /healthz": "server.gatewayHealth",
  "GET /openapi.json": "server.openapi",
  "POST /v1/chat/completions": "chat.completions.create",
  "POST /v1/completions": "completions.create",
  "GET /v1/models": "textModels.list",
  "GET /v1/models/{model}": "textModels.retrieve",
  "POST /v2/jobs": "jobs.submit",
  "GET /v2/jobs": "jobs.list",
  "GET /v2/jobs/{id}": "jobs.get",
  "POST /v2/jobs/{id}/cancel": "jobs.cancel",
  "GET /v2/jobs/{id}/deliveries": "jobs.deliveries",
  "POST /v2/jobs/{id}/deliveries/{delivery_id}/redeliver": "jobs.redeliver",
};

/** HELPERS are methods built from the operations above rather than being one. */
export const HELPERS: Readonly<Record<string, string>> = {
  "jobs.wait": "polls jobs.get until the job is finished",
  "jobs.iter": "follows jobs.list's next_cursor across pages",
};
