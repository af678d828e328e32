// The client side of bench/serving-upstream.ts, run as a child process so that reading hundreds of
// streams does not share an event loop with the feedloop under test. Receives one UpstreamJob over
// IPC, answers with the samples: for each concurrency, rounds alternating between the upstream
// directly and through feedloop (so drift in the upstream's speed hits both paths alike), with
// feedback ingestion timed while feedloop's streams run.
import { burst, completionClient } from './completion-stream.ts';
import { ingestWhile } from './ingestion-probe.ts';

export interface Endpoint {
  /** Ending in /v1. */
  baseUrl: string;
  apiKey: string;
  model: string;
}

export interface UpstreamJob {
  direct: Endpoint;
  feedloop: Endpoint;
  /** Feedloop's origin (no /v1) and the message its events name. */
  ingestion: { baseUrl: string; apiKey: string; messageId: string };
  /** Concurrent streams, and how many rounds at each. */
  loads: { streams: number; rounds: number }[];
  maxTokens: number;
}

export interface PathSamples {
  ttftMs: number[];
  /** One figure a round. */
  tokensPerSecond: number[];
}

export interface LoadSamples {
  streams: number;
  direct: PathSamples;
  feedloop: PathSamples;
  ingestMs: number[];
}

export async function runUpstreamJob(job: UpstreamJob): Promise<LoadSamples[]> {
  const direct = completionClient(job.direct.baseUrl, job.direct.apiKey);
  const feedloop = completionClient(job.feedloop.baseUrl, job.feedloop.apiKey);
  const results: LoadSamples[] = [];
  for (const { streams, rounds } of job.loads) {
    // Warm-up, uncounted: both paths once.
    await burst(direct, job.direct.model, streams, job.maxTokens);
    await burst(feedloop, job.feedloop.model, streams, job.maxTokens);
    const samples: LoadSamples = {
      streams,
      direct: { ttftMs: [], tokensPerSecond: [] },
      feedloop: { ttftMs: [], tokensPerSecond: [] },
      ingestMs: [],
    };
    for (let round = 0; round < rounds; round++) {
      const d = await burst(direct, job.direct.model, streams, job.maxTokens);
      samples.direct.ttftMs.push(...d.ttftMs);
      samples.direct.tokensPerSecond.push(d.tokensPerSecond);
      const through = await ingestWhile(
        { ...job.ingestion, idPrefix: `bench-${streams}-${round}` },
        burst(feedloop, job.feedloop.model, streams, job.maxTokens),
      );
      samples.feedloop.ttftMs.push(...through.result.ttftMs);
      samples.feedloop.tokensPerSecond.push(through.result.tokensPerSecond);
      samples.ingestMs.push(...through.ingestMs);
    }
    results.push(samples);
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // A bench that went away takes its client with it.
  process.on('disconnect', () => process.exit(1));
  process.once('message', (job: UpstreamJob) => {
    runUpstreamJob(job).then(
      (samples) => process.send?.({ samples }, () => process.exit(0)),
      (err: unknown) => process.send?.({ error: String((err as Error).stack ?? err) }, () => process.exit(1)),
    );
  });
}
