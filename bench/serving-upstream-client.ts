// The client side of bench/serving-upstream.ts, run as a child process so that reading hundreds of
// streams does not share an event loop with the feedloop under test. Receives one UpstreamJob over
// IPC, answers with the samples: for each concurrency, bursts (all streams start at once) and then
// steady load (streams start spread over one answer's duration and each starts its next request
// when its answer ends), each in rounds or segments alternating between the upstream directly and
// through feedloop (so drift in the upstream's speed hits both paths alike). Feedback events are
// posted to feedloop back to back during both paths' streams, from a process of their own
// (bench/ingestion-probe-process.ts), so the machine carries the same ingestion load whichever
// path the first tokens take and this client's event loop only reads streams: the difference
// between the paths is what serving through feedloop adds, not the probe's work, which the
// direct path would otherwise be spared.
import { burst, completionClient, steady } from './completion-stream.ts';
import { percentile } from './percentile.ts';
import { startProbeProcess } from './ingestion-probe-process.ts';

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
  /**
   * Event round trips while this path's streams ran: through feedloop, the target's measure;
   * direct, feedloop serving events alone.
   */
  ingestMs: number[];
}

export interface PhaseSamples {
  direct: PathSamples;
  feedloop: PathSamples;
}

export interface LoadSamples {
  streams: number;
  burst: PhaseSamples;
  steady: PhaseSamples;
  /** The steady load's spacing: one answer's duration, the median of the direct warm-up burst. */
  answerMs: number;
}

const emptyPath = (): PathSamples => ({ ttftMs: [], tokensPerSecond: [], ingestMs: [] });
const emptyPhase = (): PhaseSamples => ({ direct: emptyPath(), feedloop: emptyPath() });

export async function runUpstreamJob(job: UpstreamJob): Promise<LoadSamples[]> {
  const direct = completionClient(job.direct.baseUrl, job.direct.apiKey);
  const feedloop = completionClient(job.feedloop.baseUrl, job.feedloop.apiKey);
  const results: LoadSamples[] = [];
  const probe = startProbeProcess();
  /** One round or segment of one path, with the probe posting events meanwhile. */
  const measure = async (
    into: PathSamples,
    idPrefix: string,
    load: () => Promise<{ ttftMs: number[]; tokensPerSecond: number }>,
  ) => {
    const { result, ingestMs } = await probe.during({ ...job.ingestion, idPrefix }, load);
    into.ttftMs.push(...result.ttftMs);
    into.tokensPerSecond.push(result.tokensPerSecond);
    into.ingestMs.push(...ingestMs);
  };
  try {
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
        await measure(samples.burst.direct, `bench-direct-${streams}-${round}`, () =>
          burst(direct, job.direct.model, streams, job.maxTokens),
        );
        await measure(samples.burst.feedloop, `bench-${streams}-${round}`, () =>
          burst(feedloop, job.feedloop.model, streams, job.maxTokens),
        );
      }
      const load = { streams, maxTokens: job.maxTokens, answerMs: samples.answerMs, requestsPerStream };
      for (let segment = 0; segment < segments; segment++) {
        await measure(samples.steady.direct, `bench-steady-direct-${streams}-${segment}`, () =>
          steady(direct, job.direct.model, load),
        );
        await measure(samples.steady.feedloop, `bench-steady-${streams}-${segment}`, () =>
          steady(feedloop, job.feedloop.model, load),
        );
      }
      results.push(samples);
    }
  } finally {
    await probe.close();
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
