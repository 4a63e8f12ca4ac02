"""The README's quick start runs as written, against a fake gateway."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelgate import sign_webhook

from . import bodies

README = Path(__file__).resolve().parents[1] / "README.md"


def gateway(req: httpx.Request) -> httpx.Response:
    path = req.url.path
    h = {"x-request-id": "req-readme", "x-model-version": "2", "x-cache": "MISS"}
    if path == "/v2/predict":
        body = json.loads(req.content)
        if any(not isinstance(v, (int, float)) for row in body["inputs"] for v in row.values()):
            return httpx.Response(400, headers={**h, "content-type": "application/problem+json"}, json={
                "type": "https://modelgate.dev/problems/validation-failed", "title": "Validation failed",
                "status": 400, "errors": [{"pointer": "/inputs/0/sepal_length", "detail": "must be a number"}]})
        return httpx.Response(200, headers=h, json={**bodies.PREDICT, "model_version": "2"})
    if path == "/v1/chat/completions":
        events = [bodies.chunk(), bodies.chunk("Light.", "stop"),
                  {**bodies.chunk(), "choices": [], "usage": bodies.USAGE}]
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=text.encode())
    job = bodies.job()
    if path == "/v2/jobs" and req.method == "POST":
        return httpx.Response(202, headers={"location": "/v2/jobs/job_1"}, json=job)
    if path == "/v2/jobs/job_1":
        return httpx.Response(200, json={**job, "status": "succeeded", "result": bodies.PREDICT})
    if path == "/v2/jobs":
        return httpx.Response(200, json={"object": "list", "data": [job], "next_cursor": None})
    return httpx.Response(404)


def test_readme_blocks_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real_client, real_async = httpx.Client, httpx.AsyncClient

    def client(**kw: Any) -> httpx.Client:
        return real_client(transport=httpx.MockTransport(gateway), **kw)

    def aclient(**kw: Any) -> httpx.AsyncClient:
        return real_async(transport=httpx.MockTransport(gateway), **kw)

    monkeypatch.setattr(httpx, "Client", client)
    monkeypatch.setattr(httpx, "AsyncClient", aclient)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 6
    ns: dict[str, Any] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), ns)
    secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    body = json.dumps({"type": "job.succeeded", "timestamp": "2026-12-03T10:00:02Z",
                       "data": bodies.job("succeeded", "job_9", result=bodies.PREDICT)}).encode()
    ts = int(time.time())
    ns["handle"](body, {"webhook-id": "m1", "webhook-timestamp": str(ts),
                        "webhook-signature": sign_webhook("m1", ts, body, secret)})
    out = capsys.readouterr().out
    for want in ["2 setosa", "Light.", "/inputs/0/sepal_length must be a number", "succeeded", "job_1",
                 "job.succeeded job_9 succeeded", "200 2 MISS req-readme"]:
        assert want in out
