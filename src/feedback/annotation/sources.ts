// Where a queue's items come from: a seeded sample of answers (or of pairs of answers to one
// prompt), answers with a pending or upheld flag, answers whose raters disagreed, or arena battles
// (serving's arena_battles rows, read here as data). Each returns the answers with the owner of the
// prompt, in a random order fixed by the queue's seed.
import { Prisma } from '../../generated/prisma/client.ts';
import type { Db } from '../../platform/db/client.ts';
import type { AnnotationSource } from '../../contract/annotation.ts';
import { fnv1a } from '../../llm/rng.ts';

export interface SourcedItem {
  messageId: string;
  messageBId: string | null;
  promptOwnerId: string;
}

/** Answers of a model (never a prompt or a system turn), filtered by version and creation time. */
function answerFilter(alias: string, source: AnnotationSource): Prisma.Sql {
  const column = (name: string) => Prisma.raw(`${alias}.${name}`);
  const parts: Prisma.Sql[] = [
    Prisma.sql`${column('role')} = 'assistant'`,
    // A model's answers only: an assistant turn a person wrote is nobody's model output.
    Prisma.sql`${column('author')} IN ('served', 'logged')`,
    Prisma.sql`${column('parent_id')} IS NOT NULL`,
  ];
  if (source.modelVersionIds?.length)
    parts.push(Prisma.sql`${column('model_version_id')} = ANY(${source.modelVersionIds}::uuid[])`);
  // Message times are stored as UTC without a zone.
  if (source.from)
    parts.push(
      Prisma.sql`${column('created_at')} >= (${source.from.toISOString()}::timestamptz AT TIME ZONE 'UTC')`,
    );
  if (source.to)
    parts.push(
      Prisma.sql`${column('created_at')} < (${source.to.toISOString()}::timestamptz AT TIME ZONE 'UTC')`,
    );
  return Prisma.join(parts, ' AND ');
}

/** A verdict per rating or judgement (+1 good, -1 bad, 0 neutral), as the dataset defaults read stars. */
const DISPUTED = Prisma.sql`
  WITH polarity AS (
    SELECT message_id, user_id,
           CASE WHEN kind = 'thumbs' THEN sign(value) WHEN value >= 4 THEN 1 WHEN value <= 2 THEN -1 ELSE 0 END AS v
      FROM ratings
    UNION ALL
    SELECT i.message_id, a.rater_id,
           coalesce(sign(a.thumbs), 0)
             + CASE WHEN a.stars >= 4 THEN 1 WHEN a.stars <= 2 THEN -1 ELSE 0 END
      FROM annotation_assignments a JOIN annotation_items i ON i.id = a.item_id
     WHERE a.status = 'done' AND i.message_b_id IS NULL
  ), verdicts AS (
    SELECT message_id, user_id, sign(sum(v)) AS v FROM polarity GROUP BY message_id, user_id
  )
  SELECT message_id FROM verdicts GROUP BY message_id HAVING bool_or(v > 0) AND bool_or(v < 0)`;

/**
 * The items `source` yields, at most `source.limit`, shuffled by `seed` (the queue's id): the same
 * database and seed give the same items in the same order.
 */
export async function sourceItems(db: Db, source: AnnotationSource, seed: string): Promise<SourcedItem[]> {
  if (source.kind === 'sample' && source.pairs) {
    const rows = await db.$queryRaw<{ a: string; b: string; owner: string }[]>`
      SELECT a.id::text AS a, b.id::text AS b, c.user_id::text AS owner
        FROM messages a
        JOIN messages b ON b.parent_id = a.parent_id AND b.conversation_id = a.conversation_id AND a.id < b.id
        JOIN conversations c ON c.id = a.conversation_id
       WHERE ${answerFilter('a', source)} AND ${answerFilter('b', source)}
       ORDER BY md5(a.id::text || b.id::text || ${seed}::text)
       LIMIT ${source.limit}`;
    // Which answer is shown first is decided by a hash too, so position bias evens out.
    return rows.map((r) =>
      fnv1a(`${seed}|${r.a}|${r.b}`) % 2 === 0
        ? { messageId: r.a, messageBId: r.b, promptOwnerId: r.owner }
        : { messageId: r.b, messageBId: r.a, promptOwnerId: r.owner },
    );
  }
  if (source.kind === 'arena') return arenaItems(db, source, seed);
  let restriction = Prisma.empty;
  if (source.kind === 'flagged') {
    const categories = source.categories
      ? Prisma.sql`AND f.category = ANY(${source.categories}::"FlagCategory"[])`
      : Prisma.empty;
    restriction = Prisma.sql`AND EXISTS (
      SELECT 1 FROM flags f WHERE f.message_id = m.id AND f.status IN ('pending', 'approved') ${categories})`;
  } else if (source.kind === 'disagreement') {
    restriction = Prisma.sql`AND m.id IN (${DISPUTED})`;
  }
  const rows = await db.$queryRaw<{ id: string; owner: string }[]>`
    SELECT m.id::text AS id, c.user_id::text AS owner
      FROM messages m JOIN conversations c ON c.id = m.conversation_id
     WHERE ${answerFilter('m', source)} ${restriction}
     ORDER BY md5(m.id::text || ${seed}::text)
     LIMIT ${source.limit}`;
  return rows.map((r) => ({ messageId: r.id, messageBId: null, promptOwnerId: r.owner }));
}

/**
 * The two answers of each arena battle, on the sides the battle showed them (already drawn at
 * random), owned by the user who asked. Versions: battles in which one of them took part.
 */
async function arenaItems(
  db: Db,
  source: Extract<AnnotationSource, { kind: 'arena' }>,
  seed: string,
): Promise<SourcedItem[]> {
  const parts: Prisma.Sql[] = [Prisma.sql`true`];
  if (source.voted === 'voted') parts.push(Prisma.sql`b.vote_id IS NOT NULL`);
  if (source.voted === 'unvoted') parts.push(Prisma.sql`b.vote_id IS NULL`);
  if (source.modelVersionIds?.length)
    parts.push(
      Prisma.sql`(b.version_a_id = ANY(${source.modelVersionIds}::uuid[]) OR b.version_b_id = ANY(${source.modelVersionIds}::uuid[]))`,
    );
  if (source.from) parts.push(Prisma.sql`b.created_at >= ${source.from}`);
  if (source.to) parts.push(Prisma.sql`b.created_at < ${source.to}`);
  const rows = await db.$queryRaw<{ a: string; b: string; owner: string }[]>`
    SELECT b.message_a_id::text AS a, b.message_b_id::text AS b, b.user_id::text AS owner
      FROM arena_battles b
     WHERE ${Prisma.join(parts, ' AND ')}
     ORDER BY md5(b.id::text || ${seed}::text)
     LIMIT ${source.limit}`;
  return rows.map((r) => ({ messageId: r.a, messageBId: r.b, promptOwnerId: r.owner }));
}
