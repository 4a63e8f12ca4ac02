"""The Open Inference Protocol endpoints, driven by Triton's own HTTP client."""

import numpy as np
import pytest
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from conftest import parity

VERSIONS = [("iris", "1"), ("iris", "2"), ("diabetes", "1")]


@pytest.fixture(scope="module")
def client(inference_url):
    c = httpclient.InferenceServerClient(url=inference_url)
    yield c
    c.close()


def test_server_health_and_metadata(client):
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.get_server_metadata()["name"] == "modelgate-inference"
    assert client.is_model_ready("iris", "1")
    meta = client.get_model_metadata("iris", "2")
    assert meta["name"] == "iris"
    assert meta["inputs"][0]["shape"] == [-1, 4]


@pytest.mark.parametrize("model,version", VERSIONS)
def test_infer_matches_scikit_learn(client, model, version):
    p = parity(model, version)
    x = np.array([r["x"] for r in p["rows"]], dtype=np.float64)
    inp = httpclient.InferInput("input", list(x.shape), "FP64")
    inp.set_data_from_numpy(x)
    result = client.infer(model, [inp], model_version=version, request_id="req-42")
    assert result.get_response()["id"] == "req-42"
    assert result.get_response()["model_version"] == version
    if "value" in p["outputs"]:
        got = result.as_numpy("value")
        want = np.array([r["value"] for r in p["rows"]])
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
        return
    probs = result.as_numpy("probabilities")
    want = np.array([r["proba"] for r in p["rows"]])
    np.testing.assert_allclose(probs, want, rtol=0, atol=1e-6)
    labels = [b.decode() for b in result.as_numpy("label")]
    assert labels == [r["label"] for r in p["rows"]]


def test_fp32_input_and_requested_output(client):
    x = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    out = httpclient.InferRequestedOutput("label")
    result = client.infer("iris", [inp], outputs=[out])
    assert [b.decode() for b in result.as_numpy("label")] == ["setosa", "virginica"]
    assert result.as_numpy("probabilities") is None


def test_errors_reach_the_client(client):
    x = np.zeros((1, 3), dtype=np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException) as e:
        client.infer("iris", [inp])
    assert "shape" in str(e.value)
    with pytest.raises(InferenceServerException) as e:
        client.infer("tulip", [inp])
    assert "unknown model" in str(e.value)
