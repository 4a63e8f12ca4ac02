"""Problem answers become typed errors carrying status, body and request id."""

from __future__ import annotations

import httpx
import pytest

import modelgate
from modelgate import Modelgate

from .conftest import Script, ok, problem

ROWS = [{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}]


@pytest.mark.parametrize(("status", "kind", "want"), [
    (400, "malformed-json", modelgate.MalformedJSONError),
    (400, "validation-failed", modelgate.ValidationError),
    (400, "wrong-model-kind", modelgate.WrongModelKindError),
    (400, "context-length-exceeded", modelgate.ContextLengthExceededError),
    (401, "unauthorized", modelgate.AuthenticationError),
    (403, "forbidden", modelgate.PermissionDeniedError),
    (404, "unknown-model", modelgate.UnknownModelError),
    (404, "unknown-model-version", modelgate.UnknownModelVersionError),
    (404, "not-found", modelgate.NotFoundError),
    (405, "method-not-allowed", modelgate.MethodNotAllowedError),
    (410, "route-sunset", modelgate.GoneError),
    (413, "body-too-large", modelgate.PayloadTooLargeError),
    (413, "too-many-rows", modelgate.TooManyRowsError),
    (415, "unsupported-media-type", modelgate.UnsupportedMediaTypeError),
    (409, "job-finished", modelgate.JobFinishedError),
    (431, "headers-too-large", modelgate.HeadersTooLargeError),
    (422, "idempotency-key-reused", modelgate.IdempotencyKeyReusedError),
    (429, "quota-exceeded", modelgate.RateLimitError),
    (429, "upstream-rate-limited", modelgate.UpstreamRateLimitedError),
    (500, "internal-error", modelgate.InternalServerError),
    (502, "upstream-failed", modelgate.UpstreamError),
    (503, "service-unavailable", modelgate.ServiceUnavailableError),
    (504, "upstream-timeout", modelgate.UpstreamTimeoutError),
])
def test_problem_type_maps_to_its_class(client: Modelgate, script: Script, status: int, kind: str,
                                        want: type[modelgate.APIStatusError]) -> None:
    script.add(*[problem(status, kind, {"x-should-retry": "false"})])
    with pytest.raises(want) as e:
        client.predict(model="iris", inputs=ROWS)
    assert e.value.status_code == status
    assert e.value.problem["type"].endswith(kind)
    assert e.value.request_id == "req-" + kind
    assert type(e.value) is want


def test_every_documented_problem_type_has_a_class() -> None:
    for kind in ["malformed-json", "unsupported-media-type", "body-too-large", "validation-failed", "too-many-rows",
                 "unknown-model", "unknown-model-version", "not-found", "method-not-allowed", "unauthorized",
                 "forbidden", "quota-exceeded", "route-sunset", "service-unavailable", "upstream-timeout",
                 "internal-error", "wrong-model-kind", "context-length-exceeded", "upstream-failed",
                 "upstream-rate-limited", "job-finished", "idempotency-key-reused", "headers-too-large"]:
        assert "https://modelgate.dev/problems/" + kind in modelgate.PROBLEM_TYPES


def test_validation_error_lists_violations(client: Modelgate, script: Script) -> None:
    script.add(problem(400, "validation-failed", detail="2 violations",
                       errors=[{"pointer": "/inputs/0/x", "detail": "must be a number"},
                               {"pointer": "/model", "detail": "required"}]))
    with pytest.raises(modelgate.ValidationError) as e:
        client.predict(model="iris", inputs=ROWS)
    assert e.value.violations == [modelgate.Violation("/inputs/0/x", "must be a number"),
                                  modelgate.Violation("/model", "required")]
    assert "2 violations" in str(e.value) and "req-validation-failed" in str(e.value)


def test_unknown_type_falls_back_on_status(client: Modelgate, script: Script) -> None:
    script.add(problem(409, "job-in-progress", {"x-should-retry": "false"}),
               problem(422, "idempotency-key-reused"),
               httpx.Response(418, text="teapot"))
    with pytest.raises(modelgate.ConflictError):
        client.jobs.get("j1")
    with pytest.raises(modelgate.UnprocessableEntityError):
        client.jobs.get("j1")
    with pytest.raises(modelgate.APIStatusError) as e:
        client.jobs.get("j1")
    assert e.value.status_code == 418 and e.value.problem == {}


def test_rate_limit_error_carries_retry_after(client: Modelgate, script: Script) -> None:
    client = client.with_options(max_retries=0)
    script.add(problem(429, "quota-exceeded", {"retry-after": "7", "retry-after-ms": "6500"}))
    with pytest.raises(modelgate.RateLimitError) as e:
        client.predict(model="iris", inputs=ROWS)
    assert e.value.retry_after == 6.5


def test_openai_style_problem_keeps_error_object(client: Modelgate, script: Script) -> None:
    script.add(problem(404, "unknown-model", error={"message": "no model", "type": "invalid_request_error",
                                                    "param": None, "code": "model_not_found"}))
    with pytest.raises(modelgate.UnknownModelError) as e:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "hi"}])
    assert e.value.problem["error"]["code"] == "model_not_found"


def test_non_json_error_body(client: Modelgate, script: Script) -> None:
    script.add(httpx.Response(401, text="no"))
    with pytest.raises(modelgate.AuthenticationError) as e:
        client.models.list()
    assert e.value.problem == {} and e.value.request_id is None


def test_success_needs_no_error(client: Modelgate, script: Script) -> None:
    script.add(ok({"models": []}))
    assert client.models.list() == modelgate.types.ModelList(models=())
