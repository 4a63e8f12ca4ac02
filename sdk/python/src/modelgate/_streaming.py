"""Server-sent event streams of chat and plain completions."""

from __future__ import annotations

import json
from typing import Any, AsyncIterator, Callable, Generic, Iterator, Optional, TypeVar

import httpx

from ._errors import APIConnectionError, APITimeoutError, ResponseValidationError, StreamError

T = TypeVar("T")

DONE = "[DONE]"


class SSEDecoder:
    """SSEDecoder turns lines into (event, data) pairs as the WHATWG rules say: data lines join with newlines, a blank line ends an event, lines starting with ':' are comments."""

    def __init__(self) -> None:
        self._event: Optional[str] = None
        self._data: list[str] = []

    def feed(self, line: str) -> Optional[tuple[Optional[str], str]]:
        line = line.rstrip("\r\n")
        if line == "":
            if not self._data:
                self._event = None
                return None
            out = (self._event, "\n".join(self._data))
            self._event, self._data = None, []
            return out
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None

    def flush(self) -> Optional[tuple[Optional[str], str]]:
        return self.feed("")


def decode_event(event: Optional[str], data: str, response: httpx.Response) -> Optional[Any]:
    """decode_event returns the chunk, None at [DONE], or raises StreamError on an error event."""
    if data == DONE:
        return None
    try:
        payload = json.loads(data)
    except ValueError as e:
        raise StreamError({"message": f"malformed stream event: {data[:200]!r}"}, request=response.request,
                          request_id=response.headers.get("x-request-id")) from e
    if event == "error" or (isinstance(payload, dict) and "error" in payload and "choices" not in payload):
        err = payload.get("error") if isinstance(payload, dict) else None
        raise StreamError(err if isinstance(err, dict) else {"message": str(err)}, request=response.request,
                          request_id=response.headers.get("x-request-id"))
    return payload


def parse_chunk(payload: Any, parse: Callable[[Any], T], response: httpx.Response) -> T:
    try:
        return parse(payload)
    except ResponseValidationError as e:
        e.request, e.response = response.request, response
        raise


class Stream(Generic[T]):
    """Stream iterates the chunks of a streamed completion.

    Each event is parsed into ``T`` (:class:`~modelgate.types.ChatCompletionChunk`
    or :class:`~modelgate.types.Completion`). It ends at ``data: [DONE]``, raises :class:`StreamError` on an error event
    and closes the connection when iteration ends, the caller breaks out of
    the loop, or the ``with`` block exits.
    """

    def __init__(self, response: httpx.Response, parse: Callable[[Any], T]) -> None:
        self.response = response
        self._parse = parse
        self._closed = False

    @property
    def request_id(self) -> Optional[str]:
        v = self.response.headers.get("x-request-id")
        return v if isinstance(v, str) else None

    def __iter__(self) -> Iterator[T]:
        return self._iterate()

    def _iterate(self) -> Iterator[T]:
        decoder = SSEDecoder()
        try:
            for line in self.response.iter_lines():
                ev = decoder.feed(line)
                if ev is None:
                    continue
                chunk = decode_event(ev[0], ev[1], self.response)
                if chunk is None:
                    return
                yield parse_chunk(chunk, self._parse, self.response)
            ev = decoder.flush()
            if ev is not None:
                chunk = decode_event(ev[0], ev[1], self.response)
                if chunk is None:
                    return
                yield parse_chunk(chunk, self._parse, self.response)
            # Without [DONE] or an error event the connection broke mid-answer.
            raise APIConnectionError("stream ended before [DONE]", request=self.response.request)
        except httpx.TimeoutException as e:
            raise APITimeoutError(request=self.response.request) from e
        except httpx.TransportError as e:
            raise APIConnectionError(f"stream broke: {e}", request=self.response.request) from e
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.response.close()

    def __enter__(self) -> "Stream[T]":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(Generic[T]):
    """AsyncStream is :class:`Stream` for ``async for``; prefer ``async with`` to close it at once."""

    def __init__(self, response: httpx.Response, parse: Callable[[Any], T]) -> None:
        self.response = response
        self._parse = parse
        self._closed = False

    @property
    def request_id(self) -> Optional[str]:
        v = self.response.headers.get("x-request-id")
        return v if isinstance(v, str) else None

    def __aiter__(self) -> AsyncIterator[T]:
        # An async generator: when the caller breaks out and drops it, the
        # event loop's finaliser runs its finally block, which closes the
        # connection.
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[T]:
        decoder = SSEDecoder()
        try:
            async for line in self.response.aiter_lines():
                ev = decoder.feed(line)
                if ev is None:
                    continue
                chunk = decode_event(ev[0], ev[1], self.response)
                if chunk is None:
                    return
                yield parse_chunk(chunk, self._parse, self.response)
            ev = decoder.flush()
            if ev is not None:
                chunk = decode_event(ev[0], ev[1], self.response)
                if chunk is None:
                    return
                yield parse_chunk(chunk, self._parse, self.response)
            # Without [DONE] or an error event the connection broke mid-answer.
            raise APIConnectionError("stream ended before [DONE]", request=self.response.request)
        except httpx.TimeoutException as e:
            raise APITimeoutError(request=self.response.request) from e
        except httpx.TransportError as e:
            raise APIConnectionError(f"stream broke: {e}", request=self.response.request) from e
        finally:
            await self.close()

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.response.aclose()

    async def __aenter__(self) -> "AsyncStream[T]":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
