"""Streams stop at [DONE], raise on an error event and close when the caller stops."""

from __future__ import annotations

import asyncio
import gc
import json

import httpx
import pytest

import modelgate
from modelgate import AsyncModelgate, Modelgate

from . import bodies
from .conftest import AsyncScript, Script, TrackedStream, problem, sse

MSG = [{"role": "user", "content": "In the beginning"}]


def chunk(content: str, finish: str | None = None) -> str:
    return json.dumps(bodies.chunk(content, finish))


def text_event(text: str) -> str:
    return json.dumps({**bodies.COMPLETION, "choices": [{"index": 0, "text": text, "finish_reason": None}]})


def test_stream_yields_chunks_until_done(client: Modelgate, script: Script) -> None:
    resp, tracked = sse([chunk("a"), chunk("b", "stop"), "[DONE]", chunk("after")])
    script.add(resp)
    with client.chat.completions.create(model="scribe", messages=MSG, stream=True, include_usage=True) as s:
        got = [c.choices[0].delta.content for c in s]
        assert s.request_id == "req-sse"
    assert got == ["a", "b"]
    assert tracked.closed
    body = script.body()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert script.requests[0].headers["accept"] == "text/event-stream"


def test_stream_error_event_raises(client: Modelgate, script: Script) -> None:
    err = json.dumps({"error": {"message": "model crashed", "type": "server_error", "param": None,
                                "code": "internal_error"}})
    resp, tracked = sse([chunk("a"), err])
    script.add(resp)
    got = []
    with pytest.raises(modelgate.StreamError) as e:
        for c in client.chat.completions.create(model="scribe", messages=MSG, stream=True):
            got.append(c)
    assert len(got) == 1 and e.value.code == "internal_error" and e.value.request_id == "req-sse"
    assert tracked.closed


def test_stream_without_done_is_a_connection_error(client: Modelgate, script: Script) -> None:
    resp, _ = sse([chunk("a")])
    script.add(resp)
    with pytest.raises(modelgate.APIConnectionError):
        list(client.chat.completions.create(model="scribe", messages=MSG, stream=True))


def test_breaking_out_closes_the_connection(client: Modelgate, script: Script) -> None:
    resp, tracked = sse([chunk(str(i)) for i in range(100)] + ["[DONE]"])
    script.add(resp)
    for c in client.chat.completions.create(model="scribe", messages=MSG, stream=True):
        break
    gc.collect()
    assert tracked.closed and tracked.served < 100


def test_sse_framing_comments_multiline_and_crlf(client: Modelgate, script: Script) -> None:
    raw = (b": keep-alive\r\n\r\n" b"data: {\"id\":\"x\",\"choices\":[],\"created\":1,\r\n"
           b"data: \"object\":\"text_completion\",\"model\":\"m\",\"new\":1}\r\n\r\n" b"data: [DONE]\r\n\r\n")
    script.add(httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=TrackedStream([raw])))
    got = list(client.completions.create(model="scribe", prompt="x", stream=True))
    assert [(c.id, c.object, c.choices, c.extra) for c in got] == [("x", "text_completion", (), {"new": 1})]


def test_a_malformed_chunk_raises_and_closes(client: Modelgate, script: Script) -> None:
    resp, tracked = sse([chunk("a"), json.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": []}),
                         "[DONE]"])
    script.add(resp)
    with pytest.raises(modelgate.ResponseValidationError) as e:
        list(client.chat.completions.create(model="scribe", messages=MSG, stream=True))
    assert (e.value.model, e.value.pointer) == ("ChatCompletionChunk", "/created")
    assert e.value.response is not None and tracked.closed


def test_error_before_stream_is_a_typed_error(client: Modelgate, script: Script) -> None:
    script.add(problem(400, "context-length-exceeded"))
    with pytest.raises(modelgate.ContextLengthExceededError):
        client.chat.completions.create(model="scribe", messages=MSG, stream=True)


def test_stream_retries_before_it_starts(client: Modelgate, script: Script) -> None:
    resp, _ = sse([chunk("a"), "[DONE]"])
    script.add(problem(503, "service-unavailable"), resp)
    assert len(list(client.chat.completions.create(model="scribe", messages=MSG, stream=True))) == 1


def test_non_stream_completion(client: Modelgate, script: Script) -> None:
    script.add(httpx.Response(200, json=bodies.CHAT))
    out = client.chat.completions.create(model="scribe", messages=MSG, max_tokens=8, max_completion_tokens=4,
                                         temperature=0.0, stop=["\n"], seed=1)
    assert out.usage.total_tokens == 5 and out.choices[0].message.content == "And"
    assert script.body() == {"model": "scribe", "messages": MSG, "max_tokens": 8, "max_completion_tokens": 4,
                             "temperature": 0.0, "stop": ["\n"], "seed": 1}


def test_async_stream_until_done(aclient: AsyncModelgate, ascript: AsyncScript) -> None:
    async def run() -> list[str]:
        resp, tracked = sse([chunk("a"), chunk("b"), "[DONE]"])
        ascript.add(resp)
        out = []
        async with await aclient.chat.completions.create(model="scribe", messages=MSG, stream=True) as s:
            async for c in s:
                out.append(c.text)
        assert tracked.closed
        return out

    assert asyncio.run(run()) == ["a", "b"]


def test_async_stream_error_event(aclient: AsyncModelgate, ascript: AsyncScript) -> None:
    async def run() -> None:
        resp, tracked = sse([chunk("a"), json.dumps({"error": {"message": "boom", "code": "x"}})])
        ascript.add(resp)
        s = await aclient.chat.completions.create(model="scribe", messages=MSG, stream=True)
        with pytest.raises(modelgate.StreamError):
            async for _ in s:
                pass
        assert tracked.closed

    asyncio.run(run())


def test_async_break_closes_the_connection(aclient: AsyncModelgate, ascript: AsyncScript) -> None:
    async def run() -> TrackedStream:
        resp, tracked = sse([text_event(str(i)) for i in range(100)] + ["[DONE]"])
        ascript.add(resp)
        s = await aclient.completions.create(model="scribe", prompt="x", stream=True)
        async for _ in s:
            break
        for _ in range(5):  # the loop finalises the abandoned generator soon after
            gc.collect()
            await asyncio.sleep(0)
        return tracked

    tracked = asyncio.run(run())
    assert tracked.closed and tracked.served < 100
