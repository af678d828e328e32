// The ingestion probe (bench/ingestion-probe.ts) in a child process of its own, so that posting
// events does not share an event loop with the client that times the streams' first tokens: a
// probe request being sent or read there would delay the reading of a first token, and the
// client would charge that delay to whichever path it was timing.
import type { ChildProcess } from 'node:child_process';
import { endChild, forkBenchChild, nextMessage } from './bench-child.ts';
import { ingestWhile, type ProbeTarget } from './ingestion-probe.ts';

type ToProbe = { start: ProbeTarget } | { stop: true };
type FromProbe = { started: true } | { ingestMs: number[] } | { error: string };

export interface ProbeProcess {
  /** Posts events back to back from the child while `load` runs; their round trips, as ingestWhile. */
  during<T>(target: ProbeTarget, load: () => Promise<T>): Promise<{ result: T; ingestMs: number[] }>;
  close(): Promise<void>;
}

function answer<T extends FromProbe>(reply: FromProbe): T {
  if ('error' in reply) throw new Error(`the ingestion probe failed: ${reply.error}`);
  return reply as T;
}

export function startProbeProcess(): ProbeProcess {
  const child: ChildProcess = forkBenchChild(new URL('./ingestion-probe-process.ts', import.meta.url));
  const send = (message: ToProbe) => child.send(message);
  return {
    async during(target, load) {
      const started = nextMessage<FromProbe>(child);
      send({ start: target });
      answer(await started);
      const stopped = nextMessage<FromProbe>(child);
      try {
        const result = await load();
        send({ stop: true });
        return { result, ingestMs: answer<{ ingestMs: number[] }>(await stopped).ingestMs };
      } catch (err) {
        send({ stop: true });
        await stopped.catch(() => undefined);
        throw err;
      }
    },
    close: () => endChild(child),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.on('disconnect', () => process.exit(1));
  let stop: (() => void) | undefined;
  process.on('message', (message: ToProbe) => {
    if ('stop' in message) {
      stop?.();
      return;
    }
    const load = new Promise<void>((resolve) => (stop = resolve));
    ingestWhile(message.start, load).then(
      ({ ingestMs }) => process.send?.({ ingestMs } satisfies FromProbe),
      (err: unknown) => process.send?.({ error: String((err as Error).stack ?? err) } satisfies FromProbe),
    );
    process.send?.({ started: true } satisfies FromProbe);
  });
}
