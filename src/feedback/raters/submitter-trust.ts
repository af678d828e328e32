// How far a moderator can trust who sent an item: the rater assessment datasets use (agreement
// with other raters and with answers of known quality, spam checks), under the default build config.
import type { Db } from '../../platform/db/client.ts';
import { parseBuildConfig } from '../../contract/dataset-build-config.ts';
import { loadFeedbackRows } from '../feedback-rows.ts';
import { assessRaters, type RaterStatus } from './raters.ts';

export interface SubmitterTrust {
  /** 0 (ignored) to 1 (full weight) in every dataset. */
  trust: number;
  status: RaterStatus;
  /** Why trust is below 1; empty when trusted. */
  reasons: string[];
}

const TRUSTED: SubmitterTrust = { trust: 1, status: 'trusted', reasons: [] };

/** Trust of each user in `userIds`; users who never rated or voted count as trusted. */
export async function submitterTrust(db: Db, userIds: string[]): Promise<Map<string, SubmitterTrust>> {
  const result = new Map<string, SubmitterTrust>();
  if (userIds.length === 0) return result;
  const rows = await loadFeedbackRows(db, { window: { to: new Date() } });
  const assessed = new Map(assessRaters(rows, parseBuildConfig({})).map((a) => [a.userId, a]));
  for (const id of userIds) {
    const a = assessed.get(id);
    result.set(id, a ? { trust: a.trust, status: a.status, reasons: a.reasons } : TRUSTED);
  }
  return result;
}
