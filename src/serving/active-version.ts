// Which version answers requests that name no model: the one row with status 'active'. Promotion
// changes it (src/promotion/model-versions.ts); every API process re-reads it.
import type { Db } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';

/** The version that serves requests naming no model, if any. */
export function activeModelVersion(db: Db): Promise<ModelVersion | null> {
  return db.modelVersion.findFirst({ where: { status: 'active' } });
}
