// What held the event loop: long turns seen by a 1 ms timer (each with how much of it the main
// thread ran and how much it waited for a core, from Linux's schedstat), garbage collections
// (PerformanceObserver 'gc'), moments named by the caller (a suspect's work starting or
// finishing), and the event-loop delay histogram. bench/event-loop-stalls.ts matches them up.
// All times are microseconds of the monotonic clock (process.hrtime), which V8's CPU profiles use
// too, so profile samples can be placed in the turns.
import { closeSync, openSync, readSync } from 'node:fs';
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';

export const nowUs = (): number => Number(process.hrtime.bigint() / 1000n);

export interface LongTurn {
  startUs: number;
  endUs: number;
  /** The main thread's CPU time during the turn (NaN without /proc). */
  ranMs: number;
  /** Time the main thread was runnable but waited for a core (another process had it). */
  waitedMs: number;
}

export interface GcPause {
  startUs: number;
  durationMs: number;
  kind: 'minor' | 'major' | 'incremental' | 'weakcb' | 'other';
}

const GC_KINDS: Record<number, GcPause['kind']> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

export interface Watch {
  /** Notes that `what` happened now (a suspect's work started or finished). */
  mark(what: string): void;
  stop(): WatchRecord;
}

export interface WatchRecord {
  startUs: number;
  endUs: number;
  longTurns: LongTurn[];
  gcPauses: GcPause[];
  marks: { what: string; atUs: number }[];
  delay: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Turns of the 1 ms timer: how often the loop came round. */
  ticks: number;
}

/** The main thread's [ran, waited] nanoseconds so far, or null where Linux's schedstat is missing. */
function schedstatReader(): { read(): [number, number] | null; close(): void } {
  let fd: number | null = null;
  try {
    fd = openSync(`/proc/self/task/${process.pid}/schedstat`, 'r');
  } catch {
    return { read: () => null, close: () => {} };
  }
  const buf = Buffer.alloc(128);
  return {
    read: () => {
      const n = readSync(fd!, buf, 0, buf.length, 0);
      const [ran, waited] = buf.toString('latin1', 0, n).split(' ');
      return [Number(ran), Number(waited)];
    },
    close: () => closeSync(fd!),
  };
}

/** Starts watching the event loop; a turn longer than `thresholdMs` is a long turn. */
export function watchEventLoop(thresholdMs: number): Watch {
  const startUs = nowUs();
  // performance.now() is hrtime less a fixed origin: this converts GC entries' times.
  const perfOriginUs = nowUs() - performance.now() * 1000;
  const longTurns: LongTurn[] = [];
  const gcPauses: GcPause[] = [];
  const marks: { what: string; atUs: number }[] = [];
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
      gcPauses.push({
        startUs: perfOriginUs + entry.startTime * 1000,
        durationMs: entry.duration,
        kind: GC_KINDS[kind] ?? 'other',
      });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const schedstat = schedstatReader();
  let lastUs = nowUs();
  let lastSched = schedstat.read();
  let ticks = 0;
  const timer = setInterval(() => {
    const at = nowUs();
    const sched = schedstat.read();
    ticks++;
    if (at - lastUs > thresholdMs * 1000) {
      longTurns.push({
        startUs: lastUs,
        endUs: at,
        ranMs: sched && lastSched ? (sched[0] - lastSched[0]) / 1e6 : NaN,
        waitedMs: sched && lastSched ? (sched[1] - lastSched[1]) / 1e6 : NaN,
      });
    }
    lastUs = at;
    lastSched = sched;
  }, 1);
  return {
    mark: (what) => marks.push({ what, atUs: nowUs() }),
    stop: () => {
      clearInterval(timer);
      histogram.disable();
      observer.disconnect();
      schedstat.close();
      const ms = (ns: number) => Math.round(ns / 1e4) / 100;
      return {
        startUs,
        endUs: nowUs(),
        longTurns,
        gcPauses,
        marks,
        delay: {
          p50Ms: ms(histogram.percentile(50)),
          p99Ms: ms(histogram.percentile(99)),
          maxMs: ms(histogram.max),
        },
        ticks,
      };
    },
  };
}
