// A scripted fetch for the tests: queued answers, every request recorded.

export const PROBLEMS = "https://modelgate.dev/problems/";

export interface Seen { method: string; url: URL; headers: Headers; body: string | undefined }
type Reply = Response | Error | ((req: Seen, signal: AbortSignal | undefined) => Response | Promise<Response>);

export class Script {
  replies: Reply[] = [];
  seen: Seen[] = [];
  handler: ((req: Seen) => Response) | undefined;
  sleeps: number[] = [];

  add(...r: Reply[]): this { this.replies.push(...r); return this; }

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const req: Seen = {
      method: init?.method ?? "GET", url: new URL(String(input)), headers: new Headers(init?.headers),
      body: typeof init?.body === "string" ? init.body : undefined,
    };
    this.seen.push(req);
    const r = this.replies.shift();
    if (r === undefined) {
      if (this.handler) return this.handler(req);
      throw new Error(`unexpected request ${req.method} ${req.url}`);
    }
    if (r instanceof Error) throw r;
    if (typeof r === "function") return r(req, init?.signal ?? undefined);
    return r;
  };

  sleep = async (ms: number): Promise<void> => { this.sleeps.push(ms); };

  body(i = -1): unknown {
    const s = this.seen.at(i);
    return s?.body === undefined ? undefined : JSON.parse(s.body);
  }
}

export function problem(status: number, kind: string, headers: Record<string, string> = {}, extra: Record<string, unknown> = {}): Response {
  return new Response(JSON.stringify({ type: PROBLEMS + kind, title: kind, status, ...extra }), {
    status, headers: { "content-type": "application/problem+json", "x-request-id": "req-" + kind, ...headers },
  });
}

export function ok(body: unknown, headers: Record<string, string> = {}, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-request-id": "req-ok", ...headers } });
}

export interface Tracked { response: Response; closed: () => boolean; served: () => number }

export function sse(events: string[], raw?: string[]): Tracked {
  const pieces = raw ?? events.map((e) => `data: ${e}\n\n`);
  let i = 0, closed = false;
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    pull(ctrl) {
      const p = pieces[i++];
      if (p === undefined) ctrl.close(); else ctrl.enqueue(enc.encode(p));
    },
    cancel() { closed = true; },
  });
  return {
    response: new Response(body, { status: 200, headers: { "content-type": "text/event-stream", "x-request-id": "req-sse" } }),
    closed: () => closed, served: () => i,
  };
}
