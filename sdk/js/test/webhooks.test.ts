import assert from "node:assert/strict";
import { test } from "node:test";

import { Webhook } from "standardwebhooks";

import * as mg from "../src/index.js";

const SECRET = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
const BODY = JSON.stringify({ type: "job.succeeded", timestamp: "2026-12-03T10:00:00Z", data: { id: "job_1" } });

function signed(id = "msg_1", when = Date.now(), secret = SECRET): Record<string, string> {
  const d = new Date(when);
  return { "webhook-id": id, "webhook-timestamp": String(Math.floor(when / 1000)), "webhook-signature": new Webhook(secret).sign(id, d, BODY) };
}

test("accepts what standardwebhooks signs", async () => {
  const event = await mg.verifyWebhook(BODY, signed(), SECRET) as { data: { id: string } };
  assert.equal(event.data.id, "job_1");
  const h = new Headers(signed());
  assert.ok(await mg.verifyWebhook(new TextEncoder().encode(BODY), h, SECRET));
});

test("accepts any of several signatures during rotation", async () => {
  const old = "whsec_" + Buffer.from("another-secret-of-32-bytes-long!").toString("base64");
  const h = signed();
  h["webhook-signature"] = signed("msg_1", Date.now(), old)["webhook-signature"] + " " + h["webhook-signature"];
  await mg.verifyWebhook(BODY, h, SECRET);
});

test("refuses tampered bodies, ids and signatures", async () => {
  const h = signed();
  const cases: Array<[string, Record<string, string>]> = [
    [BODY.replace("job_1", "job_2"), h],
    [BODY, { ...h, "webhook-id": "msg_2" }],
    [BODY, { ...h, "webhook-signature": "v1," + Buffer.alloc(32, 1).toString("base64") }],
    [BODY, { ...h, "webhook-signature": h["webhook-signature"]!.replace("v1,", "v2,") }],
    [BODY, { "webhook-id": "msg_1", "webhook-timestamp": h["webhook-timestamp"]! }],
  ];
  for (const [body, headers] of cases) await assert.rejects(mg.verifyWebhook(body, headers, SECRET), mg.WebhookVerificationError);
});

test("refuses stale and future timestamps", async () => {
  await assert.rejects(mg.verifyWebhook(BODY, signed("m", Date.now() - 600_000), SECRET), /too old/);
  await assert.rejects(mg.verifyWebhook(BODY, signed("m", Date.now() + 600_000), SECRET), /too new/);
  await mg.verifyWebhook(BODY, signed("m", Date.now() - 600_000), SECRET, { tolerance: 900 });
});

test("standardwebhooks accepts our signature", async () => {
  const ts = Math.floor(Date.now() / 1000);
  const h = { "webhook-id": "msg_9", "webhook-timestamp": String(ts), "webhook-signature": await mg.signWebhook("msg_9", ts, BODY, SECRET) };
  assert.deepEqual((new Webhook(SECRET).verify(BODY, h) as { data: unknown }).data, { id: "job_1" });
});
