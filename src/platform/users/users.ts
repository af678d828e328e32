// Accounts and API keys: the functions routes and boot code share.
import type { Db } from '../db/client.ts';
import { AppError } from '../errors/app-error.ts';
import type { Role } from '../auth/principal.ts';
import { hashPassword } from '../auth/passwords.ts';
import { hashToken, newApiKey } from '../auth/tokens.ts';

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

export async function createUser(db: Db, input: { email: string; password?: string; role: Role }) {
  const passwordHash = input.password ? await hashPassword(input.password) : null;
  try {
    return await db.user.create({ data: { email: input.email, passwordHash, role: input.role } });
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', `A user with email ${input.email} exists`);
    throw err;
  }
}

export async function issueApiKey(db: Db, userId: string, name: string) {
  const { key, prefix, keyHash } = newApiKey();
  const row = await db.apiKey.create({ data: { userId, name, prefix, keyHash } });
  return { id: row.id, name: row.name, prefix: row.prefix, key };
}

/**
 * Makes sure an admin holding `key` exists (FEEDLOOP_ADMIN_KEY). Creates admin@feedloop.local on
 * first boot; on later boots it finds the key and, if its owner lost the admin role, restores it.
 */
export async function ensureAdminKey(db: Db, key: string): Promise<{ userId: string; created: boolean }> {
  const keyHash = hashToken(key);
  const existing = await db.apiKey.findUnique({ where: { keyHash }, include: { user: true } });
  if (existing) {
    if (existing.revokedAt || existing.user.role !== 'admin') {
      await db.apiKey.update({ where: { id: existing.id }, data: { revokedAt: null } });
      await db.user.update({ where: { id: existing.userId }, data: { role: 'admin' } });
    }
    return { userId: existing.userId, created: false };
  }
  // Several API processes boot at once (`--scale api=3`): both writes are single-statement upserts
  // (INSERT ... ON CONFLICT), so the one that loses the race finds the other's row instead of failing.
  const email = 'admin@feedloop.local';
  const user = await db.user.upsert({
    where: { email },
    create: { email, role: 'admin' },
    update: { role: 'admin' },
  });
  await db.apiKey.upsert({
    where: { keyHash },
    create: { userId: user.id, name: 'FEEDLOOP_ADMIN_KEY', prefix: key.slice(0, 10), keyHash },
    update: {},
  });
  return { userId: user.id, created: true };
}
