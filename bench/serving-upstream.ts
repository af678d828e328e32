// `npm run bench:serving -- --upstream`: first-token time and throughput of streamed completions
// through feedloop (an upstream version) against calling the same upstream directly, at 8 and 64
// concurrent streams, and feedback ingestion latency while feedloop's streams run. Issue 15's
// targets: feedloop adds under 10 ms to the first token's p99; ingestion p99 stays under 50 ms.
// Each concurrency is measured twice: `burst`, every stream of a round starting at the same instant
// (the worst case: N requests queue on one event loop together), and `steady`, N streams always in
// flight with their starts spread over one answer's duration, each starting its next request when
// its answer ends (requests arriving one at a time, as from many independent users).
//
// This process runs only the feedloop under test; the client reading the streams is a child
// process (bench/serving-upstream-client.ts), and so is the default upstream. The ingestion probe
// posts events back to back from a third child during both paths' streams (the same machine load
// for each), and its p99 is reported for each path: the target's while feedloop streams, and
// feedloop serving events alone beside the direct streams. The upstream is a
// real server with `--upstream-url http://host:8000/v1 --upstream-model <id> [--upstream-key-env
// VAR]` (vLLM, Ollama), or by default bench/fixed-rate-upstream.ts, which streams tokens at a fixed
// pace. That stand-in, rather than a second feedloop serving models/base, is what isolates
// feedloop's own overhead: it costs next to no CPU and its first token comes at the same time
// whatever else runs, so the difference between the two paths is the work feedloop adds. A TF.js
// upstream on the same two cores would decode slower whenever the front instance works (charging
// feedloop for CPU a real upstream would not share), and its batched decoding makes the first
// token depend on when prompts arrive, which differs between the two paths.
import type { ChildProcess } from 'node:child_process';
import { serveUpstream, startBenchApp, type BenchApp } from './bench-app.ts';
import { endChild, forkBenchChild, nextMessage } from './bench-child.ts';
import { FIRST_TOKEN_MS, TOKEN_MS } from './fixed-rate-upstream.ts';
import { percentile } from './percentile.ts';
import type { Endpoint, LoadSamples, PhaseSamples, UpstreamJob } from './serving-upstream-client.ts';

const BENCH_KEY_ENV = 'FEEDLOOP_BENCH_UPSTREAM_KEY';
const VERSION_NAME = 'bench-upstream';
const CONCURRENCIES = [8, 64];
/** First-token samples per path, concurrency and phase: p99 is then the 4th slowest, not the slowest. */
const SAMPLES = 320;
/** Steady load: segments alternating between the two paths, each with its own uncounted ramp. */
const STEADY_SEGMENTS = 4;

async function fixedRateUpstream(): Promise<{ endpoint: Endpoint; child: ChildProcess }> {
  const child = forkBenchChild(new URL('./fixed-rate-upstream.ts', import.meta.url));
  try {
    const { baseUrl } = await nextMessage<{ baseUrl: string }>(child);
    return { endpoint: { baseUrl, apiKey: '', model: 'fixed-rate' }, child };
  } catch (err) {
    await endChild(child);
    throw err;
  }
}

async function runClient(job: UpstreamJob): Promise<LoadSamples[]> {
  const child = forkBenchChild(new URL('./serving-upstream-client.ts', import.meta.url));
  try {
    const answer = nextMessage<{ samples: LoadSamples[] } | { error: string }>(child);
    child.send(job);
    const reply = await answer;
    if ('error' in reply) throw new Error(`the bench client failed: ${reply.error}`);
    return reply.samples;
  } finally {
    await endChild(child);
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

function summary(phase: PhaseSamples): Record<string, number> {
  const { direct, feedloop } = phase;
  return {
    samples: feedloop.ttftMs.length,
    direct_ttft_p50_ms: round1(percentile(direct.ttftMs, 50)),
    direct_ttft_p99_ms: round1(percentile(direct.ttftMs, 99)),
    feedloop_ttft_p50_ms: round1(percentile(feedloop.ttftMs, 50)),
    feedloop_ttft_p99_ms: round1(percentile(feedloop.ttftMs, 99)),
    added_ttft_p50_ms: round1(percentile(feedloop.ttftMs, 50) - percentile(direct.ttftMs, 50)),
    added_ttft_p99_ms: round1(percentile(feedloop.ttftMs, 99) - percentile(direct.ttftMs, 99)),
    direct_tokens_per_s: round1(mean(direct.tokensPerSecond)),
    feedloop_tokens_per_s: round1(mean(feedloop.tokensPerSecond)),
    ingest_samples: feedloop.ingestMs.length,
    ingest_p50_ms: round1(percentile(feedloop.ingestMs, 50)),
    ingest_p99_ms_during_streams: round1(percentile(feedloop.ingestMs, 99)),
    ingest_p99_ms_during_direct_streams: round1(percentile(direct.ingestMs, 99)),
  };
}

export async function runUpstreamBench(options: {
  smoke: boolean;
  upstreamUrl?: string;
  upstreamModel?: string;
  upstreamKeyEnv?: string;
}): Promise<Record<string, unknown>> {
  const maxTokens = options.smoke ? 8 : 64;
  const loads = CONCURRENCIES.map((streams) => ({
    streams,
    rounds: options.smoke ? 1 : Math.ceil(SAMPLES / streams),
    segments: options.smoke ? 1 : STEADY_SEGMENTS,
    // One more than counted: each stream's first request of a segment is its ramp.
    requestsPerStream: options.smoke ? 2 : 1 + Math.ceil(SAMPLES / STEADY_SEGMENTS / streams),
  }));
  let upstreamChild: ChildProcess | null = null;
  let front: BenchApp | null = null;
  try {
    let upstream: Endpoint;
    if (options.upstreamUrl) {
      upstream = {
        baseUrl: options.upstreamUrl,
        model: options.upstreamModel ?? 'default',
        apiKey: options.upstreamKeyEnv ? (process.env[options.upstreamKeyEnv] ?? '') : '',
      };
    } else {
      const started = await fixedRateUpstream();
      upstreamChild = started.child;
      upstream = started.endpoint;
    }
    // The provider reads the key from the API process's environment when it sends a request.
    if (upstream.apiKey) process.env[BENCH_KEY_ENV] = upstream.apiKey;
    front = await startBenchApp('front', { baseModel: false });
    await serveUpstream(front, {
      name: VERSION_NAME,
      baseUrl: upstream.baseUrl,
      model: upstream.model,
      apiKeyEnv: upstream.apiKey ? BENCH_KEY_ENV : undefined,
    });

    const samples = await runClient({
      direct: upstream,
      feedloop: { baseUrl: `${front.url}/v1`, apiKey: front.apiKey, model: VERSION_NAME },
      ingestion: { baseUrl: front.url, apiKey: front.apiKey, messageId: front.messageId },
      loads,
      maxTokens,
    });
    const results = Object.fromEntries(
      samples.map((load, i) => {
        const { rounds, segments, requestsPerStream } = loads[i]!;
        return [
          `streams_${load.streams}`,
          {
            burst: { rounds, ...summary(load.burst) },
            steady: {
              segments,
              requests_per_stream: requestsPerStream,
              start_spacing_ms: round1(load.answerMs / load.streams),
              ...summary(load.steady),
            },
          },
        ];
      }),
    );
    return {
      bench: 'serving-upstream',
      smoke: options.smoke,
      upstream: options.upstreamUrl
        ? `external (${upstream.model})`
        : `fixed-rate child process: first token ${FIRST_TOKEN_MS} ms, then one every ${TOKEN_MS} ms`,
      max_tokens: maxTokens,
      ...results,
    };
  } finally {
    await front?.close();
    if (upstreamChild) await endChild(upstreamChild);
  }
}
