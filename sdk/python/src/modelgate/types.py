"""Response and request shapes of the modelgate API (api/openapi.yaml), as TypedDicts.

Responses are the decoded JSON, so unknown members the server adds later
are kept and never break parsing.
"""

from __future__ import annotations

import sys
from typing import Any, Dict, List, Literal, Optional, Union

if sys.version_info >= (3, 11):
    from typing import NotRequired, Required, TypedDict
else:  # pragma: no cover
    from typing_extensions import NotRequired, Required, TypedDict

Row = Dict[str, float]


class Prediction(TypedDict, total=False):
    label: str
    value: float
    probabilities: Dict[str, float]


class RowUsage(TypedDict):
    rows: int


class PredictResponse(TypedDict):
    model: str
    model_version: str
    predictions: List[Prediction]
    request_id: str
    latency_ms: NotRequired[float]
    usage: RowUsage


class PredictV1Response(TypedDict):
    predictions: List[Union[str, float]]
    model_version: str
    request_id: str
    latency_ms: NotRequired[float]


class TensorMeta(TypedDict):
    name: str
    datatype: str
    shape: List[int]


class ModelMetadata(TypedDict):
    name: str
    versions: NotRequired[List[str]]
    platform: str
    inputs: List[TensorMeta]
    outputs: List[TensorMeta]


class InputTensor(TypedDict, total=False):
    name: Required[str]
    shape: Required[List[int]]
    datatype: Required[str]
    parameters: Dict[str, Any]
    data: List[Any]


class OutputTensor(TypedDict):
    name: str
    shape: List[int]
    datatype: str
    parameters: NotRequired[Dict[str, Any]]
    data: List[Any]


class InferResponse(TypedDict):
    model_name: str
    model_version: NotRequired[str]
    id: str
    parameters: NotRequired[Dict[str, Any]]
    outputs: List[OutputTensor]


class CatalogVersion(TypedDict, total=False):
    version: Required[str]
    served: Required[bool]
    algorithm: str
    format: str
    inputs: List[Dict[str, str]]
    output: Dict[str, Any]
    metrics: Dict[str, float]
    created: str


class CatalogModel(TypedDict, total=False):
    name: Required[str]
    description: str
    default: bool
    versions: Required[List[CatalogVersion]]
    aliases: Dict[str, str]


class ModelList(TypedDict):
    models: List[CatalogModel]


class ChatMessage(TypedDict):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, List[Dict[str, str]]]


class Usage(TypedDict):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatChoiceMessage(TypedDict):
    role: str
    content: str


class ChatChoice(TypedDict):
    index: int
    message: ChatChoiceMessage
    logprobs: NotRequired[None]
    finish_reason: str


class ChatCompletion(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: List[ChatChoice]
    usage: Usage


class ChunkDelta(TypedDict, total=False):
    role: str
    content: str


class ChunkChoice(TypedDict):
    index: int
    delta: ChunkDelta
    logprobs: NotRequired[None]
    finish_reason: Optional[str]


class ChatCompletionChunk(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: List[ChunkChoice]
    usage: NotRequired[Optional[Usage]]


class CompletionChoice(TypedDict):
    index: int
    text: str
    logprobs: NotRequired[None]
    finish_reason: Optional[str]


class Completion(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: List[CompletionChoice]
    usage: NotRequired[Optional[Usage]]


class TextModel(TypedDict):
    id: str
    object: str
    created: int
    owned_by: str


class TextModelList(TypedDict):
    object: str
    data: List[TextModel]


JobStatus = Literal["queued", "running", "succeeded", "failed", "canceled", "expired"]

# TERMINAL_STATUSES are the job states that never change again.
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled", "expired"})


class JobUsage(TypedDict, total=False):
    rows: int
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Job(TypedDict, total=False):
    id: Required[str]
    object: Required[str]
    status: Required[JobStatus]
    model: str
    version: str
    created_at: str
    started_at: Optional[str]
    completed_at: Optional[str]
    expires_at: Optional[str]
    result: Any
    problem: Dict[str, Any]
    usage: JobUsage
    metadata: Dict[str, str]


class JobList(TypedDict):
    object: str
    data: List[Job]
    next_cursor: Optional[str]


class Delivery(TypedDict, total=False):
    """Delivery is one attempt to deliver a webhook message (never the receiver's body)."""

    id: Required[str]
    object: str
    message_id: str
    event: str
    url: str
    attempt: int
    at: str
    status: int
    latency_ms: float
    outcome: Literal["succeeded", "retrying", "failed", "disabled"]
    error: str
    next_attempt_at: str


class Redelivery(TypedDict):
    """Redelivery is the webhook message queued again by jobs.redeliver."""

    id: str
    object: str
    status: str


class DeliveryList(TypedDict):
    object: str
    data: List[Delivery]
