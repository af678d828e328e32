// Worker-thread entry of runHfTask: runs one import or export and posts the result.
import { parentPort, workerData } from 'node:worker_threads';
import { exportHfModel } from './hf-export.ts';
import { HfFormatError } from './hf-format.ts';
import { importHfModel } from './hf-import.ts';
import type { HfTask, HfTaskReply } from './hf-thread.ts';

const task = workerData as HfTask;
let reply: HfTaskReply;
try {
  const value =
    task.kind === 'import'
      ? importHfModel(task.src, task.dest, { confineTo: task.confineTo })
      : exportHfModel(task.modelDir, task.outDir, { floats: task.floats, readme: task.readme });
  reply = { ok: true, value };
} catch (err) {
  reply =
    err instanceof HfFormatError
      ? { ok: false, field: err.field, message: err.reason }
      : { ok: false, message: (err as Error).message };
}
parentPort!.postMessage(reply);
