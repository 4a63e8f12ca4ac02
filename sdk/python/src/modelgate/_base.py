"""What the sync and async clients share: options, retry policy, raw responses, deprecation notices."""

from __future__ import annotations

import contextvars
import json
import os
import random
import threading
import uuid
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Generic, Mapping, Optional, TypeVar, Union, cast

import httpx



from ._errors import FINAL_TYPES, ResponseValidationError, retry_after_seconds
from ._version import __version__

T = TypeVar("T")

DEFAULT_BASE_URL = "http://localhost:8080"
# DEFAULT_TIMEOUT allows a large batch prediction or a long completion while
# still failing fast when the gateway cannot be reached at all.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
DEFAULT_MAX_RETRIES = 2
# DEFAULT_MAX_RETRY_DELAY caps how long one retry waits. A server asking for
# longer than this (a quota that resets in an hour) is not retried: the
# RateLimitError carries retry_after so the caller can schedule it.
DEFAULT_MAX_RETRY_DELAY = 60.0
INITIAL_RETRY_DELAY = 0.5
MAX_BACKOFF = 8.0

Timeout = Union[float, httpx.Timeout, None]


class ModelgateDeprecationWarning(DeprecationWarning):
    """ModelgateDeprecationWarning: a response carried Deprecation or Sunset for its route."""


@dataclass(frozen=True)
class ClientOptions:
    """ClientOptions are a client's settings; ``with_options`` copies them with changes."""

    api_key: str
    base_url: str
    timeout: Timeout
    max_retries: int
    max_retry_delay: float
    warn_deprecations: bool
    default_headers: Mapping[str, str] = field(default_factory=dict)


def resolve_options(api_key: Optional[str], base_url: Optional[str], timeout: Timeout, max_retries: int,
                    max_retry_delay: float, warn_deprecations: bool,
                    default_headers: Optional[Mapping[str, str]]) -> ClientOptions:
    key = api_key if api_key is not None else os.environ.get("MODELGATE_API_KEY")
    if not key:
        raise ValueError("no API key: pass api_key= or set MODELGATE_API_KEY")
    url = base_url or os.environ.get("MODELGATE_BASE_URL") or DEFAULT_BASE_URL
    if max_retries < 0:
        raise ValueError("max_retries must be >= 0")
    return ClientOptions(api_key=key, base_url=url.rstrip("/"), timeout=timeout, max_retries=max_retries,
                         max_retry_delay=max_retry_delay, warn_deprecations=warn_deprecations,
                         default_headers=dict(default_headers or {}))


def copy_options(o: ClientOptions, **changes: Any) -> ClientOptions:
    return replace(o, **{k: v for k, v in changes.items() if v is not None})


class APIResponse(Generic[T]):
    """APIResponse is the raw HTTP answer of one call: status, headers and the parsed body.

    Get one with ``client.with_raw_response.<method>(...)``.
    """

    def __init__(self, http_response: httpx.Response, parsed: T, retries: int) -> None:
        self.http_response = http_response
        self.retries = retries
        self._parsed = parsed

    @property
    def status_code(self) -> int:
        return self.http_response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self.http_response.headers

    @property
    def request_id(self) -> Optional[str]:
        return header(self.headers, "x-request-id")

    @property
    def model_version(self) -> Optional[str]:
        return header(self.headers, "x-model-version")

    @property
    def cache(self) -> Optional[str]:
        return header(self.headers, "x-cache")

    @property
    def deprecation(self) -> Optional[str]:
        return header(self.headers, "deprecation")

    @property
    def sunset(self) -> Optional[str]:
        return header(self.headers, "sunset")

    def parse(self) -> T:
        return self._parsed


# _captured collects the APIResponse of calls made under with_raw_response.
_captured: contextvars.ContextVar[Optional[list[APIResponse[Any]]]] = contextvars.ContextVar(
    "modelgate_captured", default=None)


def capture(resp: APIResponse[Any]) -> None:
    sink = _captured.get()
    if sink is not None:
        sink.append(resp)


def start_capture() -> tuple[list[APIResponse[Any]], contextvars.Token[Optional[list[APIResponse[Any]]]]]:
    sink: list[APIResponse[Any]] = []
    return sink, _captured.set(sink)


def stop_capture(token: contextvars.Token[Optional[list[APIResponse[Any]]]]) -> None:
    _captured.reset(token)


def idempotency_key() -> str:
    return "mg-" + uuid.uuid4().hex


def request_headers(o: ClientOptions, method: str, extra: Optional[Mapping[str, str]],
                    model_version: Optional[str], idem: Optional[str]) -> dict[str, str]:
    h = {
        "x-api-key": o.api_key,
        "accept": "application/json",
        "user-agent": f"modelgate-python/{__version__}",
    }
    h.update(o.default_headers)
    if model_version is not None:
        h["x-model-version"] = model_version
    if idem is not None and method != "GET":
        h["idempotency-key"] = idem
    if extra:
        h.update(extra)
    return h


RETRY_STATUSES = frozenset({408, 409, 429})


def should_retry(response: httpx.Response) -> bool:
    """should_retry follows x-should-retry first, then the status."""
    hint = response.headers.get("x-should-retry", "").strip().lower()
    if hint == "true":
        return True
    if hint == "false":
        return False
    if response.status_code == 409 and _problem_type(response) in FINAL_TYPES:
        return False
    return response.status_code in RETRY_STATUSES or response.status_code >= 500


def _problem_type(response: httpx.Response) -> Optional[str]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    t = body.get("type") if isinstance(body, dict) else None
    return t if isinstance(t, str) else None


@dataclass
class RetryPolicy:
    """RetryPolicy decides how long to wait before attempt ``n`` (0-based count of retries done)."""

    max_retry_delay: float
    rng: random.Random = field(default_factory=random.Random)

    def backoff(self, retries_done: int) -> float:
        base = min(INITIAL_RETRY_DELAY * (2.0 ** retries_done), MAX_BACKOFF)
        # Jitter spreads clients that failed together, so they don't all
        # come back in the same instant.
        return base * (1.0 - 0.25 * self.rng.random())

    def delay(self, retries_done: int, response: Optional[httpx.Response]) -> Optional[float]:
        """delay returns the wait in seconds, or None when the server asked for more than the cap."""
        if response is not None:
            hinted = retry_after_seconds(response.headers)
            if hinted is not None:
                if hinted > self.max_retry_delay:
                    return None
                return hinted
        return min(self.backoff(retries_done), self.max_retry_delay)


class DeprecationNotices:
    """DeprecationNotices warns once per route when responses carry Deprecation or Sunset."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def check(self, enabled: bool, method: str, route: str, response: httpx.Response) -> None:
        if not enabled:
            return
        dep, sunset = response.headers.get("deprecation"), response.headers.get("sunset")
        if dep is None and sunset is None:
            return
        key = f"{method} {route}"
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
        parts = [f"{key} is deprecated"]
        if dep:
            parts.append(f"Deprecation: {dep}")
        if sunset:
            parts.append(f"Sunset: {sunset}")
        link = response.headers.get("link")
        if link:
            parts.append(f"see {link}")
        warnings.warn("; ".join(parts) + " (pass warn_deprecations=False to silence)",
                      ModelgateDeprecationWarning, stacklevel=5)


def header(h: httpx.Headers, name: str) -> Optional[str]:
    v = h.get(name)
    return v if isinstance(v, str) else None


def parse_json(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return cast(Any, response.json())
    except ValueError as e:
        err = ResponseValidationError(f"response of {response.request.method} {response.request.url.path} is not "
                                      f"JSON: {response.text[:200]!r}", model="JSON", pointer="",
                                      request=response.request)
        err.response = response
        raise err from e


def parse_body(response: httpx.Response, parse: Callable[[Any], T]) -> T:
    """parse_body decodes the JSON body and builds the call's response model from it."""
    try:
        return parse(parse_json(response))
    except ResponseValidationError as e:
        e.request, e.response = response.request, response
        raise


def flag(name: str, want: Any) -> Callable[[Any], bool]:
    """flag reads a health answer such as {"ready": true}: whether member ``name`` is ``want``."""
    def read(body: Any) -> bool:
        return isinstance(body, dict) and body.get(name) == want
    return read


def document(body: Any) -> dict[str, Any]:
    """document is a free-form JSON object (the OpenAPI document), kept as a dict."""
    if not isinstance(body, dict):
        raise ResponseValidationError("the OpenAPI document is not a JSON object", model="OpenAPI", pointer="",
                                      body=body)
    return body


def clean(body: Mapping[str, Any]) -> dict[str, Any]:
    """clean drops members left as None, so defaults stay the server's."""
    return {k: v for k, v in body.items() if v is not None}
