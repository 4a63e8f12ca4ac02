"""Response models: built from JSON, strict about what the schema requires, open to members added later."""

from __future__ import annotations

import dataclasses

import httpx
import pytest

import modelgate
from modelgate import Modelgate
from modelgate.types import ChatCompletionChunk, Job, ModelList, PredictResponse, PredictV1Response

from . import bodies
from .conftest import Script, ok


def test_keeps_members_it_does_not_know() -> None:
    p = PredictResponse.from_dict({**bodies.PREDICT, "served_by": "pod-7"})
    assert p.extra == {"served_by": "pod-7"} and p.raw["served_by"] == "pod-7"
    assert p.predictions[0].label == "setosa" and p.predictions[0].value is None
    assert p.usage.rows == 1 and p.latency_ms == 0.05


def test_missing_required_member_names_model_and_pointer() -> None:
    body = {**bodies.MODEL_LIST, "models": [{"name": "iris", "versions": [{"version": "1"}]}]}
    with pytest.raises(modelgate.ResponseValidationError) as e:
        ModelList.from_dict(body)
    assert (e.value.model, e.value.pointer) == ("ModelList", "/models/0/versions/0/served")
    assert "missing" in str(e.value) and e.value.body == body


@pytest.mark.parametrize(("body", "pointer"), [
    ({**bodies.PREDICT, "usage": {"rows": "1"}}, "/usage/rows"),
    ({**bodies.PREDICT, "usage": {"rows": True}}, "/usage/rows"),
    ({**bodies.PREDICT, "predictions": [{"probabilities": {"a": "x"}}]}, "/predictions/0/probabilities/a"),
    ({**bodies.PREDICT, "predictions": {}}, "/predictions"),
    ([], ""),
])
def test_wrong_types_are_refused(body: object, pointer: str) -> None:
    with pytest.raises(modelgate.ResponseValidationError) as e:
        PredictResponse.from_dict(body)
    assert e.value.pointer == pointer


def test_numbers_read_as_floats_and_v1_mixes_labels_and_values() -> None:
    p = PredictResponse.from_dict({**bodies.PREDICT, "predictions": [{"value": 151}], "latency_ms": 1})
    assert isinstance(p.predictions[0].value, float) and p.latency_ms == 1.0
    v1 = PredictV1Response.from_dict({**bodies.PREDICT_V1, "predictions": ["setosa", 2]})
    assert v1.predictions == ("setosa", 2.0)


def test_models_are_frozen() -> None:
    j = Job.from_dict(bodies.job())
    with pytest.raises(dataclasses.FrozenInstanceError):
        j.status = "running"  # type: ignore[misc]
    assert not j.done and j.started_at is None and j.metadata == {}


def test_job_result_and_problem() -> None:
    ok_job = Job.from_dict(bodies.job("succeeded", result=bodies.PREDICT, metadata={"order": "42"}))
    assert ok_job.done and ok_job.result is not None and ok_job.result.model == "iris"
    assert ok_job.metadata["order"] == "42"
    failed = Job.from_dict(bodies.job("failed", problem={"type": "about:blank", "status": 500}))
    assert failed.problem is not None and failed.problem["status"] == 500 and failed.result is None


def test_chunk_text_and_usage() -> None:
    c = ChatCompletionChunk.from_dict(bodies.chunk("In", None))
    assert c.text == "In" and c.usage is None and c.choices[0].finish_reason is None
    u = ChatCompletionChunk.from_dict({**bodies.chunk(), "choices": [], "usage": bodies.USAGE})
    assert u.text == "" and u.usage is not None and u.usage.total_tokens == 5


def test_a_malformed_answer_carries_the_response(client: Modelgate, script: Script) -> None:
    script.add(ok({"model": "iris"}))
    with pytest.raises(modelgate.ResponseValidationError) as e:
        client.predict(model="iris", inputs=[{"a": 1.0}])
    assert e.value.response is not None and e.value.response.headers["x-request-id"] == "req-ok"
    assert e.value.request is not None and isinstance(e.value, modelgate.APIError)


def test_a_body_that_is_not_json(client: Modelgate, script: Script) -> None:
    script.add(httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}))
    with pytest.raises(modelgate.ResponseValidationError, match="not JSON"):
        client.models.list()
