// Server-sent event streams of chat and plain completions.

import { APIConnectionError, APITimeoutError, StreamError } from "./errors.js";

interface SSEEvent { event: string | undefined; data: string }

/** parseSSE yields the events of a byte stream as the WHATWG rules say: data lines join with newlines, a blank line ends an event, lines starting with ':' are comments. */
export async function* parseSSE(body: ReadableStream<Uint8Array>): AsyncGenerator<SSEEvent, boolean> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  let event: string | undefined;
  let data: string[] = [];
  const line = (l: string): SSEEvent | undefined => {
    if (l === "") {
      if (data.length === 0) { event = undefined; return undefined; }
      const out = { event, data: data.join("\n") };
      event = undefined; data = [];
      return out;
    }
    if (l.startsWith(":")) return undefined;
    const i = l.indexOf(":");
    const name = i < 0 ? l : l.slice(0, i);
    let value = i < 0 ? "" : l.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") data.push(value);
    else if (name === "event") event = value;
    return undefined;
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let m: RegExpExecArray | null;
      const re = /\r\n|\r(?!$)|\n/g;
      let start = 0;
      while ((m = re.exec(buf)) !== null) {
        const ev = line(buf.slice(start, m.index));
        start = m.index + m[0].length;
        if (ev) yield ev;
      }
      buf = buf.slice(start);
    }
    buf += decoder.decode();
    if (buf.endsWith("\r")) buf = buf.slice(0, -1);
    if (buf !== "") { const ev = line(buf); if (ev) yield ev; }
    const last = line("");
    if (last) yield last;
    return true;
  } finally {
    // Cancelling tells fetch to drop the connection when the caller stopped early.
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * Stream iterates the chunks of a streamed completion with `for await`. It
 * ends at `data: [DONE]`, throws StreamError on an error event, and closes
 * the connection when iteration ends or the caller breaks out.
 */
export class Stream<T> implements AsyncIterable<T> {
  constructor(readonly response: Response, private readonly abort: AbortController, private readonly release: () => void = () => undefined) {}

  get requestId(): string | undefined {
    return this.response.headers.get("x-request-id") ?? undefined;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    const body = this.response.body;
    if (!body) throw new APIConnectionError("stream has no body");
    try {
      for await (const ev of parseSSE(body)) {
        if (ev.data === "[DONE]") return;
        let payload: unknown;
        try {
          payload = JSON.parse(ev.data);
        } catch {
          throw new StreamError({ message: `malformed stream event: ${ev.data.slice(0, 200)}` }, this.requestId);
        }
        const obj = payload as Record<string, unknown> | null;
        if (ev.event === "error" || (obj && typeof obj === "object" && "error" in obj && !("choices" in obj))) {
          const e = obj?.error;
          throw new StreamError(e && typeof e === "object" ? (e as Record<string, unknown>) : { message: String(e) }, this.requestId);
        }
        yield payload as T;
      }
      // Without [DONE] or an error event the connection broke mid-answer.
      throw new APIConnectionError("stream ended before [DONE]");
    } catch (e) {
      if (e instanceof StreamError || e instanceof APIConnectionError) throw e;
      // A stream's own timeout ends with its headers, so an abort here is the caller's: pass it on.
      if (e instanceof Error && e.name === "AbortError") throw e;
      if (e instanceof Error && e.name === "TimeoutError") throw new APITimeoutError();
      throw new APIConnectionError(`stream broke: ${String(e)}`, { cause: e });
    } finally {
      this.abort.abort();
      this.release();
    }
  }

  /** close drops the connection without reading further. */
  close(): void {
    this.abort.abort();
    this.release();
    void this.response.body?.cancel().catch(() => undefined);
  }
}
