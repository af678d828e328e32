// CPU that feedloop spends on one streamed completion of an upstream version, by phase: from the
// request's arrival until its handler starts (hooks, body), until the upstream request is sent,
// then until the answer's first token is
// written to the client (the upstream's reply read, the stream opened), then the rest (later
// tokens, the answer stored, the stream ended). Requests run one at a time, so each phase's
// process.cpuUsage is that request's alone; the upstream (bench/fixed-rate-upstream.ts) and the
// client (bench/sequential-stream-client.ts) are child processes, so neither is counted. Postgres
// and Redis are other processes too: their round trips cost time, not this process's CPU.
// CPU counts stand the load of other processes better than wall times, but not entirely (a busy
// machine means colder caches); compare runs made in one sitting.
//   npx tsx bench/upstream-request-cpu.ts [--requests 300] [--warm-up 150] [--max-tokens 4]
//     [--profile out.cpuprofile]   a V8 CPU profile of the measured requests, summarised on stderr
//                                   (the profiler's own cost makes that run's figures higher)
//     [--log-level info]           the server's log level (default warn; `info` logs each request
//                                   twice on stdout, before the result line)
import { subscribe } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Profiler } from 'node:inspector';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { serveUpstream, startBenchApp } from './bench-app.ts';
import { endChild, forkBenchChild, nextMessage } from './bench-child.ts';
import type { SequentialJob } from './sequential-stream-client.ts';

const { values: args } = parseArgs({
  options: {
    requests: { type: 'string', default: '300' },
    'warm-up': { type: 'string', default: '150' },
    'max-tokens': { type: 'string', default: '4' },
    profile: { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
  },
});
const REQUESTS = Number(args.requests);
const WARM_UP = Number(args['warm-up']);
const MAX_TOKENS = Number(args['max-tokens']);
/** How long the process is watched doing nothing, for its background work (timers, snapshot reads). */
const IDLE_MS = 3000;

const cpuNow = (): number => {
  const { user, system } = process.cpuUsage();
  return user + system;
};

/** CPU microseconds at each mark of the request in flight (there is one at a time). */
interface Marks {
  arrived: number;
  /** Hooks run (authentication, rate limit), the body read and validated. */
  handlerStarted?: number;
  upstreamSent?: number;
  firstTokenWritten?: number;
  finished?: number;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

/** Self time of a V8 CPU profile by function and by where the code lives, the largest first. */
function summariseProfile(profile: Profiler.Profile): {
  functions: [string, number][];
  places: [string, number][];
} {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const functions = new Map<string, number>();
  const places = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us);
  (profile.samples ?? []).forEach((id, i) => {
    const us = profile.timeDeltas?.[i + 1] ?? 0;
    const frame = byId.get(id)!;
    const url = frame.url.replace(/^file:\/\//, '');
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const place =
      pkg ?? (url.includes('/src/') ? url.slice(url.indexOf('/src/') + 1) : url || frame.functionName);
    add(places, place, us);
    add(functions, `${frame.functionName || '(anonymous)'} ${place}:${frame.lineNumber + 1}`, us);
  });
  const top = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]).slice(0, 25);
  return { functions: top(functions), places: top(places) };
}

const upstream = forkBenchChild(new URL('./fixed-rate-upstream.ts', import.meta.url));
const client = forkBenchChild(new URL('./sequential-stream-client.ts', import.meta.url));
const front = await startBenchApp('cpu', { baseModel: false, env: { LOG_LEVEL: args['log-level'] } });
try {
  const { baseUrl } = await nextMessage<{ baseUrl: string }>(upstream);
  await serveUpstream(front, { name: 'bench-upstream', baseUrl, model: 'fixed-rate' });

  let current: Marks | null = null;
  const done: Marks[] = [];
  front.app.server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || !req.url?.startsWith('/v1/chat/completions')) return;
    const marks: Marks = { arrived: cpuNow() };
    current = marks;
    // The stream's first write is the role chunk, its second the first token.
    let writes = 0;
    const write = res.write.bind(res) as (...a: unknown[]) => boolean;
    res.write = ((...a: unknown[]) => {
      const ok = write(...a);
      if (++writes === 2) marks.firstTokenWritten = cpuNow();
      return ok;
    }) as typeof res.write;
    res.once('finish', () => {
      marks.finished = cpuNow();
      done.push(marks);
      current = null;
    });
  });
  subscribe('tracing:fastify.request.handler:start', () => {
    if (current && current.handlerStarted === undefined) current.handlerStarted = cpuNow();
  });
  subscribe('undici:request:bodySent', () => {
    if (current && current.upstreamSent === undefined) current.upstreamSent = cpuNow();
  });

  const run = async (requests: number) => {
    const answer = nextMessage<{ answers: number } | { error: string }>(client);
    const job: SequentialJob = {
      baseUrl: `${front.url}/v1`,
      apiKey: front.apiKey,
      model: 'bench-upstream',
      requests,
      maxTokens: MAX_TOKENS,
    };
    client.send(job);
    const reply = await answer;
    if ('error' in reply) throw new Error(`the client failed: ${reply.error}`);
  };

  await run(WARM_UP);
  const idleFrom = cpuNow();
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  const idleUsPerS = ((cpuNow() - idleFrom) / IDLE_MS) * 1000;

  done.length = 0;
  const session = new Session();
  if (args.profile) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }
  const began = performance.now();
  const from = cpuNow();
  await run(REQUESTS);
  const totalUs = cpuNow() - from;
  const seconds = (performance.now() - began) / 1000;
  if (args.profile) {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    writeFileSync(args.profile, JSON.stringify(profile));
    const { functions, places } = summariseProfile(profile);
    const ms = (us: number) => (us / 1000).toFixed(1).padStart(8);
    process.stderr.write(`profile of ${REQUESTS} requests (${args.profile}), self time in ms:\n`);
    for (const [place, us] of places) process.stderr.write(`${ms(us)}  ${place}\n`);
    process.stderr.write('\n');
    for (const [fn, us] of functions) process.stderr.write(`${ms(us)}  ${fn}\n`);
  }

  const complete = done.filter(
    (m): m is Required<Marks> =>
      m.handlerStarted !== undefined && m.upstreamSent !== undefined && m.firstTokenWritten !== undefined,
  );
  if (complete.length !== REQUESTS) throw new Error(`${complete.length} of ${REQUESTS} requests were timed`);
  const phase = (f: (m: Required<Marks>) => number) => {
    const us = complete.map(f);
    return { mean: Math.round(mean(us)), median: Math.round(median(us)) };
  };
  const result = {
    bench: 'upstream-request-cpu',
    profiled: Boolean(args.profile),
    log_level: args['log-level'],
    requests: REQUESTS,
    max_tokens: MAX_TOKENS,
    wall_s: Math.round(seconds * 10) / 10,
    load_average_1m: (await import('node:os')).loadavg()[0]!.toFixed(2),
    cpu_us_to_handler: phase((m) => m.handlerStarted - m.arrived),
    cpu_us_handler_to_upstream_sent: phase((m) => m.upstreamSent - m.handlerStarted),
    cpu_us_to_upstream_sent: phase((m) => m.upstreamSent - m.arrived),
    cpu_us_upstream_sent_to_first_token_written: phase((m) => m.firstTokenWritten - m.upstreamSent),
    cpu_us_to_first_token_written: phase((m) => m.firstTokenWritten - m.arrived),
    cpu_us_after_first_token: phase((m) => m.finished - m.firstTokenWritten),
    cpu_us_per_request: Math.round(totalUs / REQUESTS),
    idle_cpu_us_per_s: Math.round(idleUsPerS),
    cpu_us_per_request_less_idle: Math.round((totalUs - idleUsPerS * seconds) / REQUESTS),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  await front.close();
  await endChild(client);
  await endChild(upstream);
}
