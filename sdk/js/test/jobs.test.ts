import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";
import { Modelgate } from "../src/index.js";
import { Script, ok } from "./fake.js";

const job = (status: string, id = "job_1", extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ id, object: "job", status, model: "iris", usage: { rows: 1 }, ...extra });

function client(s: Script): Modelgate {
  return new Modelgate({ apiKey: "k", baseURL: "http://gw.test", fetch: s.fetch, sleep: s.sleep });
}

test("submit sends the job body, Prefer and an Idempotency-Key", async () => {
  const s = new Script().add(ok(job("queued"), { location: "/v2/jobs/job_1" }, 202));
  const raw = await client(s).jobs.submit({
    model: "iris", inputs: [{ a: 1 }], webhook: "https://hooks.example/x", webhook_events_filter: ["completed"], metadata: { order: "42" },
  }, { wait: 5 }).withResponse();
  assert.equal(raw.response.status, 202);
  assert.equal(raw.response.headers.get("location"), "/v2/jobs/job_1");
  const r = s.seen[0]!;
  assert.deepEqual([r.method, r.url.pathname, r.headers.get("prefer")], ["POST", "/v2/jobs", "wait=5"]);
  assert.ok(r.headers.get("idempotency-key"));
  assert.deepEqual(s.body(), { model: "iris", inputs: [{ a: 1 }], webhook: "https://hooks.example/x", webhook_events_filter: ["completed"], metadata: { order: "42" } });
  assert.throws(() => client(s).jobs.submit({ model: "iris" }), TypeError);
});

test("wait polls with Retry-After until the job is finished", async () => {
  const s = new Script().add(ok(job("queued"), { "retry-after": "2" }), ok(job("running"), { "retry-after-ms": "500" }), ok(job("running")), ok(job("succeeded", "job_1", { result: { predictions: [] } })));
  const done = await client(s).jobs.wait("job_1", { pollInterval: 250 });
  assert.equal(done.status, "succeeded");
  assert.deepEqual(s.sleeps, [2000, 500, 250]);
  const s2 = new Script().add(ok(job("running")));
  await assert.rejects(client(s2).jobs.wait("job_1", { timeout: 0 }), mg.WaitTimeoutError);
});

test("iter follows cursors", async () => {
  const s = new Script().add(ok({ object: "list", data: [job("succeeded", "j1"), job("succeeded", "j2")], next_cursor: "c2" }), ok({ object: "list", data: [job("succeeded", "j3")], next_cursor: null }));
  const ids: string[] = [];
  for await (const j of client(s).jobs.iter({ status: "succeeded", limit: 2 })) ids.push(j.id);
  assert.deepEqual(ids, ["j1", "j2", "j3"]);
  assert.equal(s.seen[0]!.url.search, "?status=succeeded&limit=2");
  assert.equal(s.seen[1]!.url.search, "?status=succeeded&limit=2&cursor=c2");
});

test("cancel, deliveries, redeliver", async () => {
  const s = new Script().add(ok(job("canceled")), ok({ object: "list", data: [{ id: "d1", outcome: "failed", status: 500 }] }), ok({ id: "d2" }, {}, 202));
  const c = client(s);
  assert.equal((await c.jobs.cancel("job_1")).status, "canceled");
  assert.equal((await c.jobs.deliveries("job_1")).data[0]!.id, "d1");
  assert.equal((await c.jobs.redeliver("job_1", "d1")).id, "d2");
  assert.deepEqual(s.seen.map((r) => `${r.method} ${r.url.pathname}`), ["POST /v2/jobs/job_1/cancel", "GET /v2/jobs/job_1/deliveries", "POST /v2/jobs/job_1/deliveries/d1/redeliver"]);
});
