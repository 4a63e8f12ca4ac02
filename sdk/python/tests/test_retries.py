"""Retries: which failures, how long between them, and one Idempotency-Key per call."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

import modelgate
from modelgate import Modelgate

from .bodies import MODEL_LIST, PREDICT, job
from .conftest import Script, ok, problem

ROWS = [{"a": 1.0}]
GOOD = PREDICT


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_retries_retryable_statuses(client: Modelgate, script: Script, sleeps: list[float], status: int) -> None:
    script.add(problem(status, "x"), ok(GOOD))
    assert client.predict(model="iris", inputs=ROWS).model == "iris"
    assert len(script.requests) == 2 and len(sleeps) == 1


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_does_not_retry_client_errors(client: Modelgate, script: Script, status: int) -> None:
    script.add(problem(status, "x"))
    with pytest.raises(modelgate.APIStatusError):
        client.predict(model="iris", inputs=ROWS)
    assert len(script.requests) == 1


def test_idempotency_key_is_generated_once_and_reused(client: Modelgate, script: Script) -> None:
    script.add(problem(503, "service-unavailable"), httpx.ConnectError("refused"), ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 3 and len(keys) == 1
    assert [r.headers.get("x-retry-count") for r in script.requests] == [None, "1", "2"]
    script.add(ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    assert script.requests[-1].headers["idempotency-key"] not in keys


def test_caller_idempotency_key_wins(client: Modelgate, script: Script) -> None:
    script.add(ok(job(), status=202))
    client.jobs.submit(model="iris", inputs=ROWS, idempotency_key="order-42")
    assert script.requests[0].headers["idempotency-key"] == "order-42"


def test_get_has_no_idempotency_key(client: Modelgate, script: Script) -> None:
    script.add(ok(MODEL_LIST))
    client.models.list()
    assert "idempotency-key" not in script.requests[0].headers
    assert script.requests[0].headers["x-api-key"] == "mg_test"


def test_gives_up_after_max_retries(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    script.add(*[problem(503, "service-unavailable") for _ in range(3)])
    with pytest.raises(modelgate.ServiceUnavailableError):
        client.predict(model="iris", inputs=ROWS)
    assert len(script.requests) == 3  # 1 + max_retries (2)
    assert len(sleeps) == 2


def test_per_call_max_retries(client: Modelgate, script: Script) -> None:
    script.add(problem(503, "service-unavailable"))
    with pytest.raises(modelgate.ServiceUnavailableError):
        client.predict(model="iris", inputs=ROWS, max_retries=0)
    assert len(script.requests) == 1


def test_backoff_is_exponential_with_jitter_and_bounded(client: Modelgate, script: Script,
                                                        sleeps: list[float]) -> None:
    client = client.with_options(max_retries=6)
    script.add(*[httpx.ConnectError("down") for _ in range(6)], ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    bases = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(sleeps) == 6
    for got, base in zip(sleeps, bases):
        assert base * 0.75 <= got <= base


def test_honours_retry_after_ms_then_retry_after(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    script.add(problem(429, "quota-exceeded", {"retry-after-ms": "1250", "retry-after": "2"}),
               problem(429, "quota-exceeded", {"retry-after": "3"}), ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    assert sleeps == [1.25, 3.0]


def test_retry_after_http_date(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    script.add(problem(503, "service-unavailable", {"retry-after": when}), ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    assert 8.0 <= sleeps[0] <= 10.0


def test_retry_after_beyond_cap_is_not_waited_for(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    script.add(problem(429, "quota-exceeded", {"retry-after": "3600"}))
    with pytest.raises(modelgate.RateLimitError) as e:
        client.predict(model="iris", inputs=ROWS)
    assert e.value.retry_after == 3600.0 and sleeps == [] and len(script.requests) == 1


def test_retry_cap_is_configurable(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    client = client.with_options(max_retry_delay=5000)
    script.add(problem(429, "quota-exceeded", {"retry-after": "3600"}), ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    assert sleeps == [3600.0]


def test_finished_job_conflict_is_not_retried(client: Modelgate, script: Script) -> None:
    script.add(problem(409, "job-finished"))
    with pytest.raises(modelgate.JobFinishedError):
        client.jobs.cancel("job_1")
    assert len(script.requests) == 1


def test_x_should_retry_false_wins(client: Modelgate, script: Script) -> None:
    script.add(problem(429, "quota-exceeded", {"x-should-retry": "false", "retry-after": "1"}))
    with pytest.raises(modelgate.RateLimitError):
        client.predict(model="iris", inputs=ROWS)
    assert len(script.requests) == 1


def test_x_should_retry_true_wins(client: Modelgate, script: Script) -> None:
    script.add(problem(400, "x", {"x-should-retry": "true"}), ok(GOOD))
    client.predict(model="iris", inputs=ROWS)
    assert len(script.requests) == 2


def test_connection_error_after_retries(client: Modelgate, script: Script) -> None:
    script.add(*[httpx.ConnectError("refused") for _ in range(3)])
    with pytest.raises(modelgate.APIConnectionError) as e:
        client.models.list()
    assert not isinstance(e.value, modelgate.APITimeoutError)


def test_timeout_error_after_retries(client: Modelgate, script: Script) -> None:
    script.add(*[httpx.ReadTimeout("slow") for _ in range(3)])
    with pytest.raises(modelgate.APITimeoutError):
        client.models.list()
    assert len(script.requests) == 3


def test_default_timeout_is_set(script: Script) -> None:
    seen: list[object] = []

    def capture(req: httpx.Request) -> httpx.Response:
        seen.append(req.extensions.get("timeout"))
        return ok(MODEL_LIST)

    c = Modelgate(api_key="k", base_url="http://gw.test", http_client=httpx.Client(transport=httpx.MockTransport(capture)))
    c.models.list()
    c.models.list(timeout=2.0)
    assert seen[0] == {"connect": 5.0, "read": 60.0, "write": 60.0, "pool": 60.0}
    assert seen[1] == {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELGATE_API_KEY", raising=False)
    with pytest.raises(ValueError):
        Modelgate()
    monkeypatch.setenv("MODELGATE_API_KEY", "mg_env")
    monkeypatch.setenv("MODELGATE_BASE_URL", "http://env.test/")
    c = Modelgate()
    assert c.options.api_key == "mg_env" and c.options.base_url == "http://env.test"
