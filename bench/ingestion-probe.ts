// Feedback ingestion latency while something else loads the server: single implicit events, one
// request at a time, for as long as the load runs.

export interface ProbeTarget {
  baseUrl: string;
  apiKey: string;
  messageId: string;
  idPrefix: string;
}

/**
 * Posts one dwell event on `messageId` after another to `baseUrl` (no trailing slash) until `load`
 * settles, and returns the load's result with each event's round-trip time. Event ids start with
 * `idPrefix`, which must be new to the server.
 */
export async function ingestWhile<T>(
  target: ProbeTarget,
  load: Promise<T>,
): Promise<{ result: T; ingestMs: number[] }> {
  let loading = true;
  const settled = load.finally(() => (loading = false));
  const ingestMs: number[] = [];
  const probe = (async () => {
    for (let n = 0; loading; n++) {
      const started = performance.now();
      const res = await fetch(`${target.baseUrl}/v1/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${target.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          events: [
            {
              id: `${target.idPrefix}-${n}`,
              type: 'dwell',
              messageId: target.messageId,
              value: 1.5,
              ts: new Date().toISOString(),
            },
          ],
        }),
      });
      await res.arrayBuffer();
      if (res.status !== 202) throw new Error(`event ingestion failed: ${res.status}`);
      ingestMs.push(performance.now() - started);
    }
  })();
  const [result] = await Promise.all([settled, probe]);
  return { result, ingestMs };
}
