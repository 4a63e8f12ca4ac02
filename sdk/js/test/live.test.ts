// The SDK against a running stack through Envoy. Skipped unless MODELGATE_SDK_LIVE=1;
// sdk/python/tests/test_live.py starts the stack and runs this with a key in MODELGATE_API_KEY.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";

const live = process.env.MODELGATE_SDK_LIVE === "1" && !!process.env.MODELGATE_API_KEY && !process.env.MODELGATE_SDK_JOBS_URL;
const ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

test("live: predict, problems, a stream to [DONE] and one broken off", { skip: !live && "live tests run with make test-sdk-live" }, async () => {
  const c = new mg.Modelgate();
  const raw = await c.predict({ model: "iris", inputs: [ROW] }, { cacheControl: "no-cache" }).withResponse();
  assert.equal(raw.data.predictions[0]!.label, "setosa");
  assert.ok(raw.requestId && raw.modelVersion);
  await assert.rejects(c.predict({ model: "iris", inputs: [{ sepal_length: 5.1 }] }), (e: unknown) =>
    e instanceof mg.ValidationError && e.violations.some((v) => v.pointer === "/inputs/0/petal_width"));
  await assert.rejects(c.predict({ model: "no-such-model", inputs: [ROW] }), mg.UnknownModelError);
  await assert.rejects(new mg.Modelgate({ apiKey: "mg_not_a_key" }).models.list(), mg.AuthenticationError);
  const chunks: mg.ChatCompletionChunk[] = [];
  const s = await c.chat.completions.create({ model: "scribe", messages: [{ role: "user", content: "In the beginning" }], max_tokens: 8, stream: true, stream_options: { include_usage: true } });
  for await (const ch of s) chunks.push(ch);
  assert.ok(chunks.at(-1)!.usage!.completion_tokens >= 1);
  const s2 = await c.chat.completions.create({ model: "scribe", messages: [{ role: "user", content: "In the beginning" }], max_tokens: 64, stream: true });
  for await (const _ of s2) break;
  assert.ok((await c.models.list()).models.length > 0);
});

const jobsURL = process.env.MODELGATE_SDK_JOBS_URL;
const secret = process.env.MODELGATE_SDK_WEBHOOK_SECRET;

test("live: a job whose webhook verifies", { skip: !(jobsURL && secret) && "needs the jobs service (sdk/python/tests/test_jobs_live.py)" }, async () => {
  const { createServer } = await import("node:http");
  const verified: unknown[] = [];
  const srv = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (b: Buffer) => parts.push(b));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      mg.verifyWebhook(new Uint8Array(Buffer.concat(parts)), headers, secret!).then((e) => verified.push(e), () => verified.push("refused"))
        .finally(() => { res.statusCode = 204; res.end(); });
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  try {
    const port = (srv.address() as { port: number }).port;
    const c = new mg.Modelgate({ apiKey: "unused", baseURL: jobsURL, defaultHeaders: { "x-modelgate-client": "sdk-jobs" } });
    const job = await c.jobs.submit({ model: "iris", inputs: [ROW], webhook: `http://127.0.0.1:${port}/hook` });
    assert.equal((await c.jobs.wait(job.id, { timeout: 30_000, pollInterval: 100 })).status, "succeeded");
    for (let i = 0; i < 200 && verified.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal((verified[0] as { type?: string }).type, "job.succeeded");
    await assert.rejects(c.jobs.cancel(job.id), mg.JobFinishedError);
  } finally {
    srv.close();
  }
});
