// Resolves an API key or session token to a Principal. Lookups are cached briefly so the hot
// ingestion path does not pay a database round trip per request; revoking through this process
// clears the cache at once, other processes see it within CACHE_TTL_MS.
import type { Db } from '../db/client.ts';
import type { Principal } from './principal.ts';
import { hashToken } from './tokens.ts';

const CACHE_TTL_MS = 10_000;
const CACHE_MAX = 10_000;

export class CredentialResolver {
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();

  constructor(private readonly db: Db) {}

  /** `fresh` skips the cache (an open WebSocket re-checking its credential). */
  async fromApiKey(key: string, options: { fresh?: boolean } = {}): Promise<Principal | null> {
    const keyHash = hashToken(key);
    return this.cached(`k:${keyHash}`, options, async () => {
      const row = await this.db.apiKey.findUnique({ where: { keyHash }, include: { user: true } });
      if (!row || row.revokedAt || row.user.disabledAt) return null;
      return {
        userId: row.userId,
        email: row.user.email,
        role: row.user.role,
        via: 'api_key',
        credentialId: row.id,
      };
    });
  }

  async fromSessionToken(token: string, options: { fresh?: boolean } = {}): Promise<Principal | null> {
    const tokenHash = hashToken(token);
    return this.cached(`s:${tokenHash}`, options, async () => {
      const row = await this.db.session.findUnique({ where: { tokenHash }, include: { user: true } });
      if (!row || row.expiresAt.getTime() <= Date.now() || row.user.disabledAt) return null;
      return {
        userId: row.userId,
        email: row.user.email,
        role: row.user.role,
        via: 'session',
        credentialId: row.id,
      };
    });
  }

  /** Forgets every cached credential (after a revocation, a logout or a role change). */
  invalidate(): void {
    this.cache.clear();
  }

  private async cached(
    key: string,
    options: { fresh?: boolean },
    load: () => Promise<Principal | null>,
  ): Promise<Principal | null> {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && hit.expires > now && !options.fresh) return hit.principal;
    const principal = await load();
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(key, { principal, expires: now + CACHE_TTL_MS });
    return principal;
  }
}
