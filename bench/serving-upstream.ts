// `npm run bench:serving -- --upstream`: first-token time and throughput of streamed completions
// through feedloop (an upstream version) against calling the same upstream directly, at 8 and 64
// concurrent streams, and feedback ingestion latency while feedloop's streams run. The upstream is
// a real server: `--upstream-url http://host:8000/v1 --upstream-model <id> [--upstream-key-env VAR]`
// (vLLM, Ollama), or by default a second feedloop instance in this process serving models/base
// (it then shares this process's CPU with the front instance; say so when quoting figures).
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../src/platform/app.ts';
import { loadConfig } from '../src/platform/config.ts';
import { ensureBaseModel } from '../src/promotion/base-model.ts';
import { registerUpstreamVersion, activateModelVersion } from '../src/promotion/model-versions.ts';
import { createUser, issueApiKey } from '../src/platform/users/users.ts';
import { scratchDatabase, type ScratchDatabase } from './scratch-database.ts';

// A copy of serving-latency.ts's: that module runs its main at top level and imports this one.
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

const QUESTIONS = [
  'What is the capital of Peru?',
  'Define the word harbour.',
  'Which languages are spoken in Belgium?',
  'What currency does Japan use?',
];

const BENCH_KEY_ENV = 'FEEDLOOP_BENCH_UPSTREAM_KEY';

interface StreamSample {
  ttftMs: number;
  tokens: number;
}

async function stream(
  client: OpenAI,
  model: string,
  question: string,
  maxTokens: number,
): Promise<StreamSample> {
  const started = performance.now();
  let first: number | null = null;
  let tokens = 0;
  const body = {
    model,
    messages: [{ role: 'user' as const, content: question }],
    max_tokens: maxTokens,
    stream: true as const,
    stream_options: { include_usage: true },
  };
  for await (const chunk of await client.chat.completions.create(body)) {
    if (chunk.choices[0]?.delta.content && first === null) first = performance.now() - started;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  if (first === null) throw new Error('the stream carried no token');
  return { ttftMs: first, tokens };
}

interface Burst {
  ttftMs: number[];
  tokensPerSecond: number;
}

async function burst(client: OpenAI, model: string, streams: number, maxTokens: number): Promise<Burst> {
  const started = performance.now();
  const samples = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      stream(client, model, QUESTIONS[i % QUESTIONS.length]!, maxTokens),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    ttftMs: samples.map((s) => s.ttftMs),
    tokensPerSecond: samples.reduce((sum, s) => sum + s.tokens, 0) / seconds,
  };
}

async function localUpstream(): Promise<{
  baseUrl: string;
  model: string;
  key: string;
  close(): Promise<void>;
}> {
  const database = await scratchDatabase(
    process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    'upstream',
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
  await ensureBaseModel(app.db.prisma, modelDir);
  await app.servedModels.warm();
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const user = await createUser(app.db.prisma, { email: 'bench-upstream@example.test', role: 'user' });
  const { key } = await issueApiKey(app.db.prisma, user.id, 'bench');
  return {
    baseUrl: `${address}/v1`,
    model: 'base',
    key,
    close: async () => {
      await app.close();
      await database.drop();
    },
  };
}

export async function runUpstreamBench(options: {
  smoke: boolean;
  upstreamUrl?: string;
  upstreamModel?: string;
  upstreamKeyEnv?: string;
}): Promise<Record<string, unknown>> {
  const rounds = options.smoke ? 1 : 5;
  const maxTokens = options.smoke ? 8 : 64;
  const concurrencies = [8, 64];
  const upstream = options.upstreamUrl
    ? {
        baseUrl: options.upstreamUrl,
        model: options.upstreamModel ?? 'default',
        key: options.upstreamKeyEnv ? (process.env[options.upstreamKeyEnv] ?? '') : '',
        close: async () => {},
      }
    : await localUpstream();
  process.env[BENCH_KEY_ENV] = upstream.key || 'none';
  let database: ScratchDatabase | null = null;
  let front: FastifyInstance | null = null;
  try {
    database = await scratchDatabase(
      process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
      'front',
    );
    front = await buildApp({
      config: loadConfig({
        ...process.env,
        LOG_LEVEL: 'warn',
        DATABASE_URL: database.url,
        FEEDLOOP_RATE_LIMIT_PER_MINUTE: '1000000',
      }),
    });
    const version = await registerUpstreamVersion(front.db.prisma, {
      name: 'bench-upstream',
      baseUrl: upstream.baseUrl,
      model: upstream.model,
      apiKeyEnv: upstream.key ? BENCH_KEY_ENV : undefined,
      reason: 'bench',
      actorId: null,
    });
    await activateModelVersion(front.db.prisma, { id: version.id, actorId: null, reason: 'bench' });
    const frontUrl = await front.listen({ port: 0, host: '127.0.0.1' });
    const user = await createUser(front.db.prisma, { email: 'bench@example.test', role: 'user' });
    const frontKey = (await issueApiKey(front.db.prisma, user.id, 'bench')).key;
    const conversation = await front.db.prisma.conversation.create({ data: { userId: user.id } });
    const message = await front.db.prisma.message.create({
      data: { conversationId: conversation.id, role: 'assistant', content: 'An answer to give feedback on.' },
    });
    const direct = new OpenAI({ baseURL: upstream.baseUrl, apiKey: upstream.key || 'none', maxRetries: 0 });
    const through = new OpenAI({ baseURL: `${frontUrl}/v1`, apiKey: frontKey, maxRetries: 0 });

    const results: Record<string, unknown> = {};
    const ingestMs: number[] = [];
    let eventCounter = 0;
    for (const streams of concurrencies) {
      // Warm-up, uncounted: both paths once.
      await burst(direct, upstream.model, streams, maxTokens);
      await burst(through, 'bench-upstream', streams, maxTokens);
      const directTtft: number[] = [];
      const throughTtft: number[] = [];
      const directTps: number[] = [];
      const throughTps: number[] = [];
      for (let round = 0; round < rounds; round++) {
        // Alternating, so drift in the upstream's speed hits both paths alike.
        const d = await burst(direct, upstream.model, streams, maxTokens);
        directTtft.push(...d.ttftMs);
        directTps.push(d.tokensPerSecond);
        let streaming = true;
        const ingest = (async () => {
          while (streaming) {
            const started = performance.now();
            const res = await fetch(`${frontUrl}/v1/events`, {
              method: 'POST',
              headers: { authorization: `Bearer ${frontKey}`, 'content-type': 'application/json' },
              body: JSON.stringify({
                events: [
                  {
                    id: `bench-${streams}-${round}-${eventCounter++}`,
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
        const t = await burst(through, 'bench-upstream', streams, maxTokens);
        streaming = false;
        await ingest;
        throughTtft.push(...t.ttftMs);
        throughTps.push(t.tokensPerSecond);
      }
      const r = (x: number) => Math.round(x * 10) / 10;
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      results[`streams_${streams}`] = {
        samples: throughTtft.length,
        direct_ttft_p50_ms: r(percentile(directTtft, 50)),
        direct_ttft_p99_ms: r(percentile(directTtft, 99)),
        feedloop_ttft_p50_ms: r(percentile(throughTtft, 50)),
        feedloop_ttft_p99_ms: r(percentile(throughTtft, 99)),
        added_ttft_p99_ms: r(percentile(throughTtft, 99) - percentile(directTtft, 99)),
        direct_tokens_per_s: r(mean(directTps)),
        feedloop_tokens_per_s: r(mean(throughTps)),
      };
    }
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      bench: 'serving-upstream',
      smoke: options.smoke,
      upstream: options.upstreamUrl ? 'external' : 'feedloop in this process (models/base)',
      max_tokens: maxTokens,
      rounds,
      ...results,
      ingest_samples: ingestMs.length,
      ingest_p50_ms: round(percentile(ingestMs, 50)),
      ingest_p99_ms_during_streams: round(percentile(ingestMs, 99)),
    };
  } finally {
    await front?.close();
    await database?.drop();
    await upstream.close();
  }
}

export function cpuModel(): string {
  return os.cpus()[0]?.model ?? 'unknown';
}
