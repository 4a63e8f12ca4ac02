"""Request descriptions shared by the sync and async clients: one function per operation."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence, Union
from urllib.parse import quote

from ._base import Timeout, clean

if sys.version_info >= (3, 11):
    from typing import TypedDict
else:  # pragma: no cover
    from typing_extensions import TypedDict


class RequestOptions(TypedDict, total=False):
    """RequestOptions are the per-call settings every method accepts as keywords."""

    extra_headers: Mapping[str, str]
    timeout: Timeout
    max_retries: int
    # idempotency_key replaces the key generated for this call (non-GET only).
    idempotency_key: str


@dataclass
class Call:
    """Call is one operation, ready to send: route is the path template, for notices."""

    method: str
    path: str
    route: str
    json: Optional[Any] = None
    params: Optional[dict[str, Any]] = None
    headers: dict[str, str] = field(default_factory=dict)
    model_version: Optional[str] = None


def seg(s: str) -> str:
    # ":" and "@" are legal in a path segment (RFC 3986 pchar) and model ids use ":".
    return quote(s, safe=":@")


def predict(model: str, inputs: Sequence[Mapping[str, float]], version: Optional[str],
            return_probabilities: Optional[bool], model_version: Optional[str],
            cache_control: Optional[str], extra_body: Optional[Mapping[str, Any]]) -> Call:
    body = clean({"model": model, "version": version, "inputs": list(inputs)})
    if return_probabilities is not None:
        body["options"] = {"return_probabilities": return_probabilities}
    body.update(extra_body or {})
    return _cached(Call("POST", "/v2/predict", "/v2/predict", json=body, model_version=model_version), cache_control)


def predict_v1(inputs: Sequence[Mapping[str, float]], version: Optional[str], model_version: Optional[str],
               cache_control: Optional[str]) -> Call:
    body = clean({"inputs": list(inputs), "model_version": version})
    return _cached(Call("POST", "/v1/predict", "/v1/predict", json=body, model_version=model_version), cache_control)


def list_models() -> Call:
    return Call("GET", "/v2/models", "/v2/models")


def metadata(model: str, version: Optional[str]) -> Call:
    if version is None:
        return Call("GET", f"/v2/models/{seg(model)}", "/v2/models/{model}")
    return Call("GET", f"/v2/models/{seg(model)}/versions/{seg(version)}", "/v2/models/{model}/versions/{version}")


def ready(model: str, version: Optional[str]) -> Call:
    c = metadata(model, version)
    return Call("GET", c.path + "/ready", c.route + "/ready")


def infer(model: str, inputs: Sequence[Mapping[str, Any]], version: Optional[str], id: Optional[str],
          parameters: Optional[Mapping[str, Any]], outputs: Optional[Sequence[Mapping[str, Any]]],
          cache_control: Optional[str]) -> Call:
    body = clean({"id": id, "parameters": parameters, "inputs": list(inputs),
                  "outputs": list(outputs) if outputs is not None else None})
    if version is None:
        c = Call("POST", f"/v2/models/{seg(model)}/infer", "/v2/models/{model}/infer", json=body)
    else:
        c = Call("POST", f"/v2/models/{seg(model)}/versions/{seg(version)}/infer",
                 "/v2/models/{model}/versions/{version}/infer", json=body)
    return _cached(c, cache_control)


def server(path: str) -> Call:
    return Call("GET", path, path)


StopParam = Union[str, Sequence[str], None]


def sampling(max_tokens: Optional[int], temperature: Optional[float], top_p: Optional[float],
             seed: Optional[int], stop: StopParam, stream: bool, include_usage: Optional[bool]) -> dict[str, Any]:
    body = clean({"max_tokens": max_tokens, "temperature": temperature, "top_p": top_p, "seed": seed,
                  "stop": stop if isinstance(stop, (str, type(None))) else list(stop)})
    if stream:
        body["stream"] = True
        if include_usage is not None:
            body["stream_options"] = {"include_usage": include_usage}
    return body


def chat(model: str, messages: Iterable[Mapping[str, Any]], body: dict[str, Any],
         max_completion_tokens: Optional[int], model_version: Optional[str],
         extra_body: Optional[Mapping[str, Any]]) -> Call:
    b = {"model": model, "messages": [dict(m) for m in messages], **body}
    if max_completion_tokens is not None:
        b["max_completion_tokens"] = max_completion_tokens
    b.update(extra_body or {})
    c = Call("POST", "/v1/chat/completions", "/v1/chat/completions", json=b, model_version=model_version)
    if b.get("stream"):
        c.headers["accept"] = "text/event-stream"
    return c


def completion(model: str, prompt: Union[str, Sequence[str]], body: dict[str, Any], model_version: Optional[str],
               extra_body: Optional[Mapping[str, Any]]) -> Call:
    b = {"model": model, "prompt": prompt if isinstance(prompt, str) else list(prompt), **body}
    b.update(extra_body or {})
    c = Call("POST", "/v1/completions", "/v1/completions", json=b, model_version=model_version)
    if b.get("stream"):
        c.headers["accept"] = "text/event-stream"
    return c


def text_models() -> Call:
    return Call("GET", "/v1/models", "/v1/models")


def text_model(model: str, model_version: Optional[str]) -> Call:
    return Call("GET", f"/v1/models/{seg(model)}", "/v1/models/{model}", model_version=model_version)


def submit_job(model: str, inputs: Optional[Sequence[Mapping[str, float]]],
               messages: Optional[Iterable[Mapping[str, Any]]], version: Optional[str],
               return_probabilities: Optional[bool], webhook: Optional[str],
               webhook_events_filter: Optional[Sequence[str]], metadata: Optional[Mapping[str, str]],
               wait: Optional[int], model_version: Optional[str], extra_body: Optional[Mapping[str, Any]]) -> Call:
    if (inputs is None) == (messages is None):
        raise ValueError("submit needs exactly one of inputs= (a prediction) or messages= (a chat completion)")
    body = clean({
        "model": model, "version": version,
        "inputs": list(inputs) if inputs is not None else None,
        "messages": [dict(m) for m in messages] if messages is not None else None,
        "webhook": webhook,
        "webhook_events_filter": list(webhook_events_filter) if webhook_events_filter is not None else None,
        "metadata": dict(metadata) if metadata is not None else None,
    })
    if return_probabilities is not None:
        body["options"] = {"return_probabilities": return_probabilities}
    body.update(extra_body or {})
    c = Call("POST", "/v2/jobs", "/v2/jobs", json=body, model_version=model_version)
    if wait is not None:
        c.headers["prefer"] = f"wait={int(wait)}"
    return c


def get_job(job_id: str) -> Call:
    return Call("GET", f"/v2/jobs/{seg(job_id)}", "/v2/jobs/{id}")


def list_jobs(status: Optional[str], limit: Optional[int], cursor: Optional[str]) -> Call:
    return Call("GET", "/v2/jobs", "/v2/jobs", params=clean({"status": status, "limit": limit, "cursor": cursor}))


def cancel_job(job_id: str) -> Call:
    return Call("POST", f"/v2/jobs/{seg(job_id)}/cancel", "/v2/jobs/{id}/cancel")


def deliveries(job_id: str) -> Call:
    return Call("GET", f"/v2/jobs/{seg(job_id)}/deliveries", "/v2/jobs/{id}/deliveries")


def redeliver(job_id: str, delivery_id: str) -> Call:
    return Call("POST", f"/v2/jobs/{seg(job_id)}/deliveries/{seg(delivery_id)}/redeliver",
                "/v2/jobs/{id}/deliveries/{delivery_id}/redeliver")


def _cached(c: Call, cache_control: Optional[str]) -> Call:
    if cache_control is not None:
        c.headers["cache-control"] = cache_control
    return c
