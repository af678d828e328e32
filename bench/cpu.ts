// CPU accounting for bench/ingest.ts (Linux /proc): how much CPU the server, Postgres and Redis
// used during a phase, and how much went to other user processes. On a shared 2-core machine a
// busy neighbour changes the figures a lot; this line says when that happened. Also the CPU model
// every benchmark prints.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cpus } from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on Linux

interface ProcessCpu {
  command: string;
  ms: number;
}

export interface CpuSnapshot {
  at: number;
  /** CPU ms so far of every user-space process, by pid. */
  processes: Map<number, ProcessCpu>;
}

export const cpuAccountingAvailable = existsSync('/proc/self/stat');

export function cpuSnapshot(): CpuSnapshot {
  const processes = new Map<number, ProcessCpu>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (fields[1] === '2' || entry === '2') continue; // kernel threads
      processes.set(Number(entry), { command, ms: (Number(fields[11]) + Number(fields[12])) * TICK_MS });
    } catch {
      // the process ended meanwhile
    }
  }
  return { at: performance.now(), processes };
}

/**
 * Cores used during the phase by this process (the server, or the ceiling's client), Postgres,
 * Redis and the load generator (which has exited: `loadGeneratorMs` is its own count), and by every
 * other user process.
 * Postgres backends that ended during the phase are not counted.
 */
export function describeCpu(
  before: CpuSnapshot,
  after: CpuSnapshot,
  events: number,
  options: { loadGeneratorMs?: number; self?: string } = {},
): string {
  const self = options.self ?? 'server';
  const parts: Record<string, number> = { [self]: 0, postgres: 0, redis: 0 };
  if (options.loadGeneratorMs !== undefined) parts['load generator'] = options.loadGeneratorMs;
  let others = 0;
  for (const [pid, now] of after.processes) {
    const used = now.ms - (before.processes.get(pid)?.ms ?? 0);
    if (pid === process.pid) parts[self]! += used;
    else if (now.command.startsWith('postgres')) parts.postgres! += used;
    else if (now.command.startsWith('redis')) parts.redis! += used;
    else if (before.processes.has(pid) || used > 0) others += used;
  }
  const seconds = (after.at - before.at) / 1000;
  const cores = (ms: number) => (ms / 1000 / seconds).toFixed(2);
  return (
    Object.entries(parts)
      .map(([name, ms]) => `${name} ${cores(ms)} cores (${((ms * 1000) / events).toFixed(1)} us/event)`)
      .join(', ') + `; other processes ${cores(others)} cores`
  );
}

/** The CPU model and core count, as the benchmarks print them. */
export function cpuModel(): string {
  const list = cpus();
  return `${list[0]?.model.trim() ?? 'unknown'} x ${list.length}`;
}
