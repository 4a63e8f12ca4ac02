"""The whole stack through real Envoy, driven by real third-party clients.

Starts `out/stackrun` (the runner behind `make run`) in a temporary run
directory, issues an unlimited internal-tier key with the plugin's own CLI,
and points Triton's client and schemathesis at Envoy.
"""

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import ROOT, parity

GATEWAY = "127.0.0.1:8080"


@pytest.fixture(scope="module")
def gateway():
    for name in ("stackrun", "extproc", "inference", "ratelimit"):
        if not (ROOT / "out" / name).exists():
            pytest.fail(f"out/{name} is missing: run `make build deps` (make test does)")
    run_dir = Path(tempfile.mkdtemp(prefix="mg-clients-"))
    log = open(run_dir / "stackrun.log", "w")
    proc = subprocess.Popen([str(ROOT / "out" / "stackrun"), "--run-dir", str(run_dir), "--out", str(ROOT / "out")],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while "modelgate is up" not in (run_dir / "stackrun.log").read_text():
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail("the stack did not start:\n" + (run_dir / "stackrun.log").read_text()[-3000:])
        time.sleep(0.2)
    out = subprocess.run([str(ROOT / "out" / "extproc"), "keys", "create", "--file", str(run_dir / "keys.yaml"),
                          "--client", "client-tests", "--tier", "internal", "--models", "*"],
                         capture_output=True, text=True, check=True)
    key = next(w for w in out.stdout.split() if w.startswith("mg_"))
    # The plugin picks the new key up from the file within a second or two.
    deadline = time.time() + 10
    while True:
        req = urllib.request.Request(f"http://{GATEWAY}/v2/models", headers={"x-api-key": key})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline:
            pytest.fail("the new key was not accepted")
        time.sleep(0.1)
    yield key
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    log.close()


@pytest.mark.parametrize("model,version", [("iris", "1"), ("iris", "2"), ("diabetes", "1")])
def test_triton_client_through_envoy(gateway, model, version):
    """Triton's client with its defaults (binary tensors, no content type)."""
    p = parity(model, version)
    x = np.array([r["x"] for r in p["rows"]], dtype=np.float64)
    inp = httpclient.InferInput("input", list(x.shape), "FP64")
    inp.set_data_from_numpy(x)
    client = httpclient.InferenceServerClient(url=GATEWAY)
    try:
        result = client.infer(model, [inp], model_version=version, headers={"x-api-key": gateway})
    finally:
        client.close()
    assert result.get_response()["model_version"] == version
    if "value" in p["outputs"]:
        np.testing.assert_allclose(result.as_numpy("value"), [r["value"] for r in p["rows"]], rtol=0, atol=1e-6)
    else:
        np.testing.assert_allclose(result.as_numpy("probabilities"), [r["proba"] for r in p["rows"]], rtol=0, atol=1e-6)
        assert [b.decode() for b in result.as_numpy("label")] == [r["label"] for r in p["rows"]]


def test_gateway_conforms_to_openapi(gateway):
    """The public API as Envoy serves it, including authentication checks."""
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", str(ROOT / "api" / "openapi.yaml"),
        "--url", f"http://{GATEWAY}",
        "--header", f"x-api-key: {gateway}",
        "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                    "response_schema_conformance,ignored_auth",
        # Positive data only: negative bodies are covered against inference
        # directly, and invalid header names make Envoy close the connection.
        "--mode", "positive",
        "--max-examples", "30", "--seed", "20261125", "--no-color",
        "--phases", "examples,coverage,fuzzing",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
