"""The SDK against the whole stack through real Envoy (`make test-sdk-live`).

Skipped unless MODELGATE_SDK_LIVE=1. The fixture starts `out/stackrun` as the
client tests do, or uses a stack already running when MODELGATE_SDK_RUN_DIR
names its run directory (MODELGATE_SDK_OUT names where its binaries are).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

import modelgate

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(os.environ.get("MODELGATE_SDK_OUT", ROOT / "out"))
GATEWAY = "http://127.0.0.1:8080"
ROW = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
MSG = [{"role": "user", "content": "In the beginning"}]

pytestmark = pytest.mark.skipif(os.environ.get("MODELGATE_SDK_LIVE") != "1",
                                reason="live tests run with make test-sdk-live")


@pytest.fixture(scope="module")
def run_dir() -> Iterator[Path]:
    existing = os.environ.get("MODELGATE_SDK_RUN_DIR")
    if existing:
        yield Path(existing)
        return
    for name in ("stackrun", "extproc", "inference", "ratelimit"):
        if not (OUT / name).exists():
            pytest.fail(f"{OUT / name} is missing: run `make build deps`")
    rd = Path(tempfile.mkdtemp(prefix="mg-sdk-"))
    log = open(rd / "stackrun.log", "w")
    proc = subprocess.Popen([str(OUT / "stackrun"), "--run-dir", str(rd), "--out", str(OUT), "--prometheus", ""],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while "modelgate is up" not in (rd / "stackrun.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("the stack did not start:\n" + (rd / "stackrun.log").read_text()[-3000:])
        time.sleep(0.2)
    yield rd
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


def issue_key(run_dir: Path, client: str, tier: str) -> str:
    out = subprocess.run([str(OUT / "extproc"), "keys", "create", "--file", str(run_dir / "keys.yaml"),
                          "--client", client, "--tier", tier, "--models", "*"],
                         capture_output=True, text=True, check=True)
    key = next(w for w in out.stdout.split() if w.startswith("mg_"))
    deadline = time.time() + 10
    while True:  # the plugin picks new keys up from the file within a second or two
        req = urllib.request.Request(GATEWAY + "/v2/models", headers={"x-api-key": key})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    return key
        except OSError:
            pass
        if time.time() > deadline:
            pytest.fail("the new key was not accepted")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def client(run_dir: Path) -> Iterator[modelgate.Modelgate]:
    with modelgate.Modelgate(api_key=issue_key(run_dir, "sdk-live", "internal"), base_url=GATEWAY) as c:
        yield c


def test_predict_carries_version_and_request_id(client: modelgate.Modelgate) -> None:
    raw = client.with_raw_response.predict(model="iris", inputs=[ROW], return_probabilities=True,
                                           cache_control="no-cache")
    out = raw.parse()
    assert isinstance(out, modelgate.types.PredictResponse)
    assert raw.status_code == 200 and raw.request_id and raw.model_version == out.model_version
    assert out.predictions[0].label == "setosa" and out.usage.rows == 1
    assert abs(sum(out.predictions[0].probabilities.values()) - 1) < 1e-6


def test_problems_are_typed(client: modelgate.Modelgate) -> None:
    with pytest.raises(modelgate.ValidationError) as ve:
        client.predict(model="iris", inputs=[{"sepal_length": 5.1}])
    assert {v.pointer for v in ve.value.violations} >= {"/inputs/0/petal_width"} and ve.value.request_id
    with pytest.raises(modelgate.UnknownModelError):
        client.predict(model="no-such-model", inputs=[ROW])
    with modelgate.Modelgate(api_key="mg_not_a_key", base_url=GATEWAY) as bad:
        with pytest.raises(modelgate.AuthenticationError):
            bad.models.list()


def test_429_is_honoured(run_dir: Path) -> None:
    with modelgate.Modelgate(api_key=issue_key(run_dir, "sdk-live-free", "free"), base_url=GATEWAY,
                             max_retries=0) as c:
        err = None
        for _ in range(20):  # the free tier allows 5 requests a second
            try:
                c.predict(model="iris", inputs=[ROW], cache_control="no-cache")
            except modelgate.RateLimitError as e:
                err = e
                break
        assert err is not None and err.retry_after is not None and err.retry_after <= 60
        started = time.monotonic()
        raw = c.with_options(max_retries=3).with_raw_response.predict(model="iris", inputs=[ROW],
                                                                      cache_control="no-cache")
        assert raw.status_code == 200 and raw.retries >= 1
        assert time.monotonic() - started >= 0.5


def test_stream_to_done_and_broken_off(client: modelgate.Modelgate) -> None:
    with client.chat.completions.create(model="scribe", messages=MSG, max_tokens=8, stream=True,
                                        include_usage=True) as s:
        chunks = list(s)
    usage = chunks[-1].usage
    assert chunks[-1].choices == () and usage is not None and usage.completion_tokens >= 1
    assert "".join(c.text for c in chunks) and chunks[-2].choices[0].finish_reason in ("stop", "length")
    s2 = client.chat.completions.create(model="scribe", messages=MSG, max_tokens=64, stream=True)
    for _ in s2:
        break
    assert s2.response.is_closed
    assert client.models.list().models  # the client still works after breaking off


def test_deprecated_route_warns(run_dir: Path) -> None:
    with modelgate.Modelgate(api_key=issue_key(run_dir, "sdk-live-dep", "internal"), base_url=GATEWAY) as c:
        with pytest.warns(modelgate.ModelgateDeprecationWarning, match="Sunset"):
            c.predict_v1(inputs=[ROW])


def test_async_client(client: modelgate.Modelgate) -> None:
    async def run() -> str:
        async with modelgate.AsyncModelgate(api_key=client.options.api_key, base_url=GATEWAY) as c:
            await c.predict(model="iris", inputs=[ROW])
            text = ""
            async with await c.chat.completions.create(model="scribe", messages=MSG, max_tokens=8, stream=True) as s:
                async for ch in s:
                    text += ch.text
            return text

    assert asyncio.run(run())


def test_job_round_trip(client: modelgate.Modelgate) -> None:
    try:
        job = client.jobs.submit(model="iris", inputs=[ROW, ROW])
    except (modelgate.NotFoundError, modelgate.MethodNotAllowedError):
        pytest.skip("this stack does not serve /v2/jobs yet (issue 10)")
    done = client.jobs.wait(job.id, timeout=60, poll_interval=0.2)
    assert done.status == "succeeded" and done.result is not None and len(done.result.predictions) == 2
    assert any(j.id == job.id for j in client.jobs.iter())


@pytest.mark.parametrize("sdk", ["js", "go"])
def test_other_sdks_against_the_same_stack(run_dir: Path, sdk: str) -> None:
    """The TypeScript and Go live suites: a prediction with x-model-version, typed problems, a 429 honoured,
    a stream to [DONE] and one broken off, a job waited for. Each gets its own keys, so quotas don't mix."""
    env = {**os.environ, "MODELGATE_SDK_LIVE": "1", "MODELGATE_BASE_URL": GATEWAY,
           "MODELGATE_API_KEY": issue_key(run_dir, "sdk-live-" + sdk, "internal"),
           "MODELGATE_SDK_FREE_KEY": issue_key(run_dir, "sdk-live-free-" + sdk, "free")}
    env.pop("MODELGATE_SDK_JOBS_URL", None)
    if sdk == "js":
        js = ROOT / "sdk" / "js"
        subprocess.run(["npx", "tsc", "-p", "tsconfig.json"], cwd=js, check=True)
        cmd, cwd = ["node", "--test", "--test-reporter=tap", "build/test/live.test.js"], js
    else:
        cmd, cwd = ["go", "test", "-v", "-count=1", "-run", "^TestLive$", "./sdk/go/modelgate/"], ROOT
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    # Every case ran: none skipped (a missing key or stack would skip them).
    if sdk == "js":
        assert "# pass 5" in done.stdout and "# fail 0" in done.stdout and "# skipped 0" in done.stdout, done.stdout
    else:
        assert done.stdout.count("    --- PASS: TestLive/") == 5 and "--- SKIP" not in done.stdout, done.stdout
