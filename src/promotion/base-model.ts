// First boot: the shipped base model becomes the active version, so a fresh install serves at once.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Db } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';
import { activateModelVersion, registerModelVersion } from './model-versions.ts';

/**
 * First boot: when no version is registered and MODEL_DIR holds the shipped base model, register
 * it as `base` and make it active, so a fresh install serves completions at once.
 */
export async function ensureBaseModel(db: Db, modelDir: string): Promise<ModelVersion | null> {
  if ((await db.modelVersion.count()) > 0) return null;
  if (!existsSync(path.join(modelDir, 'base', 'config.json'))) return null;
  const base = await registerModelVersion(db, {
    name: 'base',
    path: 'base',
    notes: 'The pretrained base model shipped with feedloop',
    actorId: null,
  }).catch((err: { code?: string }) => {
    if (err.code === 'conflict') return null; // another process registered it first
    throw err;
  });
  if (!base) return null;
  const { active } = await activateModelVersion(db, { id: base.id, actorId: null, reason: 'first boot' });
  return active;
}
