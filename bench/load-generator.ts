// The load side of bench/ingest.ts, run as a child process so autocannon does not share an event
// loop with the server. Receives one LoadJob over IPC, drives POST /v1/events with autocannon,
// and answers with the figures and the ids the server acknowledged (read from response bodies).
import autocannon from 'autocannon';

export interface LoadJob {
  url: string;
  authorization: string;
  messageIds: string[];
  /** Events per request. */
  batchSize: number;
  connections: number;
  durationSeconds: number;
  /** Prefix of every event id this job generates (ids are unique per job). */
  idPrefix: string;
}

export interface LoadResult {
  requests: number;
  responses2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  elapsedMs: number;
  latency: { p50: number; p90: number; p99: number; max: number };
  /** Sum of `accepted` over all 202 answers. */
  accepted: number;
  /** Sum of `duplicates` and `rejected` (expected 0: every id is new and every event valid). */
  duplicates: number;
  rejected: number;
  /** Ids the server acknowledged: every event of a 202 answer that it did not reject. */
  acknowledgedIds: string[];
  statusCounts: Record<string, number>;
  /** CPU time this load generator used (user + system), in ms. */
  cpuMs: number;
}

const TYPES = [
  'copy',
  'regenerate',
  'edit',
  'dwell',
  'expand',
  'click',
  'abandon',
  'session_end',
  'follow_up',
];

interface ConnectionContext {
  ids?: string[];
}

interface IngestAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  errors: { index: number }[];
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  let counter = 0;
  let ts = '';
  let tsAt = 0;
  const acknowledgedIds: string[] = [];
  const statusCounts: Record<string, number> = {};
  let accepted = 0;
  let duplicates = 0;
  let rejected = 0;

  const instance = autocannon({
    url: job.url,
    connections: job.connections,
    duration: job.durationSeconds,
    pipelining: 1,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        path: '/v1/events',
        headers: { authorization: job.authorization, 'content-type': 'application/json' },
        // autocannon keeps one context per connection and answers in order (no pipelining), so the
        // ids put here are those of the request the next onResponse is about.
        setupRequest: (request, context: ConnectionContext) => {
          // Built as text: ids, types, UUIDs and timestamps need no escaping, and JSON.stringify
          // would cost the load generator CPU that the server on the same two cores needs.
          const now = Date.now();
          if (now - tsAt >= 10) {
            tsAt = now;
            ts = new Date(now).toISOString();
          }
          const ids: string[] = [];
          let body = '{"events":[';
          for (let i = 0; i < job.batchSize; i++) {
            counter += 1;
            const id = `${job.idPrefix}${counter}`;
            ids.push(id);
            body +=
              `${i ? ',' : ''}{"id":"${id}","type":"${TYPES[counter % TYPES.length]}",` +
              `"messageId":"${job.messageIds[counter % job.messageIds.length]}","value":${counter % 1000},"ts":"${ts}"}`;
          }
          context.ids = ids;
          return { ...request, body: `${body}]}` };
        },
        onResponse: (status: number, body: string, context: ConnectionContext) => {
          statusCounts[status] = (statusCounts[status] ?? 0) + 1;
          if (status !== 202 || !context.ids) return;
          const answer = JSON.parse(body) as IngestAnswer;
          accepted += answer.accepted;
          duplicates += answer.duplicates;
          rejected += answer.rejected;
          const bad = new Set(answer.errors.map((e) => e.index));
          context.ids.forEach((id, index) => {
            if (!bad.has(index)) acknowledgedIds.push(id);
          });
        },
      },
    ],
  });
  const cpuBefore = process.cpuUsage();
  const result = await instance;
  const cpu = process.cpuUsage(cpuBefore);
  return {
    requests: result.requests.total,
    responses2xx: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    elapsedMs: new Date(result.finish).getTime() - new Date(result.start).getTime(),
    latency: {
      p50: result.latency.p50,
      p90: result.latency.p90,
      p99: result.latency.p99,
      max: result.latency.max,
    },
    accepted,
    duplicates,
    rejected,
    acknowledgedIds,
    statusCounts,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

// As a child process: one job in, one result out.
if (process.send) {
  process.once('message', (job: LoadJob) => {
    runLoad(job).then(
      (result) => process.send!(result, () => process.exit(0)),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  });
}
