// The SDK against the whole stack through real Envoy. Skipped unless
// MODELGATE_SDK_LIVE=1 with keys in MODELGATE_API_KEY (a tier with room) and
// MODELGATE_SDK_FREE_KEY (the free tier, to meet its quota);
// sdk/python/tests/test_live.py starts the stack, issues both keys and runs
// this file, failing when any test here fails or is skipped.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";

const live = process.env.MODELGATE_SDK_LIVE === "1" && !!process.env.MODELGATE_API_KEY && !!process.env.MODELGATE_SDK_FREE_KEY;
const skip = !live && "live tests run with make test-sdk-live";
const ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };
const MSG: mg.ChatMessage[] = [{ role: "user", content: "In the beginning" }];

interface Attempt { status: number; at: number; headers: Headers }

interface TrackedBody { ended: boolean; cancelled: boolean }

/** recording wraps fetch, noting every answer and, per event-stream body, whether it ended or the SDK cancelled it. */
function recording(): { fetch: typeof fetch; attempts: Attempt[]; streams: TrackedBody[] } {
  const attempts: Attempt[] = [];
  const streams: TrackedBody[] = [];
  const f: typeof fetch = async (input, init) => {
    const r = await globalThis.fetch(input, init);
    attempts.push({ status: r.status, at: performance.now(), headers: r.headers });
    if (!r.body || !(r.headers.get("content-type") ?? "").startsWith("text/event-stream")) return r;
    const reader = r.body.getReader();
    const tracked: TrackedBody = { ended: false, cancelled: false };
    streams.push(tracked);
    const body = new ReadableStream<Uint8Array>({
      async pull(ctl) {
        const { done, value } = await reader.read();
        if (done) { tracked.ended = true; ctl.close(); } else ctl.enqueue(value);
      },
      async cancel(reason) {
        tracked.cancelled = true;
        await reader.cancel(reason);
      },
    // No read-ahead: a chunk is fetched only when the SDK asks for one, so
    // "ended" means the SDK read the body to its end.
    }, { highWaterMark: 0 });
    return new Response(body, { status: r.status, statusText: r.statusText, headers: r.headers });
  };
  return { fetch: f, attempts, streams };
}

/** announcedWait is the wait a 429 asked for, in ms, as the SDK reads it. */
function announcedWait(h: Headers): number {
  const ms = Number(h.get("retry-after-ms"));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const s = Number(h.get("retry-after"));
  return Number.isFinite(s) ? s * 1000 : 0;
}

test("live stack: a prediction, x-model-version read from the raw response", { skip }, async () => {
  const c = new mg.Modelgate();
  const raw = await c.predict({ model: "iris", inputs: [ROW], options: { return_probabilities: true } }, { cacheControl: "no-cache" }).withResponse();
  assert.equal(raw.response.status, 200);
  assert.equal(raw.data.predictions[0]!.label, "setosa");
  assert.ok(raw.modelVersion && raw.modelVersion === raw.data.model_version && raw.modelVersion === raw.response.headers.get("x-model-version"));
  assert.ok(raw.requestId && raw.data.usage.rows === 1);
  const pinned = await c.predict({ model: "iris", inputs: [ROW] }, { modelVersion: "1", cacheControl: "no-cache" }).withResponse();
  assert.equal(pinned.modelVersion, "1");
  assert.equal(pinned.data.model_version, "1");
});

test("live stack: problems are typed, a validation problem with its pointers", { skip }, async () => {
  const c = new mg.Modelgate();
  await assert.rejects(c.predict({ model: "iris", inputs: [{ sepal_length: 5.1 }] }), (e: unknown) => {
    assert.ok(e instanceof mg.ValidationError, String(e));
    assert.equal(e.status, 400);
    assert.ok(e.requestId);
    const pointers = e.violations.map((v) => v.pointer);
    assert.ok(pointers.includes("/inputs/0/petal_width"), pointers.join(", "));
    assert.ok(pointers.every((p) => p.startsWith("/inputs/0/")), pointers.join(", "));
    assert.ok(e.violations.every((v) => v.detail !== ""));
    return true;
  });
  await assert.rejects(c.predict({ model: "no-such-model", inputs: [ROW] }), mg.UnknownModelError);
  await assert.rejects(new mg.Modelgate({ apiKey: "mg_not_a_key" }).models.list(), mg.AuthenticationError);
});

test("live stack: a 429 is honoured, waiting as Retry-After says", { skip }, async () => {
  const key = process.env.MODELGATE_SDK_FREE_KEY!;
  const strict = new mg.Modelgate({ apiKey: key, maxRetries: 0 });
  let limited: mg.RateLimitError | undefined;
  for (let i = 0; i < 20 && !limited; i++) { // the free tier allows 5 requests a second
    try {
      await strict.predict({ model: "iris", inputs: [ROW] }, { cacheControl: "no-cache" });
    } catch (e) {
      if (!(e instanceof mg.RateLimitError)) throw e;
      limited = e;
    }
  }
  assert.ok(limited, "the free tier never answered 429");
  assert.ok(limited.retryAfter !== undefined && limited.retryAfter > 0 && limited.retryAfter <= 60, `retryAfter ${limited.retryAfter}`);
  assert.equal(limited.status, 429);

  // A retrying client meets the same quota: each call must still succeed, and
  // the one that met a 429 waited at least as long as it was told to.
  const rec = recording();
  const patient = new mg.Modelgate({ apiKey: key, maxRetries: 3, fetch: rec.fetch });
  let honoured = false;
  for (let i = 0; i < 20 && !honoured; i++) {
    const before = rec.attempts.length;
    const raw = await patient.predict({ model: "iris", inputs: [ROW] }, { cacheControl: "no-cache" }).withResponse();
    assert.equal(raw.response.status, 200);
    const mine = rec.attempts.slice(before);
    const k = mine.findIndex((a) => a.status === 429);
    if (k < 0) continue;
    assert.ok(raw.retries >= 1);
    const waited = mine[k + 1]!.at - mine[k]!.at;
    assert.ok(waited >= announcedWait(mine[k]!.headers) * 0.9, `waited ${waited} ms, told ${announcedWait(mine[k]!.headers)} ms`);
    honoured = true;
  }
  assert.ok(honoured, "no call met the quota");
});

test("live stack: a chat stream read to [DONE], another broken off", { skip }, async () => {
  const rec = recording();
  const c = new mg.Modelgate({ fetch: rec.fetch });
  const chunks: mg.ChatCompletionChunk[] = [];
  // The loop ending without a throw is the [DONE]: a stream that ends
  // without it throws APIConnectionError.
  const s = await c.chat.completions.create({ model: "scribe", messages: MSG, max_tokens: 8, stream: true, stream_options: { include_usage: true } });
  for await (const ch of s) chunks.push(ch);
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.ok(last.usage && last.usage.completion_tokens >= 1 && last.usage.completion_tokens <= 8);
  assert.ok(chunks.some((ch) => ch.choices.some((x) => (x.delta.content ?? "") !== "")));
  assert.ok(chunks.some((ch) => ch.choices.some((x) => x.finish_reason === "stop" || x.finish_reason === "length")));

  const s2 = await c.chat.completions.create({ model: "scribe", messages: MSG, max_tokens: 200, stream: true });
  let seen = 0;
  for await (const _ of s2) { seen++; break; }
  assert.equal(seen, 1);
  const body = rec.streams.at(-1)!;
  assert.equal(rec.streams.length, 2);
  assert.ok(body.cancelled && !body.ended, "breaking out did not drop the connection before the stream's end");
  assert.ok((await c.models.list()).models.length > 0, "the client still works after breaking off");
});

test("live stack: a job submitted and waited for", { skip }, async () => {
  const c = new mg.Modelgate();
  // A backlog submitted at once keeps the job unfinished for a while, so
  // wait has to poll rather than find it done at once.
  const batch = Array.from({ length: 1000 }, () => ROW);
  await Promise.all(Array.from({ length: 20 }, () => c.jobs.submit({ model: "iris", inputs: batch })));
  const raw = await c.jobs.submit({ model: "iris", inputs: batch, metadata: { order: "42" } }).withResponse();
  assert.equal(raw.response.status, 202);
  assert.ok(raw.response.headers.get("location")?.endsWith(raw.data.id));
  const done = await c.jobs.wait(raw.data.id, { timeout: 60_000, pollInterval: 20 });
  assert.equal(done.status, "succeeded");
  assert.equal((done.result as mg.PredictResponse).predictions.length, batch.length);
  assert.deepEqual(done.metadata, { order: "42" });
  let found = false;
  for await (const j of c.jobs.iter()) if (j.id === done.id) { found = true; break; }
  assert.ok(found, "the job is listed");
  await assert.rejects(c.jobs.cancel(done.id), mg.JobFinishedError);
});
