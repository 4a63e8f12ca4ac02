// Verifies one modelgate webhook delivery with the official
// standardwebhooks package for JavaScript; run by tests/clients/test_webhooks.py.
// stdin: {"secret": "whsec_…", "headers": {…}, "body": "<base64>"}.
// A valid delivery must verify; the same delivery with a tampered body or
// a stale timestamp must not. Prints the event type on success.
import { Webhook } from "standardwebhooks";

const input = JSON.parse(await new Promise((resolve) => {
  let data = "";
  process.stdin.on("data", (c) => (data += c));
  process.stdin.on("end", () => resolve(data));
}));
const body = Buffer.from(input.body, "base64").toString("utf8");
const wh = new Webhook(input.secret);
const event = wh.verify(body, input.headers);

const mustFail = (what, payload, headers) => {
  try {
    wh.verify(payload, headers);
  } catch {
    return;
  }
  throw new Error(`${what} verified`);
};
mustFail("a tampered body", body.replace("succeeded", "failed"), input.headers);
mustFail("a stale timestamp", body, { ...input.headers, "webhook-timestamp": String(Number(input.headers["webhook-timestamp"]) - 3600) });
console.log(event.type);
