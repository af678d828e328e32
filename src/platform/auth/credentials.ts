// Resolves an API key or session token to a Principal. Lookups are cached briefly so the hot
// ingestion path does not pay a database round trip per request; revoking through this process
// clears the cache at once, other processes see it within CACHE_TTL_MS. Requests that arrive
// together with the same credential share one lookup (a burst of streams on one key makes one
// read when its entry expires, not one each).
import type { Db } from '../db/client.ts';
import type { Principal } from './principal.ts';
import { hashToken } from './tokens.ts';

const CACHE_TTL_MS = 10_000;
const CACHE_MAX = 10_000;

export class CredentialResolver {
  private readonly cache = new Map<string, { principal: Principal | null; expires: number }>();
  private readonly pending = new Map<string, Promise<Principal | null>>();
  /** Bumped by invalidate(): a lookup that began before it is neither cached nor shared after it. */
  private generation = 0;

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

  /** The principal this process holds for `key` without looking it up; undefined when it holds none. */
  knownApiKey(key: string): Principal | null | undefined {
    const hit = this.cache.get(`k:${hashToken(key)}`);
    return hit && hit.expires > Date.now() ? hit.principal : undefined;
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
    this.generation++;
    this.cache.clear();
    this.pending.clear();
  }

  private async cached(
    key: string,
    options: { fresh?: boolean },
    load: () => Promise<Principal | null>,
  ): Promise<Principal | null> {
    const hit = this.cache.get(key);
    const now = Date.now();
    if (hit && hit.expires > now && !options.fresh) return hit.principal;
    if (options.fresh) {
      const generation = this.generation;
      return this.store(key, now, generation, await load());
    }
    let lookup = this.pending.get(key);
    if (!lookup) {
      const generation = this.generation;
      const started = load().then((principal) => this.store(key, now, generation, principal));
      lookup = started.finally(() => {
        if (this.pending.get(key) === lookup) this.pending.delete(key);
      });
      this.pending.set(key, lookup);
    }
    return lookup;
  }

  private store(key: string, now: number, generation: number, principal: Principal | null) {
    if (generation !== this.generation) return principal;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(key, { principal, expires: now + CACHE_TTL_MS });
    return principal;
  }
}
