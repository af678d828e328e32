// Resolves an API key or session token to a Principal. Lookups are cached briefly so the hot
// ingestion path does not pay a database round trip per request; revoking through this process
// clears the cache at once, other processes see it within CACHE_TTL_MS. Requests that arrive
// together with the same credential share one lookup (a burst of streams on one key makes one
// read when its entry expires, not one each). A credential in use is read again in the background
// once its entry is REFRESH_AFTER_MS old, so requests that keep using it never wait for that read.
import type { Db } from '../db/client.ts';
import type { Principal } from './principal.ts';
import { hashToken } from './tokens.ts';

const CACHE_TTL_MS = 10_000;
/** An entry this old is read again beside the requests that go on using it. */
const REFRESH_AFTER_MS = CACHE_TTL_MS / 2;
const CACHE_MAX = 10_000;

interface Entry {
  principal: Principal | null;
  /** When it was read (the read's start). */
  at: number;
}

export class CredentialResolver {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Principal | null>>();
  /** Bumped by invalidate(): a lookup that began before it is neither cached nor shared after it. */
  private generation = 0;

  constructor(
    private readonly db: Db,
    /** The clock entries are aged by (tests move it on). */
    private readonly now: () => number = Date.now,
  ) {}

  /** `fresh` skips the cache (an open WebSocket re-checking its credential). */
  async fromApiKey(key: string, options: { fresh?: boolean } = {}): Promise<Principal | null> {
    const keyHash = hashToken(key);
    return this.cached(`k:${keyHash}`, options, () => this.readApiKey(keyHash));
  }

  /** The principal this process holds for `key` without looking it up; undefined when it holds none. */
  knownApiKey(key: string): Principal | null | undefined {
    const keyHash = hashToken(key);
    return this.usable(`k:${keyHash}`, () => this.readApiKey(keyHash))?.principal;
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

  private async readApiKey(keyHash: string): Promise<Principal | null> {
    const row = await this.db.apiKey.findUnique({ where: { keyHash }, include: { user: true } });
    if (!row || row.revokedAt || row.user.disabledAt) return null;
    return {
      userId: row.userId,
      email: row.user.email,
      role: row.user.role,
      via: 'api_key',
      credentialId: row.id,
    };
  }

  /**
   * The entry for `key` if it is younger than CACHE_TTL_MS; once it is REFRESH_AFTER_MS old, a
   * new read starts beside it (a failed one is tried again by the next use, and once the entry
   * has expired, requests wait for the read and see its error).
   */
  private usable(key: string, load: () => Promise<Principal | null>): Entry | undefined {
    const hit = this.cache.get(key);
    const age = hit ? this.now() - hit.at : Infinity;
    if (age >= CACHE_TTL_MS) return undefined;
    if (age >= REFRESH_AFTER_MS && !this.pending.has(key)) this.lookup(key, load).catch(() => {});
    return hit;
  }

  private async cached(
    key: string,
    options: { fresh?: boolean },
    load: () => Promise<Principal | null>,
  ): Promise<Principal | null> {
    if (options.fresh) {
      const generation = this.generation;
      const at = this.now();
      return this.store(key, at, generation, await load());
    }
    const hit = this.usable(key, load);
    if (hit) return hit.principal;
    return this.lookup(key, load);
  }

  /** Reads `key`, sharing a read of it already under way. */
  private lookup(key: string, load: () => Promise<Principal | null>): Promise<Principal | null> {
    let lookup = this.pending.get(key);
    if (!lookup) {
      const generation = this.generation;
      const at = this.now();
      const started = load().then((principal) => this.store(key, at, generation, principal));
      lookup = started.finally(() => {
        if (this.pending.get(key) === lookup) this.pending.delete(key);
      });
      this.pending.set(key, lookup);
    }
    return lookup;
  }

  private store(key: string, at: number, generation: number, principal: Principal | null) {
    if (generation !== this.generation) return principal;
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(key, { principal, at });
    return principal;
  }
}
