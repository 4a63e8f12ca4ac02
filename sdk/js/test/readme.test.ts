// The README's quick start runs as written, against a fake gateway.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { signWebhook } from "../src/index.js";

const README = new URL("../../README.md", import.meta.url);
const INDEX = new URL("../src/index.js", import.meta.url);

function gateway(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const url = new URL(String(input));
  const h = { "content-type": "application/json", "x-request-id": "req-readme", "x-model-version": "2", "x-cache": "MISS" };
  const body = typeof init?.body === "string" ? JSON.parse(init.body) as Record<string, unknown> : {};
  const json = (b: unknown, status = 200, extra: Record<string, string> = {}): Promise<Response> =>
    Promise.resolve(new Response(JSON.stringify(b), { status, headers: { ...h, ...extra } }));
  if (url.pathname === "/v2/predict") {
    const rows = body.inputs as Array<Record<string, unknown>>;
    if (rows.some((r) => Object.values(r).some((v) => typeof v !== "number"))) {
      return json({ type: "https://modelgate.dev/problems/validation-failed", title: "Validation failed", status: 400,
        errors: [{ pointer: "/inputs/0/sepal_length", detail: "must be a number" }] }, 400, { "content-type": "application/problem+json" });
    }
    return json({ model: "iris", model_version: "2", request_id: "r", predictions: [{ label: "setosa" }], usage: { rows: 1 } });
  }
  if (url.pathname === "/v1/chat/completions") {
    const events = [{ choices: [{ index: 0, delta: { role: "assistant" }, finish_reason: null }] },
      { choices: [{ index: 0, delta: { content: "Light." }, finish_reason: "stop" }] }];
    const text = events.map((e) => `data: ${JSON.stringify(e)}\n\n`).join("") + "data: [DONE]\n\n";
    return Promise.resolve(new Response(text, { headers: { "content-type": "text/event-stream" } }));
  }
  const job = { id: "job_1", object: "job", status: "queued", model: "iris" };
  if (url.pathname === "/v2/jobs" && init?.method === "POST") return json(job, 202, { location: "/v2/jobs/job_1" });
  if (url.pathname === "/v2/jobs/job_1") return json({ ...job, status: "succeeded" });
  if (url.pathname === "/v2/jobs") return json({ object: "list", data: [job], next_cursor: null });
  if (url.pathname === "/v2/models") return json({ models: [{ name: "iris", versions: [] }] });
  return json({}, 404);
}

test("README blocks run", async (t) => {
  const blocks = [...readFileSync(README, "utf8").matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 5);
  const lines: string[] = [];
  t.mock.method(console, "log", (...a: unknown[]) => { lines.push(a.map(String).join(" ")); });
  t.mock.method(process.stdout, "write", (s: string) => { lines.push(s); return true; });
  t.mock.method(globalThis, "fetch", gateway);
  const file = fileURLToPath(new URL("./readme.generated.mjs", import.meta.url));
  writeFileSync(file, blocks.join("\n").replaceAll('"@modelgate/sdk"', JSON.stringify(INDEX.href)));
  const mod = await import(file) as { handle: (b: string, h: Record<string, string>) => Promise<void> };
  const secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
  const body = '{"type":"job.succeeded","data":{"id":"job_1"}}';
  const ts = Math.floor(Date.now() / 1000);
  await mod.handle(body, { "webhook-id": "m1", "webhook-timestamp": String(ts), "webhook-signature": await signWebhook("m1", ts, body, secret) });
  const out = lines.join("\n");
  for (const want of ["2 setosa", "Light.", "/inputs/0/sepal_length must be a number", "succeeded", "job_1", "job.succeeded", "200 2 MISS req-readme 1"]) {
    assert.ok(out.includes(want), `${want} in ${out}`);
  }
});
