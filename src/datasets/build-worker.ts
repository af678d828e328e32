// Worker-thread entry for dataset builds (./build-thread.ts): runs the streamed build (reading
// feedback over its own connections, rater assessment, hygiene, hashing, writing the files) off
// the API's event loop, one build at a time.
import { parentPort, workerData } from 'node:worker_threads';
import { createDatabase, type Database } from '../platform/db/client.ts';
import { evaluationPromptSet } from '../suites/contamination.ts';
import { streamDataset } from './stream-build.ts';
import type { BuildReply, BuildRequest, BuildThreadData } from './build-thread.ts';

const port = parentPort;
if (!port) throw new Error('build-worker.ts runs in a worker thread');
const { databaseUrl } = workerData as BuildThreadData;
let db: Database | undefined;
let queue = Promise.resolve();
// Built once per thread and CPU-bound for seconds (it reads the corpus sources), before the first
// build waits for it.
evaluationPromptSet();

async function run(request: BuildRequest): Promise<void> {
  port!.postMessage({ id: request.id, type: 'started' } satisfies BuildReply);
  try {
    db ??= createDatabase(databaseUrl, { poolSize: 2 });
    const evaluationPrompts = request.evaluationPrompts
      ? new Set(request.evaluationPrompts)
      : evaluationPromptSet();
    const build = await streamDataset(db.prisma, request.job, evaluationPrompts);
    port!.postMessage({ id: request.id, type: 'done', build } satisfies BuildReply);
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    port!.postMessage({ id: request.id, type: 'failed', message } satisfies BuildReply);
  }
}

port.on('message', (request: BuildRequest) => {
  queue = queue.then(() => run(request));
});
port.postMessage({ type: 'ready' });
