"""One valid body per response model, as api/openapi.yaml describes it, for the fakes of every test."""

from __future__ import annotations

from typing import Any

PREDICT: dict[str, Any] = {
    "model": "iris", "model_version": "1", "request_id": "r", "latency_ms": 0.05, "usage": {"rows": 1},
    "predictions": [{"label": "setosa", "probabilities": {"setosa": 0.97, "versicolor": 0.02, "virginica": 0.01}}]}
PREDICT_V1: dict[str, Any] = {"predictions": ["setosa"], "model_version": "1", "request_id": "r"}
TENSOR = {"name": "input", "datatype": "FP64", "shape": [-1, 4]}
METADATA: dict[str, Any] = {"name": "iris", "versions": ["1", "2"], "platform": "modelgate",
                            "inputs": [TENSOR], "outputs": [{"name": "label", "datatype": "BYTES", "shape": [-1]}]}
SERVER: dict[str, Any] = {"name": "modelgate-inference", "version": "0.1.0", "extensions": []}
INFER: dict[str, Any] = {"model_name": "iris", "model_version": "1", "id": "r1",
                         "outputs": [{"name": "label", "shape": [1], "datatype": "BYTES", "data": ["setosa"]}]}
MODEL_LIST: dict[str, Any] = {"models": [{
    "name": "iris", "description": "Iris species", "default": True, "aliases": {"stable": "1", "latest": "2"},
    "versions": [{"version": "1", "served": True, "algorithm": "logistic regression", "format": "json",
                  "inputs": [{"name": "sepal_length", "type": "number"}],
                  "output": {"kind": "classification", "name": "species", "classes": ["setosa"]},
                  "metrics": {"accuracy": 0.967}, "created": "2026-01-01"},
                 {"version": "2", "served": False}]}]}
USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
CHAT: dict[str, Any] = {"id": "c1", "object": "chat.completion", "created": 1, "model": "scribe:1", "usage": USAGE,
                        "choices": [{"index": 0, "message": {"role": "assistant", "content": "And"},
                                     "logprobs": None, "finish_reason": "stop"}]}
COMPLETION: dict[str, Any] = {"id": "c2", "object": "text_completion", "created": 1, "model": "scribe:1",
                              "usage": USAGE, "choices": [{"index": 0, "text": " God", "finish_reason": "length"}]}
TEXT_MODEL: dict[str, Any] = {"id": "scribe:1", "object": "model", "created": 1, "owned_by": "modelgate"}
TEXT_MODELS: dict[str, Any] = {"object": "list", "data": [TEXT_MODEL]}
DELIVERY: dict[str, Any] = {"id": "d1", "object": "delivery", "message_id": "msg_1", "event": "job.succeeded",
                            "url": "https://hooks.example/x", "attempt": 1, "at": "2026-12-03T10:00:01Z",
                            "status": 204, "latency_ms": 12.5, "outcome": "succeeded"}
DELIVERIES: dict[str, Any] = {"object": "list", "data": [DELIVERY]}
REDELIVERY: dict[str, Any] = {"id": "msg_1", "object": "message", "status": "queued"}


def job(status: str = "queued", jid: str = "job_1", **extra: Any) -> dict[str, Any]:
    return {"id": jid, "object": "job", "status": status, "model": "iris", "version": "1",
            "created_at": "2026-12-03T10:00:00Z", "started_at": None, "completed_at": None,
            "expires_at": "2026-12-04T10:00:00Z", "usage": {"rows": 1}, "metadata": {}, **extra}


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> dict[str, Any]:
    delta = {} if content is None else {"content": content}
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "scribe:1",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


JOB_LIST: dict[str, Any] = {"object": "list", "data": [job()], "next_cursor": None}

# ANSWERS_BY_PATH answers the fake gateway of a test that calls many methods,
# keyed by method and path template ("{}" for each parameter).
ANSWERS_BY_PATH: dict[tuple[str, str], Any] = {
    ("POST", "/v1/predict"): PREDICT_V1, ("POST", "/v2/predict"): PREDICT, ("GET", "/v2/models"): MODEL_LIST,
    ("GET", "/v2/models/{}"): METADATA, ("GET", "/v2/models/{}/versions/{}"): METADATA,
    ("GET", "/v2/models/{}/ready"): {"ready": True}, ("GET", "/v2/models/{}/versions/{}/ready"): {"ready": True},
    ("POST", "/v2/models/{}/infer"): INFER, ("POST", "/v2/models/{}/versions/{}/infer"): INFER, ("GET", "/v2"): SERVER,
    ("GET", "/v2/health/live"): {"live": True}, ("GET", "/v2/health/ready"): {"ready": True},
    ("GET", "/healthz"): {"status": "ok"}, ("GET", "/openapi.json"): {"openapi": "3.1.0"},
    ("POST", "/v1/chat/completions"): CHAT, ("POST", "/v1/completions"): COMPLETION, ("GET", "/v1/models"): TEXT_MODELS,
    ("GET", "/v1/models/{}"): TEXT_MODEL, ("POST", "/v2/jobs"): job(), ("GET", "/v2/jobs"): JOB_LIST,
    ("GET", "/v2/jobs/{}"): job(), ("POST", "/v2/jobs/{}/cancel"): job("canceled"),
    ("GET", "/v2/jobs/{}/deliveries"): DELIVERIES, ("POST", "/v2/jobs/{}/deliveries/{}/redeliver"): REDELIVERY,
}

_FIXED = {"v1", "v2", "models", "versions", "ready", "infer", "health", "live", "chat", "completions", "jobs",
          "cancel", "deliveries", "redeliver", "healthz", "openapi.json", "predict"}


def op_of(path: str) -> str:
    """op_of turns a request path into its template: every segment that is not a fixed word becomes {}."""
    return "/".join(p if p in _FIXED or p == "" else "{}" for p in path.split("/"))
