// The serving side of the model: a small pool of worker threads, each holding every loaded model
// version. Requests go to the least busy worker; the HTTP layer gets an async iterator of text
// deltas, a final result with token counts, and cancellation through an AbortSignal.
//
// Why this shape: the wasm backend runs one thread per worker, so a worker is one core. On the
// 2-core target machine the default is one worker, leaving the other core to the event loop
// (HTTP, feedback ingestion); inside a worker, all requests advance together one token per round
// in one batched forward pass, so concurrent users share it fairly and cheaply. Bigger machines
// raise `workers`.
//
// A worker thread that dies (an uncaught error, out of memory, terminated) is replaced at once with
// a new one that loads the same versions; the requests it was serving fail with a clear error
// instead of waiting forever, and requests sent meanwhile wait in the new thread's queue.
import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AppError } from '../../platform/errors/app-error.ts';
import { siblingModule } from '../../platform/paths.ts';
import { parseBackendChoice, type BackendChoice, type BackendReport } from '../../llm/backend.ts';
import type { ChatMessage } from '../../llm/chat-format.ts';
import type { GenerationOptionsInput, GenerationResult } from '../../llm/generate.ts';
import type {
  FromWorker,
  ModelVersionInfo,
  PromptInput,
  PromptSize,
  ToWorker,
  WorkerInit,
  WorkerStats,
} from './protocol.ts';

export interface ModelServerOptions {
  /** Worker threads; default max(1, cores - 1) capped at 4. */
  workers?: number;
  backend?: BackendChoice;
  /** Told when a worker thread died and is being replaced, and when a replacement failed to start. */
  onWorkerEvent?: (event: WorkerEvent) => void;
}

export type WorkerEvent =
  | { type: 'exited'; exitCode: number; error?: Error; failedRequests: number; restartInMs: number }
  | { type: 'restart-failed'; error: Error };

export type GenerateRequest = GenerationOptionsInput & {
  /** Which loaded version serves it; default: the active one. */
  versionId?: string;
} & ({ messages: ChatMessage[]; prompt?: never } | { prompt: string; messages?: never });

export interface TokenEvent {
  /** Text to append (can be empty when a token only completes a character later). */
  delta: string;
  tokenId: number;
}

export interface Completion extends GenerationResult {
  versionId: string;
}

export interface GenerationStream extends AsyncIterable<TokenEvent> {
  readonly id: string;
  /** Settles when generation ends: finishReason 'aborted' after cancellation, rejects on errors. */
  readonly result: Promise<Completion>;
  /** Same as aborting the signal passed in. */
  cancel(): void;
}

interface Pending {
  worker: PoolWorker;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Stream {
  worker: PoolWorker;
  push: (e: TokenEvent) => void;
  end: (r: Completion) => void;
  fail: (e: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  active: number;
  /** Exited: nothing is sent to it; its slot gets a new worker. */
  dead: boolean;
  /** The uncaught error that ended it, if any (reported with its exit). */
  error?: Error;
}

/** Restarts in a row that never reached 'ready' make the next one wait longer, up to this. */
const MAX_RESTART_DELAY_MS = 10_000;

function defaultWorkerCount(): number {
  return Math.min(4, Math.max(1, availableParallelism() - 1));
}

/**
 * Starts the worker entry: model-worker.js as it is when running from dist/; from the sources,
 * model-worker.ts through tsx. Loader hooks from the parent's `--import tsx` do not reach worker
 * threads on Node 20, so a small bootstrap registers tsx inside the worker first.
 */
function spawnWorker(init: WorkerInit): Worker {
  const file = siblingModule('./model-worker.ts', import.meta.url);
  if (!file.endsWith('.ts')) return new Worker(file, { workerData: init });
  const entry = pathToFileURL(file).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

export class ModelServer {
  private readonly pool: PoolWorker[];
  private readonly pending = new Map<number, Pending>();
  private readonly streams = new Map<string, Stream>();
  private readonly loaded = new Map<string, ModelVersionInfo>();
  private nextReq = 1;
  private active: string | null = null;
  private closed = false;
  private restartCount = 0;
  /** Replacements in a row that died before they were ready. */
  private failedStarts = 0;
  private readonly restartTimers = new Set<NodeJS.Timeout>();
  readonly backend: BackendReport;

  private constructor(
    workers: Worker[],
    backend: BackendReport,
    private readonly options: ModelServerOptions,
  ) {
    this.pool = workers.map((worker) => this.adopt(worker));
    this.backend = backend;
  }

  static async start(options: ModelServerOptions = {}): Promise<ModelServer> {
    const count = options.workers ?? defaultWorkerCount();
    const backend = options.backend ?? parseBackendChoice(process.env.MODEL_BACKEND);
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => {
        const worker = spawnWorker({ backend });
        return new Promise<{ worker: Worker; report: BackendReport }>((resolve, reject) => {
          const onMessage = (m: FromWorker) => {
            worker.off('error', onError);
            worker.off('message', onMessage);
            if (m.type === 'ready') resolve({ worker, report: m.backend });
            else if (m.type === 'init-failed') reject(new Error(m.message));
            else reject(new Error(`unexpected first message ${m.type}`));
          };
          const onError = (err: Error) => reject(err);
          worker.on('message', onMessage);
          worker.once('error', onError);
        });
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) {
      await Promise.all(
        started.filter((s) => s.status === 'fulfilled').map((s) => s.value.worker.terminate()),
      );
      throw (failed as PromiseRejectedResult).reason as Error;
    }
    const ok = started as PromiseFulfilledResult<{ worker: Worker; report: BackendReport }>[];
    return new ModelServer(
      ok.map((s) => s.value.worker),
      ok[0]!.value.report,
      { ...options, backend },
    );
  }

  get workerCount(): number {
    return this.pool.length;
  }

  /** Worker threads that died and were replaced since start. */
  get restarts(): number {
    return this.restartCount;
  }

  /** The live worker threads (a fault test stops one the way a crash would). */
  get threads(): readonly Worker[] {
    return this.pool.filter((pw) => !pw.dead).map((pw) => pw.worker);
  }

  get activeVersion(): string | null {
    return this.active;
  }

  versions(): ModelVersionInfo[] {
    return [...this.loaded.values()];
  }

  /**
   * Loads (or reloads) a model folder under `versionId` in every worker. Requests already running
   * on a replaced version finish on it; new ones use the new weights. No restart needed.
   */
  async load(versionId: string, dir: string): Promise<ModelVersionInfo> {
    const infos = await Promise.all(
      this.live().map((pw) => this.call<ModelVersionInfo>(pw, { type: 'load', reqId: 0, versionId, dir })),
    );
    this.loaded.set(versionId, infos[0]!);
    if (this.active === null) this.active = versionId;
    return infos[0]!;
  }

  /** Makes `versionId` the default for requests that name none; loads `dir` first if given. */
  async setActive(versionId: string, dir?: string): Promise<ModelVersionInfo> {
    if (dir !== undefined) await this.load(versionId, dir);
    const info = this.loaded.get(versionId);
    if (!info) throw new Error(`model version ${versionId} is not loaded`);
    this.active = versionId;
    return info;
  }

  /**
   * Drops a version from every worker; requests running on it finish first. It is forgotten here
   * before the workers are told, so a load asked for meanwhile is sent after the unload, not lost.
   */
  async unload(versionId: string): Promise<void> {
    this.loaded.delete(versionId);
    if (this.active === versionId) this.active = null;
    await Promise.all(this.live().map((pw) => this.call(pw, { type: 'unload', reqId: 0, versionId })));
  }

  /** Streams a completion. Iterate for deltas; await `.result` for the text and token counts. */
  generate(request: GenerateRequest, options: { signal?: AbortSignal } = {}): GenerationStream {
    if (this.closed) throw new Error('model server is closed');
    const versionId = request.versionId ?? this.active;
    if (!versionId) throw new Error('no model version is loaded');
    if (!this.loaded.has(versionId)) throw new Error(`model version ${versionId} is not loaded`);
    const { versionId: _v, messages, prompt, ...genOptions } = request;
    const promptInput: PromptInput = messages ? { messages } : { text: prompt! };
    const id = randomUUID();
    const pw = this.leastBusy();
    pw.active += 1;

    const queue: TokenEvent[] = [];
    let wake: (() => void) | null = null;
    let ended = false;
    let failure: Error | null = null;
    let resolveResult!: (c: Completion) => void;
    let rejectResult!: (e: Error) => void;
    const result = new Promise<Completion>((res, rej) => {
      resolveResult = res;
      rejectResult = rej;
    });
    // Nobody may await result if they only iterate; keep an unhandled rejection from crashing.
    result.catch(() => {});

    const settle = () => {
      ended = true;
      pw.active -= 1;
      this.streams.delete(id);
      options.signal?.removeEventListener('abort', cancel);
      wake?.();
    };
    this.streams.set(id, {
      worker: pw,
      push: (e) => {
        queue.push(e);
        wake?.();
      },
      end: (r) => {
        settle();
        resolveResult(r);
      },
      fail: (e) => {
        failure = e;
        settle();
        rejectResult(e);
      },
    });
    const cancel = () => {
      if (!ended) pw.worker.postMessage({ type: 'cancel', id } satisfies ToWorker);
    };
    if (options.signal?.aborted) queueMicrotask(cancel);
    else options.signal?.addEventListener('abort', cancel, { once: true });
    pw.worker.postMessage({
      type: 'generate',
      id,
      versionId,
      prompt: promptInput,
      options: genOptions,
    } satisfies ToWorker);

    const iterate = async function* (): AsyncGenerator<TokenEvent> {
      while (true) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        if (failure) throw failure;
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    };
    return { id, result, cancel, [Symbol.asyncIterator]: iterate };
  }

  /** Non-streaming convenience: optional per-delta callback, resolves with the completion. */
  async complete(
    request: GenerateRequest,
    options: { signal?: AbortSignal; onToken?: (e: TokenEvent) => void } = {},
  ): Promise<Completion> {
    const stream = this.generate(request, { signal: options.signal });
    for await (const e of stream) options.onToken?.(e);
    return stream.result;
  }

  /**
   * Tokens the prompt takes for a loaded version, and the version's context length, so callers
   * can refuse an over-long prompt before they store or generate anything.
   */
  async promptSize(
    versionId: string,
    prompt: { messages: ChatMessage[] } | { prompt: string },
  ): Promise<PromptSize> {
    if (!this.loaded.has(versionId)) throw new Error(`model version ${versionId} is not loaded`);
    const pw = this.leastBusy();
    const input: PromptInput = 'messages' in prompt ? { messages: prompt.messages } : { text: prompt.prompt };
    return this.call<PromptSize>(pw, { type: 'count', reqId: 0, versionId, prompt: input });
  }

  async stats(): Promise<WorkerStats[]> {
    return Promise.all(this.live().map((pw) => this.call<WorkerStats>(pw, { type: 'stats', reqId: 0 })));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.restartTimers) clearTimeout(timer);
    for (const s of this.streams.values()) s.fail(new Error('model server closed'));
    await Promise.all(this.pool.map((pw) => pw.worker.terminate()));
  }

  private live(): PoolWorker[] {
    return this.pool.filter((pw) => !pw.dead);
  }

  private leastBusy(): PoolWorker {
    const live = this.live();
    // Only while a replacement waits out its backoff after failed starts.
    if (live.length === 0)
      throw new AppError('unavailable', 'The model worker is restarting; try again shortly');
    return live.reduce((a, b) => (b.active < a.active ? b : a));
  }

  private call<T>(pw: PoolWorker, msg: ToWorker & { reqId: number }): Promise<T> {
    const reqId = this.nextReq++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(reqId, { worker: pw, resolve: resolve as (v: unknown) => void, reject });
      pw.worker.postMessage({ ...msg, reqId });
    });
  }

  /** Wires a started worker thread into the pool. */
  private adopt(worker: Worker): PoolWorker {
    const pw: PoolWorker = { worker, active: 0, dead: false };
    worker.on('message', (m: FromWorker) => this.onMessage(pw, m));
    // An uncaught error is followed by 'exit', which does the cleanup.
    worker.on('error', (err) => (pw.error = err));
    worker.once('exit', (code) => this.onWorkerExit(pw, code));
    return pw;
  }

  /**
   * A worker thread ended without close(): fail what it was doing, and put a new thread in its
   * slot that loads every version this server holds. Messages sent to the new thread before it is
   * ready wait in its queue, behind those loads.
   */
  private onWorkerExit(pw: PoolWorker, exitCode: number): void {
    pw.dead = true;
    if (this.closed) return;
    const why = pw.error ? `: ${pw.error.message}` : '';
    const error = new AppError(
      'unavailable',
      `The model worker stopped unexpectedly (exit code ${exitCode}${why}); the answer was not finished. Try again.`,
    );
    let failedRequests = 0;
    for (const s of [...this.streams.values()]) {
      if (s.worker !== pw) continue;
      failedRequests += 1;
      s.fail(error);
    }
    for (const [reqId, p] of this.pending) {
      if (p.worker !== pw) continue;
      this.pending.delete(reqId);
      p.reject(error);
    }
    const restartInMs =
      this.failedStarts === 0 ? 0 : Math.min(MAX_RESTART_DELAY_MS, 250 * 2 ** this.failedStarts);
    this.options.onWorkerEvent?.({ type: 'exited', exitCode, error: pw.error, failedRequests, restartInMs });
    if (restartInMs === 0) this.replace(pw);
    else {
      const timer = setTimeout(() => {
        this.restartTimers.delete(timer);
        this.replace(pw);
      }, restartInMs);
      this.restartTimers.add(timer);
    }
  }

  private replace(dead: PoolWorker): void {
    if (this.closed) return;
    const slot = this.pool.indexOf(dead);
    if (slot < 0) return;
    const pw = this.adopt(spawnWorker({ backend: this.options.backend ?? 'auto' }));
    this.pool[slot] = pw;
    this.restartCount += 1;
    // Counted as failed until it says it is ready.
    this.failedStarts += 1;
    for (const info of this.loaded.values()) {
      this.call(pw, { type: 'load', reqId: 0, versionId: info.versionId, dir: info.dir }).catch(
        (err: Error) => {
          if (!pw.dead) this.options.onWorkerEvent?.({ type: 'restart-failed', error: err });
        },
      );
    }
  }

  private onMessage(pw: PoolWorker, m: FromWorker): void {
    switch (m.type) {
      case 'ready':
        this.failedStarts = 0;
        return;
      case 'init-failed':
        this.options.onWorkerEvent?.({ type: 'restart-failed', error: new Error(m.message) });
        return;
      case 'reply': {
        const p = this.pending.get(m.reqId);
        this.pending.delete(m.reqId);
        if (!p) return;
        if (m.ok) p.resolve(m.value);
        else p.reject(new Error(m.message));
        return;
      }
      case 'tokens':
        for (const t of m.tokens) this.streams.get(t.id)?.push({ delta: t.delta, tokenId: t.tokenId });
        return;
      case 'done':
        this.streams.get(m.id)?.end({ ...m.result, versionId: m.versionId });
        return;
      case 'failed':
        this.streams.get(m.id)?.fail(new Error(m.message));
        return;
      default:
        return;
    }
  }
}
