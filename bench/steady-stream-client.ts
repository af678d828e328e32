// The client of bench/event-loop-stalls.ts, run as a child process so that reading the streams does
// not share an event loop with the feedloop under test: one steady load of streamed completions
// (bench/completion-stream.ts's `steady`), with feedback events posted back to back meanwhile
// (bench/ingestion-probe.ts) unless the job leaves them out. Takes SteadyJobs over IPC, one at a
// time, and answers each with its first-token times and event round trips.
import { completionClient, steady } from './completion-stream.ts';
import { ingestWhile } from './ingestion-probe.ts';

export interface SteadyJob {
  /** Ending in /v1. */
  baseUrl: string;
  apiKey: string;
  model: string;
  streams: number;
  maxTokens: number;
  /** One answer's duration: the streams' starts are spread over it. */
  answerMs: number;
  /** Per stream; its first is the uncounted ramp. */
  requestsPerStream: number;
  /** Feedloop's origin (no /v1) and the message the events name; null: no events. */
  ingestion: { baseUrl: string; messageId: string; idPrefix: string } | null;
}

export interface SteadyAnswer {
  ttftMs: number[];
  ingestMs: number[];
}

export async function runSteady(job: SteadyJob): Promise<SteadyAnswer> {
  const client = completionClient(job.baseUrl, job.apiKey);
  const load = steady(client, job.model, job);
  if (!job.ingestion) return { ttftMs: (await load).ttftMs, ingestMs: [] };
  const { result, ingestMs } = await ingestWhile({ ...job.ingestion, apiKey: job.apiKey }, load);
  return { ttftMs: result.ttftMs, ingestMs };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.on('disconnect', () => process.exit(1));
  process.on('message', (job: SteadyJob) => {
    runSteady(job).then(
      (answer) => process.send?.(answer),
      (err: unknown) => process.send?.({ error: String((err as Error).stack ?? err) }, () => process.exit(1)),
    );
  });
}
