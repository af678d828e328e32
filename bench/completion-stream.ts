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
  /** From sending the request to the end of the stream. */
  durationMs: number;
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
  return { ttftMs: first, durationMs: performance.now() - started, tokens };
}

export interface Burst {
  ttftMs: number[];
  /** Each stream's time from request to end. */
  durationMs: number[];
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
    durationMs: samples.map((s) => s.durationMs),
    tokensPerSecond: samples.reduce((sum, s) => sum + s.tokens, 0) / seconds,
  };
}

export interface Steady {
  /** First tokens of the requests after each stream's first (the ramp, uncounted). */
  ttftMs: number[];
  /** All streams' completion tokens over the phase's wall time. */
  tokensPerSecond: number;
}

/**
 * `streams` completions always in flight, their starts spread evenly: stream i starts at
 * i * answerMs / streams, then (closed loop) each stream sends its next request as soon as its
 * previous answer ends, `requestsPerStream` in all. Requests then arrive one at a time at a steady
 * rate, as from many independent users, where a burst has them all arrive at the same instant.
 * Each stream's first request is the ramp and is not counted.
 */
export async function steady(
  client: OpenAI,
  model: string,
  options: { streams: number; maxTokens: number; answerMs: number; requestsPerStream: number },
): Promise<Steady> {
  const { streams, maxTokens, answerMs, requestsPerStream } = options;
  const started = performance.now();
  let tokens = 0;
  const perStream = await Promise.all(
    Array.from({ length: streams }, async (_, i) => {
      await new Promise((resolve) => setTimeout(resolve, (i * answerMs) / streams));
      const ttftMs: number[] = [];
      for (let n = 0; n < requestsPerStream; n++) {
        const question = QUESTIONS[(i + n) % QUESTIONS.length]!;
        const sample = await streamCompletion(client, model, question, maxTokens);
        tokens += sample.tokens;
        if (n > 0) ttftMs.push(sample.ttftMs);
      }
      return ttftMs;
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ttftMs: perStream.flat(), tokensPerSecond: tokens / seconds };
}
