// Time to first token through the HTTP API with several concurrent streaming completions, and the
// latency of feedback ingestion (single implicit events) while those streams run: serving answers
// must not slow down recording what users think of them.
import { parseArgs } from 'node:util';
import { startBenchApp } from './bench-app.ts';
import { burst, completionClient } from './completion-stream.ts';
import { ingestWhile } from './ingestion-probe.ts';
import { percentile } from './percentile.ts';
import { cpuModel } from './cpu.ts';
import { runUpstreamBench } from './serving-upstream.ts';

export interface ServingLatency {
  ttftMs: number[];
  /** TTFT of the uncounted warm-up round: the first burst after start pays for JIT compilation. */
  coldTtftMs: number[];
  ingestMs: number[];
  streams: number;
  rounds: number;
}

/** Uncounted bursts before measuring; the first one's TTFT is reported as cold. */
const WARM_UP_ROUNDS = 1;

export async function measureServingLatency(options: {
  streams: number;
  rounds: number;
  maxTokens: number;
}): Promise<ServingLatency> {
  const bench = await startBenchApp('serving', { baseModel: true });
  try {
    const client = completionClient(`${bench.url}/v1`, bench.apiKey);
    // Warm-up: uncounted rounds at full concurrency. The first bursts after start compile routes,
    // fill caches and give the JIT its hot paths (the database client's take a few dozen requests);
    // the very first burst is reported apart as cold.
    const streamBurst = () => burst(client, 'default', options.streams, options.maxTokens);
    const coldTtftMs = (await streamBurst()).ttftMs;
    for (let i = 1; i < WARM_UP_ROUNDS; i++) await streamBurst();
    const ttftMs: number[] = [];
    const ingestMs: number[] = [];
    for (let round = 0; round < options.rounds; round++) {
      const measured = await ingestWhile(
        { baseUrl: bench.url, apiKey: bench.apiKey, messageId: bench.messageId, idPrefix: `bench-${round}` },
        streamBurst(),
      );
      ttftMs.push(...measured.result.ttftMs);
      ingestMs.push(...measured.ingestMs);
    }
    return { ttftMs, coldTtftMs, ingestMs, streams: options.streams, rounds: options.rounds };
  } finally {
    await bench.close();
  }
}

/**
 * `npm run bench:serving`: only the HTTP part of bench:model (no training), so serving changes can
 * be compared in alternating runs; `-- --upstream`: through feedloop to an OpenAI-compatible
 * upstream against the upstream directly (bench/serving-upstream.ts). `--smoke` only checks that
 * the bench runs. Prints the CPU model, then one JSON line.
 */
async function main(): Promise<void> {
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
  const cpu = cpuModel();
  process.stdout.write(`cpu: ${cpu}\n`);
  if (values.upstream) {
    const line = await runUpstreamBench({
      smoke: values.smoke,
      upstreamUrl: values['upstream-url'],
      upstreamModel: values['upstream-model'],
      upstreamKeyEnv: values['upstream-key-env'],
    });
    process.stdout.write(`${JSON.stringify({ ...line, cpu })}\n`);
    return;
  }
  const serving = await measureServingLatency({
    streams: Number(values.streams),
    rounds: values.smoke ? 1 : Number(values.rounds),
    maxTokens: values.smoke ? 8 : Number(values['max-tokens']),
  });
  const round = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      bench: 'serving',
      smoke: values.smoke,
      streams: serving.streams,
      samples: serving.ttftMs.length,
      ttft_p50_ms: round(percentile(serving.ttftMs, 50)),
      ttft_p99_ms: round(percentile(serving.ttftMs, 99)),
      ttft_max_ms: round(Math.max(...serving.ttftMs)),
      ttft_cold_max_ms: round(Math.max(...serving.coldTtftMs)),
      ingest_samples: serving.ingestMs.length,
      ingest_p50_ms: round(percentile(serving.ingestMs, 50)),
      ingest_p99_ms_during_streams: round(percentile(serving.ingestMs, 99)),
      cpu,
    })}\n`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
