// Verification of Standard Webhooks (v1, HMAC-SHA256) that the gateway sends for jobs, on WebCrypto.

import { WebhookVerificationError } from "./errors.js";

/** DEFAULT_TOLERANCE is how far webhook-timestamp may be from now, in seconds, either way. */
export const DEFAULT_TOLERANCE = 300;

const enc = new TextEncoder();

function b64decode(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64encode(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s);
}

function secretBytes(secret: string | Uint8Array): Uint8Array {
  if (typeof secret !== "string") return secret;
  const s = secret.startsWith("whsec_") ? secret.slice(6) : secret;
  try {
    return b64decode(s);
  } catch {
    throw new WebhookVerificationError("webhook secret is not base64 (whsec_...)");
  }
}

async function hmac(secret: string | Uint8Array, msgId: string, timestamp: number, body: string | Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(secretBytes(secret)), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const prefix = enc.encode(`${msgId}.${timestamp}.`);
  const payload = typeof body === "string" ? enc.encode(body) : body;
  const signed = new Uint8Array(prefix.length + payload.length);
  signed.set(prefix);
  signed.set(payload, prefix.length);
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, signed));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** signWebhook returns the `v1,<signature>` entry for one message (useful to test receivers). */
export async function signWebhook(msgId: string, timestamp: number, body: string | Uint8Array, secret: string | Uint8Array): Promise<string> {
  return "v1," + b64encode(await hmac(secret, msgId, timestamp, body));
}

export type HeaderSource = Headers | Record<string, string | string[] | undefined>;

function header(h: HeaderSource, name: string): string | undefined {
  if (h instanceof Headers) return h.get(name) ?? undefined;
  for (const [k, v] of Object.entries(h)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(" ") : v;
  }
  return undefined;
}

/**
 * verifyWebhook checks a delivery's signature and timestamp and returns its
 * decoded JSON payload. `body` must be the raw body as received; `secret`
 * is the endpoint's `whsec_...` secret. Any v1 signature may match, so
 * deliveries verify during a secret rotation. Deduplicate on webhook-id.
 */
export async function verifyWebhook(body: string | Uint8Array, headers: HeaderSource, secret: string | Uint8Array,
  options: { tolerance?: number; now?: number } = {}): Promise<unknown> {
  const id = header(headers, "webhook-id"), ts = header(headers, "webhook-timestamp"), sigs = header(headers, "webhook-signature");
  if (!id || !ts || !sigs) throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  if (!/^\d+$/.test(ts)) throw new WebhookVerificationError("webhook-timestamp is not an integer");
  const timestamp = Number(ts);
  const now = options.now ?? Date.now() / 1000;
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE;
  if (timestamp < now - tolerance) throw new WebhookVerificationError("webhook timestamp too old");
  if (timestamp > now + tolerance) throw new WebhookVerificationError("webhook timestamp too new");
  const expected = await hmac(secret, id, timestamp, body);
  for (const entry of sigs.split(" ")) {
    const [version, sig] = entry.split(",", 2);
    if (version !== "v1" || !sig) continue;
    let got: Uint8Array;
    try { got = b64decode(sig); } catch { continue; }
    if (equal(got, expected)) {
      const text = typeof body === "string" ? body : new TextDecoder().decode(body);
      try { return JSON.parse(text); } catch { throw new WebhookVerificationError("webhook body is not JSON"); }
    }
  }
  throw new WebhookVerificationError("no matching webhook signature");
}
