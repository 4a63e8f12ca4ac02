// The SDK against the jobs service alone, verifying a webhook. Skipped unless
// MODELGATE_SDK_JOBS_URL and MODELGATE_SDK_WEBHOOK_SECRET are set;
// sdk/python/tests/test_jobs_live.py starts the service and runs this.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";

const ROW = { sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 };

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
