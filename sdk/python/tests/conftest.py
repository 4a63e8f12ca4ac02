"""Fakes shared by the SDK tests: a scripted transport and clients wired to it."""

from __future__ import annotations

import json
from typing import Any, Callable, Iterator, Optional, Union

import httpx
import pytest

from modelgate import AsyncModelgate, Modelgate

PROBLEMS = "https://modelgate.dev/problems/"

Reply = Union[httpx.Response, Exception, Callable[[httpx.Request], httpx.Response]]


def problem(status: int, kind: str, headers: Optional[dict[str, str]] = None, **extra: Any) -> httpx.Response:
    body = {"type": PROBLEMS + kind, "title": kind.replace("-", " "), "status": status, **extra}
    h = {"content-type": "application/problem+json", "x-request-id": "req-" + kind}
    h.update(headers or {})
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


def ok(body: Any, headers: Optional[dict[str, str]] = None, status: int = 200) -> httpx.Response:
    h = {"content-type": "application/json", "x-request-id": "req-ok"}
    h.update(headers or {})
    return httpx.Response(status, content=json.dumps(body).encode(), headers=h)


class TrackedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """TrackedStream serves body pieces and records whether the client closed it."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = pieces
        self.closed = False
        self.served = 0

    def __iter__(self) -> Iterator[bytes]:
        for p in self.pieces:
            self.served += 1
            yield p

    async def __aiter__(self) -> Any:
        for p in self.pieces:
            self.served += 1
            yield p

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def sse(events: list[str], tracked: Optional[TrackedStream] = None) -> tuple[httpx.Response, TrackedStream]:
    stream = tracked or TrackedStream([f"data: {e}\n\n".encode() for e in events])
    return httpx.Response(200, headers={"content-type": "text/event-stream", "x-request-id": "req-sse"},
                          stream=stream), stream


class Script:
    """Script answers requests from a queue (or a route handler) and records every request."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[httpx.Request] = []
        self.handler: Optional[Callable[[httpx.Request], httpx.Response]] = None

    def add(self, *replies: Reply) -> "Script":
        self.replies.extend(replies)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self.handler is not None and not self.replies:
            return self.handler(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        r = self.replies.pop(0)
        if isinstance(r, Exception):
            raise r
        if callable(r) and not isinstance(r, httpx.Response):
            return r(request)
        return r

    def body(self, i: int = -1) -> Any:
        return json.loads(self.requests[i].content)


class AsyncScript(Script):
    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return self(request)


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(script: Script, sleeps: list[float]) -> Iterator[Modelgate]:
    c = Modelgate(api_key="mg_test", base_url="http://gw.test",
                  http_client=httpx.Client(transport=httpx.MockTransport(script)))
    c._sleep = sleeps.append
    yield c
    c.close()


@pytest.fixture
def ascript() -> AsyncScript:
    return AsyncScript()


@pytest.fixture
def aclient(ascript: AsyncScript, sleeps: list[float]) -> AsyncModelgate:
    c = AsyncModelgate(api_key="mg_test", base_url="http://gw.test",
                       http_client=httpx.AsyncClient(transport=httpx.MockTransport(ascript.handle)))

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    c._sleep = fake_sleep
    return c
