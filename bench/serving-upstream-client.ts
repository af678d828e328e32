// The client side of bench/serving-upstream.ts, run as a child process so that reading hundreds of
// streams does not share an event loop with the feedloop under test. Receives one UpstreamJob over
// IPC, answers with the samples: for each concurrency, bursts (all streams start at once) and then
// steady load (streams start spread over one answer's duration and each starts its next request
// when its answer ends), each in rounds or segments alternating between the upstream directly and
// through feedloop (so drift in the upstream's speed hits both paths alike), with feedback
// ingestion timed while feedloop's streams run.
import { burst, completionClient, steady } from './completion-stream.ts';
import { percentile } from './percentile.ts';
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
  /**
   * Concurrent streams; how many burst rounds at each; and the steady load's segments per path and
   * requests per stream in each segment (the first of which is the uncounted ramp).
   */
  loads: { streams: number; rounds: number; segments: number; requestsPerStream: number }[];
  maxTokens: number;
}

export interface PathSamples {
  ttftMs: number[];
  /** One figure a round. */
  tokensPerSecond: number[];
}

export interface PhaseSamples {
  direct: PathSamples;
  feedloop: PathSamples;
  ingestMs: number[];
}

export interface LoadSamples {
  streams: number;
  burst: PhaseSamples;
  steady: PhaseSamples;
  /** The steady load's spacing: one answer's duration, the median of the direct warm-up burst. */
  answerMs: number;
}

const emptyPhase = (): PhaseSamples => ({
  direct: { ttftMs: [], tokensPerSecond: [] },
  feedloop: { ttftMs: [], tokensPerSecond: [] },
  ingestMs: [],
});

export async function runUpstreamJob(job: UpstreamJob): Promise<LoadSamples[]> {
  const direct = completionClient(job.direct.baseUrl, job.direct.apiKey);
  const feedloop = completionClient(job.feedloop.baseUrl, job.feedloop.apiKey);
  const results: LoadSamples[] = [];
  for (const { streams, rounds, segments, requestsPerStream } of job.loads) {
    // Warm-up, uncounted: both paths once.
    const warmUp = await burst(direct, job.direct.model, streams, job.maxTokens);
    await burst(feedloop, job.feedloop.model, streams, job.maxTokens);
    const samples: LoadSamples = {
      streams,
      burst: emptyPhase(),
      steady: emptyPhase(),
      answerMs: percentile(warmUp.durationMs, 50),
    };
    for (let round = 0; round < rounds; round++) {
      const d = await burst(direct, job.direct.model, streams, job.maxTokens);
      samples.burst.direct.ttftMs.push(...d.ttftMs);
      samples.burst.direct.tokensPerSecond.push(d.tokensPerSecond);
      const through = await ingestWhile(
        { ...job.ingestion, idPrefix: `bench-${streams}-${round}` },
        burst(feedloop, job.feedloop.model, streams, job.maxTokens),
      );
      samples.burst.feedloop.ttftMs.push(...through.result.ttftMs);
      samples.burst.feedloop.tokensPerSecond.push(through.result.tokensPerSecond);
      samples.burst.ingestMs.push(...through.ingestMs);
    }
    const load = { streams, maxTokens: job.maxTokens, answerMs: samples.answerMs, requestsPerStream };
    for (let segment = 0; segment < segments; segment++) {
      const d = await steady(direct, job.direct.model, load);
      samples.steady.direct.ttftMs.push(...d.ttftMs);
      samples.steady.direct.tokensPerSecond.push(d.tokensPerSecond);
      const through = await ingestWhile(
        { ...job.ingestion, idPrefix: `bench-steady-${streams}-${segment}` },
        steady(feedloop, job.feedloop.model, load),
      );
      samples.steady.feedloop.ttftMs.push(...through.result.ttftMs);
      samples.steady.feedloop.tokensPerSecond.push(through.result.tokensPerSecond);
      samples.steady.ingestMs.push(...through.ingestMs);
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
