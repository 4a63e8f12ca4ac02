"""Response models of the modelgate API (api/openapi.yaml), as frozen dataclasses.

Each model is built from the decoded JSON by ``Model.from_dict``: a member
the schema requires that is missing, or any member of the wrong type, raises
:class:`modelgate.ResponseValidationError` naming the model and the JSON
Pointer. Members the SDK does not know yet are kept: ``raw`` is the whole
object as the server sent it and ``extra`` the members no field covers, so
fields the server adds later are never lost. Arrays are tuples and objects
read-only mappings.

Request bodies stay plain mappings described by TypedDicts (``ChatMessage``,
``InputTensor``, ``Row``): callers write them as dict literals, which a
TypedDict checks statically at no cost, while a dataclass would make every
call build objects only to turn them back into JSON.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import sys
from types import MappingProxyType
from typing import Any, Dict, List, Literal, Mapping, Optional, Union

from ._parse import Fields

if sys.version_info >= (3, 11):
    from typing import Required, Self, TypedDict
else:  # pragma: no cover
    from typing_extensions import Required, Self, TypedDict



def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


class Model:
    """Model is the base of every response model: ``from_dict`` builds one, ``raw`` and ``extra`` keep the JSON."""

    __slots__ = ()
    raw: Mapping[str, Any]

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """from_dict builds the model from decoded JSON, raising ResponseValidationError when it does not fit."""
        return cls._read(Fields(cls.__name__, data))

    @classmethod
    def _read(cls, f: Fields) -> Self:  # pragma: no cover - every model overrides it
        raise NotImplementedError

    @property
    def extra(self) -> Mapping[str, Any]:
        """extra holds the members of ``raw`` no field of this model covers (newer server fields)."""
        known = {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return MappingProxyType({k: v for k, v in self.raw.items() if k not in known})


# --- predictions ---

Row = Dict[str, float]


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction(Model):
    """Prediction is one row's answer: ``label`` (and ``probabilities``) for classification, ``value`` for regression."""

    label: Optional[str] = None
    value: Optional[float] = None
    probabilities: Mapping[str, float] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(label=f.opt_string("label"), value=f.opt_number("value"),
                   probabilities=f.mapping("probabilities", float), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class RowUsage(Model):
    """RowUsage counts the rows a prediction scored."""

    rows: int
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(rows=f.integer("rows"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictResponse(Model):
    """PredictResponse is the answer of POST /v2/predict."""

    model: str
    model_version: str
    predictions: tuple[Prediction, ...]
    request_id: str
    usage: RowUsage
    latency_ms: Optional[float] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(model=f.string("model"), model_version=f.string("model_version"),
                   predictions=f.objects("predictions", Prediction._read), request_id=f.string("request_id"),
                   usage=f.obj("usage", RowUsage._read), latency_ms=f.opt_number("latency_ms"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class PredictV1Response(Model):
    """PredictV1Response is the answer of the deprecated POST /v1/predict: labels or numbers."""

    predictions: tuple[Union[str, float], ...]
    model_version: str
    request_id: str
    latency_ms: Optional[float] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        preds = f.value("predictions")
        if not isinstance(preds, list):
            f.fail("/predictions", "an array", preds)
        for i, p in enumerate(preds):
            if isinstance(p, bool) or not isinstance(p, (str, int, float)):
                f.fail(f"/predictions/{i}", "a string or a number", p)
        return cls(predictions=tuple(p if isinstance(p, str) else float(p) for p in preds),
                   model_version=f.string("model_version"), request_id=f.string("request_id"),
                   latency_ms=f.opt_number("latency_ms"), raw=f.raw())


# --- Open Inference Protocol ---


@dataclass(frozen=True, slots=True, kw_only=True)
class TensorMeta(Model):
    """TensorMeta describes one input or output tensor; -1 in ``shape`` is a variable dimension."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(name=f.string("name"), datatype=f.string("datatype"), shape=f.scalars("shape", int), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelMetadata(Model):
    """ModelMetadata is a model's (or version's) tensor metadata (GET /v2/models/{model})."""

    name: str
    platform: str
    inputs: tuple[TensorMeta, ...]
    outputs: tuple[TensorMeta, ...]
    versions: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(name=f.string("name"), platform=f.string("platform"), inputs=f.objects("inputs", TensorMeta._read),
                   outputs=f.objects("outputs", TensorMeta._read),
                   versions=f.scalars("versions", str, required=False), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerMetadata(Model):
    """ServerMetadata names the inference server, its version and protocol extensions (GET /v2)."""

    name: str
    version: str
    extensions: tuple[str, ...]
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(name=f.string("name"), version=f.string("version"),
                   extensions=f.scalars("extensions", str), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class OutputTensor(Model):
    """OutputTensor is one output of an infer call; ``data`` is flat, row-major."""

    name: str
    shape: tuple[int, ...]
    datatype: str
    data: tuple[Any, ...]
    parameters: Optional[Mapping[str, Any]] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        data = f.value("data")
        if not isinstance(data, list):
            f.fail(f.pointer + "/data", "an array", data)
        return cls(name=f.string("name"), shape=f.scalars("shape", int), datatype=f.string("datatype"),
                   data=tuple(data), parameters=f.any_object("parameters"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class InferResponse(Model):
    """InferResponse is the answer of an Open Inference Protocol infer call."""

    model_name: str
    id: str
    outputs: tuple[OutputTensor, ...]
    model_version: Optional[str] = None
    parameters: Optional[Mapping[str, Any]] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(model_name=f.string("model_name"), id=f.string("id"),
                   outputs=f.objects("outputs", OutputTensor._read), model_version=f.opt_string("model_version"),
                   parameters=f.any_object("parameters"), raw=f.raw())


class InputTensor(TypedDict, total=False):
    """InputTensor is one input of an infer request (a request body, so a TypedDict)."""

    name: Required[str]
    shape: Required[List[int]]
    datatype: Required[str]
    parameters: Dict[str, Any]
    data: List[Any]


# --- the catalog ---


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogInput(Model):
    """CatalogInput is one input feature of a model version."""

    name: str
    type: str
    description: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(name=f.string("name"), type=f.string("type"), description=f.opt_string("description"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogOutput(Model):
    """CatalogOutput says what a version answers: ``kind`` is classification, regression or text."""

    kind: str
    name: str
    description: Optional[str] = None
    classes: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(kind=f.string("kind"), name=f.string("name"), description=f.opt_string("description"),
                   classes=f.scalars("classes", str, required=False), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogVersion(Model):
    """CatalogVersion is one version of a catalog model; the details are given for served versions."""

    version: str
    served: bool
    algorithm: Optional[str] = None
    format: Optional[str] = None
    inputs: tuple[CatalogInput, ...] = ()
    output: Optional[CatalogOutput] = None
    metrics: Mapping[str, float] = field(default_factory=_empty)
    created: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(version=f.string("version"), served=f.boolean("served"), algorithm=f.opt_string("algorithm"),
                   format=f.opt_string("format"), inputs=f.objects("inputs", CatalogInput._read, required=False),
                   output=f.opt_obj("output", CatalogOutput._read), metrics=f.mapping("metrics", float),
                   created=f.opt_string("created"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class CatalogModel(Model):
    """CatalogModel is one model of the catalog with its versions and aliases (alias → version)."""

    name: str
    versions: tuple[CatalogVersion, ...]
    description: Optional[str] = None
    default: bool = False
    aliases: Mapping[str, str] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(name=f.string("name"), versions=f.objects("versions", CatalogVersion._read),
                   description=f.opt_string("description"), default=bool(f.opt_boolean("default")),
                   aliases=f.mapping("aliases", str), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelList(Model):
    """ModelList is the catalog (GET /v2/models)."""

    models: tuple[CatalogModel, ...]
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(models=f.objects("models", CatalogModel._read), raw=f.raw())


# --- chat and plain completions ---


class ChatMessage(TypedDict):
    """ChatMessage is one message of a chat request (a request body, so a TypedDict)."""

    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, List[Dict[str, str]]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage(Model):
    """Usage counts the tokens of a completion."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(prompt_tokens=f.integer("prompt_tokens"), completion_tokens=f.integer("completion_tokens"),
                   total_tokens=f.integer("total_tokens"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCompletionMessage(Model):
    """ChatCompletionMessage is the assistant message a chat completion generated."""

    role: str
    content: str
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(role=f.string("role"), content=f.string("content"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatChoice(Model):
    """ChatChoice is one choice of a chat completion; ``finish_reason`` is stop or length."""

    index: int
    message: ChatCompletionMessage
    finish_reason: str
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(index=f.integer("index"), message=f.obj("message", ChatCompletionMessage._read),
                   finish_reason=f.string("finish_reason"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCompletion(Model):
    """ChatCompletion is a whole chat completion; ``model`` is the ``<name>:<version>`` that served."""

    id: str
    object: str
    created: int
    model: str
    choices: tuple[ChatChoice, ...]
    usage: Usage
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), created=f.integer("created"),
                   model=f.string("model"), choices=f.objects("choices", ChatChoice._read),
                   usage=f.obj("usage", Usage._read), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkDelta(Model):
    """ChunkDelta is what one chunk adds to a choice: the role on the first, text after."""

    role: Optional[str] = None
    content: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(role=f.opt_string("role"), content=f.opt_string("content"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkChoice(Model):
    """ChunkChoice is one choice of a stream chunk; ``finish_reason`` is None until the last."""

    index: int
    delta: ChunkDelta
    finish_reason: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(index=f.integer("index"), delta=f.obj("delta", ChunkDelta._read),
                   finish_reason=f.opt_string("finish_reason"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatCompletionChunk(Model):
    """ChatCompletionChunk is one event of a streamed chat completion; the usage event has no choices."""

    id: str
    object: str
    created: int
    model: str
    choices: tuple[ChunkChoice, ...]
    usage: Optional[Usage] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), created=f.integer("created"),
                   model=f.string("model"), choices=f.objects("choices", ChunkChoice._read),
                   usage=f.opt_obj("usage", Usage._read), raw=f.raw())

    @property
    def text(self) -> str:
        """text is the content this chunk adds, across its choices ("" for the role and usage chunks)."""
        return "".join(c.delta.content or "" for c in self.choices)


@dataclass(frozen=True, slots=True, kw_only=True)
class CompletionChoice(Model):
    """CompletionChoice is one choice of a plain completion (or of one streamed event)."""

    index: int
    text: str
    finish_reason: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(index=f.integer("index"), text=f.string("text"), finish_reason=f.opt_string("finish_reason"),
                   raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion(Model):
    """Completion is a plain completion, and also each event of a streamed one."""

    id: str
    object: str
    created: int
    model: str
    choices: tuple[CompletionChoice, ...]
    usage: Optional[Usage] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), created=f.integer("created"),
                   model=f.string("model"), choices=f.objects("choices", CompletionChoice._read),
                   usage=f.opt_obj("usage", Usage._read), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class TextModel(Model):
    """TextModel is a text-generation model listed OpenAI-style."""

    id: str
    object: str
    created: int
    owned_by: str
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), created=f.integer("created"),
                   owned_by=f.string("owned_by"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class TextModelList(Model):
    """TextModelList is the answer of GET /v1/models."""

    object: str
    data: tuple[TextModel, ...]
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(object=f.string("object"), data=f.objects("data", TextModel._read), raw=f.raw())


# --- jobs ---

JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled", "expired"]

# TERMINAL_STATUSES are the job states that never change again.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "expired"})


@dataclass(frozen=True, slots=True, kw_only=True)
class JobUsage(Model):
    """JobUsage is what a job consumed."""

    rows: int = 0
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(rows=f.opt_integer("rows") or 0, raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class Job(Model):
    """Job is an asynchronous prediction; times are RFC 3339 strings as the server sent them.

    ``status`` is one of :data:`JobStatus` (a string, so a state added later
    still parses); ``result`` is set once it succeeded, ``problem`` (the
    problem+json body) once it failed.
    """

    id: str
    object: str
    status: str
    model: str
    version: str
    created_at: str
    usage: JobUsage
    started_at: Optional[str] = None
    completed_at: Optional[str] = None
    expires_at: Optional[str] = None
    result: Optional[PredictResponse] = None
    problem: Optional[Mapping[str, Any]] = None
    metadata: Mapping[str, str] = field(default_factory=_empty)
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), status=f.string("status"), model=f.string("model"),
                   version=f.string("version"), created_at=f.string("created_at"),
                   usage=f.obj("usage", JobUsage._read), started_at=f.opt_string("started_at"),
                   completed_at=f.opt_string("completed_at"), expires_at=f.opt_string("expires_at"),
                   result=f.opt_obj("result", PredictResponse._read), problem=f.any_object("problem"),
                   metadata=f.mapping("metadata", str), raw=f.raw())

    @property
    def done(self) -> bool:
        """done says whether the job reached a state that never changes again."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True, slots=True, kw_only=True)
class JobList(Model):
    """JobList is one page of jobs, newest first; ``next_cursor`` is None on the last page."""

    object: str
    data: tuple[Job, ...]
    next_cursor: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(object=f.string("object"), data=f.objects("data", Job._read),
                   next_cursor=f.opt_string("next_cursor"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery(Model):
    """Delivery is one attempt to deliver a webhook message (never the receiver's body).

    ``status`` is the receiver's HTTP status (0 when none came back),
    ``outcome`` succeeded, retrying or disabled, ``error`` why it failed.
    """

    id: str
    object: str
    message_id: str
    event: str
    url: str
    attempt: int
    at: str
    status: int
    latency_ms: float
    outcome: str
    error: Optional[str] = None
    next_attempt_at: Optional[str] = None
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), message_id=f.string("message_id"),
                   event=f.string("event"), url=f.string("url"), attempt=f.integer("attempt"), at=f.string("at"),
                   status=f.integer("status"), latency_ms=f.number("latency_ms"), outcome=f.string("outcome"),
                   error=f.opt_string("error"), next_attempt_at=f.opt_string("next_attempt_at"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryList(Model):
    """DeliveryList lists a job's webhook delivery attempts."""

    object: str
    data: tuple[Delivery, ...]
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(object=f.string("object"), data=f.objects("data", Delivery._read), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class Redelivery(Model):
    """Redelivery is the webhook message queued again by jobs.redeliver."""

    id: str
    object: str
    status: str
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(id=f.string("id"), object=f.string("object"), status=f.string("status"), raw=f.raw())


@dataclass(frozen=True, slots=True, kw_only=True)
class JobEvent(Model):
    """JobEvent is a webhook delivery's payload: ``JobEvent.from_dict(verify_webhook(body, headers, secret))``.

    ``type`` is job.succeeded, job.failed or job.canceled; ``data`` the job as it finished.
    """

    type: str
    timestamp: str
    data: Job
    raw: Mapping[str, Any] = field(default_factory=_empty, repr=False, compare=False)

    @classmethod
    def _read(cls, f: Fields) -> Self:
        return cls(type=f.string("type"), timestamp=f.string("timestamp"), data=f.obj("data", Job._read), raw=f.raw())
