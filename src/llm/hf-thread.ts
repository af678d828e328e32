// Imports and exports read and write hundreds of megabytes for a gpt2-small-sized model and
// convert every weight on the way: run in a worker thread, so the API process keeps serving.
import { Worker } from 'node:worker_threads';
import { HfFormatError } from './hf-format.ts';
import type { HfExportResult } from './hf-export.ts';
import type { HfImportResult } from './hf-import.ts';
import type { FloatStorage } from './safetensors.ts';

export type HfTask =
  | { kind: 'import'; src: string; dest: string; confineTo?: string }
  | { kind: 'export'; modelDir: string; outDir: string; floats?: FloatStorage; readme?: string };

export type HfTaskResult<T extends HfTask> = T extends { kind: 'import' } ? HfImportResult : HfExportResult;

export type HfTaskReply =
  { ok: true; value: HfImportResult | HfExportResult } | { ok: false; message: string; field?: string };

/** Loader hooks of the parent's `--import tsx` do not reach worker threads on Node 20. */
function spawnTsWorker(entry: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData });
}

/** Runs an import or export in a worker thread; an HfFormatError keeps its field. */
export function runHfTask<T extends HfTask>(task: T): Promise<HfTaskResult<T>> {
  return new Promise((resolve, reject) => {
    const worker = spawnTsWorker(new URL('./hf-thread-entry.ts', import.meta.url), task);
    let settled = false;
    worker.once('message', (reply: HfTaskReply) => {
      settled = true;
      if (reply.ok) resolve(reply.value as HfTaskResult<T>);
      else reject(reply.field ? new HfFormatError(reply.field, reply.message) : new Error(reply.message));
    });
    worker.once('error', (err) => {
      if (!settled) reject(err);
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the ${task.kind} thread exited with code ${code} before answering`));
      settled = true;
    });
  });
}
