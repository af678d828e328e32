// Annotation queues: created from a source with guidelines, a rubric, an overlap and who may
// annotate; listed with their progress per queue and per rater; closed by a moderator.
import { Prisma, type AnnotationQueue } from '../../generated/prisma/client.ts';
import type { Db, PrismaClient } from '../../platform/db/client.ts';
import type { Principal, Role } from '../../platform/auth/principal.ts';
import { recordAudit } from '../../platform/audit/audit-log.ts';
import { toJson } from '../../platform/db/json.ts';
import { AppError, notFound } from '../../platform/errors/app-error.ts';
import { afterKeyset, decodeCursor, pageOf } from '../../platform/pagination.ts';
import {
  annotationRubric,
  annotationSource,
  type CreateQueueBody,
  type QueueView,
} from '../../contract/annotation.ts';
import { invalidField } from '../explicit/feedback.ts';
import { sourceItems } from './sources.ts';

/** Who creates, closes and watches queues (and may read every rater's progress). */
export const QUEUE_MANAGERS = ['moderator', 'ops', 'admin'] as const satisfies readonly Role[];

export const isQueueManager = (role: Role): boolean => (QUEUE_MANAGERS as readonly Role[]).includes(role);

export type QueueRow = AnnotationQueue;
export type QueueProgress = QueueView['progress'];
export type RaterProgress = NonNullable<QueueView['mine']>;

/** Whether `principal` may annotate the queue: one of its roles, or one of its users. */
export function mayAnnotate(queue: QueueRow, principal: Pick<Principal, 'userId' | 'role'>): boolean {
  return queue.annotatorRoles.includes(principal.role) || queue.annotatorIds.includes(principal.userId);
}

/** The queue as the API shows it; its JSON columns are parsed with their schemas. */
export function toQueueView(queue: QueueRow, progress: QueueProgress, mine: RaterProgress | null): QueueView {
  return {
    id: queue.id,
    name: queue.name,
    guidelines: queue.guidelines,
    rubric: annotationRubric.parse(queue.rubric),
    source: annotationSource.parse(queue.source),
    overlap: queue.overlap,
    leaseSeconds: queue.leaseSeconds,
    annotators: { roles: queue.annotatorRoles, userIds: queue.annotatorIds },
    status: queue.status,
    createdById: queue.createdById,
    createdAt: queue.createdAt,
    closedAt: queue.closedAt,
    progress,
    mine,
  };
}

/**
 * Creates the queue and its items (the source's answers, in a random order fixed by the queue's
 * id) in one transaction, audited. A source that matches no answers is a 400.
 */
export async function createQueue(
  prisma: PrismaClient,
  input: CreateQueueBody,
  actorId: string,
): Promise<QueueRow> {
  const id = crypto.randomUUID();
  return prisma.$transaction(async (tx) => {
    const items = await sourceItems(tx, input.source, id);
    if (items.length === 0) throw invalidField('body.source', 'matches no answers');
    const queue = await tx.annotationQueue.create({
      data: {
        id,
        name: input.name,
        guidelines: input.guidelines,
        rubric: toJson(input.rubric),
        source: toJson(input.source),
        overlap: input.overlap,
        leaseSeconds: input.leaseSeconds,
        annotatorRoles: input.annotators.roles,
        annotatorIds: input.annotators.userIds,
        createdById: actorId,
      },
    });
    await tx.annotationItem.createMany({
      data: items.map((item, position) => ({ queueId: id, position, ...item })),
    });
    await recordAudit(tx, {
      actorId,
      action: 'annotation_queue.create',
      target: `annotation_queue:${id}`,
      details: toJson({
        name: input.name,
        items: items.length,
        overlap: input.overlap,
        source: input.source,
      }),
    });
    return queue;
  });
}

export async function getQueue(db: Db, id: string): Promise<QueueRow> {
  const queue = await db.annotationQueue.findUnique({ where: { id } });
  if (!queue) throw notFound('Annotation queue');
  return queue;
}

/** Closes an open queue (a conditional update, audited): no item is handed out after this. */
export async function closeQueue(prisma: PrismaClient, id: string, actorId: string): Promise<QueueRow> {
  return prisma.$transaction(async (tx) => {
    const { count } = await tx.annotationQueue.updateMany({
      where: { id, status: 'open' },
      data: { status: 'closed', closedAt: new Date() },
    });
    if (count === 0) {
      await getQueue(tx, id);
      throw new AppError('conflict', 'This queue is already closed');
    }
    await recordAudit(tx, { actorId, action: 'annotation_queue.close', target: `annotation_queue:${id}` });
    return getQueue(tx, id);
  });
}

/** The queues a principal sees: every queue for managers, the queues they may annotate for others. */
/**
 * Queues newest first, a page at a time (`cursor`: the previous page's nextCursor): all of them for
 * queue managers, the ones `principal` may annotate otherwise (filtered in the query, so pages are full).
 */
export async function listQueues(
  db: Db,
  principal: Pick<Principal, 'userId' | 'role'>,
  filter: { status: 'open' | 'closed' | 'all'; limit: number; cursor?: string },
): Promise<{ queues: QueueRow[]; nextCursor: string | null }> {
  const where: Prisma.AnnotationQueueWhereInput[] = [];
  if (filter.status !== 'all') where.push({ status: filter.status });
  if (!isQueueManager(principal.role))
    where.push({
      OR: [{ annotatorRoles: { has: principal.role } }, { annotatorIds: { has: principal.userId } }],
    });
  if (filter.cursor)
    where.push(afterKeyset(decodeCursor(filter.cursor), 'createdAt') as Prisma.AnnotationQueueWhereInput);
  const rows = await db.annotationQueue.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, filter.limit, (q) => ({ at: q.createdAt, id: q.id }));
  return { queues: items, nextCursor };
}

/** Judgements or unexpired leases: the claims on an item that count towards its overlap. */
export const CLAIMS = Prisma.sql`(a.status = 'done' OR (a.status = 'leased' AND a.expires_at > now()))`;

/**
 * Items `raterId` could be handed now: not an answer to their own prompt, not judged, skipped or
 * held by them (a lease of theirs that expired does not count), and with fewer than `overlap`
 * claims. `i` is annotation_items.
 */
export function availableTo(queue: Pick<QueueRow, 'id' | 'overlap'>, raterId: string): Prisma.Sql {
  return Prisma.sql`i.queue_id = ${queue.id}::uuid
    AND i.prompt_owner_id <> ${raterId}::uuid
    AND NOT EXISTS (
      SELECT 1 FROM annotation_assignments own
       WHERE own.item_id = i.id AND own.rater_id = ${raterId}::uuid
         AND (own.status <> 'leased' OR own.expires_at > now()))
    AND (SELECT count(*) FROM annotation_assignments a WHERE a.item_id = i.id AND ${CLAIMS}) < ${queue.overlap}`;
}

export async function queueProgress(db: Db, queue: Pick<QueueRow, 'id' | 'overlap'>): Promise<QueueProgress> {
  const [row] = await db.$queryRaw<QueueProgress[]>`
    SELECT
      (SELECT count(*)::int FROM annotation_items WHERE queue_id = ${queue.id}::uuid) AS "items",
      (SELECT count(*)::int FROM (
         SELECT a.item_id FROM annotation_assignments a
          WHERE a.queue_id = ${queue.id}::uuid AND a.status = 'done'
          GROUP BY a.item_id HAVING count(*) >= ${queue.overlap}) complete) AS "completeItems",
      count(*) FILTER (WHERE a.status = 'done')::int AS "judgements",
      count(*) FILTER (WHERE a.status = 'leased' AND a.expires_at > now())::int AS "activeLeases",
      count(*) FILTER (WHERE a.status = 'skipped')::int AS "skips"
    FROM annotation_assignments a WHERE a.queue_id = ${queue.id}::uuid`;
  return { ...row!, target: row!.items * queue.overlap };
}

export async function raterProgress(
  db: Db,
  queue: Pick<QueueRow, 'id' | 'overlap'>,
  raterId: string,
): Promise<RaterProgress> {
  const [row] = await db.$queryRaw<RaterProgress[]>`
    SELECT
      count(*) FILTER (WHERE a.status = 'done')::int AS "judged",
      count(*) FILTER (WHERE a.status = 'skipped')::int AS "skipped",
      (SELECT count(*)::int FROM annotation_items i WHERE ${availableTo(queue, raterId)}) AS "available"
    FROM annotation_assignments a WHERE a.queue_id = ${queue.id}::uuid AND a.rater_id = ${raterId}::uuid`;
  return row!;
}

/**
 * Every rater who took an item of the queue, with their progress, most judgements first: one query
 * that counts each item's claims once (raterProgress per rater counted every item's claims again
 * for each rater). What a rater may still take is the items under their overlap, less those
 * answering their own prompts and those they hold, judged or skipped: availableTo, by subtraction.
 * EXPLAIN (ANALYZE, BUFFERS), a queue of 5,000 items, 7,500 assignments, 40 raters: 12,949 buffers
 * in all ("Bitmap Index Scan on annotation_assignments_item_id_status_idx (loops=5000)"), where the
 * availableTo count took 12,793 for each rater; 77-110 ms against 0.8-1.0 s, the same rows.
 */
export async function ratersProgress(
  db: Db,
  queue: Pick<QueueRow, 'id' | 'overlap'>,
): Promise<(RaterProgress & { userId: string; email: string })[]> {
  return db.$queryRaw<(RaterProgress & { userId: string; email: string })[]>`
    WITH open_items AS (
      SELECT i.id, i.prompt_owner_id FROM annotation_items i
       WHERE i.queue_id = ${queue.id}::uuid
         AND (SELECT count(*) FROM annotation_assignments a WHERE a.item_id = i.id AND ${CLAIMS}) < ${queue.overlap}
    ), per_rater AS (
      SELECT a.rater_id,
             count(*) FILTER (WHERE a.status = 'done') AS judged,
             count(*) FILTER (WHERE a.status = 'skipped') AS skipped,
             count(o.id) FILTER (WHERE (a.status <> 'leased' OR a.expires_at > now())
                                   AND o.prompt_owner_id <> a.rater_id) AS held_open
        FROM annotation_assignments a LEFT JOIN open_items o ON o.id = a.item_id
       WHERE a.queue_id = ${queue.id}::uuid
       GROUP BY a.rater_id
    ), owned AS (
      SELECT prompt_owner_id, count(*) AS n FROM open_items GROUP BY prompt_owner_id
    )
    SELECT p.rater_id::text AS "userId", u.email, p.judged::int AS "judged", p.skipped::int AS "skipped",
           ((SELECT count(*) FROM open_items) - coalesce(ow.n, 0) - p.held_open)::int AS "available"
      FROM per_rater p
      JOIN users u ON u.id = p.rater_id
      LEFT JOIN owned ow ON ow.prompt_owner_id = p.rater_id
     ORDER BY p.judged DESC, u.email COLLATE "C"`;
}
