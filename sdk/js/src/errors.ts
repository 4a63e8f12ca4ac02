// Typed errors: one class per modelgate problem type, with status fallbacks.

export const PROBLEM_BASE = "https://modelgate.dev/problems/";

/** ModelgateError is the base of every error this package throws. */
export class ModelgateError extends Error {
  override name = "ModelgateError";
}

/** WebhookVerificationError says a webhook's signature or timestamp did not verify. */
export class WebhookVerificationError extends ModelgateError {
  override name = "WebhookVerificationError";
}

/** WaitTimeoutError: a job was still unfinished when jobs.wait gave up; job is the last state seen. */
export class WaitTimeoutError extends ModelgateError {
  override name = "WaitTimeoutError";
  constructor(readonly job: { id: string; status: string }) {
    super(`job ${job.id} still ${job.status} after the wait timeout`);
  }
}

/** APIError is any failure of a request to the gateway. */
export class APIError extends ModelgateError {
  override name = "APIError";
}

/** APIConnectionError: the gateway could not be reached or the connection broke. */
export class APIConnectionError extends APIError {
  override name = "APIConnectionError";
  constructor(message = "connection error", options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** APITimeoutError: the request did not finish within its timeout. */
export class APITimeoutError extends APIConnectionError {
  override name = "APITimeoutError";
  constructor(message = "request timed out") {
    super(message);
  }
}

/** Violation is one validation failure, located by a JSON Pointer into the request body. */
export interface Violation {
  pointer: string;
  detail: string;
}

/** Problem is an RFC 9457 problem details body with modelgate's extension members. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  errors?: Violation[];
  request_id?: string;
  retry_after?: number;
  error?: unknown;
  [member: string]: unknown;
}

/** APIStatusError: the gateway answered with a 4xx or 5xx status. */
export class APIStatusError extends APIError {
  override name = "APIStatusError";
  readonly status: number;
  readonly headers: Headers;
  readonly problem: Problem;
  readonly type: string;
  readonly requestId: string | undefined;

  constructor(message: string, status: number, headers: Headers, problem: Problem) {
    super(message);
    this.status = status;
    this.headers = headers;
    this.problem = problem;
    this.type = typeof problem.type === "string" ? problem.type : "about:blank";
    this.requestId = headers.get("x-request-id") ?? (typeof problem.request_id === "string" ? problem.request_id : undefined);
  }
}

export class BadRequestError extends APIStatusError { override name = "BadRequestError"; }
export class MalformedJSONError extends BadRequestError { override name = "MalformedJSONError"; }
/** ValidationError: the body broke the schema; violations lists every failure. */
export class ValidationError extends BadRequestError {
  override name = "ValidationError";
  get violations(): Violation[] {
    const raw = this.problem.errors;
    return Array.isArray(raw) ? raw.map((v) => ({ pointer: String(v?.pointer ?? ""), detail: String(v?.detail ?? "") })) : [];
  }
}
export class WrongModelKindError extends BadRequestError { override name = "WrongModelKindError"; }
export class ContextLengthExceededError extends BadRequestError { override name = "ContextLengthExceededError"; }
export class AuthenticationError extends APIStatusError { override name = "AuthenticationError"; }
export class PermissionDeniedError extends APIStatusError { override name = "PermissionDeniedError"; }
export class NotFoundError extends APIStatusError { override name = "NotFoundError"; }
export class UnknownModelError extends NotFoundError { override name = "UnknownModelError"; }
export class UnknownModelVersionError extends NotFoundError { override name = "UnknownModelVersionError"; }
export class MethodNotAllowedError extends APIStatusError { override name = "MethodNotAllowedError"; }
export class ConflictError extends APIStatusError { override name = "ConflictError"; }
/** JobFinishedError: the job has finished and can no longer change (job-finished). */
export class JobFinishedError extends ConflictError { override name = "JobFinishedError"; }
export class GoneError extends APIStatusError { override name = "GoneError"; }
export class PayloadTooLargeError extends APIStatusError { override name = "PayloadTooLargeError"; }
export class TooManyRowsError extends PayloadTooLargeError { override name = "TooManyRowsError"; }
/** HeadersTooLargeError: 431, the request headers are too large (headers-too-large). */
export class HeadersTooLargeError extends APIStatusError { override name = "HeadersTooLargeError"; }
export class UnsupportedMediaTypeError extends APIStatusError { override name = "UnsupportedMediaTypeError"; }
export class UnprocessableEntityError extends APIStatusError { override name = "UnprocessableEntityError"; }
/** IdempotencyKeyReusedError: the Idempotency-Key was sent before with another body. */
export class IdempotencyKeyReusedError extends UnprocessableEntityError { override name = "IdempotencyKeyReusedError"; }
/** RateLimitError: 429; retryAfter is the server's wait in seconds, when it gave one. */
export class RateLimitError extends APIStatusError {
  override name = "RateLimitError";
  get retryAfter(): number | undefined {
    const h = retryAfterSeconds(this.headers);
    if (h !== undefined) return h;
    return typeof this.problem.retry_after === "number" ? this.problem.retry_after : undefined;
  }
}
export class UpstreamRateLimitedError extends RateLimitError { override name = "UpstreamRateLimitedError"; }
export class ServerError extends APIStatusError { override name = "ServerError"; }
export class InternalServerError extends ServerError { override name = "InternalServerError"; }
export class ServiceUnavailableError extends ServerError { override name = "ServiceUnavailableError"; }
export class UpstreamTimeoutError extends ServerError { override name = "UpstreamTimeoutError"; }
export class UpstreamError extends ServerError { override name = "UpstreamError"; }

/** StreamError: a stream that had begun ended with an error event carrying the OpenAI error object. */
export class StreamError extends APIError {
  override name = "StreamError";
  readonly code: string | undefined;
  constructor(readonly error: Record<string, unknown>, readonly requestId: string | undefined) {
    super(typeof error.message === "string" ? error.message : "stream failed");
    this.code = typeof error.code === "string" ? error.code : undefined;
  }
}

type StatusErrorClass = new (message: string, status: number, headers: Headers, problem: Problem) => APIStatusError;

/** PROBLEM_TYPES maps each documented problem type URI to its error class. */
export const PROBLEM_TYPES: Readonly<Record<string, StatusErrorClass>> = {
  [PROBLEM_BASE + "malformed-json"]: MalformedJSONError,
  [PROBLEM_BASE + "validation-failed"]: ValidationError,
  [PROBLEM_BASE + "wrong-model-kind"]: WrongModelKindError,
  [PROBLEM_BASE + "context-length-exceeded"]: ContextLengthExceededError,
  [PROBLEM_BASE + "unsupported-media-type"]: UnsupportedMediaTypeError,
  [PROBLEM_BASE + "body-too-large"]: PayloadTooLargeError,
  [PROBLEM_BASE + "headers-too-large"]: HeadersTooLargeError,
  [PROBLEM_BASE + "too-many-rows"]: TooManyRowsError,
  [PROBLEM_BASE + "unknown-model"]: UnknownModelError,
  [PROBLEM_BASE + "unknown-model-version"]: UnknownModelVersionError,
  [PROBLEM_BASE + "not-found"]: NotFoundError,
  [PROBLEM_BASE + "method-not-allowed"]: MethodNotAllowedError,
  [PROBLEM_BASE + "unauthorized"]: AuthenticationError,
  [PROBLEM_BASE + "forbidden"]: PermissionDeniedError,
  [PROBLEM_BASE + "quota-exceeded"]: RateLimitError,
  [PROBLEM_BASE + "upstream-rate-limited"]: UpstreamRateLimitedError,
  [PROBLEM_BASE + "route-sunset"]: GoneError,
  [PROBLEM_BASE + "service-unavailable"]: ServiceUnavailableError,
  [PROBLEM_BASE + "upstream-timeout"]: UpstreamTimeoutError,
  [PROBLEM_BASE + "internal-error"]: InternalServerError,
  [PROBLEM_BASE + "upstream-failed"]: UpstreamError,
  [PROBLEM_BASE + "job-finished"]: JobFinishedError,
  [PROBLEM_BASE + "idempotency-key-reused"]: IdempotencyKeyReusedError,
};

/** FINAL_TYPES are problems no retry can change, whatever their status (a 409 is otherwise worth retrying). */
export const FINAL_TYPES: ReadonlySet<string> = new Set([PROBLEM_BASE + "job-finished", PROBLEM_BASE + "idempotency-key-reused"]);

const BY_STATUS: Readonly<Record<number, StatusErrorClass>> = {
  400: BadRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
  405: MethodNotAllowedError, 409: ConflictError, 410: GoneError, 413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError, 422: UnprocessableEntityError, 429: RateLimitError, 431: HeadersTooLargeError,
};

/** statusError builds the typed error for a 4xx/5xx answer from its status, headers and body text. */
export function statusError(status: number, headers: Headers, text: string, statusText = ""): APIStatusError {
  let problem: Problem = {};
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) problem = parsed as Problem;
  } catch {
    // Not JSON: keep the empty problem; the status still picks the class.
  }
  const cls = (typeof problem.type === "string" ? PROBLEM_TYPES[problem.type] : undefined)
    ?? BY_STATUS[status] ?? (status >= 500 ? ServerError : APIStatusError);
  return new cls(problemMessage(problem) || statusText || `status ${status}`, status, headers, problem);
}

function problemMessage(p: Problem): string {
  if (p.title && p.detail) return `${p.title}: ${p.detail}`;
  if (p.detail) return p.detail;
  if (p.title) return p.title;
  const e = p.error as { message?: unknown } | undefined;
  return e && typeof e.message === "string" ? e.message : "";
}

/** retryAfterSeconds reads retry-after-ms, then Retry-After (seconds or HTTP-date). */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null) {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return v / 1000;
  }
  const ra = headers.get("retry-after");
  if (ra === null) return undefined;
  const secs = Number(ra);
  if (ra.trim() !== "" && Number.isFinite(secs)) return Math.max(0, secs);
  const when = Date.parse(ra);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}
