"""The operation → method table that the contract test holds against api/openapi.yaml."""

from __future__ import annotations

# OPERATIONS maps each (method, path template) of the API to the dotted name
# of the client method that calls it, the same on Modelgate and
# AsyncModelgate. Paths with and without /versions/{version} share a method
# whose version argument picks the path.
OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/predict"): "predict_v1",
    ("POST", "/v2/predict"): "predict",
    ("GET", "/v2/models"): "models.list",
    ("GET", "/v2/models/{model}"): "models.metadata",
    ("GET", "/v2/models/{model}/versions/{version}"): "models.metadata",
    ("GET", "/v2/models/{model}/ready"): "models.ready",
    ("GET", "/v2/models/{model}/versions/{version}/ready"): "models.ready",
    ("POST", "/v2/models/{model}/infer"): "models.infer",
    ("POST", "/v2/models/{model}/versions/{version}/infer"): "models.infer",
    ("GET", "/v2"): "server.metadata",
    ("GET", "/v2/health/live"): "server.live",
    ("GET", "/healthz"): "server.gateway_health",
    ("GET", "/openapi.json"): "server.openapi",
    ("GET", "/v2/health/ready"): "server.ready",
    ("POST", "/v1/chat/completions"): "chat.completions.create",
    ("POST", "/v1/completions"): "completions.create",
    ("GET", "/v1/models"): "text_models.list",
    ("GET", "/v1/models/{model}"): "text_models.retrieve",
    ("POST", "/v2/jobs"): "jobs.submit",
    ("GET", "/v2/jobs"): "jobs.list",
    ("GET", "/v2/jobs/{id}"): "jobs.get",
    ("POST", "/v2/jobs/{id}/cancel"): "jobs.cancel",
    ("GET", "/v2/jobs/{id}/deliveries"): "jobs.deliveries",
    ("POST", "/v2/jobs/{id}/deliveries/{delivery_id}/redeliver"): "jobs.redeliver",
}

# HELPERS are methods built from the operations above rather than being one.
HELPERS: dict[str, str] = {
    "jobs.wait": "polls jobs.get until the job is finished",
    "jobs.iter": "follows jobs.list's next_cursor across pages",
}
