import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";
import { Modelgate } from "../src/index.js";
import { Script, ok, problem } from "./fake.js";

const ROWS = [{ a: 1 }];
const GOOD = { model: "iris", model_version: "1", predictions: [], request_id: "r", usage: { rows: 1 } };

function client(s: Script, o: mg.ClientOptions = {}): Modelgate {
  return new Modelgate({ apiKey: "mg_test", baseURL: "http://gw.test", fetch: s.fetch, sleep: s.sleep, ...o });
}

const kinds: Array<[number, string, new (...a: never[]) => mg.APIStatusError]> = [
  [400, "malformed-json", mg.MalformedJSONError], [400, "validation-failed", mg.ValidationError],
  [400, "wrong-model-kind", mg.WrongModelKindError], [400, "context-length-exceeded", mg.ContextLengthExceededError],
  [401, "unauthorized", mg.AuthenticationError], [403, "forbidden", mg.PermissionDeniedError],
  [404, "unknown-model", mg.UnknownModelError], [404, "unknown-model-version", mg.UnknownModelVersionError],
  [404, "not-found", mg.NotFoundError], [405, "method-not-allowed", mg.MethodNotAllowedError],
  [410, "route-sunset", mg.GoneError], [413, "body-too-large", mg.PayloadTooLargeError],
  [413, "too-many-rows", mg.TooManyRowsError], [415, "unsupported-media-type", mg.UnsupportedMediaTypeError],
  [429, "quota-exceeded", mg.RateLimitError], [429, "upstream-rate-limited", mg.UpstreamRateLimitedError],
  [500, "internal-error", mg.InternalServerError], [502, "upstream-failed", mg.UpstreamError],
  [503, "service-unavailable", mg.ServiceUnavailableError], [409, "job-finished", mg.JobFinishedError],
  [422, "idempotency-key-reused", mg.IdempotencyKeyReusedError], [431, "headers-too-large", mg.HeadersTooLargeError], [504, "upstream-timeout", mg.UpstreamTimeoutError],
];

for (const [status, kind, cls] of kinds) {
  test(`problem ${kind} is a ${cls.name}`, async () => {
    const s = new Script().add(problem(status, kind, { "x-should-retry": "false" }));
    const err = await client(s).predict({ model: "iris", inputs: ROWS }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof cls);
    assert.equal(Object.getPrototypeOf(err).constructor, cls);
    assert.equal((err as mg.APIStatusError).status, status);
    assert.equal((err as mg.APIStatusError).requestId, "req-" + kind);
    assert.equal((err as mg.APIStatusError).problem.type, mg.PROBLEM_BASE + kind);
  });
}

test("validation error lists violations", async () => {
  const s = new Script().add(problem(400, "validation-failed", {}, { errors: [{ pointer: "/inputs/0/a", detail: "must be a number" }] }));
  await assert.rejects(client(s).predict({ model: "iris", inputs: ROWS }), (e: unknown) => {
    assert.ok(e instanceof mg.ValidationError);
    assert.deepEqual(e.violations, [{ pointer: "/inputs/0/a", detail: "must be a number" }]);
    return true;
  });
});

test("unknown problem types fall back on the status", async () => {
  const s = new Script().add(problem(422, "idempotency-key-reused"), new Response("teapot", { status: 418 }));
  await assert.rejects(client(s).jobs.get("j"), mg.UnprocessableEntityError);
  await assert.rejects(client(s).jobs.get("j"), (e: unknown) => e instanceof mg.APIStatusError && e.status === 418);
});

test("rate limit error carries retryAfter", async () => {
  const s = new Script().add(problem(429, "quota-exceeded", { "retry-after-ms": "6500", "retry-after": "7" }));
  await assert.rejects(client(s, { maxRetries: 0 }).models.list(), (e: unknown) => e instanceof mg.RateLimitError && e.retryAfter === 6.5);
});

for (const status of [408, 409, 429, 500, 502, 503, 504]) {
  test(`retries status ${status}`, async () => {
    const s = new Script().add(problem(status, "x"), ok(GOOD));
    assert.equal((await client(s).predict({ model: "iris", inputs: ROWS })).model, "iris");
    assert.equal(s.seen.length, 2);
  });
}

test("does not retry client errors", async () => {
  for (const status of [400, 401, 403, 404, 413, 422]) {
    const s = new Script().add(problem(status, "x"));
    await assert.rejects(client(s).predict({ model: "iris", inputs: ROWS }), mg.APIStatusError);
    assert.equal(s.seen.length, 1);
  }
});

test("one Idempotency-Key per call, reused across its retries", async () => {
  const s = new Script().add(problem(503, "service-unavailable"), new TypeError("fetch failed"), ok(GOOD), ok(GOOD));
  const c = client(s);
  await c.predict({ model: "iris", inputs: ROWS });
  const keys = new Set(s.seen.map((r) => r.headers.get("idempotency-key")));
  assert.equal(keys.size, 1);
  assert.deepEqual(s.seen.map((r) => r.headers.get("x-retry-count")), [null, "1", "2"]);
  await c.predict({ model: "iris", inputs: ROWS });
  assert.ok(!keys.has(s.seen[3]!.headers.get("idempotency-key")));
  assert.match(s.seen[0]!.headers.get("idempotency-key")!, /^mg-[0-9a-f]{32}$/);
});

test("caller's Idempotency-Key wins; GET has none", async () => {
  const s = new Script().add(ok({ id: "j", object: "job", status: "queued" }, {}, 202), ok({ models: [] }));
  await client(s).jobs.submit({ model: "iris", inputs: ROWS }, { idempotencyKey: "order-42" });
  await client(s).models.list();
  assert.equal(s.seen[0]!.headers.get("idempotency-key"), "order-42");
  assert.equal(s.seen[1]!.headers.get("idempotency-key"), null);
  assert.equal(s.seen[1]!.headers.get("x-api-key"), "mg_test");
});

test("gives up after maxRetries", async () => {
  const s = new Script().add(problem(503, "a"), problem(503, "b"), problem(503, "c"));
  await assert.rejects(client(s).models.list(), mg.ServerError);
  assert.equal(s.seen.length, 3);
  assert.equal(s.sleeps.length, 2);
  const s2 = new Script().add(problem(503, "a"));
  await assert.rejects(client(s2).models.list({ maxRetries: 0 }), mg.ServerError);
  assert.equal(s2.seen.length, 1);
});

test("backoff doubles with jitter and stops growing at 8 s", async () => {
  const s = new Script();
  for (let i = 0; i < 6; i++) s.add(new TypeError("fetch failed"));
  s.add(ok(GOOD));
  await client(s, { maxRetries: 6 }).models.list();
  const bases = [500, 1000, 2000, 4000, 8000, 8000];
  assert.equal(s.sleeps.length, 6);
  s.sleeps.forEach((ms, i) => assert.ok(ms >= bases[i]! * 0.75 && ms <= bases[i]!, `${ms} vs ${bases[i]}`));
});

test("honours retry-after-ms, then Retry-After; a wait above the cap is not retried", async () => {
  const s = new Script().add(problem(429, "q", { "retry-after-ms": "1250", "retry-after": "2" }), problem(429, "q", { "retry-after": "3" }), ok(GOOD));
  await client(s).models.list();
  assert.deepEqual(s.sleeps, [1250, 3000]);
  const s2 = new Script().add(problem(429, "quota-exceeded", { "retry-after": "3600" }));
  await assert.rejects(client(s2).models.list(), (e: unknown) => e instanceof mg.RateLimitError && e.retryAfter === 3600);
  assert.equal(s2.seen.length, 1);
  const s3 = new Script().add(problem(429, "quota-exceeded", { "retry-after": "3600" }), ok(GOOD));
  await client(s3, { maxRetryDelay: 5_000_000 }).models.list();
  assert.deepEqual(s3.sleeps, [3_600_000]);
});

test("a finished job's conflict is not retried", async () => {
  const s = new Script().add(problem(409, "job-finished"));
  await assert.rejects(client(s).jobs.cancel("job_1"), mg.JobFinishedError);
  assert.equal(s.seen.length, 1);
});

test("x-should-retry wins over the status", async () => {
  const s = new Script().add(problem(429, "q", { "x-should-retry": "false" }));
  await assert.rejects(client(s).models.list(), mg.RateLimitError);
  assert.equal(s.seen.length, 1);
  const s2 = new Script().add(problem(400, "q", { "x-should-retry": "true" }), ok(GOOD));
  await client(s2).models.list();
  assert.equal(s2.seen.length, 2);
});

test("connection errors and timeouts after retries", async () => {
  const s = new Script().add(new TypeError("a"), new TypeError("b"), new TypeError("c"));
  await assert.rejects(client(s).models.list(), (e: unknown) => e instanceof mg.APIConnectionError && !(e instanceof mg.APITimeoutError));
  const hang = (_r: unknown, signal: AbortSignal | undefined): Promise<Response> =>
    new Promise((_, reject) => signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));
  const s2 = new Script().add(hang, hang);
  await assert.rejects(client(s2, { timeout: 20, maxRetries: 1 }).models.list(), mg.APITimeoutError);
  assert.equal(s2.seen.length, 2);
});

test("raw response gives headers", async () => {
  const s = new Script().add(ok({ models: [] }, { "x-model-version": "3", "x-cache": "HIT" }));
  const raw = await client(s).models.list().withResponse();
  assert.deepEqual([raw.response.status, raw.modelVersion, raw.cache, raw.requestId, raw.retries], [200, "3", "HIT", "req-ok", 0]);
  assert.deepEqual(raw.data, { models: [] });
});

test("deprecation warns once per route, and can be silenced", async (t) => {
  const warn = t.mock.method(console, "warn", () => undefined);
  const dep = { deprecation: "@1688169600", sunset: "Sun, 30 Jun 2030 23:59:59 GMT" };
  const v1 = { predictions: ["setosa"], model_version: "1", request_id: "r" };
  const s = new Script().add(ok(v1, dep), ok(v1, dep), ok(v1, dep));
  const c = client(s);
  await c.predictV1({ inputs: ROWS });
  await c.predictV1({ inputs: ROWS });
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0]!.arguments[0]), /POST \/v1\/predict is deprecated.*Sunset/);
  await client(s, { warnDeprecations: false }).predictV1({ inputs: ROWS });
  assert.equal(warn.mock.callCount(), 1);
});

test("options and headers reach the request", async () => {
  const s = new Script().add(ok(GOOD));
  await client(s).predict({ model: "iris", inputs: ROWS, version: "2" }, { modelVersion: "3", cacheControl: "no-cache", headers: { "x-trace": "t" } });
  const r = s.seen[0]!;
  assert.equal(r.headers.get("x-model-version"), "3");
  assert.equal(r.headers.get("cache-control"), "no-cache");
  assert.equal(r.headers.get("x-trace"), "t");
  assert.match(r.headers.get("user-agent")!, /^modelgate-js\//);
  assert.deepEqual(s.body(), { model: "iris", inputs: ROWS, version: "2" });
});

test("api key from the environment", () => {
  const saved = process.env.MODELGATE_API_KEY;
  delete process.env.MODELGATE_API_KEY;
  assert.throws(() => new Modelgate());
  process.env.MODELGATE_API_KEY = "mg_env";
  assert.equal(new Modelgate().apiKey, "mg_env");
  if (saved === undefined) delete process.env.MODELGATE_API_KEY; else process.env.MODELGATE_API_KEY = saved;
});
