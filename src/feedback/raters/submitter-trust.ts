// How far a moderator can trust who sent an item: the rater assessment datasets use (agreement
// with other raters and with answers of known quality, spam checks), under the default build config.
// The assessment reads all feedback, so it is kept per database and recomputed only when its inputs
// changed (the rater_inputs_version sequence, bumped by triggers on ratings, votes, corrections,
// flags and annotation judgements) or it is a minute old; concurrent readers share one computation.
import type { Db } from '../../platform/db/client.ts';
import { parseBuildConfig } from '../../contract/dataset-build-config.ts';
import { type RaterAssessment, type RaterStatus } from './raters.ts';
import { assessRatersStreamed } from './rater-stream.ts';

export interface SubmitterTrust {
  /** 0 (ignored) to 1 (full weight) in every dataset. */
  trust: number;
  status: RaterStatus;
  /** Why trust is below 1; empty when trusted. */
  reasons: string[];
}

const TRUSTED: SubmitterTrust = { trust: 1, status: 'trusted', reasons: [] };

/**
 * The longest a kept assessment is used: a rating committed while an assessment was loading may
 * have bumped the counter before the load began and be missing from it.
 */
const MAX_AGE_MS = 60_000;

interface Kept {
  version: string;
  at: number;
  assessments: Promise<RaterAssessment[]>;
}

// Per client (each app and test has its own), so nothing outlives the database it came from.
const kept = new WeakMap<object, Kept>();

async function inputsVersion(db: Db): Promise<string> {
  const rows = await db.$queryRaw<Array<{ version: string }>>`
    SELECT (CASE WHEN is_called THEN last_value ELSE 0 END)::text AS version FROM rater_inputs_version`;
  return rows[0]!.version;
}

/**
 * Every rater's assessment over all feedback under the default config, sorted by user id: computed
 * again only when ratings, votes, corrections, flags or judgements changed since, or after a minute.
 */
export async function currentRaterAssessments(db: Db): Promise<RaterAssessment[]> {
  const version = await inputsVersion(db);
  const current = kept.get(db);
  if (current && current.version === version && Date.now() - current.at < MAX_AGE_MS)
    return current.assessments;
  const assessments = assessRatersStreamed(
    db,
    { window: { to: new Date() }, events: 'none' },
    parseBuildConfig({}),
  );
  const entry = { version, at: Date.now(), assessments };
  kept.set(db, entry);
  // A failed computation is not kept.
  assessments.catch(() => {
    if (kept.get(db) === entry) kept.delete(db);
  });
  return assessments;
}

/** Trust of each user in `userIds`; users who never rated or voted count as trusted. */
export async function submitterTrust(db: Db, userIds: string[]): Promise<Map<string, SubmitterTrust>> {
  const result = new Map<string, SubmitterTrust>();
  if (userIds.length === 0) return result;
  const assessed = new Map((await currentRaterAssessments(db)).map((a) => [a.userId, a]));
  for (const id of userIds) {
    const a = assessed.get(id);
    result.set(id, a ? { trust: a.trust, status: a.status, reasons: a.reasons } : TRUSTED);
  }
  return result;
}
