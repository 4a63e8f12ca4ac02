"""The whole stack through real Envoy, driven by real third-party clients.

The `gateway` fixture (conftest.py) starts the stack and issues an
unlimited internal-tier key; Triton's client and schemathesis are pointed
at Envoy.
"""

import json
import os
import random
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from conftest import GATEWAY, ROOT, parity


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


def _fetch_document(key: str) -> bytes:
    req = urllib.request.Request(f"http://{GATEWAY}/openapi.json", headers={"x-api-key": key})
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200
        assert r.headers["content-type"] == "application/json"
        return r.read()


def _schemathesis(document: Path, key: str, seed: int, max_examples: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks",
               PYTHONPATH=str(Path(__file__).resolve().parent))
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", str(document),
        "--url", f"http://{GATEWAY}",
        "--header", f"x-api-key: {key}",
        "--checks", "all",
        "--max-examples", str(max_examples), "--seed", str(seed), "--no-color",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    # The summary in the log (pytest -s, or -rA): case counts and the verdict.
    lines = proc.stdout.strip().splitlines()
    print(f"schemathesis seed {seed}: " + " | ".join(
        line.strip("= ").strip() for line in lines if "generated," in line or line.startswith("====") and " in " in line))
    return proc


def test_gateway_serves_the_deployment_document(gateway):
    """A key that may use every model gets the checked-in document of every model."""
    assert _fetch_document(gateway) == (ROOT / "api" / "openapi.deployment.json").read_bytes()


def test_gateway_document_is_scoped_to_the_key(stack):
    doc = json.loads(_fetch_document(stack.key("client-tests-scoped", "internal", "diabetes")))
    paths = set(doc["paths"])
    assert "/v2/models/diabetes/versions/stable/infer" in paths
    assert not any("iris" in p for p in paths)
    assert "/v1/predict" not in paths, "the default model (iris) is out of this key's scope"


def test_gateway_conforms_to_openapi(gateway, tmp_path):
    """Every schemathesis check, through Envoy, against the document the gateway serves.

    One run at a fixed seed (reproducible), one at a random seed printed here
    so that a failure it finds can be replayed with --seed.
    """
    document = tmp_path / "openapi.json"
    document.write_bytes(_fetch_document(gateway))
    proc = _schemathesis(document, gateway, seed=20261203, max_examples=10)
    assert proc.returncode == 0, proc.stdout[-8000:] + proc.stderr[-2000:]
    seed = random.SystemRandom().randrange(1, 2**31)
    print(f"schemathesis random seed: {seed}")
    proc = _schemathesis(document, gateway, seed=seed, max_examples=5)
    assert proc.returncode == 0, f"random seed {seed}:\n" + proc.stdout[-8000:] + proc.stderr[-2000:]
