// Accounts and API keys: the functions routes and boot code share.
import { inTransaction, type Db } from '../db/client.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { AppError } from '../errors/app-error.ts';
import type { Role } from '../auth/principal.ts';
import { hashPassword } from '../auth/passwords.ts';
import { hashToken, newApiKey } from '../auth/tokens.ts';
import { afterKeyset, decodeCursor, pageOf } from '../pagination.ts';

export async function createUser(db: Db, input: { email: string; password?: string; role: Role }) {
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  try {
    return await db.user.create({ data: { email: input.email, passwordHash, role: input.role } });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `A user with email ${input.email} exists`);
    throw err;
  }
}

/**
 * Issues a key to `userId`, refused (409) when the user already holds `maxActive` unrevoked keys.
 * The user's row is locked while counting, so concurrent requests cannot pass the cap together.
 */
export async function issueApiKey(db: Db, userId: string, name: string, maxActive?: number) {
  return inTransaction(db, async (tx) => {
    if (maxActive !== undefined) {
      await tx.$queryRaw`SELECT id FROM users WHERE id = ${userId}::uuid FOR UPDATE`;
      const active = await tx.apiKey.count({ where: { userId, revokedAt: null } });
      if (active >= maxActive)
        throw new AppError(
          'conflict',
          `This user already holds ${active} active API keys, the most allowed (FEEDLOOP_API_KEYS_PER_USER); revoke one first`,
        );
    }
    const { key, prefix, keyHash } = newApiKey();
    const row = await tx.apiKey.create({ data: { userId, name, prefix, keyHash } });
    return { id: row.id, name: row.name, prefix: row.prefix, key };
  });
}

/**
 * Disables (or enables again) an account. Disabling ends every session and revokes every key of
 * the account in the same transaction, so nothing it held works again once it commits; enabling
 * lets it sign in again but brings no key back.
 */
/**
 * A page of `userId`'s keys, revoked ones too, oldest first. Read through the api_keys user_id
 * index and sorted: one user's keys, however many they made and revoked, are few.
 */
export async function listApiKeys(db: Db, userId: string, page: { limit: number; cursor?: string }) {
  const rows = await db.apiKey.findMany({
    where: {
      userId,
      ...(page.cursor ? afterKeyset(decodeCursor(page.cursor), 'createdAt', 'asc') : {}),
    },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    take: page.limit + 1,
  });
  const { items, nextCursor } = pageOf(rows, page.limit, (k) => ({ at: k.createdAt, id: k.id }));
  return { keys: items, nextCursor };
}

export async function setUserDisabled(db: Db, userId: string, disabled: boolean) {
  return inTransaction(db, async (tx) => {
    const now = new Date();
    if (disabled) {
      await tx.session.deleteMany({ where: { userId } });
      await tx.apiKey.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
    }
    return tx.user.update({ where: { id: userId }, data: { disabledAt: disabled ? now : null } });
  });
}

export type AdminKeyOutcome = 'created' | 'present' | 'revoked' | 'disabled';

/**
 * Makes sure an admin holding `key` exists (FEEDLOOP_ADMIN_KEY), at every boot. Creates
 * admin@feedloop.local on first boot; on later boots it finds the key and, if its owner lost the
 * admin role, restores it. A key an admin revoked, or whose account an admin disabled, stays so:
 * the boot respects it and reports it (`revoked`, `disabled`), so the bootstrap key can be ended
 * for good. A new FEEDLOOP_ADMIN_KEY value makes (or re-enables) the bootstrap admin again.
 */
export async function ensureAdminKey(
  db: Db,
  key: string,
): Promise<{ userId: string; created: boolean; outcome: AdminKeyOutcome }> {
  // Several API processes boot at once (`--scale api=3`). Prisma runs these upserts as a read then
  // an insert, so a process that loses a race meets a unique violation: another process made that
  // row, and the next pass finds it (the admin, then the key: at most one lost race each).
  for (let pass = 1; ; pass++) {
    try {
      return await ensureAdminKeyOnce(db, key);
    } catch (err) {
      if (!isUniqueViolation(err) || pass === 3) throw err;
    }
  }
}

async function ensureAdminKeyOnce(
  db: Db,
  key: string,
): Promise<{ userId: string; created: boolean; outcome: AdminKeyOutcome }> {
  const keyHash = hashToken(key);
  const existing = await db.apiKey.findUnique({ where: { keyHash }, include: { user: true } });
  if (existing) {
    const ended = existing.user.disabledAt ? 'disabled' : existing.revokedAt ? 'revoked' : null;
    if (ended) return { userId: existing.userId, created: false, outcome: ended };
    if (existing.user.role !== 'admin')
      await db.user.update({ where: { id: existing.userId }, data: { role: 'admin' } });
    return { userId: existing.userId, created: false, outcome: 'present' };
  }
  const email = 'admin@feedloop.local';
  const user = await db.user.upsert({
    where: { email },
    create: { email, role: 'admin' },
    update: { role: 'admin', disabledAt: null },
  });
  await db.apiKey.upsert({
    where: { keyHash },
    create: { userId: user.id, name: 'FEEDLOOP_ADMIN_KEY', prefix: key.slice(0, 10), keyHash },
    update: {},
  });
  return { userId: user.id, created: true, outcome: 'created' };
}
