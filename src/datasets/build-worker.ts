// Worker-thread entry for dataset builds (./build-thread.ts): runs the pure, CPU-bound part of a
// build (rater assessment, hygiene, near-duplicate removal, hashing) off the API's event loop.
import { parentPort } from 'node:worker_threads';
import { evaluationPromptSet } from '../suites/contamination.ts';
import { buildDataset } from './builders.ts';
import type { BuildReply, BuildRequest } from './build-thread.ts';

const port = parentPort;
if (!port) throw new Error('build-worker.ts runs in a worker thread');

port.on('message', (request: BuildRequest) => {
  port.postMessage({ id: request.id, type: 'started' } satisfies BuildReply);
  try {
    const build = buildDataset(request.rows, request.config, evaluationPromptSet());
    port.postMessage({ id: request.id, type: 'done', build } satisfies BuildReply);
  } catch (err) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    port.postMessage({ id: request.id, type: 'failed', message } satisfies BuildReply);
  }
});
port.postMessage({ type: 'ready' });
