"""Contract: every operation in api/openapi.yaml has a client method, and every method an operation."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
import yaml

import modelgate
from modelgate import HELPERS, OPERATIONS, AsyncModelgate, Modelgate

from . import bodies

SPEC = Path(__file__).resolve().parents[3] / "api" / "openapi.yaml"
METHODS = {"get", "post", "put", "patch", "delete"}

# PENDING are operations the SDK calls that api/openapi.yaml does not list
# yet: the jobs API (issue 10, being added beside this SDK) and the Open
# Inference Protocol server and readiness routes the inference service
# serves. Once documented they are checked like every other operation.
PENDING = {
    ("POST", "/v2/jobs"), ("GET", "/v2/jobs"), ("GET", "/v2/jobs/{}"), ("POST", "/v2/jobs/{}/cancel"),
    ("GET", "/v2/jobs/{}/deliveries"), ("POST", "/v2/jobs/{}/deliveries/{}/redeliver"),
    ("GET", "/v2"), ("GET", "/v2/health/live"), ("GET", "/v2/health/ready"),
    ("GET", "/v2/models/{}/ready"), ("GET", "/v2/models/{}/versions/{}/ready"),
}

ROW = [{"a": 1.0}]
# CALLS invokes each operation once so the test can see what is sent.
CALLS: dict[tuple[str, str], Callable[[Modelgate], Any]] = {
    ("POST", "/v1/predict"): lambda c: c.predict_v1(inputs=ROW),
    ("POST", "/v2/predict"): lambda c: c.predict(model="m", inputs=ROW),
    ("GET", "/v2/models"): lambda c: c.models.list(),
    ("GET", "/v2/models/{}"): lambda c: c.models.metadata("m"),
    ("GET", "/v2/models/{}/versions/{}"): lambda c: c.models.metadata("m", version="1"),
    ("GET", "/v2/models/{}/ready"): lambda c: c.models.ready("m"),
    ("GET", "/v2/models/{}/versions/{}/ready"): lambda c: c.models.ready("m", version="1"),
    ("POST", "/v2/models/{}/infer"): lambda c: c.models.infer("m", inputs=[]),
    ("POST", "/v2/models/{}/versions/{}/infer"): lambda c: c.models.infer("m", version="1", inputs=[]),
    ("GET", "/v2"): lambda c: c.server.metadata(),
    ("GET", "/v2/health/live"): lambda c: c.server.live(),
    ("GET", "/v2/health/ready"): lambda c: c.server.ready(),
    ("GET", "/healthz"): lambda c: c.server.gateway_health(),
    ("GET", "/openapi.json"): lambda c: c.server.openapi(),
    ("POST", "/v1/chat/completions"): lambda c: c.chat.completions.create(model="m", messages=[]),
    ("POST", "/v1/completions"): lambda c: c.completions.create(model="m", prompt="p"),
    ("GET", "/v1/models"): lambda c: c.text_models.list(),
    ("GET", "/v1/models/{}"): lambda c: c.text_models.retrieve("m"),
    ("POST", "/v2/jobs"): lambda c: c.jobs.submit(model="m", inputs=ROW),
    ("GET", "/v2/jobs"): lambda c: c.jobs.list(),
    ("GET", "/v2/jobs/{}"): lambda c: c.jobs.get("j"),
    ("POST", "/v2/jobs/{}/cancel"): lambda c: c.jobs.cancel("j"),
    ("GET", "/v2/jobs/{}/deliveries"): lambda c: c.jobs.deliveries("j"),
    ("POST", "/v2/jobs/{}/deliveries/{}/redeliver"): lambda c: c.jobs.redeliver("j", "d"),
}


# ANSWERS is a valid body of each operation, so the method's response model
# is built from it: a method that parses the wrong model fails here.
ANSWERS = bodies.ANSWERS_BY_PATH

# RESULTS is what each method returns: a model of modelgate.types, or a plain
# value for the health answers and the OpenAPI document.
RESULTS: dict[tuple[str, str], type] = {
    ("POST", "/v1/predict"): modelgate.types.PredictV1Response,
    ("POST", "/v2/predict"): modelgate.types.PredictResponse, ("GET", "/v2/models"): modelgate.types.ModelList,
    ("GET", "/v2/models/{}"): modelgate.types.ModelMetadata,
    ("GET", "/v2/models/{}/versions/{}"): modelgate.types.ModelMetadata,
    ("POST", "/v2/models/{}/infer"): modelgate.types.InferResponse,
    ("POST", "/v2/models/{}/versions/{}/infer"): modelgate.types.InferResponse,
    ("GET", "/v2"): modelgate.types.ServerMetadata, ("POST", "/v1/chat/completions"): modelgate.types.ChatCompletion,
    ("POST", "/v1/completions"): modelgate.types.Completion, ("GET", "/v1/models"): modelgate.types.TextModelList,
    ("GET", "/v1/models/{}"): modelgate.types.TextModel, ("POST", "/v2/jobs"): modelgate.types.Job,
    ("GET", "/v2/jobs"): modelgate.types.JobList, ("GET", "/v2/jobs/{}"): modelgate.types.Job,
    ("POST", "/v2/jobs/{}/cancel"): modelgate.types.Job,
    ("GET", "/v2/jobs/{}/deliveries"): modelgate.types.DeliveryList,
    ("POST", "/v2/jobs/{}/deliveries/{}/redeliver"): modelgate.types.Redelivery,
}


def norm(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


@functools.cache
def spec() -> Any:
    return yaml.safe_load(SPEC.read_text())


def spec_operations() -> set[tuple[str, str]]:
    doc = spec()
    return {(m.upper(), norm(p)) for p, item in doc["paths"].items() for m in item if m in METHODS}


TABLE = {(m, norm(p)): name for (m, p), name in OPERATIONS.items()}


def test_every_documented_operation_has_a_method() -> None:
    missing = spec_operations() - TABLE.keys()
    assert not missing, f"operations in api/openapi.yaml with no SDK method: {sorted(missing)}"


def test_every_method_has_an_operation() -> None:
    undocumented = TABLE.keys() - spec_operations() - PENDING
    assert not undocumented, f"SDK methods whose operation api/openapi.yaml lacks: {sorted(undocumented)}"


def resolve(root: object, dotted: str) -> Any:
    obj: Any = root
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("cls", [Modelgate, AsyncModelgate])
def test_table_names_resolve_and_every_public_method_is_listed(cls: type) -> None:
    c = cls(api_key="k", base_url="http://x")
    for name in list(OPERATIONS.values()) + list(HELPERS):
        assert callable(resolve(c, name)), name
    public: set[str] = set()

    def walk(obj: object, prefix: str) -> None:
        for attr, value in vars(obj).items():
            if attr.startswith("_"):
                continue
            walk(value, prefix + attr + ".")
        for attr, _ in inspect.getmembers(type(obj), inspect.isfunction):
            if not attr.startswith("_"):
                public.add(prefix + attr)

    walk(c, "")
    plumbing = {"with_options", "close"}
    assert public - plumbing == set(OPERATIONS.values()) | set(HELPERS)


@pytest.mark.parametrize("op", sorted(CALLS))
def test_each_method_sends_its_operation(op: tuple[str, str]) -> None:
    assert op in TABLE, op
    seen: list[httpx.Request] = []

    def answer(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=ANSWERS[op])

    c = Modelgate(api_key="k", base_url="http://x", http_client=httpx.Client(transport=httpx.MockTransport(answer)))
    got = CALLS[op](c)
    sent = (seen[0].method, norm(re.sub(r"/(m|1|j|d)(?=/|$)", "/{x}", seen[0].url.path)))
    assert sent == op
    assert isinstance(got, RESULTS.get(op, (bool, dict))), (op, type(got))


@pytest.mark.parametrize("op", sorted(RESULTS))
def test_each_model_rejects_a_body_without_its_required_members(op: tuple[str, str]) -> None:
    with pytest.raises(modelgate.ResponseValidationError) as e:
        RESULTS[op].from_dict({})  # type: ignore[attr-defined]
    assert e.value.pointer.startswith("/") and e.value.model == RESULTS[op].__name__


def test_calls_cover_the_table() -> None:
    assert set(CALLS) == set(TABLE) == set(ANSWERS)
    assert modelgate.__version__


# SCHEMAS pairs each response model with its schema in api/openapi.yaml.
SCHEMAS: dict[type, str] = {
    modelgate.types.PredictResponse: "V2PredictResponse", modelgate.types.PredictV1Response: "V1PredictResponse",
    modelgate.types.Prediction: "Prediction", modelgate.types.TensorMeta: "TensorMeta",
    modelgate.types.ModelMetadata: "ModelMetadata", modelgate.types.ServerMetadata: "ServerMetadata",
    modelgate.types.OutputTensor: "OutputTensor", modelgate.types.InferResponse: "InferResponse",
    modelgate.types.ModelList: "ModelList", modelgate.types.CatalogVersion: "CatalogVersion",
    modelgate.types.Usage: "Usage", modelgate.types.ChatCompletion: "ChatCompletion",
    modelgate.types.ChatCompletionChunk: "ChatCompletionChunk", modelgate.types.Completion: "Completion",
    modelgate.types.TextModel: "OpenAIModel", modelgate.types.TextModelList: "OpenAIModelList",
    modelgate.types.Job: "Job", modelgate.types.JobList: "JobList", modelgate.types.Delivery: "Delivery",
    modelgate.types.DeliveryList: "DeliveryList", modelgate.types.JobEvent: "JobEvent",
}
# LENIENT are members the schema requires that the SDK reads as optional:
# nullable ones, which a null and an absent member both mean, and the job's
# expiry and metadata, which older servers left out.
LENIENT = {("Job", "started_at"), ("Job", "completed_at"), ("Job", "expires_at"), ("Job", "metadata"),
           ("JobList", "next_cursor")}


@pytest.mark.parametrize("cls", list(SCHEMAS), ids=lambda c: c.__name__)
def test_models_follow_their_schema(cls: type) -> None:
    schema = spec()["components"]["schemas"][SCHEMAS[cls]]
    props, required = set(schema.get("properties", {})), set(schema.get("required", []))
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "raw"}
    assert set(fields) == props, f"{cls.__name__} fields differ from {SCHEMAS[cls]}'s members"
    mandatory = {n for n, f in fields.items()
                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    lenient = {m for c, m in LENIENT if c == SCHEMAS[cls]}
    assert mandatory == required - lenient, f"{cls.__name__} requires other members than {SCHEMAS[cls]}"
