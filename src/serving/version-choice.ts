// Which version answers a request. Requests for `default` (or no model) go to the current traffic
// split's choice for the user (sticky for the life of the split), else to the active version.
// Naming a version is for ops and admins; users may name only what they would be served anyway
// (the active version, a version of the split) or a version ops opened to users. Versions nobody
// has asked for in a while are unloaded from the worker threads.
//
// The active version, the split and the versions requests named are one snapshot of this process,
// read again once it is REFRESH_MS old: a change made by any process takes effect everywhere within
// MAX_STALE_MS. A request finds them in memory: while a snapshot is at most MAX_STALE_MS old it is
// used as it is and a newer one is read beside the requests, so no request waits for the database
// to learn which version answers, except the first one after a quiet spell or a change made here.
// Reading it again first asks Postgres for a stamp of those rows (STAMP_SQL, one statement on the
// pg pool): when nothing changed, the snapshot held is aged afresh and its rows kept, and only a
// change costs the Prisma reads. Those three Prisma queries every second were 12-17 ms of CPU a
// second in the event loop that streams the answers, in turns of several milliseconds.
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import type { Db } from '../platform/db/client.ts';
import type { ModelVersion } from '../generated/prisma/client.ts';
import type { Principal } from '../platform/auth/principal.ts';
import { ROLE_GROUPS } from '../platform/auth/principal.ts';
import { AppError } from '../platform/errors/app-error.ts';
import { activeModelVersion } from './active-version.ts';
import { armAt, currentSplit, routingPoint, type SplitWithArms } from './traffic-split.ts';
import type { ServedModels } from './served-models.ts';

/** A snapshot this old is read again (beside the requests that still use it). */
export const REFRESH_MS = 1000;
/** A snapshot older than this is not used: requests wait for a new one. */
export const MAX_STALE_MS = 1500;
/** Named versions a snapshot keeps (a bound on what requests naming random models can make it hold). */
const NAMED_MAX = 100;

/**
 * A digest of every row a snapshot holds, whole: the active version, the current split and its
 * arms, the versions of its arms and the versions named ($1). Any change to any column of them
 * (an activation, a new or ended split, a version rejected or opened to users, new sampling
 * defaults) changes it. Read before the rows themselves, so a change made between the two reads
 * shows at the next stamp at worst, never goes unseen.
 */
export const STAMP_SQL = `SELECT md5(coalesce(string_agg(r, E'\\n' ORDER BY r), '')) AS stamp FROM (
  SELECT 'v' || v::text AS r FROM model_versions v
   WHERE v.status = 'active' OR v.name = ANY($1::text[])
      OR v.id IN (SELECT a.model_version_id FROM traffic_split_arms a
                    JOIN traffic_splits s ON s.id = a.split_id WHERE s.ended_at IS NULL)
  UNION ALL
  SELECT 's' || s::text FROM traffic_splits s WHERE s.ended_at IS NULL
  UNION ALL
  SELECT 'a' || a::text FROM traffic_split_arms a
    JOIN traffic_splits s ON s.id = a.split_id WHERE s.ended_at IS NULL
) AS held`;

export interface ServingState {
  active: ModelVersion | null;
  split: SplitWithArms | null;
}

/** Whether this role may name any version that is not rejected. */
export const mayNameAnyVersion = (principal: Pick<Principal, 'role'>): boolean =>
  (ROLE_GROUPS.operations as readonly string[]).includes(principal.role);

const modelNotFound = (name: string) =>
  new AppError('not_found', `The model '${name}' does not exist`, { param: 'model' });

/** What this process knows: the serving state and the versions requests named, read at `at`. */
interface Snapshot {
  value: ServingState;
  at: number;
  /** Versions looked up by name since the snapshot was read (re-read with the next one). */
  named: Map<string, ModelVersion>;
  /** STAMP_SQL as read just before the rows (over the names of `named` then). */
  stamp: string;
}

export class VersionChoice {
  private snapshot: Snapshot | null = null;
  private reading: Promise<Snapshot> | null = null;
  /** Bumped by invalidate(): a read that began before it must not become the snapshot. */
  private generation = 0;
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly served: Pick<ServedModels, 'modelServer'>,
    private readonly options: {
      idleUnloadMs: number;
      log?: Pick<FastifyBaseLogger, 'warn' | 'info'>;
      /** The clock snapshots are aged by (tests hold it still). */
      now?: () => number;
      /** Where the stamp is read (the API's pg pool); without it, through Prisma. */
      pool?: Pick<pg.Pool, 'query'>;
    },
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** The active version and the current split, as this process last read them. */
  async current(): Promise<ServingState> {
    return (await this.usable()).value;
  }

  /**
   * Starts reading a new snapshot once the one held is REFRESH_MS old (the plugin calls it on a
   * timer, so a burst after a quiet spell finds a young snapshot instead of waiting for one).
   */
  keepFresh(): Promise<unknown> {
    const snapshot = this.snapshot;
    if (snapshot && this.now() - snapshot.at <= REFRESH_MS) return Promise.resolve();
    // Quiet when the database is unreachable: requests then wait for the read and answer 503.
    return this.read().catch(() => undefined);
  }

  /** Forget what this process read (after it changed it), so the next request reads it again. */
  invalidate(): void {
    this.generation++;
    this.snapshot = null;
    this.reading = null;
  }

  /** The snapshot if young enough, reading a newer one beside it once it is REFRESH_MS old. */
  private async usable(): Promise<Snapshot> {
    const snapshot = this.snapshot;
    const age = snapshot ? this.now() - snapshot.at : Infinity;
    if (age <= REFRESH_MS) return snapshot!;
    const reading = this.read();
    if (age > MAX_STALE_MS) return reading;
    // A failed read in the background is tried again by the next request; once the snapshot is
    // MAX_STALE_MS old, requests wait for the read and see its error.
    reading.catch((err: unknown) =>
      this.options.log?.warn({ err }, 'could not read the serving state; using the last one'),
    );
    return snapshot!;
  }

  /** Reads a new snapshot now, not joining a read that may have begun before a change. */
  private async readNow(): Promise<Snapshot> {
    const generation = this.generation;
    const snapshot = await this.readSnapshot([...(this.snapshot?.named.keys() ?? [])]);
    if (generation === this.generation && (!this.snapshot || this.snapshot.at <= snapshot.at)) {
      this.snapshot = snapshot;
    }
    return snapshot;
  }

  /** Reads a new snapshot (one read at a time): the state and the versions the last one named. */
  private read(): Promise<Snapshot> {
    if (this.reading) return this.reading;
    const generation = this.generation;
    const names = [...(this.snapshot?.named.keys() ?? [])];
    const reading = this.readSnapshot(names).then((snapshot) => {
      if (generation === this.generation) this.snapshot = snapshot;
      return snapshot;
    });
    this.reading = reading;
    void reading
      .finally(() => {
        if (this.reading === reading) this.reading = null;
      })
      .catch(() => {});
    return reading;
  }

  private async readSnapshot(names: string[]): Promise<Snapshot> {
    const at = this.now();
    const held = this.snapshot;
    const stamp = await this.readStamp(names);
    // Nothing it holds changed: the same rows, young again (and the same objects, so what is
    // cached by version row stays warm).
    if (held && held.stamp === stamp) return { value: held.value, at, named: new Map(held.named), stamp };
    const [active, split, named] = await Promise.all([
      activeModelVersion(this.db),
      currentSplit(this.db),
      names.length > 0 ? this.db.modelVersion.findMany({ where: { name: { in: names } } }) : [],
    ]);
    return { value: { active, split }, at, named: new Map(named.map((v) => [v.name, v])), stamp };
  }

  private async readStamp(names: string[]): Promise<string> {
    const { pool } = this.options;
    const rows = pool
      ? (
          await pool.query<{ stamp: string }>({
            name: 'feedloop-serving-stamp',
            text: STAMP_SQL,
            values: [names],
          })
        ).rows
      : await this.db.$queryRawUnsafe<{ stamp: string }[]>(STAMP_SQL, names);
    return rows[0]!.stamp;
  }

  /** The version named `name` (rejected or not), as fresh as `snapshot`; null when none is. */
  private async named(snapshot: Snapshot, name: string): Promise<ModelVersion | null> {
    const known = snapshot.named.get(name);
    if (known) return known;
    const version = await this.db.modelVersion.findUnique({ where: { name } });
    // A name that does not exist is not remembered: a version registered a moment later is found.
    if (version && snapshot.named.size < NAMED_MAX) snapshot.named.set(name, version);
    return version;
  }

  /** The version `principal` gets for a request naming `requested` (absent or "default": routed). */
  async choose(principal: Principal, requested?: string): Promise<ModelVersion> {
    let snapshot = await this.usable();
    const routed = !requested || requested === 'default';
    if (routed && !snapshot.value.active && !snapshot.value.split?.arms.length) {
      // Nothing to route to in what this process read: the request would fail, so a first
      // activation made elsewhere (another API process, the gate in a worker) is read now instead
      // of up to MAX_STALE_MS later. Only failing requests pay for this read.
      snapshot = await this.readNow();
    }
    const { active, split } = snapshot.value;
    let version: ModelVersion;
    if (routed) {
      if (split && split.arms.length > 0) {
        version = armAt(split.arms, routingPoint(split.id, principal.userId)).modelVersion;
      } else if (active) {
        version = active;
      } else {
        throw new AppError('unavailable', 'No model version is active yet');
      }
      // A candidate of the split rejected since: it no longer answers.
      if (version.status === 'rejected') throw modelNotFound(version.name);
    } else {
      const named = await this.named(snapshot, requested);
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
    // Read now: a version activated a moment ago must not be unloaded.
    const { active, split } = (await this.read()).value;
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
