// Handing out the work: a rater asks for the next item and holds it under a lease until they judge
// or skip it, or the lease expires and the item goes back into the queue. No item is ever claimed
// by more than `overlap` raters at once, however many ask together: the item's row is locked
// (FOR UPDATE SKIP LOCKED, so concurrent raters take different items instead of waiting) and its
// claims are counted again under the lock before a lease is granted.
import { Prisma, type AnnotationAssignment, type PairwiseChoice } from '../../generated/prisma/client.ts';
import type { Db, PrismaClient, Tx } from '../../platform/db/client.ts';
import { AppError } from '../../platform/errors/app-error.ts';
import { annotationRubric, type JudgementBody, type LeasedItem } from '../../contract/annotation.ts';
import { pathTo } from '../conversations/conversations.ts';
import { invalidField } from '../explicit/feedback.ts';
import { availableTo, CLAIMS, type QueueRow } from './queues.ts';

/**
 * One request per rater and queue at a time: a double click cannot take two items, and a rater's
 * judgement and next request never lock the same rows in opposite orders.
 */
async function oneAtATime(tx: Tx, queueId: string, raterId: string): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`annotation:${queueId}:${raterId}`}))`;
}

/** The claims on an item under its lock, leaving out `exceptRater`'s own. */
async function claimsOn(tx: Tx, itemId: string, exceptRater?: string): Promise<number> {
  const except = exceptRater ? Prisma.sql`AND a.rater_id <> ${exceptRater}::uuid` : Prisma.empty;
  const [{ claims }] = await tx.$queryRaw<[{ claims: number }]>`
    SELECT count(*)::int AS claims FROM annotation_assignments a
     WHERE a.item_id = ${itemId}::uuid AND ${CLAIMS} ${except}`;
  return claims;
}

/** The item with the conversation up to its prompt and its answer(s), as a rater sees it. */
async function itemView(
  db: Db,
  lease: { itemId: string; queueId: string; expiresAt: Date },
): Promise<LeasedItem> {
  const item = await db.annotationItem.findUniqueOrThrow({
    where: { id: lease.itemId },
    include: {
      message: {
        select: { id: true, content: true, modelVersionId: true, parentId: true },
      },
      messageB: { select: { id: true, content: true, modelVersionId: true } },
    },
  });
  // Only the branch up to the prompt: a conversation's other branches can be any size.
  const history = item.message.parentId ? await pathTo(db, item.message.parentId) : [];
  const prompt: LeasedItem['prompt'] = history.map((m) => ({ role: m.role, content: m.content }));
  const answer = (m: { id: string; content: string; modelVersionId: string | null }) => ({
    id: m.id,
    content: m.content,
    modelVersionId: m.modelVersionId,
  });
  return {
    itemId: item.id,
    queueId: lease.queueId,
    expiresAt: lease.expiresAt,
    prompt,
    answer: answer(item.message),
    answerB: item.messageB ? answer(item.messageB) : null,
  };
}

/**
 * Leases the next item of the queue to `raterId`, or returns null when nothing is left for them.
 * A rater who already holds an unexpired lease in the queue gets that item again (a reload does not
 * take a second item).
 */
export async function leaseNextItem(
  prisma: PrismaClient,
  queue: QueueRow,
  raterId: string,
): Promise<LeasedItem | null> {
  if (queue.status !== 'open') throw new AppError('conflict', 'This queue is closed');
  const lease = await prisma.$transaction(async (tx) => {
    await oneAtATime(tx, queue.id, raterId);
    const [held] = await tx.$queryRaw<{ itemId: string; expiresAt: Date }[]>`
      SELECT item_id::text AS "itemId", expires_at AS "expiresAt" FROM annotation_assignments
       WHERE queue_id = ${queue.id}::uuid AND rater_id = ${raterId}::uuid
         AND status = 'leased' AND expires_at > now()
       ORDER BY leased_at LIMIT 1`;
    if (held) return held;
    const passed: string[] = [];
    for (;;) {
      const skip = passed.length ? Prisma.sql`AND i.id <> ALL(${passed}::uuid[])` : Prisma.empty;
      const pick = (wait: boolean) => tx.$queryRaw<{ id: string }[]>`
        SELECT i.id::text AS id FROM annotation_items i
         WHERE ${availableTo(queue, raterId)} ${skip}
         ORDER BY i.position LIMIT 1
         FOR UPDATE OF i ${wait ? Prisma.empty : Prisma.sql`SKIP LOCKED`}`;
      // An item nobody else is handing out right now; failing that, wait for one that is (the
      // other transaction is short), so a rater is never told "nothing left" while there is room.
      let [candidate] = await pick(false);
      if (!candidate) [candidate] = await pick(true);
      if (!candidate) return null;
      // The count above may predate a lease another rater committed while this statement ran;
      // counted again now that the item is locked, it sees every lease granted before.
      if ((await claimsOn(tx, candidate.id)) >= queue.overlap) {
        passed.push(candidate.id);
        continue;
      }
      const [granted] = await tx.$queryRaw<{ expiresAt: Date }[]>`
        INSERT INTO annotation_assignments (id, item_id, queue_id, rater_id, status, leased_at, expires_at)
        VALUES (gen_random_uuid(), ${candidate.id}::uuid, ${queue.id}::uuid, ${raterId}::uuid, 'leased', now(),
                now() + make_interval(secs => ${queue.leaseSeconds}))
        ON CONFLICT (item_id, rater_id) DO UPDATE
          SET leased_at = EXCLUDED.leased_at, expires_at = EXCLUDED.expires_at
          WHERE annotation_assignments.status = 'leased'
        RETURNING expires_at AS "expiresAt"`;
      if (!granted) {
        passed.push(candidate.id);
        continue;
      }
      return { itemId: candidate.id, expiresAt: granted.expiresAt };
    }
  });
  return lease ? itemView(prisma, { ...lease, queueId: queue.id }) : null;
}

const THUMBS = { up: 1, down: -1 } as const;

/** The judgement checked against the rubric and the item: a 400 names the field that is wrong. */
function checkJudgement(queue: QueueRow, pairwise: boolean, body: JudgementBody): void {
  const rubric = annotationRubric.parse(queue.rubric);
  const expect = (field: keyof JudgementBody, wanted: boolean, what: string) => {
    if (wanted && body[field] === undefined)
      throw invalidField(`body.${field}`, `this queue asks for ${what}`);
    if (!wanted && body[field] !== undefined)
      throw invalidField(`body.${field}`, `this queue does not ask for ${what}`);
  };
  expect('thumbs', rubric.thumbs && !pairwise, 'thumbs');
  expect('stars', rubric.stars && !pairwise, 'stars');
  expect('choice', rubric.pairwise && pairwise, 'a pairwise choice');
  expect('label', rubric.labels.length > 0, 'a label');
  if (body.label !== undefined && !rubric.labels.includes(body.label))
    throw invalidField('body.label', `must be one of: ${rubric.labels.join(', ')}`);
  if (rubric.reason === 'off' && body.reason !== undefined)
    throw invalidField('body.reason', 'this queue does not ask for a reason');
  if (rubric.reason === 'required' && !body.reason)
    throw invalidField('body.reason', 'this queue asks for a reason');
}

/** The rater's lease on the item, locked, and whether it expired (by the database's clock); a 409 when they hold none. */
async function ownLease(tx: Tx, itemId: string, raterId: string): Promise<{ id: string; expired: boolean }> {
  const [row] = await tx.$queryRaw<{ id: string; status: string; expired: boolean }[]>`
    SELECT id::text AS id, status::text AS status, expires_at <= now() AS expired FROM annotation_assignments
     WHERE item_id = ${itemId}::uuid AND rater_id = ${raterId}::uuid FOR UPDATE`;
  if (!row) throw new AppError('conflict', 'You hold no lease on this item: ask for the next item first');
  if (row.status === 'done') throw new AppError('conflict', 'You already judged this item');
  if (row.status === 'skipped') throw new AppError('conflict', 'You skipped this item');
  return row;
}

/**
 * Records the rater's judgement of an item they hold. A lease that expired still counts when the
 * item has room (nobody took the place meanwhile); otherwise a 409 says it went to someone else.
 */
export async function submitJudgement(
  prisma: PrismaClient,
  queue: QueueRow,
  itemId: string,
  raterId: string,
  body: JudgementBody,
): Promise<AnnotationAssignment> {
  const item = await prisma.annotationItem.findFirst({ where: { id: itemId, queueId: queue.id } });
  if (!item) throw new AppError('not_found', 'Item not found in this queue');
  checkJudgement(queue, item.messageBId !== null, body);
  return prisma.$transaction(async (tx) => {
    await oneAtATime(tx, queue.id, raterId);
    const assignment = await ownLease(tx, itemId, raterId);
    if (assignment.expired) {
      if (queue.status !== 'open') throw new AppError('conflict', 'This queue is closed');
      await tx.$queryRaw`SELECT id FROM annotation_items WHERE id = ${itemId}::uuid FOR UPDATE`;
      if ((await claimsOn(tx, itemId, raterId)) >= queue.overlap)
        throw new AppError('conflict', 'Your lease on this item expired and it went to another rater');
    }
    const { count } = await tx.annotationAssignment.updateMany({
      where: { id: assignment.id, status: 'leased' },
      data: {
        status: 'done',
        submittedAt: new Date(),
        thumbs: body.thumbs === undefined ? null : THUMBS[body.thumbs],
        stars: body.stars ?? null,
        choice: (body.choice as PairwiseChoice | undefined) ?? null,
        label: body.label ?? null,
        reason: body.reason ? body.reason : null,
      },
    });
    if (count === 0) throw new AppError('conflict', 'This item is no longer leased to you');
    return tx.annotationAssignment.findUniqueOrThrow({ where: { id: assignment.id } });
  });
}

/** The rater passes on an item they hold: it goes back to the others and never comes back to them. */
export async function skipItem(
  prisma: PrismaClient,
  queue: QueueRow,
  itemId: string,
  raterId: string,
): Promise<void> {
  const item = await prisma.annotationItem.findFirst({ where: { id: itemId, queueId: queue.id } });
  if (!item) throw new AppError('not_found', 'Item not found in this queue');
  await prisma.$transaction(async (tx) => {
    await oneAtATime(tx, queue.id, raterId);
    const assignment = await ownLease(tx, itemId, raterId);
    await tx.annotationAssignment.updateMany({
      where: { id: assignment.id, status: 'leased' },
      data: { status: 'skipped', submittedAt: new Date() },
    });
  });
}

/** The wire form of a judgement. */
export function toJudgementView(a: AnnotationAssignment) {
  return {
    itemId: a.itemId,
    queueId: a.queueId,
    thumbs: a.thumbs === null ? null : a.thumbs > 0 ? ('up' as const) : ('down' as const),
    stars: a.stars,
    choice: a.choice,
    label: a.label,
    reason: a.reason,
    submittedAt: a.submittedAt!,
  };
}
