// Feedback read with cursors, for dataset builds over any number of rows: keyset pages through
// Prisma, each page's rows grouped the way a build uses them (an answer's ratings; a prompt's
// answers with all their feedback; a pair of answers with its votes). The filters are those of
// loadFeedbackRows (./feedback-rows.ts), so a streamed build reads exactly the rows it reads.
import type { Db } from '../platform/db/client.ts';
import type { ChatMessage } from '../llm/index.ts';
import { Prisma, type PairwiseVote } from '../generated/prisma/client.ts';
import type {
  AnnotationJudgementRow,
  AnswerRow,
  CorrectionRow,
  EventSelection,
  FeedbackRows,
  FeedbackWindow,
  FlagRow,
  ImplicitEventRow,
  RatingRow,
  VoteRow,
} from './feedback-rows.ts';
import { annotationJudgementRow, ratingRow, voteRow } from './feedback-rows.ts';
import { pushTo } from '../platform/push-to.ts';

export interface FeedbackFilter {
  window: FeedbackWindow;
  modelVersionIds?: string[];
  events?: EventSelection;
}

/** Rows per query: a page's rows, their answers and contexts stay a few megabytes. */
const PAGE = 2000;

const rangeOf = (window: FeedbackWindow) => ({
  ...(window.from ? { gte: window.from } : {}),
  lt: window.to,
});

/** A model's answer to a prompt (never an assistant turn a person wrote), of the given versions. */
function answerWhere(versions?: string[]): Prisma.MessageWhereInput {
  return {
    role: 'assistant',
    author: { in: ['served', 'logged'] },
    parentId: { not: null },
    ...(versions ? { modelVersionId: { in: versions } } : {}),
  };
}

/**
 * Of `ids`, the models' answers (of the given versions). Paged queries filter their rows by this,
 * one lookup by id per row, rather than by a relation filter: Postgres would answer that with a
 * hash of every answer on every page.
 */
async function knownAnswers(db: Db, ids: string[], versions?: string[]): Promise<Set<string>> {
  const rows = await db.message.findMany({
    where: { id: { in: [...new Set(ids)] }, ...answerWhere(versions) },
    select: { id: true },
  });
  return new Set(rows.map((r) => r.id));
}

function eventWhere(filter: FeedbackFilter): Prisma.ImplicitEventWhereInput {
  const events = filter.events ?? 'all';
  return {
    receivedAt: rangeOf(filter.window),
    ...(events === 'all' || events === 'none'
      ? {}
      : {
          type: { in: events.types },
          ...(events.dwellMinMs > 0
            ? { OR: [{ type: { not: 'dwell' as const } }, { value: { gte: events.dwellMinMs } }] }
            : {}),
        }),
  };
}

const byId = <T extends { id: string }>(rows: T[]): T[] => rows.sort((a, b) => (a.id < b.id ? -1 : 1));

/**
 * Pages of rows in `key` order, keyset-paginated, each page cut after its last complete group
 * (rows sharing `groupOf`), so a group is never split across pages.
 */
async function* groupedPages<T extends { id: string }>(
  fetch: (after: { group: string; id: string } | null, take: number) => Promise<T[]>,
  groupOf: (row: T) => string,
): AsyncGenerator<T[][]> {
  let after: { group: string; id: string } | null = null;
  let carry: T[] = [];
  for (let take = PAGE; ;) {
    const rows = await fetch(after, take);
    const all = [...carry, ...rows];
    const last = rows.at(-1);
    if (!last) {
      if (carry.length) yield [carry];
      return;
    }
    after = { group: groupOf(last), id: last.id };
    const groups: T[][] = [];
    for (const row of all) {
      const group = groups.at(-1);
      if (group && groupOf(group[0]!) === groupOf(row)) group.push(row);
      else groups.push([row]);
    }
    // A full page may end inside a group: its rest comes with the next page.
    carry = rows.length === take ? groups.pop()! : [];
    if (groups.length) yield groups;
    take = groups.length ? PAGE : take * 2;
  }
}

/** Keyset condition on (group column, id), with a range start the index can use. */
function after<W>(field: string, key: { group: string; id: string } | null): W | object {
  if (!key) return {};
  return {
    [field]: { gte: key.group },
    OR: [{ [field]: { gt: key.group } }, { [field]: key.group, id: { gt: key.id } }],
  } as W;
}

/** Ratings in the window on models' answers, a page of answers at a time, each answer's together. */
export async function* ratingsByAnswer(db: Db, filter: FeedbackFilter): AsyncGenerator<RatingRow[][]> {
  const where: Prisma.RatingWhereInput = { updatedAt: rangeOf(filter.window) };
  for await (const groups of groupedPages(
    (key, take) =>
      db.rating
        .findMany({
          where: { AND: [where, after('messageId', key)] },
          orderBy: [{ messageId: 'asc' }, { id: 'asc' }],
          take,
        })
        .then((rows) => rows.map(ratingRow)),
    (r) => r.messageId,
  )) {
    const known = await knownAnswers(
      db,
      groups.map((g) => g[0]!.messageId),
      filter.modelVersionIds,
    );
    const kept = groups.filter((g) => known.has(g[0]!.messageId));
    if (kept.length) yield kept;
  }
}

/** What the spam checks need of each rater's ratings: counts, by value and by pace. */
export interface RatingHabits {
  userId: string;
  ratings: number;
  /** Ratings less than `minGapMs` after the rater's previous one. */
  fast: number;
  /** Ratings by `kind:value`, with the smallest rating id of each. */
  values: Map<string, { count: number; firstId: string }>;
}

/**
 * The same ratings' habits per rater, aggregated by Postgres (its sort by rater and time spills to
 * disk when it must): one row per rater and value, and one per rater for the pace.
 */
export async function ratingHabits(
  db: Db,
  filter: FeedbackFilter,
  minGapMs: number,
): Promise<RatingHabits[]> {
  const from = filter.window.from ? Prisma.sql`AND r.updated_at >= ${filter.window.from}` : Prisma.empty;
  const versions = filter.modelVersionIds
    ? Prisma.sql`AND m.model_version_id = ANY(${filter.modelVersionIds}::uuid[])`
    : Prisma.empty;
  const rated = Prisma.sql`
    FROM ratings r JOIN messages m ON m.id = r.message_id
    WHERE r.updated_at < ${filter.window.to} ${from}
      AND m.role = 'assistant' AND m.author IN ('served', 'logged') AND m.parent_id IS NOT NULL ${versions}`;
  const [values, pace] = await Promise.all([
    db.$queryRaw<{ userId: string; kind: string; value: number; count: number; firstId: string }[]>`
      SELECT r.user_id::text AS "userId", r.kind::text AS kind, r.value, count(*)::int AS count,
             min(r.id::text COLLATE "C") AS "firstId"
      ${rated}
      GROUP BY r.user_id, r.kind, r.value`,
    db.$queryRaw<{ userId: string; ratings: number; fast: number }[]>`
      SELECT user_id::text AS "userId", count(*)::int AS ratings,
             (count(*) FILTER (WHERE gap_ms < ${minGapMs}))::int AS fast
        FROM (SELECT r.user_id,
                     extract(epoch FROM r.updated_at - lag(r.updated_at) OVER (PARTITION BY r.user_id ORDER BY r.updated_at)) * 1000 AS gap_ms
              ${rated}) paced
       GROUP BY user_id`,
  ]);
  const habits = new Map<string, RatingHabits>(
    pace.map((p) => [p.userId, { userId: p.userId, ratings: p.ratings, fast: p.fast, values: new Map() }]),
  );
  for (const v of values)
    habits.get(v.userId)?.values.set(`${v.kind}:${v.value}`, { count: v.count, firstId: v.firstId });
  return [...habits.values()];
}

/** Votes in the window between two models' answers, counted per voter. */
export async function votesPerRater(db: Db, filter: FeedbackFilter): Promise<Map<string, number>> {
  const groups = await db.pairwiseVote.groupBy({
    by: ['userId'],
    where: voteWhere(filter),
    _count: { _all: true },
  });
  return new Map(groups.map((g) => [g.userId, g._count._all]));
}

function voteWhere(filter: FeedbackFilter): Prisma.PairwiseVoteWhereInput {
  return {
    createdAt: rangeOf(filter.window),
    messageA: answerWhere(filter.modelVersionIds),
    messageB: answerWhere(filter.modelVersionIds),
  };
}

/**
 * Annotation queue judgements in the window on models' answers. Kept in memory: they are what
 * people judged in queues, thousands, not the millions of chat feedback rows.
 */
export async function loadAnnotationJudgements(
  db: Db,
  filter: FeedbackFilter,
): Promise<AnnotationJudgementRow[]> {
  const judgements = await db.annotationAssignment.findMany({
    where: {
      status: 'done',
      submittedAt: rangeOf(filter.window),
      item: {
        message: answerWhere(filter.modelVersionIds),
        OR: [{ messageBId: null }, { messageB: answerWhere() }],
      },
    },
    include: { item: { select: { messageId: true, messageBId: true } } },
  });
  return byId(judgements.map(annotationJudgementRow));
}

/**
 * Each message's conversation up to and including it, root first. Each step up is one primary-key
 * lookup per path (the LATERAL ... LIMIT 1): as a plain join Postgres planned the recursive step as
 * a hash join over a sequential scan of all messages, once per level, so a page of 2000 prompts
 * cost 74 ms per level at 250k messages (EXPLAIN ANALYZE: 7 levels, 696 ms with JIT), growing with
 * the table; by key lookups the same page took 36 ms (23.7k buffer hits).
 */
async function contextsOf(db: Db, messageIds: string[]): Promise<Map<string, ChatMessage[]>> {
  const rows = await db.$queryRaw<{ start: string; role: ChatMessage['role']; content: string }[]>`
    WITH RECURSIVE path AS (
      SELECT m.id AS start, m.parent_id, m.role::text AS role, m.content, 0 AS depth
        FROM unnest(${messageIds}::uuid[]) AS s(id)
        CROSS JOIN LATERAL (SELECT id, parent_id, role, content FROM messages WHERE id = s.id LIMIT 1) m
      UNION ALL
      SELECT p.start, m.parent_id, m.role::text, m.content, p.depth + 1
        FROM path p
        CROSS JOIN LATERAL (SELECT parent_id, role, content FROM messages WHERE id = p.parent_id LIMIT 1) m
    )
    SELECT start::text AS start, role, content FROM path ORDER BY start, depth DESC`;
  const out = new Map<string, ChatMessage[]>();
  for (const r of rows) {
    const path = out.get(r.start) ?? [];
    path.push({ role: r.role, content: r.content });
    out.set(r.start, path);
  }
  return out;
}

const answerSelect = {
  id: true,
  conversationId: true,
  parentId: true,
  content: true,
  modelVersionId: true,
  createdAt: true,
} as const;

interface AnswerFields {
  id: string;
  conversationId: string;
  parentId: string | null;
  content: string;
  modelVersionId: string | null;
  createdAt: Date;
}

async function withContexts(db: Db, answers: AnswerFields[]): Promise<AnswerRow[]> {
  const contexts = await contextsOf(db, [...new Set(answers.map((a) => a.parentId!))]);
  return answers.map((a) => ({ ...a, parentId: a.parentId!, context: contexts.get(a.parentId!) ?? [] }));
}

/** Models' answers by id, with their contexts, sorted by id. */
export async function answersById(db: Db, ids: string[]): Promise<AnswerRow[]> {
  const answers = await db.message.findMany({
    where: { id: { in: ids }, ...answerWhere() },
    select: answerSelect,
  });
  return byId(await withContexts(db, answers));
}

/** Of `ids`, the answers a moderator judged bad in the window (an approved correction or flag). */
export async function badAnswerIds(db: Db, filter: FeedbackFilter, ids: string[]): Promise<Set<string>> {
  const known = [...(await knownAnswers(db, ids, filter.modelVersionIds))];
  const reviewed = {
    status: 'approved' as const,
    reviewedAt: rangeOf(filter.window),
    messageId: { in: known },
  };
  const [corrections, flags] = await Promise.all([
    db.correction.findMany({ where: reviewed, select: { messageId: true } }),
    db.flag.findMany({ where: reviewed, select: { messageId: true } }),
  ]);
  return new Set([...corrections, ...flags].map((r) => r.messageId));
}

/**
 * The answers matching `where`, grouped by prompt (each group sorted by id), a page of prompts at a
 * time. Pages walk every message by id (the primary key) and take their answers through the
 * parent_id index, so each page costs its own rows: a keyset on (parent_id, id) would need an
 * index of its own, and without one Postgres read and sorted every remaining answer per page
 * (EXPLAIN ANALYZE at 40k messages: a bitmap scan of 10k rows and a top-N sort for 2000).
 */
async function* answersByPrompt(db: Db, where: Prisma.MessageWhereInput): AsyncGenerator<AnswerFields[][]> {
  let lastId: string | null = null;
  for (;;) {
    const parents: { id: string }[] = await db.message.findMany({
      where: lastId ? { id: { gt: lastId } } : {},
      orderBy: { id: 'asc' },
      select: { id: true },
      take: PAGE,
    });
    if (parents.length === 0) return;
    lastId = parents.at(-1)!.id;
    const answers = await db.message.findMany({
      where: { ...where, parentId: { in: parents.map((p) => p.id) } },
      select: answerSelect,
    });
    const groups = new Map<string, AnswerFields[]>();
    for (const a of byId(answers)) pushTo(groups, a.parentId!, a);
    if (groups.size) yield [...groups.values()];
  }
}

/**
 * Prompts with feedback in the window, a page at a time: every answer to each prompt that has
 * ratings, an approved correction, counted implicit events or a single-answer queue judgement, with
 * all of that feedback (votes and annotations left to the caller). Rows are sorted as
 * loadFeedbackRows sorts them.
 */
export async function* promptGroups(
  db: Db,
  filter: FeedbackFilter,
  /** Answers judged alone in annotation queues in the window (those count as feedback too). */
  judgedAlone: ReadonlySet<string>,
): AsyncGenerator<FeedbackRows[]> {
  const range = rangeOf(filter.window);
  const events = filter.events ?? 'all';
  // Every answer written before the window's end, a page of prompts at a time; those without
  // feedback in the window are dropped page by page (a filter on their feedback here would be a
  // hash of all of it on every page).
  const where: Prisma.MessageWhereInput = {
    ...answerWhere(filter.modelVersionIds),
    createdAt: { lt: filter.window.to },
  };
  for await (const groups of answersByPrompt(db, where)) {
    const ids = groups.flat().map((a) => a.id);
    const reviewed = { status: 'approved' as const, reviewedAt: range, messageId: { in: ids } };
    const [ratings, corrections, flags, implicitEvents] = await Promise.all([
      db.rating.findMany({ where: { updatedAt: range, messageId: { in: ids } } }),
      db.correction.findMany({ where: reviewed }),
      db.flag.findMany({ where: reviewed, select: { id: true, messageId: true } }),
      events === 'none'
        ? Promise.resolve([])
        : db.implicitEvent.findMany({
            where: { ...eventWhere(filter), messageId: { in: ids } },
            select: { id: true, messageId: true, userId: true, type: true, value: true },
          }),
    ]);
    const of = <T extends { messageId: string }>(rows: T[]) => {
      const map = new Map<string, T[]>();
      for (const r of rows) pushTo(map, r.messageId, r);
      return (answerIds: string[]) => answerIds.flatMap((id) => map.get(id) ?? []);
    };
    const ratingsOf = of(ratings.map(ratingRow));
    const correctionsOf = of<CorrectionRow>(
      corrections.map((c) => ({
        id: c.id,
        messageId: c.messageId,
        userId: c.userId,
        correctedText: c.correctedText,
      })),
    );
    const flagsOf = of<FlagRow>(flags);
    const eventsOf = of<ImplicitEventRow>(implicitEvents);
    const touched = new Set([
      ...ratings.map((r) => r.messageId),
      ...corrections.map((c) => c.messageId),
      ...implicitEvents.map((e) => e.messageId),
      ...ids.filter((id) => judgedAlone.has(id)),
    ]);
    // Contexts only for answers with feedback: the others are dropped below.
    const answers = await withContexts(
      db,
      groups.flat().filter((a) => touched.has(a.id)),
    );
    const answersOf = of(answers.map((a) => ({ ...a, messageId: a.parentId })));
    const page: FeedbackRows[] = [];
    for (const all of groups) {
      const group = all.filter((a) => touched.has(a.id));
      if (group.length === 0) continue;
      const answerIds = group.map((a) => a.id).sort();
      page.push({
        answers: byId(answersOf([group[0]!.parentId!]).map(({ messageId: _prompt, ...a }) => a)),
        ratings: byId(ratingsOf(answerIds)),
        votes: [] as VoteRow[],
        corrections: byId(correctionsOf(answerIds)),
        flags: byId(flagsOf(answerIds)),
        // Event ids are unique per user: two users' events may share one, ordered by user then.
        implicitEvents: eventsOf(answerIds).sort((a, b) =>
          a.id !== b.id ? (a.id < b.id ? -1 : 1) : a.userId < b.userId ? -1 : 1,
        ),
        annotations: [],
      });
    }
    if (page.length) yield page;
  }
}

/** Pairwise votes in the window between two models' answers, a page at a time, by id. */
export async function* votePages(db: Db, filter: FeedbackFilter): AsyncGenerator<VoteRow[]> {
  const where: Prisma.PairwiseVoteWhereInput = { createdAt: rangeOf(filter.window) };
  let lastId: string | null = null;
  for (;;) {
    const rows: PairwiseVote[] = await db.pairwiseVote.findMany({
      where: lastId ? { AND: [where, { id: { gt: lastId } }] } : where,
      orderBy: { id: 'asc' },
      take: PAGE,
    });
    if (rows.length === 0) return;
    lastId = rows.at(-1)!.id;
    const known = await knownAnswers(
      db,
      rows.flatMap((v) => [v.messageAId, v.messageBId]),
      filter.modelVersionIds,
    );
    yield rows.filter((v) => known.has(v.messageAId) && known.has(v.messageBId)).map(voteRow);
  }
}
