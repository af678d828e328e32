// Group commit for implicit events. Requests hand their validated rows to one EventWriter and wait;
// while an INSERT is in flight new rows queue up, and when it returns the next flush writes
// everything queued in one statement. Under load a statement carries many requests, so throughput
// does not fall to one transaction per request; when idle a lone request is written at once.
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { ImplicitEventType } from '../../generated/prisma/enums.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import { isUnavailableError } from '../../platform/errors/unavailable.ts';

/** One row of implicit_events, validated and owned by the sender. */
export interface EventRow {
  id: string;
  type: ImplicitEventType;
  messageId: string;
  userId: string;
  value: number | null;
  /** ISO 8601 with a zone (`Z` or an offset), as validated; Postgres converts it to UTC. */
  clientTs: string;
}

export interface WriteOutcome {
  /** Rows this call stored. */
  accepted: number;
  /** Rows whose id was stored before, or by another caller in the same flush. */
  duplicates: number;
  /** Ids of rows not stored because their message or user was deleted meanwhile. */
  gone: string[];
}

export interface EventWriterStats {
  /** write() calls that got rows. */
  requests: number;
  /** INSERT statements sent (successful or not). */
  statements: number;
  failedStatements: number;
  rowsInserted: number;
  duplicates: number;
  /** Most rows one statement carried. */
  largestStatement: number;
  /** Rows waiting for a flush right now. */
  queuedRows: number;
  /** Statements in flight right now. */
  inFlight: number;
  /** Milliseconds statements spent in the database, summed over statements (overlaps count twice). */
  statementMs: number;
  /** Milliseconds requests waited in the queue before their statement started, summed over requests. */
  queueWaitMs: number;
  /** Milliseconds from write() to the commit, summed over requests (divided by elapsed time: requests in the writer). */
  inWriterMs: number;
  pace: WriterPace;
}

export interface EventWriterOptions {
  pool: pg.Pool;
  /** Rows per statement (FEEDLOOP_EVENT_BATCH_MAX). A single call larger than this still goes whole. */
  batchMax: number;
  /** How many statements go at once, and when; `pace()` changes it later. */
  pace: WriterPace;
  /** Called after each commit with the number of new rows per event type. */
  onInserted?: (insertedByType: ReadonlyMap<ImplicitEventType, number>) => void;
  log?: FastifyBaseLogger;
}

export interface WriterPace {
  /** Statements in flight at once (1: pure group commit). */
  maxConcurrentFlushes: number;
  /**
   * Rows that must be queued before a statement starts beside one already in flight. Each
   * statement pays a commit (a WAL flush) and fixed executor work; a small one beside another
   * mostly adds that cost, a big one lets Postgres use another core or hides another's flush.
   */
  minRowsToOverlap: number;
}

interface Ticket {
  rows: readonly EventRow[];
  queuedAt: number;
  resolve(outcome: WriteOutcome): void;
  reject(err: unknown): void;
}

// Raw pg rather than Prisma on this hot path: one statement whose six array parameters carry any
// number of rows (no 65,535-bind limit, no per-row placeholders), prepared once per connection,
// and RETURNING tells exactly which ids were new so each one is credited to one request.
// Prisma's createMany cannot express unnest and re-plans a differently sized VALUES list per call.
// client_ts travels as timestamptz text and is turned into UTC wall-clock time (the column is
// timestamp(3) without zone, read by Prisma as UTC) by Postgres: formatting dates in JS
// (toISOString) cost more than the rest of building the statement.
const UNNEST_ROWS = `unnest($1::text[], $2::"ImplicitEventType"[], $3::uuid[], $4::uuid[], $5::float8[], $6::timestamptz[])
    AS r(id, type, message_id, user_id, value, client_ts)`;

// implicit_events is partitioned by month of received_at. Event ids are unique per user: each month's
// partition has a unique index on (user_id, id), and `ON CONFLICT DO NOTHING` without a target uses
// it: a user's id sent again in the same month is not stored again, while another user's event with
// the same id is stored (and nothing in the answer tells them the id was used). An id sent again just after a month began would land in the new month's
// partition, so during a month's first day each row is also looked for in the month before (on
// other days that range is empty and the planner prunes every partition from the lookup).
const SEEN_LAST_MONTH = `EXISTS (SELECT 1 FROM implicit_events e WHERE e.user_id = r.user_id AND e.id = r.id
      AND e.received_at >= (now() AT TIME ZONE 'UTC') - interval '1 day'
      AND e.received_at < date_trunc('month', now() AT TIME ZONE 'UTC'))`;

export const INSERT_EVENTS_SQL = `INSERT INTO implicit_events (id, type, message_id, user_id, value, client_ts, received_at)
SELECT id, type, message_id, user_id, value, client_ts AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
  FROM ${UNNEST_ROWS}
 WHERE NOT ${SEEN_LAST_MONTH}
ON CONFLICT DO NOTHING
RETURNING user_id, id`;

/**
 * A Postgres array literal of quoted elements. Faster than pg's generic array encoding, and safe
 * because every element is validated to contain no `"` or `\` (ids, enum labels, UUIDs, ISO dates).
 * Quoting matters: an unquoted id `NULL` would be read as a null.
 */
function quotedArray(values: string[]): string {
  return values.length ? `{"${values.join('","')}"}` : '{}';
}

/** Identifies an event: its id is unique per user. */
export const eventKey = (userId: string, id: string) => `${userId}/${id}`;

/**
 * The insert for `rows` (keys unique), sorted by user and id so concurrent statements lock in one
 * order.
 */
export function insertEventsQuery(rows: readonly EventRow[]): pg.QueryConfig {
  const sorted = [...rows].sort((a, b) =>
    a.userId !== b.userId ? (a.userId < b.userId ? -1 : 1) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0,
  );
  const n = sorted.length;
  const ids = new Array<string>(n);
  const types = new Array<string>(n);
  const messageIds = new Array<string>(n);
  const userIds = new Array<string>(n);
  const values = new Array<string>(n);
  const clientTs = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const row = sorted[i]!;
    ids[i] = row.id;
    types[i] = row.type;
    messageIds[i] = row.messageId;
    userIds[i] = row.userId;
    values[i] = row.value === null ? 'NULL' : String(row.value);
    clientTs[i] = row.clientTs;
  }
  return {
    name: 'feedloop-insert-implicit-events',
    text: INSERT_EVENTS_SQL,
    values: [
      quotedArray(ids),
      quotedArray(types),
      quotedArray(messageIds),
      quotedArray(userIds),
      values.length ? `{${values.join(',')}}` : '{}',
      quotedArray(clientTs),
    ],
  };
}

const isForeignKeyViolation = (err: unknown) => (err as { code?: unknown }).code === '23503';

/**
 * The slow path after a foreign-key violation: the same rows, minus those whose message or user no
 * longer exists, which come back with `stored = false`.
 */
export function guardedInsertEventsQuery(rows: readonly EventRow[]): pg.QueryConfig {
  const { values } = insertEventsQuery(rows);
  return {
    text: `WITH input AS (
  SELECT id, type, message_id, user_id, value, client_ts AT TIME ZONE 'UTC' AS client_ts,
         now() AT TIME ZONE 'UTC' AS received_at
    FROM ${UNNEST_ROWS} WHERE NOT ${SEEN_LAST_MONTH}
), gone AS (
  SELECT r.user_id, r.id FROM input r
  WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = r.message_id)
     OR NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id)
), stored AS (
  INSERT INTO implicit_events (id, type, message_id, user_id, value, client_ts, received_at)
  SELECT * FROM input WHERE (user_id, id) NOT IN (SELECT user_id, id FROM gone)
  ON CONFLICT DO NOTHING
  RETURNING user_id, id
)
SELECT user_id, id, true AS stored FROM stored UNION ALL SELECT user_id, id, false AS stored FROM gone`,
    values,
  };
}

export class EventWriter {
  private readonly queue: Ticket[] = [];
  private queuedRows = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private readonly counters = {
    requests: 0,
    statements: 0,
    failedStatements: 0,
    rowsInserted: 0,
    duplicates: 0,
    largestStatement: 0,
    statementMs: 0,
    queueWaitMs: 0,
    inWriterMs: 0,
  };

  private currentPace: WriterPace;
  private pacing: Promise<void> = Promise.resolve();

  constructor(private readonly options: EventWriterOptions) {
    this.currentPace = { ...options.pace };
  }

  /** Changes how many statements go at once from the next flush on (see plugin.ts). */
  private pace(pace: WriterPace): void {
    this.currentPace = { ...pace };
    this.pump();
  }

  /** Takes the pace `next` gives once it resolves (if it rejects, the pace stays); close() waits for it. */
  paceWhen(next: Promise<WriterPace>): void {
    this.pacing = next.then(
      (pace) => this.pace(pace),
      () => {},
    );
  }

  /** Resolves once the pace asked for by paceWhen() is in place (or was given up). */
  paced(): Promise<void> {
    return this.pacing;
  }

  /**
   * Stores `rows` (all or none: one request's rows always share a statement) and resolves once they
   * are committed. Rejects with the database error when the statement fails.
   */
  write(rows: readonly EventRow[]): Promise<WriteOutcome> {
    if (this.closed) {
      return Promise.reject(new AppError('unavailable', 'The server is shutting down; retry shortly'));
    }
    if (rows.length === 0) return Promise.resolve({ accepted: 0, duplicates: 0, gone: [] });
    this.counters.requests += 1;
    return new Promise<WriteOutcome>((resolve, reject) => {
      this.queue.push({ rows, queuedAt: performance.now(), resolve, reject });
      this.queuedRows += rows.length;
      this.pump();
    });
  }

  stats(): EventWriterStats {
    return {
      ...this.counters,
      queuedRows: this.queuedRows,
      inFlight: this.inFlight.size,
      pace: { ...this.currentPace },
    };
  }

  /** Refuses new writes, then waits until everything queued is written (before the pool closes). */
  async close(): Promise<void> {
    this.closed = true;
    await this.pacing;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private pump(): void {
    const { maxConcurrentFlushes, minRowsToOverlap } = this.currentPace;
    while (this.queue.length > 0 && this.inFlight.size < maxConcurrentFlushes) {
      if (this.inFlight.size > 0 && this.queuedRows < minRowsToOverlap) break;
      const flush = this.flush(this.takeBatch()).finally(() => {
        this.inFlight.delete(flush);
        this.pump();
      });
      this.inFlight.add(flush);
    }
  }

  /** Whole tickets from the head of the queue, up to batchMax rows (at least one ticket). */
  private takeBatch(): Ticket[] {
    let rows = 0;
    let count = 0;
    while (count < this.queue.length) {
      const next = this.queue[count]!.rows.length;
      if (count > 0 && rows + next > this.options.batchMax) break;
      rows += next;
      count += 1;
    }
    this.queuedRows -= rows;
    return this.queue.splice(0, count);
  }

  /** One statement for `tickets`. Never rejects: each ticket is settled instead. */
  private async flush(tickets: Ticket[]): Promise<void> {
    // The first ticket to name a user's event id owns it; later ones in the same flush count it a
    // duplicate.
    const owner = new Map<string, { ticket: number; row: EventRow }>();
    for (let t = 0; t < tickets.length; t++) {
      for (const row of tickets[t]!.rows) {
        const key = eventKey(row.userId, row.id);
        if (!owner.has(key)) owner.set(key, { ticket: t, row });
      }
    }
    const rows = Array.from(owner.values(), (o) => o.row);
    const started = performance.now();
    for (const ticket of tickets) this.counters.queueWaitMs += started - ticket.queuedAt;
    this.counters.statements += 1;
    this.counters.largestStatement = Math.max(this.counters.largestStatement, rows.length);

    let inserted: string[]; // event keys
    let gone: string[] = [];
    try {
      inserted = (
        await this.options.pool.query<{ user_id: string; id: string }>(insertEventsQuery(rows))
      ).rows.map((r) => eventKey(r.user_id, r.id));
    } catch (err) {
      if (!isForeignKeyViolation(err)) return this.fail(tickets, rows.length, err);
      // A message (or user) was deleted after its owner was cached: one vanished row must not fail
      // everyone else's events. Write again, leaving out the rows whose parent is gone.
      try {
        const result = await this.options.pool.query<{ user_id: string; id: string; stored: boolean }>(
          guardedInsertEventsQuery(rows),
        );
        inserted = result.rows.filter((r) => r.stored).map((r) => eventKey(r.user_id, r.id));
        gone = result.rows.filter((r) => !r.stored).map((r) => eventKey(r.user_id, r.id));
        this.counters.statements += 1;
      } catch (retryErr) {
        return this.fail(tickets, rows.length, retryErr);
      }
    }

    const finished = performance.now();
    this.counters.statementMs += finished - started;
    for (const ticket of tickets) this.counters.inWriterMs += finished - ticket.queuedAt;
    const outcomes = tickets.map((): WriteOutcome => ({ accepted: 0, duplicates: 0, gone: [] }));
    const byType = new Map<ImplicitEventType, number>();
    for (const key of inserted) {
      const o = owner.get(key)!;
      outcomes[o.ticket]!.accepted += 1;
      byType.set(o.row.type, (byType.get(o.row.type) ?? 0) + 1);
    }
    for (const key of gone) {
      const o = owner.get(key)!;
      outcomes[o.ticket]!.gone.push(o.row.id);
    }
    this.counters.rowsInserted += inserted.length;
    for (let t = 0; t < tickets.length; t++) {
      const outcome = outcomes[t]!;
      outcome.duplicates = tickets[t]!.rows.length - outcome.accepted - outcome.gone.length;
      this.counters.duplicates += outcome.duplicates;
      tickets[t]!.resolve(outcome);
    }
    if (inserted.length > 0) {
      try {
        this.options.onInserted?.(byType);
      } catch (err) {
        this.options.log?.error({ err }, 'counting ingested events failed');
      }
    }
  }

  private fail(tickets: Ticket[], rows: number, err: unknown): void {
    this.counters.failedStatements += 1;
    this.options.log?.warn({ err, rows, requests: tickets.length }, 'event insert failed');
    for (const ticket of tickets) ticket.reject(err);
    // The database is unreachable or stalled: what queued behind this statement would wait out
    // another timeout and fail the same way. Nothing of it was sent, so it fails now (a 503 the
    // client retries) and every request fails within one timeout.
    if (isUnavailableError(err)) {
      const queued = this.queue.splice(0);
      this.queuedRows = 0;
      for (const ticket of queued) ticket.reject(err);
    }
  }
}
