// Seeds a scratch database for bench/scale.ts with COPY (pg-copy-streams): users with heavy-tailed
// activity, conversations with branches (regenerated answers), answers from several versions,
// ratings, pairwise votes, flags and corrections (a share still pending) and implicit events
// spread over the last 60 days. `messages` sets the size; everything else follows from it.
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { ensureEventPartitions } from '../src/feedback/events/partitions.ts';
import { IMPLICIT_EVENT_TYPES } from '../src/contract/events.ts';

export interface SeedPlan {
  messages: number;
  /** Ratings, votes, flags and corrections together. */
  feedback: number;
  events: number;
  users: number;
}

/** 16x is 1M messages, 2M explicit feedback rows and 20M events (the issue's sizes). */
export function planFor(factor: number, messagesAt1x: number): SeedPlan {
  const messages = Math.round(messagesAt1x * factor);
  return {
    messages,
    feedback: messages * 2,
    events: messages * 20,
    users: Math.max(20, Math.round(messages / 30)),
  };
}

export interface Seeded {
  plan: SeedPlan;
  /** A conversation holding 200 messages in one branch. */
  longConversationId: string;
  counts: Record<string, number>;
}

/** A small deterministic generator (mulberry32), so a size always holds the same data. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DAY_MS = 86_400_000;
const ts = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace('Z', '');

async function copy(client: pg.PoolClient, table: string, columns: string[], rows: Iterable<string>) {
  const stream = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  async function* lines() {
    let chunk: string[] = [];
    for (const row of rows) {
      chunk.push(row);
      if (chunk.length === 2000) {
        yield chunk.join('');
        chunk = [];
      }
    }
    if (chunk.length) yield chunk.join('');
  }
  await pipeline(Readable.from(lines()), stream);
}

/**
 * Drops `table`'s indexes, primary and unique keys and foreign keys (a partitioned table's and its
 * partitions' own), and returns what puts them back from their definitions as Postgres printed
 * them. A COPY into a table with its indexes updates every btree row by row, at random places
 * (uuid keys), and checks every foreign key row by row: 20M events that way is most of an hour.
 * Building an index from the loaded rows is one sort, and adding a foreign key is one join.
 * Triggers stay (the rollups are what the insights read).
 */
async function deferKeysAndIndexes(client: pg.PoolClient, table: string): Promise<() => Promise<void>> {
  const relations = `(SELECT '${table}'::regclass AS oid
                      UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = '${table}'::regclass)`;
  const { rows: constraints } = await client.query<{ rel: string; name: string; def: string }>(
    `SELECT c.conrelid::regclass::text AS rel, c.conname AS name, pg_get_constraintdef(c.oid) AS def
       FROM pg_constraint c JOIN ${relations} r ON r.oid = c.conrelid
      WHERE c.contype IN ('p', 'u', 'f') AND c.conparentid = 0
      ORDER BY c.contype DESC`, // p, u before f: a foreign key may need a key
  );
  // Indexes not behind a constraint, and not a partition's copy of its parent's index.
  const { rows: indexes } = await client.query<{ name: string; def: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN ${relations} r ON r.oid = i.indrelid
      WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)`,
  );
  for (const c of [...constraints].reverse())
    await client.query(`ALTER TABLE ${c.rel} DROP CONSTRAINT "${c.name}"`);
  for (const i of indexes) await client.query(`DROP INDEX ${i.name}`);
  return async () => {
    await client.query(`SET maintenance_work_mem = '512MB'`);
    for (const c of constraints)
      await client.query(`ALTER TABLE ${c.rel} ADD CONSTRAINT "${c.name}" ${c.def}`);
    // A partitioned table's index prints as `ON ONLY parent`, which would create it on the parent
    // alone (invalid, and on no partition): without ONLY it is built on every partition too.
    for (const i of indexes) await client.query(i.def.replace(' ON ONLY ', ' ON '));
    await client.query('RESET maintenance_work_mem');
  };
}

/** Rows in slices of `size`, one COPY statement each (the rollup triggers see one slice at a time). */
async function copyInSlices(
  client: pg.PoolClient,
  table: string,
  columns: string[],
  total: number,
  row: (i: number) => string | null,
  size = 500_000,
) {
  for (let start = 0; start < total; start += size) {
    const end = Math.min(total, start + size);
    function* slice() {
      for (let i = start; i < end; i++) {
        const line = row(i);
        if (line !== null) yield line;
      }
    }
    await copy(client, table, columns, slice());
  }
}

export async function seed(pool: pg.Pool, plan: SeedPlan, log: (line: string) => void): Promise<Seeded> {
  const random = rng(2026);
  const now = Date.now();
  // Each phase's rows per second, so a slow phase shows.
  let phaseStart = performance.now();
  const phase = (line: string, rows?: number) => {
    const seconds = (performance.now() - phaseStart) / 1000;
    log(`${line} (${seconds.toFixed(1)} s${rows ? `, ${Math.round(rows / seconds)} rows/s` : ''})`);
    phaseStart = performance.now();
  };
  const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
  // Heavy-tailed activity: a few users do most of it.
  const heavy = (n: number) => Math.floor(n * random() ** 3);
  const client = await pool.connect();
  try {
    const users = Array.from({ length: plan.users }, () => randomUUID());
    await copy(
      client,
      'users',
      ['id', 'email', 'role', 'created_at'],
      users.map(
        (id, i) => `${id}\tuser${i}@bench.test\t${i < 5 ? 'moderator' : 'user'}\t${ts(now - 90 * DAY_MS)}\n`,
      ),
    );
    const versions = Array.from({ length: 4 }, () => randomUUID());
    await copy(
      client,
      'model_versions',
      ['id', 'name', 'status', 'path', 'created_at'],
      versions.map(
        (id, i) =>
          `${id}\tbench-v${i + 1}\t${i === 3 ? 'active' : 'retired'}\tbench-v${i + 1}\t${ts(now - (60 - i * 15) * DAY_MS)}\n`,
      ),
    );

    // Conversations of four exchanges; one answer in ten has a regenerated sibling.
    const conversations: { id: string; userId: string; at: number }[] = [];
    const answers: { id: string; owner: string; parent: string; at: number }[] = [];
    const messageLines: string[] = [];
    const longConversationId = randomUUID();
    const versionAt = (t: number) =>
      versions[Math.max(0, Math.min(3, Math.floor((t - now + 60 * DAY_MS) / (15 * DAY_MS))))]!;
    const addConversation = (id: string, userId: string, turns: number, at: number, branches = true) => {
      conversations.push({ id, userId, at });
      let parent: string | null = null;
      for (let turn = 0; turn < turns; turn++) {
        const prompt = randomUUID();
        const t = at + turn * 60_000;
        messageLines.push(
          `${prompt}\t${id}\t${parent ?? '\\N'}\tuser\thuman\tQuestion ${turn} about topic ${heavy(5000)}?\t\\N\t${ts(t)}\n`,
        );
        const siblings = branches && random() < 0.1 ? 2 : 1;
        let last = '';
        for (let s = 0; s < siblings; s++) {
          const answer = randomUUID();
          const version = versionAt(t);
          messageLines.push(
            `${answer}\t${id}\t${prompt}\tassistant\tserved\tAnswer ${turn}.${s}: the capital is city ${heavy(300)} and more words here.\t${version}\t${ts(t + 1000 + s)}\n`,
          );
          answers.push({ id: answer, owner: userId, parent: prompt, at: t + 1000 + s });
          last = answer;
        }
        parent = last;
      }
    };
    addConversation(longConversationId, users[0]!, 100, now - 2 * DAY_MS, false);
    while (messageLines.length < plan.messages) {
      addConversation(randomUUID(), users[heavy(users.length)]!, 4, now - Math.floor(random() * 60 * DAY_MS));
    }
    await copy(
      client,
      'conversations',
      ['id', 'user_id', 'title', 'created_at', 'updated_at'],
      conversations.map((c) => `${c.id}\t${c.userId}\tbench\t${ts(c.at)}\t${ts(c.at)}\n`),
    );
    await copy(
      client,
      'messages',
      ['id', 'conversation_id', 'parent_id', 'role', 'author', 'content', 'model_version_id', 'created_at'],
      messageLines,
    );
    phase(
      `  seeded ${users.length} users, ${conversations.length} conversations, ${messageLines.length} messages`,
      users.length + conversations.length + messageLines.length,
    );
    messageLines.length = 0;

    // The feedback tables are loaded without their keys and indexes, which are built afterwards
    // (pairwise_votes keeps them: arena_battles refers to its key, and it is a tenth of the rows).
    await ensureEventPartitions(pool, new Date(now - 62 * DAY_MS), new Date(now));
    const restores: (() => Promise<void>)[] = [];
    for (const table of ['ratings', 'flags', 'corrections', 'implicit_events'])
      restores.push(await deferKeysAndIndexes(client, table));
    phaseStart = performance.now();

    const counts: Record<string, number> = {};
    const feedbackAt = (a: { at: number }) =>
      ts(Math.min(now - 1000, a.at + Math.floor(random() * 3 * DAY_MS)));
    // Ratings (70%): unique per answer, user and kind.
    const ratingKeys = new Set<string>();
    const ratingLines: string[] = [];
    for (let i = 0; i < plan.feedback * 0.7; i++) {
      const a = answers[heavy(answers.length)]!;
      const user = users[heavy(users.length)]!;
      const kind = random() < 0.7 ? 'thumbs' : 'stars';
      const key = `${a.id}${user}${kind}`;
      if (ratingKeys.has(key)) continue;
      ratingKeys.add(key);
      const value = kind === 'thumbs' ? (random() < 0.7 ? 1 : -1) : 1 + Math.floor(random() * 5);
      const at = feedbackAt(a);
      ratingLines.push(`${randomUUID()}\t${a.id}\t${user}\t${kind}\t${value}\t${at}\t${at}\n`);
    }
    ratingKeys.clear();
    await copy(
      client,
      'ratings',
      ['id', 'message_id', 'user_id', 'kind', 'value', 'created_at', 'updated_at'],
      ratingLines,
    );
    counts.ratings = ratingLines.length;
    ratingLines.length = 0;

    // Pairwise votes (10%) between sibling answers, or any two answers.
    const voteKeys = new Set<string>();
    const voteLines: string[] = [];
    for (let i = 0; i < plan.feedback * 0.1; i++) {
      const a = answers[heavy(answers.length)]!;
      const b = pick(answers);
      const user = users[heavy(users.length)]!;
      const key = `${user}${a.id}${b.id}`;
      if (a.id === b.id || voteKeys.has(key)) continue;
      voteKeys.add(key);
      voteLines.push(
        `${randomUUID()}\t${user}\t${a.id}\t${b.id}\t${pick(['a', 'b', 'tie', 'both_bad'])}\t${feedbackAt(a)}\n`,
      );
    }
    voteKeys.clear();
    await copy(
      client,
      'pairwise_votes',
      ['id', 'user_id', 'message_a_id', 'message_b_id', 'choice', 'created_at'],
      voteLines,
    );
    counts.pairwise_votes = voteLines.length;
    voteLines.length = 0;

    const reviewer = users[0]!;
    const review = (pendingShare: number, at: string) =>
      random() < pendingShare
        ? `pending\t\\N\t\\N\t\\N`
        : `${random() < 0.7 ? 'approved' : 'rejected'}\t${reviewer}\tseeded\t${at}`;
    const flagCount = Math.round(plan.feedback * 0.08);
    await copyInSlices(
      client,
      'flags',
      [
        'id',
        'message_id',
        'user_id',
        'category',
        'comment',
        'status',
        'reviewer_id',
        'review_reason',
        'reviewed_at',
        'created_at',
      ],
      flagCount,
      () => {
        const a = answers[heavy(answers.length)]!;
        const at = feedbackAt(a);
        return `${randomUUID()}\t${a.id}\t${pick(users)}\t${pick(['inaccurate', 'harmful_or_biased', 'irrelevant', 'unsafe', 'other'])}\t\\N\t${review(0.3, at)}\t${at}\n`;
      },
    );
    counts.flags = flagCount;
    const correctionCount = Math.round(plan.feedback * 0.12);
    await copyInSlices(
      client,
      'corrections',
      [
        'id',
        'message_id',
        'user_id',
        'submitted_text',
        'corrected_text',
        'status',
        'reviewer_id',
        'review_reason',
        'reviewed_at',
        'created_at',
        'updated_at',
      ],
      correctionCount,
      () => {
        const a = answers[heavy(answers.length)]!;
        const at = feedbackAt(a);
        const text = `The capital is city ${heavy(300)}.`;
        return `${randomUUID()}\t${a.id}\t${a.owner}\t${text}\t${text}\t${review(0.4, at)}\t${at}\t${at}\n`;
      },
    );
    counts.corrections = correctionCount;
    phase(
      `  seeded ${counts.ratings} ratings, ${counts.pairwise_votes} votes, ${flagCount} flags, ${correctionCount} corrections`,
      counts.ratings + counts.pairwise_votes + flagCount + correctionCount,
    );

    // Implicit events: from the answer's owner, received over the last 60 days.
    const token = randomUUID().slice(0, 8);
    await copyInSlices(
      client,
      'implicit_events',
      ['id', 'type', 'message_id', 'user_id', 'value', 'client_ts', 'received_at'],
      plan.events,
      (i) => {
        const a = answers[heavy(answers.length)]!;
        const at = ts(Math.min(now - 1000, a.at + Math.floor(random() * 2 * DAY_MS)));
        const type = pick(IMPLICIT_EVENT_TYPES);
        return `s${token}-${i}\t${type}\t${a.id}\t${a.owner}\t${type === 'dwell' ? Math.floor(random() * 20_000) : '\\N'}\t${at}\t${at}\n`;
      },
    );
    counts.implicit_events = plan.events;
    counts.messages = plan.messages;
    phase(`  seeded ${plan.events} implicit events`, plan.events);
    for (const restore of restores) await restore();
    phase('  built the keys and indexes of ratings, flags, corrections and implicit events');
    // What autovacuum does to a table that has been written for a week: statistics, and the
    // visibility map that lets a covering index be read without the heap (implicit events'
    // message index).
    await client.query('VACUUM ANALYZE');
    phase('  vacuumed and analyzed');
    return { plan, longConversationId, counts };
  } finally {
    client.release();
  }
}

/** What `seed` returned, read back from a database it seeded earlier (bench:scale --database). */
export async function seededBefore(pool: pg.Pool, plan: SeedPlan): Promise<Seeded> {
  const { rows: longest } = await pool.query<{ id: string }>(
    `SELECT conversation_id AS id FROM messages GROUP BY conversation_id ORDER BY count(*) DESC LIMIT 1`,
  );
  const counts: Record<string, number> = {};
  for (const table of ['ratings', 'pairwise_votes', 'flags', 'corrections', 'implicit_events', 'messages']) {
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    counts[table] = rows[0]!.n;
  }
  return { plan, longConversationId: longest[0]!.id, counts };
}
