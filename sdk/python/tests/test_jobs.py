"""Jobs: submit, get, wait with Retry-After, pages, cancel and deliveries, sync and async."""

from __future__ import annotations

import asyncio

import pytest

import modelgate
from modelgate import AsyncModelgate, Modelgate

from .bodies import DELIVERIES, PREDICT, REDELIVERY, job
from .conftest import AsyncScript, Script, ok, problem

ROWS = [{"a": 1.0}]


def test_submit_sends_the_job_body(client: Modelgate, script: Script) -> None:
    script.add(ok(job("queued"), {"location": "/v2/jobs/job_1"}, status=202))
    raw = client.with_raw_response.jobs.submit(
        model="iris", inputs=ROWS, version="stable", return_probabilities=True,
        webhook="https://hooks.example/x", webhook_events_filter=["completed"], metadata={"order": "42"}, wait=5)
    assert raw.status_code == 202 and raw.headers["location"] == "/v2/jobs/job_1"
    assert raw.parse().status == "queued"
    req = script.requests[0]
    assert (req.method, req.url.path) == ("POST", "/v2/jobs")
    assert req.headers["prefer"] == "wait=5" and req.headers["idempotency-key"].startswith("mg-")
    assert script.body() == {"model": "iris", "version": "stable", "inputs": ROWS,
                             "webhook": "https://hooks.example/x", "webhook_events_filter": ["completed"],
                             "metadata": {"order": "42"}, "options": {"return_probabilities": True}}


def test_submit_chat_job(client: Modelgate, script: Script) -> None:
    script.add(ok(job("queued"), status=202))
    client.jobs.submit(model="scribe", messages=[{"role": "user", "content": "hi"}])
    assert script.body() == {"model": "scribe", "messages": [{"role": "user", "content": "hi"}]}
    with pytest.raises(ValueError):
        client.jobs.submit(model="iris")


def test_wait_polls_with_retry_after(client: Modelgate, script: Script, sleeps: list[float]) -> None:
    script.add(ok(job("queued"), {"retry-after": "2"}), ok(job("running"), {"retry-after": "1"}),
               ok(job("running")), ok(job("succeeded", result=PREDICT)))
    done = client.jobs.wait("job_1", poll_interval=0.25)
    assert done.status == "succeeded" and done.done and done.result is not None
    assert done.result.predictions[0].label == "setosa"
    assert sleeps == [2.0, 1.0, 0.25]
    assert all(r.url.path == "/v2/jobs/job_1" for r in script.requests)


def test_wait_times_out(client: Modelgate, script: Script) -> None:
    script.add(ok(job("running")))
    with pytest.raises(modelgate.WaitTimeoutError) as e:
        client.jobs.wait("job_1", timeout=0)
    assert e.value.job.status == "running"


def test_failed_job_is_returned_with_its_problem(client: Modelgate, script: Script) -> None:
    script.add(ok(job("failed", problem={"type": "https://modelgate.dev/problems/internal-error", "status": 500})))
    problem_ = client.jobs.wait("job_1").problem
    assert problem_ is not None and problem_["status"] == 500


def test_iter_follows_cursors(client: Modelgate, script: Script) -> None:
    script.add(ok({"object": "list", "data": [job("succeeded", "j1"), job("failed", "j2")], "next_cursor": "c2"}),
               ok({"object": "list", "data": [job("succeeded", "j3")], "next_cursor": None}))
    ids = [j.id for j in client.jobs.iter(status="succeeded", limit=2)]
    assert ids == ["j1", "j2", "j3"]
    assert dict(script.requests[0].url.params) == {"status": "succeeded", "limit": "2"}
    assert dict(script.requests[1].url.params) == {"status": "succeeded", "limit": "2", "cursor": "c2"}


def test_cancel_deliveries_redeliver(client: Modelgate, script: Script) -> None:
    script.add(ok(job("canceled")), ok(DELIVERIES), ok(REDELIVERY, status=202))
    assert client.jobs.cancel("job_1").status == "canceled"
    d = client.jobs.deliveries("job_1").data[0]
    assert (d.id, d.outcome, d.status, d.attempt, d.error) == ("d1", "succeeded", 204, 1, None)
    assert client.jobs.redeliver("job_1", "d1").status == "queued"
    assert [(r.method, r.url.path) for r in script.requests] == [
        ("POST", "/v2/jobs/job_1/cancel"), ("GET", "/v2/jobs/job_1/deliveries"),
        ("POST", "/v2/jobs/job_1/deliveries/d1/redeliver")]


def test_job_ids_are_path_escaped(client: Modelgate, script: Script) -> None:
    script.add(problem(404, "not-found"))
    with pytest.raises(modelgate.NotFoundError):
        client.jobs.get("../v2/models")
    assert script.requests[0].url.raw_path == b"/v2/jobs/..%2Fv2%2Fmodels"


def test_async_jobs(aclient: AsyncModelgate, ascript: AsyncScript, sleeps: list[float]) -> None:
    async def run() -> None:
        ascript.add(ok(job("queued"), status=202), ok(job("running"), {"retry-after-ms": "500"}),
                    ok(job("succeeded")),
                    ok({"object": "list", "data": [job("succeeded", "j1")], "next_cursor": "c"}),
                    ok({"object": "list", "data": [job("succeeded", "j2")], "next_cursor": None}),
                    ok(job("canceled")))
        j = await aclient.jobs.submit(model="iris", inputs=ROWS)
        assert (await aclient.jobs.wait(j.id)).status == "succeeded"
        assert [x.id async for x in aclient.jobs.iter()] == ["j1", "j2"]
        assert (await aclient.jobs.cancel("job_1")).status == "canceled"
        await aclient.close()

    asyncio.run(run())
    assert sleeps == [0.5]
