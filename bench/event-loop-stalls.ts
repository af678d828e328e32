// Which work holds feedloop's event loop for long turns while it serves steady streams from an
// upstream (issue 15: about one first token in fifty waited 10-25 ms behind other work). Runs the
// feedloop under test in this process against bench/fixed-rate-upstream.ts (a child), with the
// client (bench/steady-stream-client.ts, a child) keeping N streams in flight and, unless
// --no-events, posting feedback events back to back as bench:serving's probe does. While the
// measured load runs it records (bench/event-loop-watch.ts) every turn longer than --threshold-ms,
// every GC pause, and when the suspects' work starts and finishes: the serving-state refresh
// (VersionChoice.readSnapshot), Prisma queries, the message stores (raw pg), the event writer's
// flushes; with --profile, a V8 CPU profile whose samples are placed in the long turns.
// It reports counts and ratios (long turns per 1000 first tokens, what each coincided with), which
// stand a shared machine better than latencies; the delays themselves still grow with its load.
//   npx tsx bench/event-loop-stalls.ts [--streams 64] [--requests-per-stream 16] [--max-tokens 64]
//     [--threshold-ms 8] [--no-events] [--no-refresh | --full-refresh] [--idle-s 5]
//     [--profile out.cpuprofile] [--sampling-us 500] [--allocations] [--list 20]
// --list: the longest turns, one JSON line each on stderr. A turn's `ranMs` is the main thread's
// time on a core, `waitedMs` its wait for one (another process had it), `blockedMs` the rest (a
// GC waiting for its helper threads); "own long" turns are those that ran past the threshold.
// --allocations: V8's sampling heap profiler over the measured load, every allocation counted
// (also those the GC collected since): which code fills the young generation, so what the
// scavenges' frequency comes from; also per token chunk written to the clients (all the load's
// allocation, the event probe's too, over the tokens).
// --no-refresh holds the serving state this process read once (no reads for the run): the refresh's
// share, by ablation. --full-refresh makes every refresh read all the rows again, as before the
// stamp (src/serving/version-choice.ts's STAMP_SQL) let an unchanged state skip them. Before the
// load the app is watched idle for --idle-s seconds: its CPU then is mostly the refresh's.
// V8 flags go before the script: node --max-semi-space-size=32 --import tsx bench/event-loop-stalls.ts
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HeapProfiler, Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { STAMP_SQL, VersionChoice } from '../src/serving/version-choice.ts';
import { EventWriter } from '../src/feedback/events/event-writer.ts';
import { serveUpstream, startBenchApp } from './bench-app.ts';
import { endChild, forkBenchChild, nextMessage } from './bench-child.ts';
import { FIRST_TOKEN_MS, TOKEN_MS } from './fixed-rate-upstream.ts';
import { percentile } from './percentile.ts';
import { cpuAccountingAvailable, cpuSnapshot, describeCpu } from './cpu.ts';
import type { SteadyAnswer, SteadyJob } from './steady-stream-client.ts';
import { nowUs, watchEventLoop, type Watch, type WatchRecord } from './event-loop-watch.ts';

const { values: args } = parseArgs({
  options: {
    streams: { type: 'string', default: '64' },
    'requests-per-stream': { type: 'string', default: '16' },
    'max-tokens': { type: 'string', default: '64' },
    'threshold-ms': { type: 'string', default: '8' },
    'no-events': { type: 'boolean', default: false },
    'no-refresh': { type: 'boolean', default: false },
    'full-refresh': { type: 'boolean', default: false },
    'idle-s': { type: 'string', default: '5' },
    profile: { type: 'string' },
    'sampling-us': { type: 'string', default: '500' },
    allocations: { type: 'boolean', default: false },
    list: { type: 'string', default: '20' },
  },
});
const STREAMS = Number(args.streams);
const MAX_TOKENS = Number(args['max-tokens']);
const THRESHOLD_MS = Number(args['threshold-ms']);
/** A first token written this soon after a long turn ended most likely waited behind it. */
const AFTER_TURN_US = 5000;

/** The watch in force: the suspects' wrappers note into it. */
let watch: Watch | null = null;
const mark = (what: string) => watch?.mark(what);

/** Marks `what:start` and `what:end` around each call of `object[method]` (a promise-returning method). */
function timeCalls(object: object, method: string, what: string): void {
  const target = object as Record<string, (...a: unknown[]) => unknown>;
  const original = target[method]!;
  target[method] = function (this: unknown, ...a: unknown[]) {
    mark(`${what}:start`);
    const result = original.apply(this, a);
    if (result instanceof Promise) void result.finally(() => mark(`${what}:end`)).catch(() => {});
    else mark(`${what}:end`);
    return result;
  };
}

/** Queries on the main pool: Prisma's (its adapter asks for array rows), the serving-state stamp and the raw stores'. */
function timePool(pool: pg.Pool): void {
  const original = pool.query.bind(pool) as (...a: unknown[]) => unknown;
  (pool as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    const query = a[0] as { rowMode?: string; text?: string };
    const what = query.rowMode === 'array' ? 'prisma' : query.text === STAMP_SQL ? 'stamp' : 'store';
    mark(`${what}:start`);
    const result = original(...a);
    if (result instanceof Promise) void result.finally(() => mark(`${what}:end`)).catch(() => {});
    return result;
  };
}

/** Where a profile sample's code lives: a package, a file of src/ or bench/, or V8's own label. */
function placeOf(frame: Profiler.ProfileNode['callFrame']): string {
  const url = frame.url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) return pkg;
  const own = /\/((?:src|bench)\/.*)$/.exec(url)?.[1];
  if (own) return own;
  if (url.startsWith('node:')) return url;
  return frame.functionName || '(native)';
}

interface Sample {
  atUs: number;
  /** The leaf frame's place. */
  leaf: string;
  /** The nearest frame of feedloop's own code (src/), or the leaf's place. */
  owner: string;
}

function profileSamples(profile: Profiler.Profile): Sample[] {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const ownerOf = new Map<number, string>();
  const owner = (id: number): string => {
    const known = ownerOf.get(id);
    if (known) return known;
    let found: string | null = null;
    for (let at: number | undefined = id; at !== undefined && !found; at = parent.get(at)) {
      const place = placeOf(nodes.get(at)!.callFrame);
      if (place.startsWith('src/')) found = place;
    }
    const result = found ?? placeOf(nodes.get(id)!.callFrame);
    ownerOf.set(id, result);
    return result;
  };
  const samples: Sample[] = [];
  let at = profile.startTime;
  (profile.samples ?? []).forEach((id, i) => {
    at += profile.timeDeltas?.[i] ?? 0;
    samples.push({ atUs: at, leaf: placeOf(nodes.get(id)!.callFrame), owner: owner(id) });
  });
  return samples;
}

/** Allocated MB per second by where the code lives (the leaf) and by feedloop's nearest frame. */
function allocationSummary(profile: HeapProfiler.SamplingHeapProfile, seconds: number, tokens: number) {
  const byLeaf = new Map<string, number>();
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const walk = (node: HeapProfiler.SamplingHeapProfileNode, owner: string | null) => {
    const place = placeOf(node.callFrame);
    const here = place.startsWith('src/') ? place : owner;
    if (node.selfSize > 0) {
      count(byLeaf, place, node.selfSize);
      count(byOwner, here ?? place, node.selfSize);
      count(
        byFunction,
        `${node.callFrame.functionName || '(anonymous)'} ${place}:${node.callFrame.lineNumber + 1}`,
        node.selfSize,
      );
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, null);
  const mbPerS = (map: Map<string, number>) =>
    Object.fromEntries(
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map(([k, bytes]) => [k, Math.round((bytes / 1e6 / seconds) * 100) / 100]),
    );
  const total = [...byLeaf.values()].reduce((sum, b) => sum + b, 0);
  const perToken = (map: Map<string, number>) =>
    Object.fromEntries(
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 15)
        .map(([k, bytes]) => [k, Math.round(bytes / tokens)]),
    );
  return {
    allocated_mb_per_s: Math.round((total / 1e6 / seconds) * 10) / 10,
    tokens_written_per_s: Math.round(tokens / seconds),
    allocated_bytes_per_token: Math.round(total / tokens),
    bytes_per_token_by_owner: perToken(byOwner),
    by_leaf: mbPerS(byLeaf),
    by_owner: mbPerS(byOwner),
    by_function: mbPerS(byFunction),
  };
}

const count = <K>(map: Map<K, number>, key: K, by = 1) => map.set(key, (map.get(key) ?? 0) + by);
const top = (map: Map<string, number>, n: number) =>
  Object.fromEntries([...map].sort((a, b) => b[1] - a[1]).slice(0, n));
const round1 = (x: number) => Math.round(x * 10) / 10;

/** What each long turn coincided with, and the totals. */
function attribute(record: WatchRecord, firstTokensUs: number[], samples: Sample[] | null) {
  const suspects = ['refresh', 'stamp', 'prisma', 'store', 'events', 'event-request', 'completion-request'];
  const byLabel = new Map<string, number>();
  const ownLongByLabel = new Map<string, number>();
  /** What happened in [fromUs, toUs]: the suspects' marks, and GC pauses that began then. */
  const labelsIn = (fromUs: number, toUs: number) => {
    const labels = new Set<string>();
    for (const m of record.marks) {
      if (m.atUs >= fromUs && m.atUs <= toUs) labels.add(m.what.split(':')[0]!);
    }
    const gcs = record.gcPauses.filter((g) => g.startUs >= fromUs && g.startUs <= toUs);
    for (const g of gcs) labels.add(`gc-${g.kind}`);
    return { labels, gcMs: gcs.reduce((sum, g) => sum + g.durationMs, 0) };
  };
  // A suspect busy all the time falls in most windows by chance: each own long turn is compared
  // with a window as long at a random moment of the run (a fixed sequence, so runs compare).
  let seed = 1;
  const random = () => ((seed = (seed * 48271) % 2147483647) - 1) / 2147483646;
  const ownLongChance = new Map<string, number>();
  const turns = record.longTurns.map((turn) => {
    const { labels, gcMs } = labelsIn(turn.startUs, turn.endUs);
    const ms = (turn.endUs - turn.startUs) / 1000;
    if (turn.waitedMs > ms / 2) labels.add('descheduled');
    // The main thread was on a core past the threshold: the turn's own work made it long, whatever
    // the machine's load (which adds the waits for a core, and the blocked time of a GC waiting
    // for its helper threads, to the others).
    const ownLong = turn.ranMs >= THRESHOLD_MS;
    for (const l of labels) count(byLabel, l);
    if (ownLong) {
      for (const l of labels) count(ownLongByLabel, l);
      const length = turn.endUs - turn.startUs;
      const from = record.startUs + random() * (record.endUs - record.startUs - length);
      for (const l of labelsIn(from, from + length).labels) count(ownLongChance, l);
    }
    const leaves = new Map<string, number>();
    const owners = new Map<string, number>();
    for (const s of samples ?? []) {
      if (s.atUs < turn.startUs || s.atUs > turn.endUs) continue;
      count(leaves, s.leaf);
      count(owners, s.owner);
    }
    return {
      ownLong,
      atS: round1((turn.startUs - record.startUs) / 1e6),
      ms: round1(ms),
      ranMs: round1(turn.ranMs),
      waitedMs: round1(turn.waitedMs),
      blockedMs: round1(ms - turn.ranMs - turn.waitedMs),
      gcMs: round1(gcMs),
      labels: [...labels].sort(),
      ...(samples ? { leaves: top(leaves, 3), owners: top(owners, 3) } : {}),
    };
  });
  // Samples inside the turns this process made long, by place, against all
  // samples of the run.
  const ownLongTurns = record.longTurns.filter(
    (t) => (t.endUs - t.startUs) / 1000 - t.waitedMs > THRESHOLD_MS,
  );
  let profileSummary = null;
  if (samples) {
    const inTurns = { leaf: new Map<string, number>(), owner: new Map<string, number>() };
    const all = { leaf: new Map<string, number>(), owner: new Map<string, number>() };
    for (const s of samples) {
      count(all.leaf, s.leaf);
      count(all.owner, s.owner);
      if (ownLongTurns.some((t) => s.atUs >= t.startUs && s.atUs <= t.endUs)) {
        count(inTurns.leaf, s.leaf);
        count(inTurns.owner, s.owner);
      }
    }
    profileSummary = {
      samples_in_own_long_turns_by_leaf: top(inTurns.leaf, 15),
      samples_in_own_long_turns_by_owner: top(inTurns.owner, 15),
      samples_by_leaf: top(all.leaf, 15),
      samples_by_owner: top(all.owner, 15),
    };
  }
  // First tokens written during a long turn or within AFTER_TURN_US of its end.
  const behind = (ts: typeof record.longTurns) =>
    firstTokensUs.filter((at) => ts.some((t) => at >= t.startUs && at <= t.endUs + AFTER_TURN_US)).length;
  const behindTurn = behind(record.longTurns);
  const behindOwnLong = behind(ownLongTurns);
  // First tokens written during a GC pause of at least the threshold or within AFTER_TURN_US after.
  const behindGc = firstTokensUs.filter((at) =>
    record.gcPauses.some(
      (g) =>
        g.durationMs >= THRESHOLD_MS &&
        at >= g.startUs &&
        at <= g.startUs + g.durationMs * 1000 + AFTER_TURN_US,
    ),
  ).length;
  // What the long turn a first token came after coincided with: the first tokens' view.
  const behindByLabel = new Map<string, number>();
  for (const at of firstTokensUs) {
    const i = record.longTurns.findLastIndex((t) => at >= t.startUs && at <= t.endUs + AFTER_TURN_US);
    if (i >= 0) for (const l of turns[i]!.labels) count(behindByLabel, l);
  }
  // How often a suspect's mark falls in any turn of the run, for comparison (a suspect busy all
  // the time coincides with long turns by chance).
  const seconds = (record.endUs - record.startUs) / 1e6;
  const marksPerS = Object.fromEntries(
    suspects.map((s) => [s, round1(record.marks.filter((m) => m.what.startsWith(s)).length / seconds)]),
  );
  return {
    turns,
    byLabel,
    ownLongByLabel,
    ownLongChance,
    behindTurn,
    behindOwnLong,
    behindByLabel,
    behindGc,
    marksPerS,
    profileSummary,
    suspects,
  };
}

const upstream = forkBenchChild(new URL('./fixed-rate-upstream.ts', import.meta.url));
const client = forkBenchChild(new URL('./steady-stream-client.ts', import.meta.url));
const front = await startBenchApp('stalls', { baseModel: false });
try {
  const { baseUrl } = await nextMessage<{ baseUrl: string }>(upstream);
  await serveUpstream(front, { name: 'bench-upstream', baseUrl, model: 'fixed-rate' });
  if (args['no-refresh']) {
    // The snapshot read next never ages: no request and no timer reads the state again.
    await front.app.versionChoice.current();
    Object.assign((front.app.versionChoice as unknown as { options: object }).options, { now: () => 0 });
    front.app.versionChoice.invalidate();
    await front.app.versionChoice.current();
  }

  if (args['full-refresh']) {
    // A stamp that never matches: every refresh reads the rows again.
    let reads = 0;
    const proto = VersionChoice.prototype as unknown as { readStamp: (names: string[]) => Promise<string> };
    const readStamp = proto.readStamp;
    proto.readStamp = async function (this: unknown, names: string[]) {
      return `${await readStamp.call(this, names)}:${++reads}`;
    };
  }
  timeCalls(VersionChoice.prototype, 'readSnapshot', 'refresh');
  timeCalls(EventWriter.prototype, 'flush', 'events');
  timePool(front.app.db.pool);
  const firstTokensUs: number[] = [];
  // Token chunks written to the clients during the measured load (not the role, last or [DONE] chunks).
  let tokensWritten = 0;
  front.app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === 'POST' && req.url?.startsWith('/v1/events')) return mark('event-request');
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/chat/completions')) return;
    mark('completion-request');
    // The stream's first write is the role chunk, its second the first token.
    let writes = 0;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((...a: unknown[]) => {
      if (++writes === 2 && watch) firstTokensUs.push(nowUs());
      if (writes > 1 && watch && typeof a[0] === 'string' && a[0].includes('{"content":')) tokensWritten++;
      return write(...a);
    }) as typeof res.write;
  });

  const answerMs = FIRST_TOKEN_MS + (MAX_TOKENS - 1) * TOKEN_MS;
  const run = async (requestsPerStream: number, idPrefix: string) => {
    const answer = nextMessage<SteadyAnswer | { error: string }>(client);
    const job: SteadyJob = {
      baseUrl: `${front.url}/v1`,
      apiKey: front.apiKey,
      model: 'bench-upstream',
      streams: STREAMS,
      maxTokens: MAX_TOKENS,
      answerMs,
      requestsPerStream,
      ingestion: args['no-events'] ? null : { baseUrl: front.url, messageId: front.messageId, idPrefix },
    };
    client.send(job);
    const reply = await answer;
    if ('error' in reply) throw new Error(`the client failed: ${reply.error}`);
    return reply;
  };

  await run(2, 'warm-up');
  // Idle: the timers' work, the refresh's above all (without the 1 ms timer, which costs more).
  const idleMarks: string[] = [];
  watch = { mark: (what) => idleMarks.push(what), stop: () => ({}) as WatchRecord };
  const idleFrom = process.cpuUsage();
  const idleStarted = performance.now();
  await new Promise((resolve) => setTimeout(resolve, Number(args['idle-s']) * 1000));
  const idleCpu = process.cpuUsage(idleFrom);
  const idleSeconds = (performance.now() - idleStarted) / 1000;
  watch = null;
  const idle = {
    cpu_ms_per_s: round1((idleCpu.user + idleCpu.system) / 1000 / idleSeconds),
    refreshes_per_s: round1(idleMarks.filter((m) => m === 'refresh:start').length / idleSeconds),
    prisma_queries_per_s: round1(idleMarks.filter((m) => m === 'prisma:start').length / idleSeconds),
  };
  const session = new Session();
  if (args.profile || args.allocations) session.connect();
  if (args.allocations) {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 16384,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  if (args.profile) {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: Number(args['sampling-us']) });
    await session.post('Profiler.start');
  }
  watch = watchEventLoop(THRESHOLD_MS);
  const cpuFrom = process.cpuUsage();
  const machineFrom = cpuAccountingAvailable ? cpuSnapshot() : null;
  const answer = await run(Number(args['requests-per-stream']), 'measured');
  const cpu = process.cpuUsage(cpuFrom);
  // The client and the upstream are children: "other processes" counts them with the machine's
  // other users.
  const machineTo = machineFrom ? cpuSnapshot() : null;
  const childCores = (pid: number | undefined) =>
    machineFrom && machineTo && pid
      ? Math.round(
          ((machineTo.processes.get(pid)!.ms - (machineFrom.processes.get(pid)?.ms ?? 0)) /
            (machineTo.at - machineFrom.at)) *
            100,
        ) / 100
      : null;
  const machine = machineFrom
    ? `${describeCpu(machineFrom, machineTo!, firstTokensUs.length)} (of which the client ${childCores(client.pid)}, the upstream ${childCores(upstream.pid)} cores)`
    : 'n/a';
  const record = watch.stop();
  watch = null;
  let samples: Sample[] | null = null;
  let allocations = null;
  if (args.allocations) {
    const { profile } = await session.post('HeapProfiler.stopSampling');
    allocations = allocationSummary(profile, (record.endUs - record.startUs) / 1e6, tokensWritten);
  }
  if (args.profile) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(args.profile, JSON.stringify(profile));
    samples = profileSamples(profile);
  }

  const {
    turns,
    byLabel,
    ownLongByLabel,
    ownLongChance,
    behindTurn,
    behindOwnLong,
    behindByLabel,
    behindGc,
    marksPerS,
    profileSummary,
  } = attribute(record, firstTokensUs, samples);
  const seconds = (record.endUs - record.startUs) / 1e6;
  const perThousand = (n: number) => round1((n / firstTokensUs.length) * 1000);
  const gcBy = new Map<string, { count: number; ms: number; maxMs: number; over8: number }>();
  for (const g of record.gcPauses) {
    const s = gcBy.get(g.kind) ?? { count: 0, ms: 0, maxMs: 0, over8: 0 };
    s.count++;
    s.ms += g.durationMs;
    s.maxMs = Math.max(s.maxMs, g.durationMs);
    if (g.durationMs > THRESHOLD_MS) s.over8++;
    gcBy.set(g.kind, s);
  }
  const list = Number(args.list);
  for (const t of [...turns].sort((a, b) => b.ms - a.ms).slice(0, list)) {
    process.stderr.write(`${JSON.stringify(t)}\n`);
  }
  if (profileSummary) process.stderr.write(`${JSON.stringify(profileSummary, null, 1)}\n`);
  if (allocations) process.stderr.write(`${JSON.stringify(allocations, null, 1)}\n`);
  const result = {
    bench: 'event-loop-stalls',
    streams: STREAMS,
    events: !args['no-events'],
    refresh: args['no-refresh'] ? 'none' : args['full-refresh'] ? 'full' : 'stamp',
    idle,
    profiled: Boolean(args.profile),
    exec_argv: process.execArgv.filter((a) => a.startsWith('--max') || a.startsWith('--min')),
    seconds: round1(seconds),
    load_average_1m: loadavg()[0]!.toFixed(2),
    cpu_cores: Math.round(((cpu.user + cpu.system) / 1e6 / seconds) * 100) / 100,
    machine_cpu: machine,
    first_tokens: firstTokensUs.length,
    events_posted: answer.ingestMs.length,
    threshold_ms: THRESHOLD_MS,
    long_turns: turns.length,
    long_turns_per_1000_first_tokens: perThousand(turns.length),
    first_tokens_behind_a_long_turn_per_1000: perThousand(behindTurn),
    first_tokens_behind_a_gc_pause_over_threshold_per_1000: perThousand(behindGc),
    first_tokens_behind_a_long_turn_by_label: Object.fromEntries(
      [...behindByLabel].sort((a, b) => b[1] - a[1]),
    ),
    long_turns_coinciding_with: Object.fromEntries([...byLabel].sort((a, b) => b[1] - a[1])),
    // Turns in which the main thread ran (was on a core) for at least the threshold.
    own_long_turns: turns.filter((t) => t.ownLong).length,
    own_long_turns_per_1000_first_tokens: perThousand(turns.filter((t) => t.ownLong).length),
    first_tokens_behind_an_own_long_turn_per_1000: perThousand(behindOwnLong),
    own_long_turns_coinciding_with: Object.fromEntries([...ownLongByLabel].sort((a, b) => b[1] - a[1])),
    // As many windows as long, at random moments: how often each label falls in one by chance.
    random_windows_coinciding_with: Object.fromEntries([...ownLongChance].sort((a, b) => b[1] - a[1])),
    suspect_marks_per_s: marksPerS,
    long_turn_ms: {
      p50: round1(
        percentile(
          turns.map((t) => t.ms),
          50,
        ),
      ),
      max: round1(Math.max(0, ...turns.map((t) => t.ms))),
    },
    gc: Object.fromEntries(
      [...gcBy].map(([k, s]) => [
        k,
        { count: s.count, ms: round1(s.ms), max_ms: round1(s.maxMs), over_threshold: s.over8 },
      ]),
    ),
    loop_delay_ms: record.delay,
    timer_ticks_per_s: Math.round(record.ticks / seconds),
    client_ttft_ms: {
      p50: round1(percentile(answer.ttftMs, 50)),
      p99: round1(percentile(answer.ttftMs, 99)),
    },
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await front.close();
  await endChild(client);
  await endChild(upstream);
}
