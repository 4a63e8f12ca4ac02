"""Raw responses, deprecation notices and the request each method sends."""

from __future__ import annotations

import asyncio
import warnings

import httpx
import pytest

import modelgate
from modelgate import AsyncModelgate, Modelgate

from .bodies import ANSWERS_BY_PATH as ANSWERS, op_of as _op
from .conftest import AsyncScript, Script, ok

ROWS = [{"a": 1.0}]
V1 = {"predictions": ["setosa"], "model_version": "1", "request_id": "r"}
DEPRECATED = {"deprecation": "@1688169600", "sunset": "Sun, 30 Jun 2030 23:59:59 GMT",
              "link": '<https://docs.example/v1>; rel="deprecation"'}


def test_raw_response_exposes_headers(client: Modelgate, script: Script) -> None:
    script.add(ok({"models": []}, {"x-model-version": "3", "x-cache": "HIT"}))
    raw = client.with_raw_response.models.list()
    assert isinstance(raw, modelgate.APIResponse)
    assert (raw.status_code, raw.model_version, raw.cache, raw.request_id) == (200, "3", "HIT", "req-ok")
    assert raw.parse() == modelgate.types.ModelList(models=()) and raw.retries == 0


def test_raw_response_async(aclient: AsyncModelgate, ascript: AsyncScript) -> None:
    async def run() -> modelgate.APIResponse[object]:
        ascript.add(ok({"models": []}, {"x-cache": "MISS"}))
        return await aclient.with_raw_response.models.list()  # type: ignore[no-any-return]

    assert asyncio.run(run()).cache == "MISS"


def test_deprecation_warns_once_per_route(client: Modelgate, script: Script) -> None:
    script.add(*[ok(V1, DEPRECATED) for _ in range(3)])
    with pytest.warns(modelgate.ModelgateDeprecationWarning, match=r"POST /v1/predict is deprecated.*Sunset") as w:
        client.predict_v1(inputs=ROWS)
        client.predict_v1(inputs=ROWS)
        raw = client.with_raw_response.predict_v1(inputs=ROWS)
    assert len(w) == 1 and issubclass(w[0].category, DeprecationWarning)
    assert raw.deprecation == "@1688169600" and raw.sunset.startswith("Sun")


def test_deprecation_opt_out(script: Script) -> None:
    script.add(ok(V1, DEPRECATED))
    c = Modelgate(api_key="k", base_url="http://gw.test", warn_deprecations=False,
                  http_client=httpx.Client(transport=httpx.MockTransport(script)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c.predict_v1(inputs=ROWS)


def test_async_deprecation_warns(aclient: AsyncModelgate, ascript: AsyncScript) -> None:
    ascript.add(ok(V1, {"deprecation": "@1"}))
    with pytest.warns(modelgate.ModelgateDeprecationWarning):
        asyncio.run(aclient.predict_v1(inputs=ROWS))


def test_requests_of_every_method(client: Modelgate, script: Script) -> None:
    script.handler = lambda req: ok(ANSWERS[(req.method, _op(req.url.path))])
    client.predict(model="iris", inputs=ROWS, version="2", model_version="3", cache_control="no-cache",
                   extra_headers={"x-trace": "t"})
    client.predict_v1(inputs=ROWS, version="1")
    client.models.list()
    client.models.metadata("iris")
    client.models.metadata("iris", version="stable")
    assert client.models.ready("iris", version="1") is True
    client.models.infer("iris", inputs=[{"name": "input", "shape": [1, 4], "datatype": "FP32",
                                         "data": [1, 2, 3, 4]}], id="r1")
    client.models.infer("iris", version="2", inputs=[])
    client.server.metadata()
    assert client.server.live() and client.server.ready()
    client.completions.create(model="scribe:stable", prompt="And", max_tokens=4)
    client.text_models.list()
    client.text_models.retrieve("scribe:stable")
    got = [(r.method, r.url.path) for r in script.requests]
    assert got == [
        ("POST", "/v2/predict"), ("POST", "/v1/predict"), ("GET", "/v2/models"), ("GET", "/v2/models/iris"),
        ("GET", "/v2/models/iris/versions/stable"), ("GET", "/v2/models/iris/versions/1/ready"),
        ("POST", "/v2/models/iris/infer"), ("POST", "/v2/models/iris/versions/2/infer"), ("GET", "/v2"),
        ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"), ("POST", "/v1/completions"),
        ("GET", "/v1/models"), ("GET", "/v1/models/scribe:stable")]
    first = script.requests[0]
    assert first.headers["x-model-version"] == "3" and first.headers["cache-control"] == "no-cache"
    assert first.headers["x-trace"] == "t" and first.headers["user-agent"].startswith("modelgate-python/")
    assert script.body(0) == {"model": "iris", "version": "2", "inputs": ROWS}
    assert script.body(1) == {"inputs": ROWS, "model_version": "1"}
    assert script.body(6)["id"] == "r1"
    assert script.body(11) == {"model": "scribe:stable", "prompt": "And", "max_tokens": 4}
