import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";
import { Modelgate } from "../src/index.js";
import { Script, problem, sse } from "./fake.js";

const MSG: mg.ChatMessage[] = [{ role: "user", content: "In the beginning" }];
const chunk = (content: string): string => JSON.stringify({
  id: "c", object: "chat.completion.chunk", created: 1, model: "scribe:1",
  choices: [{ index: 0, delta: { content }, finish_reason: null }],
});

function client(s: Script): Modelgate {
  return new Modelgate({ apiKey: "k", baseURL: "http://gw.test", fetch: s.fetch, sleep: s.sleep });
}

test("yields chunks until [DONE] and closes", async () => {
  const t = sse([chunk("a"), chunk("b"), "[DONE]", chunk("after")]);
  const s = new Script().add(t.response);
  const stream = await client(s).chat.completions.create({ model: "scribe", messages: MSG, stream: true, stream_options: { include_usage: true } });
  const got: string[] = [];
  for await (const c of stream) got.push(c.choices[0]?.delta.content ?? "");
  assert.deepEqual(got, ["a", "b"]);
  assert.equal(stream.requestId, "req-sse");
  assert.ok(t.closed());
  assert.equal(s.seen[0]!.headers.get("accept"), "text/event-stream");
  assert.deepEqual(s.body(), { model: "scribe", messages: MSG, stream: true, stream_options: { include_usage: true } });
});

test("an error event throws StreamError", async () => {
  const t = sse([chunk("a"), JSON.stringify({ error: { message: "model crashed", type: "server_error", param: null, code: "internal_error" } }), chunk("after")]);
  const stream = await client(new Script().add(t.response)).chat.completions.create({ model: "scribe", messages: MSG, stream: true });
  const got: unknown[] = [];
  await assert.rejects((async () => { for await (const c of stream) got.push(c); })(),
    (e: unknown) => e instanceof mg.StreamError && e.code === "internal_error" && e.requestId === "req-sse");
  assert.equal(got.length, 1);
  assert.ok(t.closed());
});

test("breaking out closes the connection", async () => {
  const t = sse([...Array.from({ length: 100 }, (_, i) => chunk(String(i))), "[DONE]"]);
  const stream = await client(new Script().add(t.response)).completions.create({ model: "scribe", prompt: "x", stream: true });
  for await (const _ of stream) break;
  assert.ok(t.closed());
  assert.ok(t.served() < 100);
});

test("a stream without [DONE] is a connection error", async () => {
  const t = sse([chunk("a")]);
  const stream = await client(new Script().add(t.response)).chat.completions.create({ model: "scribe", messages: MSG, stream: true });
  await assert.rejects((async () => { for await (const _ of stream) { /* drain */ } })(), mg.APIConnectionError);
});

test("framing: comments, CRLF, multi-line data, events split across reads", async () => {
  const raw = [": keep-alive\r\n\r\n", "data: {\"id\":\"x\",\"choices\":[],\r\n", "data: \"ob", "ject\":\"t\"}\r", "\n\r\ndata: [DO", "NE]\n\n"];
  const t = sse([], raw);
  const stream = await client(new Script().add(t.response)).completions.create({ model: "scribe", prompt: "x", stream: true });
  const got: unknown[] = [];
  for await (const c of stream) got.push(c);
  assert.deepEqual(got, [{ id: "x", choices: [], object: "t" }]);
});

test("an error before the stream starts is a typed error, after retries", async () => {
  const t = sse([chunk("a"), "[DONE]"]);
  const s = new Script().add(problem(503, "service-unavailable"), t.response, problem(400, "context-length-exceeded"));
  const stream = await client(s).chat.completions.create({ model: "scribe", messages: MSG, stream: true });
  let n = 0;
  for await (const _ of stream) n++;
  assert.equal(n, 1);
  await assert.rejects(client(s).chat.completions.create({ model: "scribe", messages: MSG, stream: true }), mg.ContextLengthExceededError);
});

test("the caller's signal ends a running stream", async () => {
  const ac = new AbortController();
  let served = 0;
  const enc = new TextEncoder();
  const s = new Script();
  // Like fetch, the body errors when the request's signal aborts.
  s.add((_req, signal) => new Response(new ReadableStream<Uint8Array>({
    start(ctrl) { signal?.addEventListener("abort", () => ctrl.error(new DOMException("aborted", "AbortError"))); },
    pull(ctrl) { served++; ctrl.enqueue(enc.encode(`data: ${chunk(String(served))}\n\n`)); },
  }), { headers: { "content-type": "text/event-stream" } }));
  const stream = await client(s).chat.completions.create({ model: "scribe", messages: MSG, stream: true }, { signal: ac.signal });
  let n = 0;
  await assert.rejects((async () => { for await (const _ of stream) { if (++n === 2) ac.abort(); } })(), { name: "AbortError" });
  assert.ok(n < 10 && served < 10);
});
