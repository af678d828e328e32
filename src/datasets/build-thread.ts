// Dataset builds off the event loop: one worker thread, started on first use, runs the streamed
// build (./stream-build.ts: reading, building, hashing and writing the files; minutes of CPU for a
// large window, and the evaluation prompt set on first use) with its own database connections,
// while the API keeps answering; the loop's workers build in one too. The thread's heap is capped
// (FEEDLOOP_BUILD_HEAP_MB), so a build's memory is its live set plus that headroom, not whatever V8
// lets garbage grow to. Builds queue behind each other; a crashed thread (out of its heap too)
// fails its build with an error and the next build starts a new one.
import { Worker } from 'node:worker_threads';
import fp from 'fastify-plugin';
import type { StreamBuildJob, StreamedBuild } from './stream-build.ts';

export interface BuildRequest {
  id: number;
  job: StreamBuildJob;
  /** The normalized evaluation prompts to keep out; the thread's evaluationPromptSet() when absent. */
  evaluationPrompts?: string[];
}

export type BuildReply =
  | { id: number; type: 'started' }
  | { id: number; type: 'done'; build: StreamedBuild }
  | { id: number; type: 'failed'; message: string };

/** Runs a build: the job (and the evaluation prompts to keep out, when not the default) in, the build out. */
export type BuildRunner = (
  job: StreamBuildJob,
  evaluationPrompts?: ReadonlySet<string>,
) => Promise<StreamedBuild>;

/** What the thread is started with. */
export interface BuildThreadData {
  databaseUrl: string;
}

interface Pending {
  resolve(build: StreamedBuild): void;
  reject(err: Error): void;
}

/** Starts the TypeScript entry: loader hooks of the parent's `--import tsx` do not reach threads on Node 20. */
function spawn(data: BuildThreadData, heapMb: number): Worker {
  const entry = new URL('./build-worker.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, {
    eval: true,
    workerData: data,
    resourceLimits: { maxOldGenerationSizeMb: heapMb },
  });
}

export class DatasetBuildThread {
  private worker: Worker | null = null;

  /** `databaseUrl`: the database the thread reads feedback from; `heapMb`: its V8 heap (old generation). */
  constructor(
    private readonly databaseUrl: string,
    private readonly heapMb: number,
  ) {}
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Ids of builds the thread is computing now (for tests and metrics). */
  readonly running = new Set<number>();
  private listeners = new Set<(event: 'started' | 'finished') => void>();

  /** Called when a build starts or finishes computing in the thread. */
  onChange(listener: (event: 'started' | 'finished') => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  readonly build: BuildRunner = (job, evaluationPrompts) => {
    const id = this.nextId++;
    const worker = this.start();
    return new Promise<StreamedBuild>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // A build waited for keeps the process alive (a script has nothing else to); an idle thread does not.
      worker.ref();
      worker.postMessage({
        id,
        job,
        ...(evaluationPrompts ? { evaluationPrompts: [...evaluationPrompts] } : {}),
      } satisfies BuildRequest);
    });
  };

  /** Starts the thread now (it builds the evaluation prompt set as it starts), not at the first build. */
  warm(): void {
    this.start();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = spawn({ databaseUrl: this.databaseUrl }, this.heapMb);
    worker.unref();
    worker.on('message', (reply: BuildReply | { type: 'ready' }) => {
      if (reply.type === 'ready') return;
      if (reply.type === 'started') {
        this.running.add(reply.id);
        for (const listener of this.listeners) listener('started');
        return;
      }
      this.running.delete(reply.id);
      const pending = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      if (this.pending.size === 0) worker.unref();
      for (const listener of this.listeners) listener('finished');
      if (reply.type === 'done') pending?.resolve(reply.build);
      else pending?.reject(new Error(`dataset build failed: ${reply.message}`));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = null;
      this.running.clear();
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the dataset build thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    await worker?.terminate();
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    datasetBuilds: DatasetBuildThread;
  }
}

/** The API's dataset build thread, closed with the app. */
export const datasetBuildsPlugin = fp(
  async (app) => {
    const thread = new DatasetBuildThread(app.config.DATABASE_URL, app.config.FEEDLOOP_BUILD_HEAP_MB);
    app.decorate('datasetBuilds', thread);
    app.addHook('onClose', () => thread.close());
  },
  { name: 'dataset-builds' },
);
