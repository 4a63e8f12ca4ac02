"""The whole stack through real Envoy, driven by real third-party clients.

The `gateway` fixture (conftest.py) starts the stack and issues an
unlimited internal-tier key; Triton's client and schemathesis are pointed
at Envoy.
"""

import subprocess
import sys

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
