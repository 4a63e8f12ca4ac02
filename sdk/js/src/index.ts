// @modelgate/sdk: the TypeScript client of the modelgate model API gateway.

export * from "./client.js";
export * from "./errors.js";
export * from "./operations.js";
export * from "./types.js";
export { Stream, parseSSE } from "./streaming.js";
export { verifyWebhook, signWebhook, DEFAULT_TOLERANCE, type HeaderSource } from "./webhooks.js";
export { Modelgate as default } from "./client.js";
