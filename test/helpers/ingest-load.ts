// Ingestion load for the fault tests: a few clients post batches of fresh events, each batch
// retried with the same ids until it is acknowledged (as a real client with an outbox would), and
// every answer is recorded. A 202 must account for the whole batch (accepted + duplicates).
import request from 'supertest';
import { event } from './events.ts';
import { waitFor } from './wait-for.ts';

export interface IngestLoadOptions {
  url: string;
  auth: string;
  messageIds: string[];
  clients: number;
  batchesPerClient: number;
  batchSize: number;
  /** How long one batch may take to be acknowledged, retries included. */
  batchTimeoutMs?: number;
}

export interface IngestLoad {
  /** Settles when every client's every batch was acknowledged. */
  done: Promise<void>;
  /** Ids of events in an acknowledged (202) batch. */
  acknowledged: Set<string>;
  /** Ids of every event sent. */
  sent: Set<string>;
  acknowledgedBatches(): number;
  /** Answers by HTTP status. */
  statuses: Map<number, number>;
  /** Answers that were neither a whole 202 nor a 503 in the error shape. */
  unexpected: string[];
}

export function startIngestLoad(options: IngestLoadOptions): IngestLoad {
  const acknowledged = new Set<string>();
  const sent = new Set<string>();
  const statuses = new Map<number, number>();
  const unexpected: string[] = [];
  let batches = 0;

  const post = async (events: Record<string, unknown>[]) => {
    const res = await request(options.url)
      .post('/v1/events')
      .set('authorization', options.auth)
      .send({ events });
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    // Recorded rather than thrown: waitFor takes a throw for "not yet" and would retry.
    if (res.status === 202) {
      if (res.body.accepted + res.body.duplicates !== events.length)
        unexpected.push(`202 not accounting for ${events.length} events: ${JSON.stringify(res.body)}`);
      return true;
    }
    if (res.status !== 503 || res.body.error?.code !== 'unavailable')
      unexpected.push(`${res.status} ${JSON.stringify(res.body)}`);
    return false;
  };

  const client = async (index: number) => {
    for (let b = 0; b < options.batchesPerClient; b++) {
      const events = Array.from({ length: options.batchSize }, (_, i) =>
        event(options.messageIds[(index + b + i) % options.messageIds.length]!),
      );
      for (const e of events) sent.add(e.id as string);
      await waitFor(
        `batch ${b} of client ${index} to be acknowledged`,
        () => post(events),
        options.batchTimeoutMs ?? 60_000,
      );
      for (const e of events) acknowledged.add(e.id as string);
      batches += 1;
    }
  };

  const done = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i))).then(() => {});
  done.catch(() => {});
  return { done, acknowledged, sent, acknowledgedBatches: () => batches, statuses, unexpected };
}
