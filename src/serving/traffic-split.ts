// Traffic splits: how requests that name no model are shared among versions. At most one split is
// current; setting a new one ends the old one, and so does any activation (promotion, rollback).
// Every change is audited in the transaction that makes it. Routing (which arm a user gets) is in
// version-choice.ts; it re-reads the current split every second in every API process.
import { createHash } from 'node:crypto';
import { inTransaction, type Db, type Tx } from '../platform/db/client.ts';
import type { ModelVersion, TrafficSplit, TrafficSplitArm } from '../generated/prisma/client.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError } from '../platform/errors/app-error.ts';
import type { TrafficSplitBody, TrafficSplitView } from '../contract/traffic.ts';

export type SplitWithArms = TrafficSplit & { arms: (TrafficSplitArm & { modelVersion: ModelVersion })[] };

const SPLIT_LOCK = "SELECT pg_advisory_xact_lock(hashtext('feedloop:traffic_split'))";

export function currentSplit(db: Db): Promise<SplitWithArms | null> {
  return db.trafficSplit.findFirst({
    where: { endedAt: null },
    include: { arms: { include: { modelVersion: true }, orderBy: { position: 'asc' } } },
  });
}

export function splitView(split: SplitWithArms): TrafficSplitView {
  const total = split.arms.reduce((sum, arm) => sum + arm.weight, 0);
  return {
    id: split.id,
    reason: split.reason,
    createdById: split.createdById,
    createdAt: split.createdAt,
    endedAt: split.endedAt,
    endReason: split.endReason,
    arms: split.arms.map((arm) => ({
      version: arm.modelVersion.name,
      versionId: arm.modelVersionId,
      status: arm.modelVersion.status,
      weight: arm.weight,
      share: arm.weight / total,
    })),
  };
}

/** Ends the current split, if any, in `tx` (the caller's transaction), audited; returns its id. */
export async function endCurrentSplit(
  tx: Db,
  input: {
    actorId: string | null;
    reason: string;
    action?: string;
    details?: Record<string, unknown>;
    /** End it only if it is still this one (the guard judged this split, not a newer one). */
    splitId?: string;
  },
): Promise<string | null> {
  const ended = await tx.trafficSplit.updateManyAndReturn({
    where: { endedAt: null, ...(input.splitId ? { id: input.splitId } : {}) },
    data: { endedAt: new Date(), endReason: input.reason },
    select: { id: true },
  });
  const id = ended[0]?.id ?? null;
  if (id) {
    await recordAudit(tx, {
      actorId: input.actorId,
      action: input.action ?? 'traffic_split.end',
      target: `traffic_split:${id}`,
      details: { reason: input.reason, ...(input.details ?? {}) } as never,
    });
  }
  return id;
}

/**
 * Replaces the current split with `body`'s (audited). Every version named must exist and not be
 * rejected: 400 naming `body.splits.<i>.version` otherwise.
 */
export async function setTrafficSplit(
  db: Db,
  input: TrafficSplitBody & { actorId: string | null },
): Promise<SplitWithArms> {
  return inTransaction(db, async (tx: Tx) => {
    await tx.$executeRawUnsafe(SPLIT_LOCK);
    const versions: ModelVersion[] = [];
    for (const [i, arm] of input.splits.entries()) {
      const version = await tx.modelVersion.findUnique({ where: { name: arm.version } });
      const path = `body.splits.${i}.version`;
      if (!version) {
        throw new AppError('validation_failed', `Invalid ${path}: no model version is named ${arm.version}`, [
          { path, message: 'must name a registered model version' },
        ]);
      }
      if (version.status === 'rejected') {
        throw new AppError('validation_failed', `Invalid ${path}: ${arm.version} was rejected`, [
          { path, message: 'must not be a rejected version' },
        ]);
      }
      versions.push(version);
    }
    const replacedId = await endCurrentSplit(tx, {
      actorId: input.actorId,
      reason: 'replaced by a new split',
    });
    const split = await tx.trafficSplit.create({
      data: {
        reason: input.reason,
        createdById: input.actorId,
        arms: {
          create: input.splits.map((arm, position) => ({
            modelVersionId: versions[position]!.id,
            weight: arm.weight,
            position,
          })),
        },
      },
      include: { arms: { include: { modelVersion: true }, orderBy: { position: 'asc' } } },
    });
    await recordAudit(tx, {
      actorId: input.actorId,
      action: 'traffic_split.set',
      target: `traffic_split:${split.id}`,
      details: {
        reason: input.reason,
        replacedId,
        arms: input.splits.map((arm, i) => ({
          version: arm.version,
          versionId: versions[i]!.id,
          weight: arm.weight,
        })),
      },
    });
    return split;
  });
}

/** Ends the current split at ops' request; 409 when there is none. */
export async function stopTrafficSplit(
  db: Db,
  input: { actorId: string | null; reason: string },
): Promise<string> {
  return inTransaction(db, async (tx) => {
    await tx.$executeRawUnsafe(SPLIT_LOCK);
    const id = await endCurrentSplit(tx, input);
    if (!id) throw new AppError('conflict', 'No traffic split is current');
    return id;
  });
}

/**
 * Where a user falls in a split: a number in [0, 1) from a hash of the split's id and the user's,
 * so a user keeps their version for the life of the split and a new split reshuffles everyone.
 */
export function routingPoint(splitId: string, userId: string): number {
  const digest = createHash('sha256').update(`${splitId}:${userId}`).digest();
  // 48 bits: exact in a double, and plenty to make shares come out right.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The arm whose slice of [0, 1) (by weight, in the split's order) holds `point`. */
export function armAt<A extends { weight: number }>(arms: readonly A[], point: number): A {
  const total = arms.reduce((sum, arm) => sum + arm.weight, 0);
  let upTo = 0;
  for (const arm of arms) {
    upTo += arm.weight / total;
    if (point < upTo) return arm;
  }
  return arms.at(-1)!;
}
