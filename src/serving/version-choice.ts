// Which version answers a request. Requests for `default` (or no model) go to the current traffic
// split's choice for the user (sticky for the life of the split), else to the active version.
// Naming a version is for ops and admins; users may name only what they would be served anyway
// (the active version, a version of the split) or a version ops opened to users. The active
// version and the split are re-read at most every REFRESH_MS, so a change made by any process takes
// effect everywhere within that. Versions nobody has asked for in a while are unloaded from the
// worker threads.
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';
import type { Principal } from '../platform/auth/principal.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { activeModelVersion } from './active-version.ts';
import { armAt, currentSplit, routingPoint, type SplitWithArms } from './traffic-split.ts';
import type { ServedModels } from './served-models.ts';

/** How stale this process's view of the active version and the split may be. */
export const REFRESH_MS = 1000;

export interface ServingState {
  active: ModelVersion | null;
  split: SplitWithArms | null;
}

/** Whether this role may name any version that is not rejected. */
export const mayNameAnyVersion = (principal: Pick<Principal, 'role'>): boolean =>
  (ROLE_GROUPS.operations as readonly string[]).includes(principal.role);

const modelNotFound = (name: string) =>
  new AppError('not_found', `The model '${name}' does not exist`, { param: 'model' });

export class VersionChoice {
  private state: { value: ServingState; at: number } | null = null;
  private refreshing: Promise<ServingState> | null = null;
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly served: Pick<ServedModels, 'modelServer'>,
    private readonly options: { idleUnloadMs: number; log?: Pick<FastifyBaseLogger, 'warn' | 'info'> },
  ) {}

  /** The active version and the current split, as this process last read them. */
  async current(): Promise<ServingState> {
    if (this.state && Date.now() - this.state.at <= REFRESH_MS) return this.state.value;
    this.refreshing ??= (async () => {
      try {
        const [active, split] = await Promise.all([activeModelVersion(this.db), currentSplit(this.db)]);
        const value = { active, split };
        this.state = { value, at: Date.now() };
        return value;
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Forget the cached state (after this process changed it), so the next request re-reads it. */
  invalidate(): void {
    this.state = null;
  }

  /** The version `principal` gets for a request naming `requested` (absent or "default": routed). */
  async choose(principal: Principal, requested?: string): Promise<ModelVersion> {
    const { active, split } = await this.current();
    let version: ModelVersion;
    if (!requested || requested === 'default') {
      if (split && split.arms.length > 0) {
        version = armAt(split.arms, routingPoint(split.id, principal.userId)).modelVersion;
      } else if (active) {
        version = active;
      } else {
        throw new AppError('unavailable', 'No model version is active yet');
      }
    } else {
      const named = await this.db.modelVersion.findUnique({ where: { name: requested } });
      if (!named || named.status === 'rejected' || !this.mayName(principal, named, { active, split })) {
        // The same answer as for a name that does not exist: users learn nothing of candidates.
        throw modelNotFound(requested);
      }
      version = named;
    }
    this.touch(version.id);
    return version;
  }

  /** Whether `principal` may ask for `version` by name. */
  mayName(principal: Principal, version: ModelVersion, state: ServingState): boolean {
    if (version.status === 'rejected') return false;
    if (mayNameAnyVersion(principal)) return true;
    return (
      version.openToUsers ||
      version.id === state.active?.id ||
      (state.split?.arms.some((arm) => arm.modelVersionId === version.id) ?? false)
    );
  }

  /** The versions `principal` may name, newest first (what /v1/models lists for them). */
  async nameable(principal: Principal): Promise<ModelVersion[]> {
    const state = await this.current();
    const versions = await this.db.modelVersion.findMany({
      where: { status: { in: ['active', 'candidate', 'retired'] } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    return versions.filter((v) => this.mayName(principal, v, state));
  }

  /**
   * The versions anyone may be served: the active one, the split's and those opened to users (the
   * arena draws its pairs from these).
   */
  async servedPool(): Promise<ModelVersion[]> {
    const { active, split } = await this.current();
    const opened = await this.db.modelVersion.findMany({
      where: { openToUsers: true, status: { not: 'rejected' } },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
    });
    const pool = new Map<string, ModelVersion>();
    for (const v of [active, ...(split?.arms.map((a) => a.modelVersion) ?? []), ...opened]) {
      if (v && v.status !== 'rejected') pool.set(v.id, v);
    }
    return [...pool.values()];
  }

  /** Marks a version as just asked for (the arena picks versions itself and reports them here). */
  touch(versionId: string): void {
    this.lastUsed.set(versionId, Date.now());
  }

  /**
   * Unloads from the worker threads every version nobody has asked for in idleUnloadMs, except the
   * active version and the split's. Returns the ids unloaded. Requests still running on one finish
   * on it (the worker keeps a version until its last request ends).
   */
  async unloadIdle(now = Date.now()): Promise<string[]> {
    if (this.options.idleUnloadMs <= 0) return [];
    this.invalidate();
    const { active, split } = await this.current();
    const kept = new Set([active?.id, ...(split?.arms.map((a) => a.modelVersionId) ?? [])]);
    const idle = [...this.lastUsed].filter(
      ([id, at]) => !kept.has(id) && now - at >= this.options.idleUnloadMs,
    );
    if (idle.length === 0) return [];
    // Only versions that were asked for are in lastUsed, so the pool already runs: this starts nothing.
    const server = await this.served.modelServer();
    const loaded = new Set(server.versions().map((v) => v.versionId));
    const unloaded: string[] = [];
    for (const [id, at] of idle) {
      // Asked for again while an earlier unload ran: keep it.
      if (this.lastUsed.get(id) !== at) continue;
      this.lastUsed.delete(id);
      if (!loaded.has(id)) continue;
      await server.unload(id);
      unloaded.push(id);
    }
    if (unloaded.length > 0) this.options.log?.info({ versionIds: unloaded }, 'unloaded idle model versions');
    return unloaded;
  }
}
