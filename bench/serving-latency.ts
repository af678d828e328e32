// Time to first token through the HTTP API with several concurrent streaming completions, and the
// latency of feedback ingestion (single implicit events) while those streams run: serving answers
// must not slow down recording what users think of them.
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/platform/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { ensureBaseModel } from '../src/promotion/base-model.ts';
import { createUser, issueApiKey } from '../src/platform/users/users.ts';
import { scratchDatabase } from './scratch-database.ts';

export interface ServingLatency {
  ttftMs: number[];
  /** TTFT of the uncounted warm-up round: the first burst after start pays for JIT compilation. */
  coldTtftMs: number[];
  ingestMs: number[];
  streams: number;
  rounds: number;
}

const QUESTIONS = [
  'What is the capital of Peru?',
  'Define the word harbour.',
  'Which languages are spoken in Belgium?',
  'What currency does Japan use?',
  'What is the capital of Kenya?',
  'Define the word lantern.',
  'Which countries border Austria?',
  'What region is Chile in?',
];

/** Uncounted bursts before measuring; the first one's TTFT is reported as cold. */
const WARM_UP_ROUNDS = 1;

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function firstTokenMs(
  baseUrl: string,
  auth: string,
  question: string,
  maxTokens: number,
): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({
      messages: [{ role: 'user', content: question }],
      max_tokens: maxTokens,
      stream: true,
    }),
  });
  if (!res.ok || !res.body) throw new Error(`completion failed: ${res.status} ${await res.text()}`);
  const decoder = new TextDecoder();
  let buffer = '';
  let first: number | null = null;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    if (first === null && /"delta":\{"content":"[^"]/.test(buffer)) first = performance.now() - started;
  }
  if (first === null) throw new Error('the stream carried no token');
  return first;
}

export async function measureServingLatency(options: {
  streams: number;
  rounds: number;
  maxTokens: number;
}): Promise<ServingLatency> {
  const database = await scratchDatabase(
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    'serving',
  );
  const modelDir = fileURLToPath(new URL('../models', import.meta.url));
  const config = loadConfig({
    ...process.env,
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    MODEL_DIR: modelDir,
    FEEDLOOP_RATE_LIMIT_PER_MINUTE: '1000000',
  });
  const app = await buildApp({ config });
  try {
    await ensureBaseModel(app.db.prisma, modelDir);
    await app.servedModels.warm();
    const baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
    const user = await createUser(app.db.prisma, { email: 'bench@example.test', role: 'user' });
    const auth = `Bearer ${(await issueApiKey(app.db.prisma, user.id, 'bench')).key}`;
    const conversation = await app.db.prisma.conversation.create({ data: { userId: user.id } });
    const message = await app.db.prisma.message.create({
      data: { conversationId: conversation.id, role: 'assistant', content: 'An answer to give feedback on.' },
    });

    // Warm-up: uncounted rounds at full concurrency. The first bursts after start compile routes,
    // fill caches and give the JIT its hot paths (the database client's take a few dozen requests);
    // the very first burst is reported apart as cold.
    const burst = () =>
      Promise.all(
        Array.from({ length: options.streams }, (_, i) =>
          firstTokenMs(baseUrl, auth, QUESTIONS[i % QUESTIONS.length]!, options.maxTokens),
        ),
      );
    const coldTtftMs = await burst();
    for (let i = 1; i < WARM_UP_ROUNDS; i++) await burst();
    const ttftMs: number[] = [];
    const ingestMs: number[] = [];
    let eventCounter = 0;
    for (let round = 0; round < options.rounds; round++) {
      let streaming = true;
      const ingest = (async () => {
        while (streaming) {
          const started = performance.now();
          const res = await fetch(`${baseUrl}/v1/events`, {
            method: 'POST',
            headers: { authorization: auth, 'content-type': 'application/json' },
            body: JSON.stringify({
              events: [
                {
                  id: `bench-${round}-${eventCounter++}`,
                  type: 'dwell',
                  messageId: message.id,
                  value: 1.5,
                  ts: new Date().toISOString(),
                },
              ],
            }),
          });
          await res.arrayBuffer();
          if (res.status !== 202) throw new Error(`event ingestion failed: ${res.status}`);
          ingestMs.push(performance.now() - started);
        }
      })();
      const firsts = await Promise.all(
        Array.from({ length: options.streams }, (_, i) =>
          firstTokenMs(baseUrl, auth, QUESTIONS[i % QUESTIONS.length]!, options.maxTokens),
        ),
      );
      streaming = false;
      await ingest;
      ttftMs.push(...firsts);
    }
    return { ttftMs, coldTtftMs, ingestMs, streams: options.streams, rounds: options.rounds };
  } finally {
    await app.close();
    await database.drop();
  }
}

/**
 * `npm run bench:serving`: only the HTTP part of bench:model (no training), so serving changes can
 * be compared in alternating runs. Prints one JSON line.
 */
async function main(): Promise<void> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    options: {
      streams: { type: 'string', default: '8' },
      rounds: { type: 'string', default: '15' },
      'max-tokens': { type: 'string', default: '64' },
      upstream: { type: 'boolean', default: false },
      smoke: { type: 'boolean', default: false },
      'upstream-url': { type: 'string' },
      'upstream-model': { type: 'string' },
      'upstream-key-env': { type: 'string' },
    },
  });
  if (values.upstream) {
    // Through feedloop to an OpenAI-compatible upstream vs the upstream directly (bench/serving-upstream.ts).
    const { cpuModel, runUpstreamBench } = await import('./serving-upstream.ts');
    process.stdout.write(`cpu: ${cpuModel()}\n`);
    const line = await runUpstreamBench({
      smoke: values.smoke,
      upstreamUrl: values['upstream-url'],
      upstreamModel: values['upstream-model'],
      upstreamKeyEnv: values['upstream-key-env'],
    });
    process.stdout.write(`${JSON.stringify({ ...line, cpu: cpuModel() })}\n`);
    return;
  }
  const serving = await measureServingLatency({
    streams: Number(values.streams),
    rounds: Number(values.rounds),
    maxTokens: Number(values['max-tokens']),
  });
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'serving',
      streams: serving.streams,
      samples: serving.ttftMs.length,
      ttft_p50_ms: round(percentile(serving.ttftMs, 50)),
      ttft_p99_ms: round(percentile(serving.ttftMs, 99)),
      ttft_max_ms: round(Math.max(...serving.ttftMs)),
      ttft_cold_max_ms: round(Math.max(...serving.coldTtftMs)),
      ingest_samples: serving.ingestMs.length,
      ingest_p50_ms: round(percentile(serving.ingestMs, 50)),
      ingest_p99_ms_during_streams: round(percentile(serving.ingestMs, 99)),
    })}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
