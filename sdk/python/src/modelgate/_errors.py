"""Typed errors: one class per modelgate problem type, with status fallbacks."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Optional

import httpx

if TYPE_CHECKING:
    from .types import Job

PROBLEM_BASE = "https://modelgate.dev/problems/"


class ModelgateError(Exception):
    """ModelgateError is the base of every error this package raises."""


class WebhookVerificationError(ModelgateError):
    """WebhookVerificationError says a webhook's signature or timestamp did not verify."""


class WaitTimeoutError(ModelgateError):
    """WaitTimeoutError: a job was still unfinished when jobs.wait gave up; ``job`` is the last state seen."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"job {job.id} still {job.status} after the wait timeout")
        self.job = job


class APIError(ModelgateError):
    """APIError is any failure of a request to the gateway."""

    def __init__(self, message: str, *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message)
        self.message = message
        self.request = request


class ResponseValidationError(APIError):
    """ResponseValidationError: a response lacked a member its model requires, or one had the wrong type.

    ``model`` names the response model, ``pointer`` is the JSON Pointer of the
    member at fault, ``body`` the decoded JSON; ``response`` is set once the
    client knows which HTTP answer it was.
    """

    def __init__(self, message: str, *, model: str, pointer: str, body: Any = None,
                 request: Optional[httpx.Request] = None) -> None:
        super().__init__(message, request=request)
        self.model = model
        self.pointer = pointer
        self.body = body
        self.response: Optional[httpx.Response] = None


class APIConnectionError(APIError):
    """APIConnectionError: the gateway could not be reached or the connection broke."""

    def __init__(self, message: str = "connection error", *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message, request=request)


class APITimeoutError(APIConnectionError):
    """APITimeoutError: the request did not finish within its timeout."""

    def __init__(self, message: str = "request timed out", *, request: Optional[httpx.Request] = None) -> None:
        super().__init__(message, request=request)


@dataclass(frozen=True)
class Violation:
    """Violation is one validation failure, located by a JSON Pointer into the request body."""

    pointer: str
    detail: str


class APIStatusError(APIError):
    """APIStatusError: the gateway answered with a 4xx or 5xx status.

    ``problem`` is the RFC 9457 body (empty when the body was not JSON),
    ``request_id`` comes from ``x-request-id`` (or the problem's own member).
    """

    def __init__(self, message: str, *, response: httpx.Response, problem: Mapping[str, Any]) -> None:
        super().__init__(message, request=response.request)
        self.response = response
        self.status_code = response.status_code
        self.headers = response.headers
        self.problem: Mapping[str, Any] = problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: Optional[str] = _opt_str(problem.get("title"))
        self.detail: Optional[str] = _opt_str(problem.get("detail"))
        rid = response.headers.get("x-request-id") or problem.get("request_id")
        self.request_id: Optional[str] = _opt_str(rid)

    def __str__(self) -> str:
        suffix = f" (request {self.request_id})" if self.request_id else ""
        return f"{self.status_code} {self.message}{suffix}"


class BadRequestError(APIStatusError):
    """BadRequestError: 400, the request was refused as malformed."""


class MalformedJSONError(BadRequestError):
    """MalformedJSONError: the body was not JSON (problem type malformed-json)."""


class ValidationError(BadRequestError):
    """ValidationError: the body broke the schema; ``violations`` lists every failure."""

    def __init__(self, message: str, *, response: httpx.Response, problem: Mapping[str, Any]) -> None:
        super().__init__(message, response=response, problem=problem)
        raw = problem.get("errors")
        items = raw if isinstance(raw, list) else []
        self.violations: list[Violation] = [
            Violation(pointer=str(v.get("pointer", "")), detail=str(v.get("detail", "")))
            for v in items
            if isinstance(v, dict)
        ]


class WrongModelKindError(BadRequestError):
    """WrongModelKindError: the model does not serve this route (tabular vs text)."""


class ContextLengthExceededError(BadRequestError):
    """ContextLengthExceededError: the prompt leaves no room in the context window."""


class AuthenticationError(APIStatusError):
    """AuthenticationError: 401, the API key is missing, unknown, revoked or expired."""


class PermissionDeniedError(APIStatusError):
    """PermissionDeniedError: 403, the key may not use this model or route."""


class NotFoundError(APIStatusError):
    """NotFoundError: 404."""


class UnknownModelError(NotFoundError):
    """UnknownModelError: no model has this name; ``available`` lists those that do."""


class UnknownModelVersionError(NotFoundError):
    """UnknownModelVersionError: the model has no such version or alias."""


class MethodNotAllowedError(APIStatusError):
    """MethodNotAllowedError: 405."""


class ConflictError(APIStatusError):
    """ConflictError: 409, e.g. a job with this Idempotency-Key is still being created."""


class JobFinishedError(ConflictError):
    """JobFinishedError: the job has finished and can no longer change (job-finished)."""


class GoneError(APIStatusError):
    """GoneError: 410, the route is past its Sunset date."""


class PayloadTooLargeError(APIStatusError):
    """PayloadTooLargeError: 413, the body is too large."""


class TooManyRowsError(PayloadTooLargeError):
    """TooManyRowsError: the batch has more rows than the route accepts."""


class HeadersTooLargeError(APIStatusError):
    """HeadersTooLargeError: 431, the request headers are too large (headers-too-large)."""


class UnsupportedMediaTypeError(APIStatusError):
    """UnsupportedMediaTypeError: 415."""


class UnprocessableEntityError(APIStatusError):
    """UnprocessableEntityError: 422, e.g. an Idempotency-Key reused with another body."""


class IdempotencyKeyReusedError(UnprocessableEntityError):
    """IdempotencyKeyReusedError: the Idempotency-Key was sent before with another body."""


class RateLimitError(APIStatusError):
    """RateLimitError: 429; ``retry_after`` is the server's wait in seconds, when it gave one."""

    def __init__(self, message: str, *, response: httpx.Response, problem: Mapping[str, Any]) -> None:
        super().__init__(message, response=response, problem=problem)
        self.retry_after: Optional[float] = retry_after_seconds(response.headers)
        if self.retry_after is None and isinstance(problem.get("retry_after"), (int, float)):
            self.retry_after = float(problem["retry_after"])


class UpstreamRateLimitedError(RateLimitError):
    """UpstreamRateLimitedError: an OpenAI-compatible upstream answered 429."""


class ServerError(APIStatusError):
    """ServerError: 5xx."""


class InternalServerError(ServerError):
    """InternalServerError: the gateway or model failed (internal-error)."""


class ServiceUnavailableError(ServerError):
    """ServiceUnavailableError: no deployment can serve right now (service-unavailable)."""


class UpstreamTimeoutError(ServerError):
    """UpstreamTimeoutError: the model did not answer in time (upstream-timeout)."""


class UpstreamError(ServerError):
    """UpstreamError: an OpenAI-compatible upstream failed (upstream-failed)."""


class StreamError(APIError):
    """StreamError: a stream that had begun ended with an error event.

    ``error`` is the OpenAI error object the event carried.
    """

    def __init__(self, error: Mapping[str, Any], *, request: Optional[httpx.Request] = None,
                 request_id: Optional[str] = None) -> None:
        super().__init__(str(error.get("message", "stream failed")), request=request)
        self.error = error
        self.code: Optional[str] = _opt_str(error.get("code"))
        self.request_id = request_id


# PROBLEM_TYPES maps each documented problem type URI to its error class.
PROBLEM_TYPES: dict[str, type[APIStatusError]] = {
    PROBLEM_BASE + "malformed-json": MalformedJSONError,
    PROBLEM_BASE + "validation-failed": ValidationError,
    PROBLEM_BASE + "wrong-model-kind": WrongModelKindError,
    PROBLEM_BASE + "context-length-exceeded": ContextLengthExceededError,
    PROBLEM_BASE + "unsupported-media-type": UnsupportedMediaTypeError,
    PROBLEM_BASE + "body-too-large": PayloadTooLargeError,
    PROBLEM_BASE + "headers-too-large": HeadersTooLargeError,
    PROBLEM_BASE + "too-many-rows": TooManyRowsError,
    PROBLEM_BASE + "unknown-model": UnknownModelError,
    PROBLEM_BASE + "unknown-model-version": UnknownModelVersionError,
    PROBLEM_BASE + "not-found": NotFoundError,
    PROBLEM_BASE + "method-not-allowed": MethodNotAllowedError,
    PROBLEM_BASE + "unauthorized": AuthenticationError,
    PROBLEM_BASE + "forbidden": PermissionDeniedError,
    PROBLEM_BASE + "quota-exceeded": RateLimitError,
    PROBLEM_BASE + "upstream-rate-limited": UpstreamRateLimitedError,
    PROBLEM_BASE + "route-sunset": GoneError,
    PROBLEM_BASE + "service-unavailable": ServiceUnavailableError,
    PROBLEM_BASE + "upstream-timeout": UpstreamTimeoutError,
    PROBLEM_BASE + "internal-error": InternalServerError,
    PROBLEM_BASE + "upstream-failed": UpstreamError,
    PROBLEM_BASE + "job-finished": JobFinishedError,
    PROBLEM_BASE + "idempotency-key-reused": IdempotencyKeyReusedError,
}

# FINAL_TYPES are problems that no retry can change, whatever their status
# (a 409 is otherwise worth retrying: the conflicting request may finish).
FINAL_TYPES = frozenset({PROBLEM_BASE + "job-finished", PROBLEM_BASE + "idempotency-key-reused"})

_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    410: GoneError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    431: HeadersTooLargeError,
}


def status_error(response: httpx.Response) -> APIStatusError:
    """status_error builds the typed error for a 4xx/5xx response (its body must be read)."""
    problem: Mapping[str, Any] = {}
    try:
        parsed = json.loads(response.content) if response.content else {}
        if isinstance(parsed, dict):
            problem = parsed
    except ValueError:
        pass
    cls = PROBLEM_TYPES.get(str(problem.get("type", "")))
    if cls is None:
        cls = _BY_STATUS.get(response.status_code)
    if cls is None:
        cls = ServerError if response.status_code >= 500 else APIStatusError
    message = _problem_message(problem) or response.reason_phrase or "error"
    return cls(message, response=response, problem=problem)


def _problem_message(problem: Mapping[str, Any]) -> str:
    title, detail = problem.get("title"), problem.get("detail")
    if isinstance(title, str) and isinstance(detail, str) and detail:
        return f"{title}: {detail}"
    if isinstance(detail, str):
        return detail
    if isinstance(title, str):
        return title
    err = problem.get("error")
    if isinstance(err, dict) and isinstance(err.get("message"), str):
        return str(err["message"])
    return ""


def retry_after_seconds(headers: httpx.Headers) -> Optional[float]:
    """retry_after_seconds reads retry-after-ms, then Retry-After (seconds or HTTP-date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if value >= 0:
                return value
        except ValueError:
            pass
    ra = headers.get("retry-after")
    if ra is None:
        return None
    try:
        return max(0.0, float(ra))
    except ValueError:
        pass
    import email.utils
    import time

    try:
        when = email.utils.parsedate_to_datetime(ra)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _opt_str(v: object) -> Optional[str]:
    return v if isinstance(v, str) else None
