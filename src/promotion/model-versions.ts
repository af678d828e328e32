// The model-version registry: which sets of weights exist and which one serves. Registration and
// activation are audited; activation is the one place that changes the active version, so the
// promotion gates (later) and the ops route share it.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { inTransaction, type Db } from '../platform/db/client.ts';
import { isUniqueViolation } from '../platform/db/errors.ts';
import { readModelFolder } from '../llm/checkpoint.ts';
import { TextTokenizer } from '../llm/tokenizer.ts';
import type { ModelStatus, ModelVersion, Prisma } from '../generated/prisma/client.ts';
import { recordAudit } from '../platform/audit/audit-log.ts';
import { AppError, notFound } from '../platform/errors/app-error.ts';
import { afterKeyset, decodeCursor, pageOf } from '../platform/pagination.ts';
import { toJson } from '../platform/db/json.ts';
import { z } from 'zod';
import { activeModelVersion } from '../serving/active-version.ts';
import { endCurrentSplit } from '../serving/traffic-split.ts';
import {
  modelProvenance,
  upstreamHeaders,
  type ModelProvenance,
  type ModelVersionView,
} from '../contract/model-versions.ts';
import { samplingOptions, type SamplingOptions } from '../contract/sampling.ts';

/** What an activation's audit entry records about the version it replaced. */
const activationDetails = z.object({ previousActiveId: z.string().nullable().optional() });

const invalid = (path: string, message: string) =>
  new AppError('validation_failed', `Invalid ${path}: ${message}`, [{ path, message }]);

/** A version as the API shows it, its JSON columns read back through their schemas. */
export function versionView(version: ModelVersion): ModelVersionView {
  return {
    id: version.id,
    name: version.name,
    status: version.status,
    provider: version.provider,
    path: version.path,
    upstream:
      version.provider === 'openai'
        ? {
            baseUrl: version.baseUrl!,
            model: version.upstreamModel!,
            apiKeyEnv: version.apiKeyEnv,
            headers: upstreamHeaders.nullable().parse(version.upstreamHeaders) ?? {},
          }
        : null,
    defaults: samplingOptions.nullable().parse(version.samplingDefaults),
    parentId: version.parentId,
    datasetId: version.datasetId,
    notes: version.notes,
    provenance: modelProvenance.nullable().parse(version.provenance),
    createdAt: version.createdAt,
    promotedAt: version.promotedAt,
  };
}

/** Versions, newest first; `before` is the id of the last one on the previous page. */
export async function listModelVersions(
  db: Db,
  filter: { status?: ModelStatus; limit: number; before?: string; cursor?: string },
): Promise<{ modelVersions: ModelVersion[]; nextCursor: string | null; nextBefore: string | null }> {
  const where: Prisma.ModelVersionWhereInput[] = [];
  if (filter.status) where.push({ status: filter.status });
  let key = filter.cursor ? decodeCursor(filter.cursor) : undefined;
  if (!key && filter.before) {
    const cursor = await db.modelVersion.findUnique({
      where: { id: filter.before },
      select: { id: true, createdAt: true },
    });
    if (!cursor) throw invalid('querystring.before', 'must be the id of a model version');
    key = { at: cursor.createdAt, id: cursor.id };
  }
  if (key) where.push(afterKeyset(key, 'createdAt') as Prisma.ModelVersionWhereInput);
  const rows = await db.modelVersion.findMany({
    where: { AND: where },
    orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    take: filter.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, filter.limit, (v) => ({ at: v.createdAt, id: v.id }));
  return { modelVersions: items, nextCursor, nextBefore: nextCursor ? (items.at(-1)?.id ?? null) : null };
}

/**
 * Refuses (400 naming body.path) a folder that is not a loadable model: missing, not a folder
 * inside MODEL_DIR, or without a readable config, tokenizer and weights that fit the config. Reads
 * the whole folder, as loading it would.
 */
export function assertLoadableModelFolder(modelDir: string, relative: string): void {
  const root = path.resolve(modelDir);
  const dir = path.resolve(root, relative);
  if (dir === root || !dir.startsWith(root + path.sep))
    throw invalid('body.path', 'must be a folder inside MODEL_DIR, not MODEL_DIR itself');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw invalid('body.path', `no folder ${relative} exists in MODEL_DIR`);
  try {
    const folder = readModelFolder(dir, { confineTo: root });
    const tokenizer = new TextTokenizer(folder.tokenizerJson);
    if (tokenizer.vocabSize !== folder.config.vocabSize)
      throw new Error(
        `tokenizer.json has ${tokenizer.vocabSize} tokens but config.json says ${folder.config.vocabSize}`,
      );
  } catch (err) {
    throw invalid('body.path', `is not a loadable model: ${(err as Error).message}`);
  }
}

/**
 * Registers a set of weights as a candidate. `actorId` is null for automated callers (a training
 * job). 409 if the name is taken, validation_failed if the parent is unknown.
 */
export async function registerModelVersion(
  db: Db,
  input: {
    name: string;
    path: string;
    parentId?: string | null;
    datasetId?: string | null;
    notes?: string;
    /** An imported version's source. */
    provenance?: ModelProvenance;
    actorId: string | null;
  },
): Promise<ModelVersion> {
  return inTransaction(db, async (tx) => {
    if (input.parentId) {
      const parent = await tx.modelVersion.findUnique({
        where: { id: input.parentId },
        select: { id: true },
      });
      if (!parent) throw invalid('body.parentId', 'must be the id of a registered model version');
    }
    const taken = await tx.modelVersion.findUnique({ where: { name: input.name }, select: { id: true } });
    if (taken) throw new AppError('conflict', `A model version named ${input.name} exists`);
    const version = await tx.modelVersion
      .create({
        data: {
          name: input.name,
          path: input.path,
          parentId: input.parentId ?? null,
          datasetId: input.datasetId ?? null,
          notes: input.notes ?? '',
          ...(input.provenance ? { provenance: toJson(input.provenance) } : {}),
        },
      })
      .catch((err: unknown) => {
        // Two registrations racing for one name: the loser gets the same answer as above.
        if (isUniqueViolation(err))
          throw new AppError('conflict', `A model version named ${input.name} exists`);
        throw err;
      });
    await recordAudit(tx, {
      actorId: input.actorId,
      action: 'model_version.register',
      target: `model_version:${version.id}`,
      details: { name: version.name, path: version.path, parentId: version.parentId },
    });
    return version;
  });
}

/**
 * Registers an OpenAI-compatible server's model as a candidate version (provider `openai`). The
 * API key is not part of it: `apiKeyEnv` names the environment variable that holds it, read when
 * a request is sent. Audited with the reason; 409 if the name is taken.
 */
export async function registerUpstreamVersion(
  db: Db,
  input: {
    name: string;
    baseUrl: string;
    model: string;
    apiKeyEnv?: string;
    headers?: Record<string, string>;
    defaults?: SamplingOptions;
    reason: string;
    actorId: string | null;
  },
): Promise<ModelVersion> {
  return inTransaction(db, async (tx) => {
    const taken = await tx.modelVersion.findUnique({ where: { name: input.name }, select: { id: true } });
    if (taken) throw new AppError('conflict', `A model version named ${input.name} exists`);
    const version = await tx.modelVersion
      .create({
        data: {
          name: input.name,
          provider: 'openai',
          path: null,
          baseUrl: input.baseUrl,
          upstreamModel: input.model,
          apiKeyEnv: input.apiKeyEnv ?? null,
          ...(input.headers ? { upstreamHeaders: toJson(input.headers) } : {}),
          ...(input.defaults ? { samplingDefaults: toJson(input.defaults) } : {}),
          notes: input.reason,
        },
      })
      .catch((err: unknown) => {
        if (isUniqueViolation(err))
          throw new AppError('conflict', `A model version named ${input.name} exists`);
        throw err;
      });
    await recordAudit(tx, {
      actorId: input.actorId,
      action: 'model_version.register',
      target: `model_version:${version.id}`,
      details: {
        name: version.name,
        provider: 'openai',
        baseUrl: input.baseUrl,
        model: input.model,
        apiKeyEnv: input.apiKeyEnv ?? null,
        reason: input.reason,
      },
    });
    return version;
  });
}

export const ACTIVATION_ACTIONS = [
  'model_version.activate',
  'model_version.promote',
  'model_version.rollback',
] as const;
export type ActivationAction = (typeof ACTIVATION_ACTIONS)[number];

/** Which statuses may become active: a rejected candidate may not; a retired one may (rollback). */
const ACTIVATABLE: readonly ModelStatus[] = ['candidate', 'retired'];

/**
 * Makes `id` the one active version in a single transaction: the previously active version is
 * retired, the audit log records who did it, why, and `details` (e.g. gate results). Concurrent
 * activations take turns. 404 unknown id; 409 when it is already active or was rejected.
 */
export async function activateModelVersion(
  db: Db,
  input: {
    id: string;
    actorId: string | null;
    reason: string;
    details?: Prisma.InputJsonObject;
    /** The audit action: activate by default; the loop's gate and ops use promote and rollback. */
    action?: ActivationAction;
    /** Statuses the target may have (default: candidate or retired). */
    from?: readonly ModelStatus[];
  },
): Promise<{ active: ModelVersion; retired: ModelVersion | null }> {
  return inTransaction(db, async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('feedloop:model_versions:activate'))`;
    const target = await tx.modelVersion.findUnique({ where: { id: input.id } });
    if (!target) throw notFound('Model version');
    if (!(input.from ?? ACTIVATABLE).includes(target.status))
      throw new AppError(
        'conflict',
        `Model version ${target.name} is ${target.status}; it cannot be activated`,
        {
          status: target.status,
        },
      );
    const previous = await tx.modelVersion.findFirst({ where: { status: 'active' } });
    const retired = previous
      ? await tx.modelVersion.update({ where: { id: previous.id }, data: { status: 'retired' } })
      : null;
    const active = await tx.modelVersion.update({
      where: { id: target.id },
      data: { status: 'active', promotedAt: new Date() },
    });
    // A new active version ends any traffic split: its comparison no longer describes what serves.
    await endCurrentSplit(tx, {
      actorId: input.actorId,
      reason: `${input.action ?? 'model_version.activate'} of ${target.name}`,
    });
    await recordAudit(tx, {
      actorId: input.actorId,
      action: input.action ?? 'model_version.activate',
      target: `model_version:${target.id}`,
      details: {
        ...input.details,
        reason: input.reason,
        name: target.name,
        fromStatus: target.status,
        previousActiveId: previous?.id ?? null,
      },
    });
    return { active, retired };
  });
}

/**
 * Rejects a candidate: it can no longer be activated or named in requests. Audited with the
 * reason (the gate's reasons when the loop rejects it). 404 unknown id; 409 unless a candidate.
 */
export async function rejectModelVersion(
  db: Db,
  input: { id: string; actorId: string | null; reason: string; details?: Prisma.InputJsonObject },
): Promise<ModelVersion> {
  return inTransaction(db, async (tx) => {
    const target = await tx.modelVersion.findUnique({ where: { id: input.id } });
    if (!target) throw notFound('Model version');
    if (target.status !== 'candidate')
      throw new AppError(
        'conflict',
        `Model version ${target.name} is ${target.status}; only a candidate can be rejected`,
        {
          status: target.status,
        },
      );
    const rejected = await tx.modelVersion.update({ where: { id: target.id }, data: { status: 'rejected' } });
    await recordAudit(tx, {
      actorId: input.actorId,
      action: 'model_version.reject',
      target: `model_version:${target.id}`,
      details: { ...input.details, reason: input.reason, name: target.name },
    });
    return rejected;
  });
}

/**
 * Re-activates the version that was active before the current one (as the current one's activation
 * recorded it; else the most recently promoted retired version). 409 when there is none.
 */
export async function rollbackModelVersion(
  db: Db,
  input: { actorId: string | null; reason: string },
): Promise<{ active: ModelVersion; retired: ModelVersion | null }> {
  const current = await activeModelVersion(db);
  if (!current) throw new AppError('conflict', 'No version is active: there is nothing to roll back');
  const activation = await db.auditLogEntry.findFirst({
    where: { target: `model_version:${current.id}`, action: { in: [...ACTIVATION_ACTIONS] } },
    orderBy: { createdAt: 'desc' },
  });
  const recorded = activationDetails.parse(activation?.details ?? {}).previousActiveId;
  const previous =
    (recorded ? await db.modelVersion.findFirst({ where: { id: recorded, status: 'retired' } }) : null) ??
    (await db.modelVersion.findFirst({
      where: { status: 'retired', id: { not: current.id }, promotedAt: { not: null } },
      orderBy: { promotedAt: 'desc' },
    }));
  if (!previous) throw new AppError('conflict', 'No previously active version to roll back to');
  return activateModelVersion(db, {
    id: previous.id,
    actorId: input.actorId,
    reason: input.reason,
    action: 'model_version.rollback',
    from: ['retired'],
    details: { rolledBackFromId: current.id },
  });
}
