// The client side of the serving benchmarks: streamed chat completions read with the official
// `openai` client (the SSE parsing of a maintained client, as applications use), timed from the
// request to the first chunk that carries text.
import OpenAI from 'openai';

export const QUESTIONS = [
  'What is the capital of Peru?',
  'Define the word harbour.',
  'Which languages are spoken in Belgium?',
  'What currency does Japan use?',
  'What is the capital of Kenya?',
  'Define the word lantern.',
  'Which countries border Austria?',
  'What region is Chile in?',
];

export interface StreamSample {
  /** From sending the request to the first chunk with text. */
  ttftMs: number;
  /** Completion tokens as the server's usage chunk reports them (0 when it sends none). */
  tokens: number;
}

/** A client for an OpenAI-compatible server at `baseUrl` (ending in /v1), without retries. */
export function completionClient(baseUrl: string, apiKey: string): OpenAI {
  return new OpenAI({ baseURL: baseUrl, apiKey: apiKey || 'none', maxRetries: 0 });
}

export async function streamCompletion(
  client: OpenAI,
  model: string,
  question: string,
  maxTokens: number,
): Promise<StreamSample> {
  const started = performance.now();
  let first: number | null = null;
  let tokens = 0;
  const chunks = await client.chat.completions.create({
    model,
    messages: [{ role: 'user', content: question }],
    max_tokens: maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const chunk of chunks) {
    if (first === null && chunk.choices[0]?.delta.content) first = performance.now() - started;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  if (first === null) throw new Error('the stream carried no token');
  return { ttftMs: first, tokens };
}

export interface Burst {
  ttftMs: number[];
  /** All streams' completion tokens over the burst's wall time. */
  tokensPerSecond: number;
}

/** `streams` concurrent completions, each asking one of QUESTIONS in turn. */
export async function burst(
  client: OpenAI,
  model: string,
  streams: number,
  maxTokens: number,
): Promise<Burst> {
  const started = performance.now();
  const samples = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      streamCompletion(client, model, QUESTIONS[i % QUESTIONS.length]!, maxTokens),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    ttftMs: samples.map((s) => s.ttftMs),
    tokensPerSecond: samples.reduce((sum, s) => sum + s.tokens, 0) / seconds,
  };
}
