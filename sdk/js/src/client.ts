// The modelgate client: transport with retries, and one method per operation.

import { APIConnectionError, APITimeoutError, FINAL_TYPES, WaitTimeoutError, retryAfterSeconds, statusError } from "./errors.js";
import { Stream } from "./streaming.js";
import {
  TERMINAL_STATUSES,
  type ChatCompletion, type ChatCompletionChunk, type ChatCompletionParams, type Completion, type CompletionParams,
  type DeliveryList, type Redelivery, type InferParams, type InferResponse, type Job, type JobList, type JobParams,
  type ListJobsParams, type ModelList, type ModelMetadata, type PredictParams, type PredictResponse,
  type PredictV1Params, type PredictV1Response, type ServerMetadata, type TextModel, type TextModelList,
} from "./types.js";

export const VERSION = "0.1.0";
export const DEFAULT_BASE_URL = "http://localhost:8080";
/** DEFAULT_TIMEOUT_MS allows a large batch or a long completion; streams count it until their headers arrive. */
export const DEFAULT_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_RETRIES = 2;
/** DEFAULT_MAX_RETRY_DELAY_MS caps one retry's wait; a server asking for longer is not retried. */
export const DEFAULT_MAX_RETRY_DELAY_MS = 60_000;
const INITIAL_RETRY_DELAY_MS = 500;
const MAX_BACKOFF_MS = 8_000;

export interface ClientOptions {
  /** apiKey defaults to the MODELGATE_API_KEY environment variable. */
  apiKey?: string;
  /** baseURL defaults to MODELGATE_BASE_URL, then http://localhost:8080. */
  baseURL?: string;
  timeout?: number;
  maxRetries?: number;
  maxRetryDelay?: number;
  /** warnDeprecations logs one console.warn per route that answers with Deprecation or Sunset. */
  warnDeprecations?: boolean;
  defaultHeaders?: Record<string, string>;
  fetch?: typeof fetch;
  /** sleep replaces the wait between retries and polls (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  timeout?: number;
  maxRetries?: number;
  /** idempotencyKey replaces the key generated for this call (non-GET only). */
  idempotencyKey?: string;
  signal?: AbortSignal;
  /** modelVersion pins a version or alias with the x-model-version header. */
  modelVersion?: string;
  /** cacheControl is `no-cache` (skip the cache lookup) or `no-store` (skip storing). */
  cacheControl?: string;
}

/** RawResponse is a parsed body together with the HTTP answer it came in. */
export interface RawResponse<T> {
  data: T;
  response: Response;
  requestId: string | undefined;
  modelVersion: string | undefined;
  cache: string | undefined;
  retries: number;
}

/** APIPromise resolves to the parsed body; withResponse() also gives the headers. */
export class APIPromise<T> implements Promise<T> {
  readonly [Symbol.toStringTag] = "APIPromise";

  constructor(private readonly inner: Promise<RawResponse<T>>) {}

  then<A = T, B = never>(ok?: ((v: T) => A | PromiseLike<A>) | null, err?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<A | B> {
    return this.inner.then((r) => r.data).then(ok, err);
  }

  catch<B = never>(err?: ((e: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.inner.then((r) => r.data).catch(err);
  }

  finally(f?: (() => void) | null): Promise<T> {
    return this.inner.then((r) => r.data).finally(f);
  }

  withResponse(): Promise<RawResponse<T>> {
    return this.inner;
  }
}

interface Call {
  method: "GET" | "POST";
  path: string;
  route: string;
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
}

const seg = (s: string): string => encodeURIComponent(s).replace(/%3A/gi, ":").replace(/%40/g, "@");

function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.[name];
}

/**
 * Modelgate is the client of a modelgate gateway. Failed calls are retried
 * on connection errors, timeouts, 408, 409, 429 and 5xx (x-should-retry from
 * the server wins), waiting as retry-after-ms / Retry-After say or backing
 * off exponentially with jitter; every non-GET call carries one
 * Idempotency-Key, the same on each retry.
 */
export class Modelgate {
  readonly apiKey: string;
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  readonly maxRetryDelay: number;
  readonly warnDeprecations: boolean;
  private readonly defaultHeaders: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly warned = new Set<string>();

  readonly models = new Models(this);
  readonly server = new Server(this);
  readonly chat = { completions: new ChatCompletions(this) };
  readonly completions = new Completions(this);
  readonly textModels = new TextModels(this);
  readonly jobs = new Jobs(this);

  constructor(options: ClientOptions = {}) {
    const key = options.apiKey ?? env("MODELGATE_API_KEY");
    if (!key) throw new Error("no API key: pass apiKey or set MODELGATE_API_KEY");
    this.apiKey = key;
    this.baseURL = (options.baseURL ?? env("MODELGATE_BASE_URL") ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    this.timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    this.maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.maxRetryDelay = options.maxRetryDelay ?? DEFAULT_MAX_RETRY_DELAY_MS;
    this.warnDeprecations = options.warnDeprecations ?? true;
    this.defaultHeaders = options.defaultHeaders ?? {};
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  /** predict scores a batch of rows with a named model (POST /v2/predict). */
  predict(params: PredictParams, opts?: RequestOptions): APIPromise<PredictResponse> {
    return this.json({ method: "POST", path: "/v2/predict", route: "/v2/predict", body: params }, opts);
  }

  /** predictV1 calls the deprecated default-model route (POST /v1/predict). */
  predictV1(params: PredictV1Params, opts?: RequestOptions): APIPromise<PredictV1Response> {
    return this.json({ method: "POST", path: "/v1/predict", route: "/v1/predict", body: params }, opts);
  }

  /** @internal */
  json<T>(call: Call, opts: RequestOptions = {}): APIPromise<T> {
    return new APIPromise(this.send(call, opts, false).then(async ({ response, retries, done }) => {
      try {
        const text = await response.text();
        const data = (text ? JSON.parse(text) : undefined) as T;
        return { data, response, retries, requestId: h(response, "x-request-id"), modelVersion: h(response, "x-model-version"), cache: h(response, "x-cache") };
      } catch (e) {
        if (e instanceof SyntaxError) throw new APIConnectionError(`response is not JSON: ${e.message}`);
        if (e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError")) throw new APITimeoutError();
        throw new APIConnectionError(`reading the response failed: ${String(e)}`, { cause: e });
      } finally {
        done();
      }
    }));
  }

  /** @internal */
  async stream<T>(call: Call, opts: RequestOptions = {}): Promise<Stream<T>> {
    const { response, abort, done } = await this.send(call, opts, true);
    return new Stream<T>(response, abort, done);
  }

  private async send(call: Call, opts: RequestOptions, streaming: boolean):
    Promise<{ response: Response; retries: number; abort: AbortController; done: () => void }> {
    const idem = call.method !== "GET" ? (opts.idempotencyKey ?? "mg-" + crypto.randomUUID().replaceAll("-", "")) : undefined;
    const headers: Record<string, string> = {
      "x-api-key": this.apiKey,
      accept: "application/json",
      "user-agent": `modelgate-js/${VERSION}`,
      ...this.defaultHeaders,
      ...(call.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(idem ? { "idempotency-key": idem } : {}),
      ...(opts.modelVersion !== undefined ? { "x-model-version": opts.modelVersion } : {}),
      ...(opts.cacheControl !== undefined ? { "cache-control": opts.cacheControl } : {}),
      ...call.headers,
      ...opts.headers,
    };
    const url = new URL(this.baseURL + call.path);
    for (const [k, v] of Object.entries(call.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = call.body !== undefined ? JSON.stringify(call.body) : undefined;
    const maxRetries = opts.maxRetries ?? this.maxRetries;
    const timeout = opts.timeout ?? this.timeout;
    for (let retries = 0; ; retries++) {
      const abort = new AbortController();
      const onAbort = (): void => abort.abort(opts.signal?.reason);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      let timedOut = false;
      const timer = setTimeout(() => { timedOut = true; abort.abort(); }, timeout);
      const done = (): void => { clearTimeout(timer); opts.signal?.removeEventListener("abort", onAbort); };
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method: call.method, body, signal: abort.signal,
          headers: retries ? { ...headers, "x-retry-count": String(retries) } : headers,
        });
      } catch (e) {
        done();
        if (opts.signal?.aborted) throw e;
        if (retries < maxRetries) { await this.sleep(this.backoff(retries)); continue; }
        if (timedOut) throw new APITimeoutError();
        throw new APIConnectionError(`connection error: ${String(e)}`, { cause: e });
      }
      if (response.status >= 400) {
        const text = await response.text().catch(() => "");
        done();
        if (retries < maxRetries && shouldRetry(response, text)) {
          const wait = this.retryDelay(retries, response);
          if (wait !== undefined) { await this.sleep(wait); continue; }
        }
        throw statusError(response.status, response.headers, text, response.statusText);
      }
      this.notice(call, response);
      // A stream's timeout covers only the wait for its headers; the
      // caller's signal still ends it.
      if (streaming) clearTimeout(timer);
      return { response, retries, abort, done };
    }
  }

  private backoff(retries: number): number {
    const base = Math.min(INITIAL_RETRY_DELAY_MS * 2 ** retries, MAX_BACKOFF_MS);
    // Jitter spreads clients that failed together.
    return Math.min(base * (1 - 0.25 * Math.random()), this.maxRetryDelay);
  }

  private retryDelay(retries: number, response: Response): number | undefined {
    const hinted = retryAfterSeconds(response.headers);
    if (hinted !== undefined) return hinted * 1000 > this.maxRetryDelay ? undefined : hinted * 1000;
    return this.backoff(retries);
  }

  private notice(call: Call, response: Response): void {
    if (!this.warnDeprecations) return;
    const dep = response.headers.get("deprecation"), sunset = response.headers.get("sunset");
    if (dep === null && sunset === null) return;
    const key = `${call.method} ${call.route}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const link = response.headers.get("link");
    console.warn(`modelgate: ${key} is deprecated` + (dep ? `; Deprecation: ${dep}` : "") + (sunset ? `; Sunset: ${sunset}` : "")
      + (link ? `; see ${link}` : "") + " (warnDeprecations: false silences this)");
  }

  /** @internal */
  wait(ms: number): Promise<void> {
    return this.sleep(ms);
  }
}

function h(r: Response, name: string): string | undefined {
  return r.headers.get(name) ?? undefined;
}

function shouldRetry(r: Response, text: string): boolean {
  const hint = r.headers.get("x-should-retry")?.trim().toLowerCase();
  if (hint === "true") return true;
  if (hint === "false") return false;
  if (r.status === 409) {
    try {
      const t = (JSON.parse(text) as { type?: unknown }).type;
      if (typeof t === "string" && FINAL_TYPES.has(t)) return false;
    } catch { /* not a problem body: decide on the status */ }
  }
  return r.status === 408 || r.status === 409 || r.status === 429 || r.status >= 500;
}

function versioned(model: string, version: string | undefined): { path: string; route: string } {
  return version === undefined
    ? { path: `/v2/models/${seg(model)}`, route: "/v2/models/{model}" }
    : { path: `/v2/models/${seg(model)}/versions/${seg(version)}`, route: "/v2/models/{model}/versions/{version}" };
}

/** Models covers the catalog and the Open Inference Protocol model routes. */
export class Models {
  constructor(private readonly c: Modelgate) {}
  /** list returns the catalog (GET /v2/models). */
  list(opts?: RequestOptions): APIPromise<ModelList> {
    return this.c.json({ method: "GET", path: "/v2/models", route: "/v2/models" }, opts);
  }
  metadata(model: string, opts?: RequestOptions & { version?: string }): APIPromise<ModelMetadata> {
    return this.c.json({ method: "GET", ...versioned(model, opts?.version) }, opts);
  }
  async ready(model: string, opts?: RequestOptions & { version?: string }): Promise<boolean> {
    const v = versioned(model, opts?.version);
    const r = await this.c.json<{ ready?: boolean }>({ method: "GET", path: v.path + "/ready", route: v.route + "/ready" }, opts);
    return r?.ready === true;
  }
  infer(model: string, params: InferParams, opts?: RequestOptions & { version?: string }): APIPromise<InferResponse> {
    const v = versioned(model, opts?.version);
    return this.c.json({ method: "POST", path: v.path + "/infer", route: v.route + "/infer", body: params }, opts);
  }
}

/** Server covers the Open Inference Protocol server routes. */
export class Server {
  constructor(private readonly c: Modelgate) {}
  metadata(opts?: RequestOptions): APIPromise<ServerMetadata> {
    return this.c.json({ method: "GET", path: "/v2", route: "/v2" }, opts);
  }
  async live(opts?: RequestOptions): Promise<boolean> {
    return (await this.c.json<{ live?: boolean }>({ method: "GET", path: "/v2/health/live", route: "/v2/health/live" }, opts))?.live === true;
  }
  async ready(opts?: RequestOptions): Promise<boolean> {
    return (await this.c.json<{ ready?: boolean }>({ method: "GET", path: "/v2/health/ready", route: "/v2/health/ready" }, opts))?.ready === true;
  }
  /** gatewayHealth reports whether the gateway itself answers (GET /healthz; no key needed). */
  async gatewayHealth(opts?: RequestOptions): Promise<boolean> {
    return (await this.c.json<{ status?: string }>({ method: "GET", path: "/healthz", route: "/healthz" }, opts))?.status === "ok";
  }
  /** openapi returns the deployment's OpenAPI document, scoped to the key's models (GET /openapi.json). */
  openapi(opts?: RequestOptions): APIPromise<Record<string, unknown>> {
    return this.c.json({ method: "GET", path: "/openapi.json", route: "/openapi.json" }, opts);
  }
}

/** ChatCompletions creates OpenAI-compatible chat completions, whole or streamed. */
export class ChatCompletions {
  constructor(private readonly c: Modelgate) {}
  create(params: ChatCompletionParams & { stream: true }, opts?: RequestOptions): Promise<Stream<ChatCompletionChunk>>;
  create(params: ChatCompletionParams & { stream?: false | null }, opts?: RequestOptions): APIPromise<ChatCompletion>;
  create(params: ChatCompletionParams, opts?: RequestOptions): Promise<Stream<ChatCompletionChunk>> | APIPromise<ChatCompletion> {
    const call: Call = { method: "POST", path: "/v1/chat/completions", route: "/v1/chat/completions", body: params };
    if (params.stream) return this.c.stream({ ...call, headers: { accept: "text/event-stream" } }, opts);
    return this.c.json<ChatCompletion>(call, opts);
  }
}

/** Completions creates OpenAI-compatible plain completions, whole or streamed. */
export class Completions {
  constructor(private readonly c: Modelgate) {}
  create(params: CompletionParams & { stream: true }, opts?: RequestOptions): Promise<Stream<Completion>>;
  create(params: CompletionParams & { stream?: false | null }, opts?: RequestOptions): APIPromise<Completion>;
  create(params: CompletionParams, opts?: RequestOptions): Promise<Stream<Completion>> | APIPromise<Completion> {
    const call: Call = { method: "POST", path: "/v1/completions", route: "/v1/completions", body: params };
    if (params.stream) return this.c.stream({ ...call, headers: { accept: "text/event-stream" } }, opts);
    return this.c.json<Completion>(call, opts);
  }
}

/** TextModels lists the text-generation models OpenAI-style. */
export class TextModels {
  constructor(private readonly c: Modelgate) {}
  list(opts?: RequestOptions): APIPromise<TextModelList> {
    return this.c.json({ method: "GET", path: "/v1/models", route: "/v1/models" }, opts);
  }
  retrieve(model: string, opts?: RequestOptions): APIPromise<TextModel> {
    return this.c.json({ method: "GET", path: `/v1/models/${seg(model)}`, route: "/v1/models/{model}" }, opts);
  }
}

/** Jobs submits asynchronous predictions and completions and follows them. */
export class Jobs {
  constructor(private readonly c: Modelgate) {}

  /** submit queues a job (POST /v2/jobs); wait asks the server to hold up to that many seconds for it to finish. */
  submit(params: JobParams, opts?: RequestOptions & { wait?: number }): APIPromise<Job> {
    if ((params.inputs === undefined) === (params.messages === undefined)) {
      throw new TypeError("submit needs exactly one of inputs (a prediction) or messages (a chat completion)");
    }
    const headers: Record<string, string> = opts?.wait !== undefined ? { prefer: `wait=${Math.trunc(opts.wait)}` } : {};
    return this.c.json({ method: "POST", path: "/v2/jobs", route: "/v2/jobs", body: params, headers }, opts);
  }
  get(id: string, opts?: RequestOptions): APIPromise<Job> {
    return this.c.json({ method: "GET", path: `/v2/jobs/${seg(id)}`, route: "/v2/jobs/{id}" }, opts);
  }
  /** list returns one page of this client's jobs; pass next_cursor as cursor for the next. */
  list(params: ListJobsParams = {}, opts?: RequestOptions): APIPromise<JobList> {
    return this.c.json({ method: "GET", path: "/v2/jobs", route: "/v2/jobs", query: { ...params } }, opts);
  }
  /** iter yields every job across pages, fetching the next page only when needed. */
  async *iter(params: Omit<ListJobsParams, "cursor"> = {}, opts?: RequestOptions): AsyncGenerator<Job> {
    let cursor: string | undefined;
    for (;;) {
      const page: JobList = await this.list({ ...params, ...(cursor ? { cursor } : {}) }, opts);
      yield* page.data;
      if (!page.next_cursor) return;
      cursor = page.next_cursor;
    }
  }
  cancel(id: string, opts?: RequestOptions): APIPromise<Job> {
    return this.c.json({ method: "POST", path: `/v2/jobs/${seg(id)}/cancel`, route: "/v2/jobs/{id}/cancel" }, opts);
  }
  deliveries(id: string, opts?: RequestOptions): APIPromise<DeliveryList> {
    return this.c.json({ method: "GET", path: `/v2/jobs/${seg(id)}/deliveries`, route: "/v2/jobs/{id}/deliveries" }, opts);
  }
  redeliver(id: string, deliveryId: string, opts?: RequestOptions): APIPromise<Redelivery> {
    return this.c.json({
      method: "POST", path: `/v2/jobs/${seg(id)}/deliveries/${seg(deliveryId)}/redeliver`,
      route: "/v2/jobs/{id}/deliveries/{delivery_id}/redeliver",
    }, opts);
  }
  /** wait polls the job until it is finished, sleeping as Retry-After says; throws WaitTimeoutError after timeout ms. */
  async wait(id: string, options: { timeout?: number; pollInterval?: number } = {}): Promise<Job> {
    const deadline = Date.now() + (options.timeout ?? 600_000);
    for (;;) {
      const { data: job, response } = await this.get(id).withResponse();
      if (TERMINAL_STATUSES.has(job.status)) return job;
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new WaitTimeoutError(job);
      const hinted = retryAfterSeconds(response.headers);
      await this.c.wait(Math.min(hinted !== undefined ? hinted * 1000 : (options.pollInterval ?? 1000), remaining));
    }
  }
}
