// Request and response shapes of the modelgate API (api/openapi.yaml).

export type Row = Record<string, number>;

export interface Prediction { label?: string; value?: number; probabilities?: Record<string, number> }
export interface PredictResponse {
  model: string; model_version: string; predictions: Prediction[]; request_id: string;
  latency_ms?: number; usage: { rows: number };
}
export interface PredictV1Response { predictions: Array<string | number>; model_version: string; request_id: string; latency_ms?: number }
export interface PredictParams { model: string; inputs: Row[]; version?: string; options?: { return_probabilities?: boolean } }
export interface PredictV1Params { inputs: Row[]; model_version?: string }

export interface TensorMeta { name: string; datatype: string; shape: number[] }
export interface ModelMetadata { name: string; versions?: string[]; platform: string; inputs: TensorMeta[]; outputs: TensorMeta[] }
export interface InputTensor { name: string; shape: number[]; datatype: string; parameters?: Record<string, unknown>; data?: unknown[] }
export interface InferParams { id?: string; parameters?: Record<string, unknown>; inputs: InputTensor[]; outputs?: Array<{ name: string; parameters?: Record<string, unknown> }> }
export interface InferResponse {
  model_name: string; model_version?: string; id: string; parameters?: Record<string, unknown>;
  outputs: Array<{ name: string; shape: number[]; datatype: string; parameters?: Record<string, unknown>; data: unknown[] }>;
}
export interface CatalogModel {
  name: string; description?: string; default?: boolean; aliases?: Record<string, string>;
  versions: Array<{ version: string; served: boolean; [k: string]: unknown }>;
}
export interface ModelList { models: CatalogModel[] }
export interface ServerMetadata { name: string; version: string; extensions?: string[] }

export interface ChatMessage { role: "system" | "developer" | "user" | "assistant"; content: string | Array<{ type: "text"; text: string }> }
export interface Sampling {
  max_tokens?: number | null; temperature?: number | null; top_p?: number | null; n?: 1 | null;
  seed?: number | null; stop?: string | string[] | null; stream_options?: { include_usage?: boolean | null } | null;
}
export interface ChatCompletionParams extends Sampling { model: string; messages: ChatMessage[]; max_completion_tokens?: number | null; stream?: boolean | null }
export interface CompletionParams extends Sampling { model: string; prompt: string | [string]; stream?: boolean | null }
export interface Usage { prompt_tokens: number; completion_tokens: number; total_tokens: number }
export interface ChatCompletion {
  id: string; object: "chat.completion"; created: number; model: string; usage: Usage;
  choices: Array<{ index: number; message: { role: "assistant"; content: string }; logprobs?: null; finish_reason: string }>;
}
export interface ChatCompletionChunk {
  id: string; object: "chat.completion.chunk"; created: number; model: string; usage?: Usage | null;
  choices: Array<{ index: number; delta: { role?: "assistant"; content?: string }; logprobs?: null; finish_reason: string | null }>;
}
export interface Completion {
  id: string; object: "text_completion"; created: number; model: string; usage?: Usage | null;
  choices: Array<{ index: number; text: string; logprobs?: null; finish_reason: string | null }>;
}
export interface TextModel { id: string; object: "model"; created: number; owned_by: string }
export interface TextModelList { object: "list"; data: TextModel[] }

export type JobStatus = "queued" | "running" | "succeeded" | "failed" | "canceled" | "expired";
/** TERMINAL_STATUSES are the job states that never change again. */
export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "canceled", "expired"]);
export interface Job {
  id: string; object: "job"; status: JobStatus; model?: string; version?: string;
  created_at?: string; started_at?: string | null; completed_at?: string | null; expires_at?: string | null;
  result?: unknown; problem?: Record<string, unknown>; usage?: { rows?: number; [k: string]: number | undefined };
  metadata?: Record<string, string>;
}
export interface JobParams {
  model: string; version?: string; inputs?: Row[]; messages?: ChatMessage[];
  options?: { return_probabilities?: boolean }; webhook?: string; webhook_events_filter?: string[];
  metadata?: Record<string, string>; [member: string]: unknown;
}
export interface JobList { object: "list"; data: Job[]; next_cursor: string | null }
export interface ListJobsParams { status?: JobStatus; limit?: number; cursor?: string }
/** Delivery is one attempt to deliver a webhook message (never the receiver's body). */
export interface Delivery {
  id: string; object?: "delivery"; message_id?: string; event?: string; url?: string; attempt?: number; at?: string;
  status?: number; latency_ms?: number; outcome?: "succeeded" | "retrying" | "failed" | "disabled"; error?: string;
  next_attempt_at?: string;
}
/** Redelivery is the webhook message queued again by jobs.redeliver. */
export interface Redelivery { id: string; object: "message"; status: string }
export interface DeliveryList { object: "list"; data: Delivery[] }
