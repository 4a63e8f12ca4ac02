// The official openai client for Node against the gateway: one answer, the
// same request streamed, and an unknown model. Prints one JSON line for
// tests/clients/test_openai.py to check.
import OpenAI from "openai";

const client = new OpenAI({
  baseURL: process.env.MODELGATE_BASE_URL,
  apiKey: process.env.MODELGATE_KEY,
  maxRetries: 0,
  timeout: 60_000,
});
const model = process.env.MODELGATE_MODEL;
const messages = [{ role: "user", content: "Blessed are the meek" }];

const done = await client.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
let streamed = "";
let usage = null;
const stream = await client.chat.completions.create({
  model, messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true },
});
for await (const chunk of stream) {
  if (chunk.choices.length > 0) streamed += chunk.choices[0].delta.content ?? "";
  if (chunk.usage) usage = chunk.usage;
}
let notFound = 0;
try {
  await client.chat.completions.create({ model: "tulip", messages });
} catch (e) {
  if (e instanceof OpenAI.NotFoundError) notFound = e.status;
  else throw e;
}
console.log(JSON.stringify({ text: done.choices[0].message.content, streamed, usage, notFound }));
