// The official OpenAI Node.js library, unchanged, against a base URL (the gateway's /v1): prints what it got as JSON.
import OpenAI from "openai";
import { zodResponseFormat } from "openai/helpers/zod";
import { z } from "zod";

const client = new OpenAI({ baseURL: process.argv[2], apiKey: "not-needed", maxRetries: 0 });
const messages = [
  { role: "system", content: "Be brief." },
  { role: "user", content: "What is the capital of Italy?" },
];

const models = await client.models.list();
const model = models.data[0].id;

const chat = await client.chat.completions.create({ model, messages, max_tokens: 8, temperature: 0 });

const stream = await client.chat.completions.create({
  model, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
});
let streamedText = "";
let streamedChunks = 0;
let streamedFinish = null;
let streamedUsage = null;
for await (const chunk of stream) {
  streamedChunks++;
  streamedText += chunk.choices[0]?.delta?.content ?? "";
  streamedFinish ??= chunk.choices[0]?.finish_reason ?? null;
  streamedUsage ??= chunk.usage ?? null;
}

const completion = await client.completions.create({ model, prompt: "The river ran", max_tokens: 5, n: 2, seed: 7, temperature: 0.8 });

let error = null;
try {
  await client.chat.completions.create({ model: "no-such-model", messages, max_tokens: 4 });
} catch (e) {
  if (!(e instanceof OpenAI.APIError)) throw e;
  error = { status: e.status, type: e.type, code: e.code, param: e.param, message: e.message, className: e.constructor.name };
}

// The library's structured-output helper: zod schema in, zod-parsed object out.
const City = z.object({
  name: z.string().max(12),
  population: z.number().int().min(0).max(50_000_000),
  capital: z.boolean(),
  districts: z.array(z.string().max(6)).max(2),
  kind: z.enum(["town", "city"]),
  mayor: z.string().nullable(),
});
const parsed = await client.chat.completions.parse({
  model, messages: [{ role: "user", content: "Describe a city." }], max_tokens: 200, seed: 3, temperature: 0.7,
  response_format: zodResponseFormat(City, "city"),
});

console.log(JSON.stringify({
  models: models.data.map((m) => m.id),
  chat: { id: chat.id, requestId: chat._request_id, text: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage },
  streamed: { text: streamedText, chunks: streamedChunks, finish: streamedFinish, usage: streamedUsage },
  completion: { choices: completion.choices.length, texts: completion.choices.map((c) => c.text), usage: completion.usage },
  error,
  structured: { parsed: parsed.choices[0].message.parsed, content: parsed.choices[0].message.content, finish: parsed.choices[0].finish_reason },
}));
