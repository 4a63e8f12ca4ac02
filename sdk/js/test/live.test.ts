// The SDK against a running stack through Envoy. Skipped unless MODELGATE_SDK_LIVE=1;
// sdk/python/tests/test_live.py starts the stack and runs this with a key in MODELGATE_API_KEY.

import assert from "node:assert/strict";
import { test } from "node:test";

import * as mg from "../src/index.js";

const live = process.env.MODELGATE_SDK_LIVE === "1" && !!process.env.MODELGATE_API_KEY;
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
